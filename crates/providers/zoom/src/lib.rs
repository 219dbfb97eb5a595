//! Zoom: OAuth2 authorization code.
//!
//! Sources: <https://developers.zoom.us/docs/integrations/oauth/>.
//!
//! Scopes are set on the app; none are sent.
//!
//! Refresh tokens rotate: the old one dies when the new one is issued. Access tokens live one hour.

use keyfob_core::spec::{ClientAuth, Handler, OAuth2Spec, Pkce, Provider, Refresh};

static OAUTH2: OAuth2Spec = OAuth2Spec {
    name: "zoom-oauth2",
    env_key: "ZOOM_TOKEN",
    authorize_url: "https://zoom.us/oauth/authorize",
    token_url: "https://zoom.us/oauth/token",
    revoke_url: Some("https://zoom.us/oauth/revoke"),
    userinfo_url: Some("https://api.zoom.us/v2/users/me"),
    scope_param: None,
    client_auth: ClientAuth::Basic,
    pkce: Pkce::S256,
    refresh: Refresh::Rotating,
    docs_url: "https://marketplace.zoom.us/develop/create",
    ..OAuth2Spec::DEFAULTS
};

/// The `zoom` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "zoom",
    display_name: "Zoom",
    handlers: &[Handler::OAuth2(&OAUTH2)],
};

keyfob_core::register_provider!(PROVIDER);
