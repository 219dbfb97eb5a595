//! Notion: a public integration's OAuth2, or an internal integration token.
//!
//! Sources: <https://developers.notion.com/docs/authorization> and
//! <https://developers.notion.com/reference/create-a-token>.
//!
//! Quirks, all data: the token endpoint wants HTTP Basic client authentication and a JSON body;
//! the authorize URL carries `owner=user`; there are no scopes; the response carries
//! `workspace_id`, `workspace_name` and `bot_id` (kept as session detail). Notion documents no
//! PKCE. The token endpoint also takes `grant_type=refresh_token`, answering a new refresh token
//! each time (the reference treated tokens as permanent); the response carries no `expires_in`,
//! so a session is refreshed only when asked to. `/v1/users/me` names the bot, not the person:
//! the person is `owner.user` in the token response. Sign-out posts `{"token": …}` as JSON to
//! `/v1/oauth/revoke` with Basic client credentials and a `Notion-Version` header.

use keyfob_core::spec::{
    BodyFormat, ClientAuth, Handler, KeyPlacement, OAuth2Spec, Pkce, Provider, Refresh,
    RevokeStyle, TokenSpec, Verify,
};

static OAUTH2: OAuth2Spec = OAuth2Spec {
    name: "notion-oauth2",
    env_key: "NOTION_TOKEN",
    authorize_url: "https://api.notion.com/v1/oauth/authorize",
    token_url: "https://api.notion.com/v1/oauth/token",
    revoke_url: Some("https://api.notion.com/v1/oauth/revoke"),
    revoke_style: RevokeStyle::JsonBasic(&[("Notion-Version", "2025-09-03")]),
    scope_param: None,
    authorize_params: &[("owner", "user")],
    client_auth: ClientAuth::Basic,
    pkce: Pkce::None,
    refresh: Refresh::Rotating,
    body_format: BodyFormat::Json,
    docs_url: "https://www.notion.so/profile/integrations",
    ..OAuth2Spec::DEFAULTS
};

static TOKEN: TokenSpec = TokenSpec {
    name: "notion-token",
    env_key: "NOTION_TOKEN",
    docs_url: "https://www.notion.so/profile/integrations",
    verify: Some(Verify {
        headers: &[("Notion-Version", "2022-06-28")],
        ..Verify::get("https://api.notion.com/v1/users/me", KeyPlacement::Bearer)
    }),
    key_prefixes: &["ntn_", "secret_"],
    ..TokenSpec::DEFAULTS
};

/// The `notion` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "notion",
    display_name: "Notion",
    handlers: &[Handler::OAuth2(&OAUTH2), Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
