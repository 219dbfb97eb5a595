//! Asana: OAuth2 authorization code.
//!
//! Sources: <https://developers.asana.com/docs/oauth>,
//! <https://developers.asana.com/docs/openid-connect>.
//!
//! Refresh uses `grant_type=refresh_token` (the reference sent `authorization_code`); the refresh
//! token is reused, not rotated.
//!
//! Granular scopes and the legacy full-permission mode are exclusive per app: an app left in
//! full-permission mode must be used with `use_recommended_scopes = false`.
//!
//! Access tokens live one hour.

use keyfob_core::spec::{ClientAuth, Handler, OAuth2Spec, Pkce, Provider, Refresh};

static OAUTH2: OAuth2Spec = OAuth2Spec {
    name: "asana-oauth2",
    env_key: "ASANA_TOKEN",
    authorize_url: "https://app.asana.com/-/oauth_authorize",
    token_url: "https://app.asana.com/-/oauth_token",
    revoke_url: Some("https://app.asana.com/-/oauth_revoke"),
    userinfo_url: Some("https://app.asana.com/api/1.0/users/me"),
    recommended_scopes: &[
        "users:read",
        "workspaces:read",
        "tasks:read",
        "projects:read",
    ],
    client_auth: ClientAuth::Body,
    pkce: Pkce::S256,
    refresh: Refresh::Plain,
    docs_url: "https://app.asana.com/0/my-apps",
    ..OAuth2Spec::DEFAULTS
};

/// The `asana` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "asana",
    display_name: "Asana",
    handlers: &[Handler::OAuth2(&OAUTH2)],
};

keyfob_core::register_provider!(PROVIDER);
