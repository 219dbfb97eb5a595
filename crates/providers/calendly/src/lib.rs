//! Calendly: OAuth2 authorization code.
//!
//! Sources: <https://developer.calendly.com/api-docs/calendly-o-auth/o-auth/get-oauth-authorize>,
//! <https://developer.calendly.com/refresh-token-rotation-guide>.
//!
//! Refresh tokens are single-use: every refresh returns a new one and revokes the old.
//!
//! The revocation endpoint takes the client credentials in the body, unlike the token endpoint
//! (Basic).
//!
//! Scopes are chosen on the app; none are sent by default.

use keyfob_core::spec::{ClientAuth, Handler, OAuth2Spec, Pkce, Provider, Refresh, RevokeStyle};

static OAUTH2: OAuth2Spec = OAuth2Spec {
    name: "calendly-oauth2",
    env_key: "CALENDLY_TOKEN",
    authorize_url: "https://auth.calendly.com/oauth/authorize",
    token_url: "https://auth.calendly.com/oauth/token",
    revoke_url: Some("https://auth.calendly.com/oauth/revoke"),
    revoke_style: RevokeStyle::Rfc7009CredentialsInBody,
    userinfo_url: Some("https://api.calendly.com/users/me"),
    client_auth: ClientAuth::Basic,
    pkce: Pkce::S256,
    refresh: Refresh::Rotating,
    docs_url: "https://developer.calendly.com/console/apps",
    ..OAuth2Spec::DEFAULTS
};

/// The `calendly` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "calendly",
    display_name: "Calendly",
    handlers: &[Handler::OAuth2(&OAUTH2)],
};

keyfob_core::register_provider!(PROVIDER);
