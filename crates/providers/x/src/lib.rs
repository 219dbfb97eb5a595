//! X: OAuth2 authorization code.
//!
//! Sources:
//! <https://docs.x.com/resources/fundamentals/authentication/oauth-2-0/authorization-code>,
//! <https://docs.x.com/resources/fundamentals/authentication/oauth-2-0/user-access-token>.
//!
//! PKCE is required: a fresh S256 verifier per flow (the reference used a fixed `plain` one).
//!
//! The scope `offline.access` asks for a refresh token; access tokens live two hours.

use keyfob_core::spec::{ClientAuth, Handler, OAuth2Spec, Offline, Pkce, Provider, Refresh};

static OAUTH2: OAuth2Spec = OAuth2Spec {
    name: "x-oauth2",
    env_key: "X_AUTH_TOKEN",
    authorize_url: "https://x.com/i/oauth2/authorize",
    token_url: "https://api.x.com/2/oauth2/token",
    revoke_url: Some("https://api.x.com/2/oauth2/revoke"),
    userinfo_url: Some("https://api.x.com/2/users/me"),
    recommended_scopes: &["tweet.read", "users.read"],
    client_auth: ClientAuth::Basic,
    pkce: Pkce::S256,
    refresh: Refresh::Rotating,
    offline: Offline::Scope("offline.access"),
    docs_url: "https://developer.x.com/en/portal/dashboard",
    ..OAuth2Spec::DEFAULTS
};

/// The `x` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "x",
    display_name: "X",
    handlers: &[Handler::OAuth2(&OAUTH2)],
};

keyfob_core::register_provider!(PROVIDER);
