//! LinkedIn: a user name and password, or OAuth2 authorization code.
//!
//! Sources:
//! <https://learn.microsoft.com/en-us/linkedin/shared/authentication/authorization-code-flow>,
//! <https://learn.microsoft.com/en-us/linkedin/shared/authentication/programmatic-refresh-tokens>.
//!
//! Refresh tokens are issued only to apps approved for programmatic refresh; they last 365 days
//! from consent and refreshing does not extend that. Access tokens live 60 days.
//!
//! PKCE is for native apps enabled on request, so none is sent.

use keyfob_core::spec::{
    ClientAuth, Handler, OAuth2Spec, Pkce, Provider, Refresh, TokenEntry, TokenSpec,
};

static BASIC: TokenSpec = TokenSpec {
    name: "linkedin-basicauth",
    env_key: "LINKEDIN_BASIC_AUTH",
    entry: TokenEntry::BasicAuth,
    docs_url: "https://www.linkedin.com/",
    ..TokenSpec::DEFAULTS
};

static OAUTH2: OAuth2Spec = OAuth2Spec {
    name: "linkedin-oauth2",
    env_key: "LINKEDIN_TOKEN",
    authorize_url: "https://www.linkedin.com/oauth/v2/authorization",
    token_url: "https://www.linkedin.com/oauth/v2/accessToken",
    userinfo_url: Some("https://api.linkedin.com/v2/userinfo"),
    recommended_scopes: &["openid", "profile", "email"],
    client_auth: ClientAuth::Body,
    pkce: Pkce::None,
    refresh: Refresh::Plain,
    docs_url: "https://www.linkedin.com/developers/apps",
    ..OAuth2Spec::DEFAULTS
};

/// The `linkedin` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "linkedin",
    display_name: "LinkedIn",
    handlers: &[Handler::Token(&BASIC), Handler::OAuth2(&OAUTH2)],
};

keyfob_core::register_provider!(PROVIDER);
