//! Spotify: OAuth2 authorization code.
//!
//! Sources: <https://developer.spotify.com/documentation/web-api/tutorials/code-flow>,
//! <https://developer.spotify.com/documentation/web-api/concepts/redirect_uri>.
//!
//! A refresh may or may not return a new refresh token; keyfob keeps the old one when none comes
//! back.
//!
//! Redirect URIs must be `http://127.0.0.1:PORT` (not `localhost`) or https. No revocation
//! endpoint.

use keyfob_core::spec::{ClientAuth, Handler, OAuth2Spec, Pkce, Provider, Refresh};

static OAUTH2: OAuth2Spec = OAuth2Spec {
    name: "spotify-oauth2",
    env_key: "SPOTIFY_TOKEN",
    authorize_url: "https://accounts.spotify.com/authorize",
    token_url: "https://accounts.spotify.com/api/token",
    userinfo_url: Some("https://api.spotify.com/v1/me"),
    recommended_scopes: &["user-read-private", "user-read-email"],
    client_auth: ClientAuth::Basic,
    pkce: Pkce::S256,
    refresh: Refresh::Plain,
    docs_url: "https://developer.spotify.com/dashboard",
    ..OAuth2Spec::DEFAULTS
};

/// The `spotify` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "spotify",
    display_name: "Spotify",
    handlers: &[Handler::OAuth2(&OAUTH2)],
};

keyfob_core::register_provider!(PROVIDER);
