//! Slack: OAuth v2 with user scopes, or a token pasted from the app's settings.
//!
//! Sources: <https://api.slack.com/authentication/oauth-v2>,
//! <https://api.slack.com/methods/oauth.v2.access> and
//! <https://api.slack.com/authentication/rotation>.
//!
//! Quirks: scopes are comma-separated; keyfob asks for them as `user_scope` (as the reference
//! does), so the token comes back nested under `authed_user` and [`quirks`] lifts it; errors come
//! back as HTTP 200 `{"ok": false, "error": …}` (handled by the core); token rotation is opt-in
//! per app, and a rotated refresh token is single-use. `oauth.v2.access` asks for HTTP Basic client
//! authentication (the reference sent the secret in the body). PKCE stays off: Slack offers it
//! (since March 2026) only as an opt-in that turns the app into a public client, irreversibly, with
//! shorter-lived refresh tokens, which a confidential client with a secret does not need. Slack requires
//! an https redirect URI (serve the callback with TLS or behind a proxy). Sign-out calls
//! `auth.revoke` with the access token as its bearer credential, which answers 200
//! `{"ok": true, "revoked": true}` or `{"ok": false, "error": "invalid_auth"}`
//! (<https://api.slack.com/methods/auth.revoke>).

mod quirks;

use keyfob_core::spec::{
    ClientAuth, Handler, KeyPlacement, Method, OAuth2Spec, Pkce, Provider, Refresh, RevokeStyle,
    TokenSpec, Verify,
};

static OAUTH2: OAuth2Spec = OAuth2Spec {
    name: "slack-oauth2",
    env_key: "SLACK_BOT_TOKEN",
    authorize_url: "https://slack.com/oauth/v2/authorize",
    token_url: "https://slack.com/api/oauth.v2.access",
    userinfo_url: Some("https://slack.com/api/auth.test"),
    revoke_url: Some("https://slack.com/api/auth.revoke"),
    revoke_style: RevokeStyle::BearerPost,
    scope_param: Some("user_scope"),
    scope_separator: ",",
    recommended_scopes: &[
        "channels:history",
        "channels:read",
        "chat:write",
        "groups:history",
        "groups:read",
        "im:history",
        "mpim:history",
        "reactions:read",
        "reactions:write",
    ],
    client_auth: ClientAuth::Basic,
    pkce: Pkce::None,
    refresh: Refresh::Rotating,
    docs_url: "https://api.slack.com/apps",
    hooks: Some(&quirks::Hooks),
    ..OAuth2Spec::DEFAULTS
};

static TOKEN: TokenSpec = TokenSpec {
    name: "slack-token",
    env_key: "SLACK_BOT_TOKEN",
    docs_url: "https://api.slack.com/apps",
    verify: Some(Verify {
        method: Method::Post,
        ..Verify::get("https://slack.com/api/auth.test", KeyPlacement::Bearer)
    }),
    key_prefixes: &["xoxb-", "xoxp-"],
    ..TokenSpec::DEFAULTS
};

/// The `slack` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "slack",
    display_name: "Slack",
    handlers: &[Handler::OAuth2(&OAUTH2), Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
