//! Acme Internal SSO: OAuth2 authorization code with PKCE.
//!
//! Tools receive the access token as `ACME_EXT_TOKEN`. Where developers register an OAuth app:
//! <https://sso.acme.example/apps>.
//!
//! Pure data; no quirks. Code for what data cannot say (a nested token, an odd response) goes
//! in `src/quirks.rs` as an `OAuth2Hooks` impl that `hooks` points at.

use keyfob_core::spec::{ClientAuth, Handler, OAuth2Spec, Pkce, Provider, Refresh};

static OAUTH2: OAuth2Spec = OAuth2Spec {
    name: "acme-ext-oauth2",
    env_key: "ACME_EXT_TOKEN",
    authorize_url: "https://sso.acme.example/authorize",
    token_url: "https://sso.acme.example/token",
    recommended_scopes: &[
        "openid",
        "offline_access",
    ],
    client_auth: ClientAuth::Basic,
    pkce: Pkce::S256,
    refresh: Refresh::Rotating,
    docs_url: "https://sso.acme.example/apps",
    ..OAuth2Spec::DEFAULTS
};

/// The `acme_ext` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "acme_ext",
    display_name: "Acme Internal SSO",
    handlers: &[Handler::OAuth2(&OAUTH2)],
};

keyfob_core::register_provider!(PROVIDER);
