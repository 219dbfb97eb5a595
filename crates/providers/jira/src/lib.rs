//! Jira: OAuth2 authorization code, or an API key pasted on the token page.
//!
//! Sources: <https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/>,
//! <https://developer.atlassian.com/cloud/jira/platform/basic-auth-for-rest-apis/>.
//!
//! `audience=api.atlassian.com` and `prompt=consent` on the authorize URL; `response_type=code`
//! (the reference misspelled it).
//!
//! The scope `offline_access` asks for a refresh token; refresh tokens rotate.
//!
//! The token endpoint takes a JSON body.
//!
//! API calls go to `https://api.atlassian.com/ex/jira/{cloudid}/…`, the cloud id from
//! `/oauth/token/accessible-resources`.
//!
//! Token handler: HTTP Basic with username = Atlassian account EMAIL and password = API token (not
//! a fixed user; handler must also collect the email). Passwords are deprecated for basic auth.
//! Verify URL needs the {site} placeholder; /rest/api/3/myself returns the calling user.
//!
//! Per account: per-site URL: https://{site}.atlassian.net (user supplies site and Atlassian
//! account email)
//!
//! No key check is recorded: the check needs the account email besides the token.

use keyfob_core::spec::{
    BodyFormat, ClientAuth, Handler, OAuth2Spec, Offline, Pkce, Provider, Refresh, TokenSpec,
};

static OAUTH2: OAuth2Spec = OAuth2Spec {
    name: "jira-oauth2",
    env_key: "JIRA_TOKEN",
    authorize_url: "https://auth.atlassian.com/authorize",
    token_url: "https://auth.atlassian.com/oauth/token",
    userinfo_url: Some("https://api.atlassian.com/me"),
    recommended_scopes: &["read:jira-work", "read:jira-user", "read:me"],
    authorize_params: &[("audience", "api.atlassian.com"), ("prompt", "consent")],
    client_auth: ClientAuth::Body,
    pkce: Pkce::None,
    refresh: Refresh::Rotating,
    offline: Offline::Scope("offline_access"),
    body_format: BodyFormat::Json,
    docs_url: "https://developer.atlassian.com/console/myapps/",
    ..OAuth2Spec::DEFAULTS
};

static TOKEN: TokenSpec = TokenSpec {
    name: "jira-token",
    env_key: "JIRA_TOKEN",
    docs_url: "https://id.atlassian.com/manage-profile/security/api-tokens",
    ..TokenSpec::DEFAULTS
};

/// The `jira` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "jira",
    display_name: "Jira",
    handlers: &[Handler::OAuth2(&OAUTH2), Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
