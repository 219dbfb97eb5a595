//! Zeta Cloud: OAuth2 authorization code with PKCE.
//!
//! Tools receive the access token as `ZETA_CLOUD_TOKEN`. Where developers register an OAuth app:
//! not recorded yet (fill in `docs_url`).
//!
//! Pure data; no quirks. Code for what data cannot say (a nested token, an odd response) goes
//! in `src/quirks.rs` as an `OAuth2Hooks` impl that `hooks` points at.

use keyfob_core::spec::{ClientAuth, Handler, OAuth2Spec, Pkce, Provider, Refresh};

static OAUTH2: OAuth2Spec = OAuth2Spec {
    name: "zeta-cloud-oauth2",
    env_key: "ZETA_CLOUD_TOKEN",
    authorize_url: "https://auth.zeta.example/oauth2/authorize",
    token_url: "https://auth.zeta.example/oauth2/token",
    recommended_scopes: &["read", "write"],
    client_auth: ClientAuth::Body,
    pkce: Pkce::S256,
    refresh: Refresh::Plain,
    docs_url: "",
    ..OAuth2Spec::DEFAULTS
};

/// The `zeta_cloud` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "zeta_cloud",
    display_name: "Zeta Cloud",
    handlers: &[Handler::OAuth2(&OAUTH2)],
};

keyfob_core::register_provider!(PROVIDER);
