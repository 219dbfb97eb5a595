//! Reddit: OAuth2 authorization code.
//!
//! Sources: <https://github.com/reddit-archive/reddit/wiki/OAuth2>.
//!
//! `duration=permanent` asks for a refresh token. Refresh tokens are reusable: Reddit announced
//! single-use refresh tokens in 2021 and withdrew the change (PRAW's changelog records both).
//!
//! Reddit refuses requests without a descriptive User-Agent; API calls go to `oauth.reddit.com`.

use keyfob_core::spec::{ClientAuth, Handler, OAuth2Spec, Offline, Pkce, Provider, Refresh};

static OAUTH2: OAuth2Spec = OAuth2Spec {
    name: "reddit-oauth2",
    env_key: "REDDIT_BOT_TOKEN",
    authorize_url: "https://www.reddit.com/api/v1/authorize",
    token_url: "https://www.reddit.com/api/v1/access_token",
    revoke_url: Some("https://www.reddit.com/api/v1/revoke_token"),
    userinfo_url: Some("https://oauth.reddit.com/api/v1/me"),
    recommended_scopes: &["identity", "read", "account"],
    client_auth: ClientAuth::Basic,
    pkce: Pkce::None,
    refresh: Refresh::Plain,
    offline: Offline::Params(&[("duration", "permanent")]),
    docs_url: "https://www.reddit.com/prefs/apps",
    ..OAuth2Spec::DEFAULTS
};

/// The `reddit` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "reddit",
    display_name: "Reddit",
    handlers: &[Handler::OAuth2(&OAUTH2)],
};

keyfob_core::register_provider!(PROVIDER);
