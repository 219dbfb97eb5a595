//! Facebook: OAuth2 authorization code.
//!
//! Sources: <https://developers.facebook.com/docs/facebook-login/guides/advanced/manual-flow>,
//! <https://developers.facebook.com/docs/facebook-login/guides/access-tokens/get-long-lived>.
//!
//! Graph API v25.0 (the reference used v22.0); set `authorize_url`/`token_url` in config to pin
//! another version.
//!
//! There is no refresh grant: tokens expire (hours, or about 60 days once exchanged for a
//! long-lived one) and the user logs in again.
//!
//! PKCE is offered only in Facebook's OIDC flow, labelled as in testing, so none is sent.
//!
//! Revocation is `DELETE /{user-id}/permissions`, not RFC 7009.

use keyfob_core::spec::{ClientAuth, Handler, OAuth2Spec, Pkce, Provider, Refresh};

static OAUTH2: OAuth2Spec = OAuth2Spec {
    name: "facebook-oauth2",
    env_key: "FACEBOOK_TOKEN",
    authorize_url: "https://www.facebook.com/v25.0/dialog/oauth",
    token_url: "https://graph.facebook.com/v25.0/oauth/access_token",
    userinfo_url: Some("https://graph.facebook.com/v25.0/me?fields=id,name"),
    scope_separator: ",",
    recommended_scopes: &["public_profile", "email"],
    client_auth: ClientAuth::Body,
    pkce: Pkce::None,
    refresh: Refresh::None,
    docs_url: "https://developers.facebook.com/apps",
    ..OAuth2Spec::DEFAULTS
};

/// The `facebook` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "facebook",
    display_name: "Facebook",
    handlers: &[Handler::OAuth2(&OAUTH2)],
};

keyfob_core::register_provider!(PROVIDER);
