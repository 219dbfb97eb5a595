//! Google: OAuth2 authorization code.
//!
//! Sources: <https://developers.google.com/identity/protocols/oauth2/web-server>,
//! <https://developers.google.com/identity/protocols/oauth2/limited-input-device>.
//!
//! A refresh token comes only with `access_type=offline`, and again on re-consent only with
//! `prompt=consent` (the reference sent the first alone).
//!
//! Refresh tokens of apps in "Testing" status expire after 7 days; unused ones after 6 months; each
//! client has a per-user cap.
//!
//! Access tokens live one hour.

use keyfob_core::spec::{ClientAuth, Handler, OAuth2Spec, Offline, Pkce, Provider, Refresh};

static OAUTH2: OAuth2Spec = OAuth2Spec {
    name: "google-oauth2",
    env_key: "GOOGLE_TOKEN",
    authorize_url: "https://accounts.google.com/o/oauth2/v2/auth",
    token_url: "https://oauth2.googleapis.com/token",
    revoke_url: Some("https://oauth2.googleapis.com/revoke"),
    device_url: Some("https://oauth2.googleapis.com/device/code"),
    userinfo_url: Some("https://openidconnect.googleapis.com/v1/userinfo"),
    recommended_scopes: &["openid", "email", "profile"],
    authorize_params: &[("include_granted_scopes", "true")],
    client_auth: ClientAuth::Body,
    pkce: Pkce::S256,
    refresh: Refresh::Plain,
    offline: Offline::Params(&[("access_type", "offline"), ("prompt", "consent")]),
    docs_url: "https://console.cloud.google.com/apis/credentials",
    ..OAuth2Spec::DEFAULTS
};

/// The `google` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "google",
    display_name: "Google",
    handlers: &[Handler::OAuth2(&OAUTH2)],
};

keyfob_core::register_provider!(PROVIDER);
