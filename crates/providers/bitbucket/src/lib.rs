//! Bitbucket: OAuth2 authorization code.
//!
//! Sources: <https://developer.atlassian.com/cloud/bitbucket/oauth-2>,
//! <https://support.atlassian.com/bitbucket-cloud/docs/use-oauth-on-bitbucket-cloud/>.
//!
//! Scopes are ticked on the OAuth consumer, not sent with the request.
//!
//! keyfob always sends `state` and `redirect_uri` (the reference omitted both).
//!
//! Refresh tokens rotate (enforced from May 2026) and expire after three months unused; access
//! tokens live two hours.
//!
//! No PKCE and no revocation endpoint are documented.

use keyfob_core::spec::{ClientAuth, Handler, OAuth2Spec, Pkce, Provider, Refresh};

static OAUTH2: OAuth2Spec = OAuth2Spec {
    name: "bitbucket-oauth2",
    env_key: "BITBUCKET_TOKEN",
    authorize_url: "https://bitbucket.org/site/oauth2/authorize",
    token_url: "https://bitbucket.org/site/oauth2/access_token",
    userinfo_url: Some("https://api.bitbucket.org/2.0/user"),
    scope_param: None,
    client_auth: ClientAuth::Basic,
    pkce: Pkce::None,
    refresh: Refresh::Rotating,
    docs_url: "https://bitbucket.org/account/settings/",
    ..OAuth2Spec::DEFAULTS
};

/// The `bitbucket` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "bitbucket",
    display_name: "Bitbucket",
    handlers: &[Handler::OAuth2(&OAUTH2)],
};

keyfob_core::register_provider!(PROVIDER);
