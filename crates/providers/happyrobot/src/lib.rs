//! HappyRobot: an API key pasted on the token page.
//!
//! Sources: <https://platform.happyrobot.ai/api/v2/docs/json>,
//! <https://raw.githubusercontent.com/api-evangelist/happyrobot/refs/heads/main/authentication/happyrobot-authentication.yml>.
//!
//! HappyRobot publishes its v2 OpenAPI at the first source; the second is a third-party copy of
//! its authentication part. It says: every operation takes Authorization: Bearer `<key>`; a key is
//! bound to one organization and one environment; GET /api-key/describe answers the key's id,
//! organization, prefix and last four characters, so it is the key check. Legacy v1 took the raw
//! key in 'authorization' plus a required x-organization-id header. The API reference at
//! docs.happyrobot.ai asks for an access code.

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
    unverified: &[
        "Bearer keys and `GET /api-key/describe` (the v2 OpenAPI, read in a third-party copy)",
        "key prefix `sk_live_` (an SDK example's key only)",
    ],
    ..TokenSpec::DEFAULTS
};

/// The `happyrobot` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "happyrobot",
    display_name: "HappyRobot",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
