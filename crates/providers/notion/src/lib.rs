//! Notion: a public integration's OAuth2, or an internal integration token.
//!
//! Sources: <https://developers.notion.com/docs/authorization> and
//! <https://developers.notion.com/reference/create-a-token>.
//!
//! Quirks, all data: the token endpoint wants HTTP Basic client authentication and a JSON body;
//! the authorize URL carries `owner=user`; there are no scopes; the response carries
//! `workspace_id`, `workspace_name` and `bot_id` (kept as session detail). Notion documents no
//! PKCE, and its tokens do not expire.

use keyfob_core::spec::{
    BodyFormat, ClientAuth, Handler, OAuth2Spec, Pkce, Provider, Refresh, TokenSpec,
};

static OAUTH2: OAuth2Spec = OAuth2Spec {
    name: "notion-oauth2",
    env_key: "NOTION_TOKEN",
    authorize_url: "https://api.notion.com/v1/oauth/authorize",
    token_url: "https://api.notion.com/v1/oauth/token",
    scope_param: None,
    authorize_params: &[("owner", "user")],
    client_auth: ClientAuth::Basic,
    pkce: Pkce::None,
    refresh: Refresh::None,
    body_format: BodyFormat::Json,
    docs_url: "https://www.notion.so/profile/integrations",
    ..OAuth2Spec::DEFAULTS
};

static TOKEN: TokenSpec = TokenSpec {
    name: "notion-token",
    env_key: "NOTION_TOKEN",
    docs_url: "https://www.notion.so/profile/integrations",
    verify_url: Some("https://api.notion.com/v1/users/me"),
    ..TokenSpec::DEFAULTS
};

/// The `notion` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "notion",
    display_name: "Notion",
    handlers: &[Handler::OAuth2(&OAUTH2), Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
