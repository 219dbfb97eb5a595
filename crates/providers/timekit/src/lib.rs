//! Timekit: an API key pasted on the token page.
//!
//! Sources: <https://github.com/timekit-io/js-sdk> (Timekit's JS SDK: its README and
//! `src/timekit.js`), <https://reference.timekit.io/>.
//!
//! HTTP Basic with an empty username and the app's API key as password against
//! https://api.timekit.io/v2, as the SDK sends its `appKey`. The check is GET /v2/app (the SDK's
//! getApp), which answers the current app. Use the App API Key from the admin panel
//! (https://admin.timekit.io), not the App Widget Key (client-side, limited). Live keys start
//! `live_api_key_` (the SDK README's example).

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "timekit-token",
    env_key: "TIMEKIT_TOKEN",
    docs_url: "https://admin.timekit.io/",
    verify: Some(Verify::get(
        "https://api.timekit.io/v2/app",
        KeyPlacement::BasicPassword(""),
    )),
    key_prefixes: &["live_api_key_", "test_api_key_"],
    unverified: &["key prefix `test_api_key_` (a third-party guide only)"],
    ..TokenSpec::DEFAULTS
};

/// The `timekit` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "timekit",
    display_name: "Timekit",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
