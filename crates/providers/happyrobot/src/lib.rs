//! HappyRobot: an API key pasted on the token page.
//!
//! Sources: <https://platform.happyrobot.ai/api/v2/docs/json>.
//!
//! unverified: docs.happyrobot.ai is access-gated; facts come from HappyRobot's published v2
//! OpenAPI (via a third-party harvest). v2: Authorization: Bearer `<key>`, key bound to one org +
//! environment; GET /api-key/describe returns key id/org/prefix/lastFour. Legacy v1 used raw
//! 'authorization' header plus required x-organization-id. sk_live_ prefix seen in HappyRobot SDK
//! examples only.

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "happyrobot-token",
    env_key: "HAPPYROBOT_TOKEN",
    docs_url: "https://docs.happyrobot.ai/api-reference",
    verify: Some(Verify::get(
        "https://platform.happyrobot.ai/api/v2/api-key/describe",
        KeyPlacement::Bearer,
    )),
    key_prefixes: &["sk_live_"],
    ..TokenSpec::DEFAULTS
};

/// The `happyrobot` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "happyrobot",
    display_name: "HappyRobot",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
