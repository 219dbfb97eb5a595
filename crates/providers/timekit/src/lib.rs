//! Timekit: an API key pasted on the token page.
//!
//! Sources: <https://developers.timekit.io/reference/authentication>.
//!
//! HTTP Basic with EMPTY username and the App API key as password (curl -u :`<key>`) against
//! https://api.timekit.io/v2. Use the App API Key from the admin's API Settings, not the App Widget
//! Key (widget key is client-side, limited). GET /v2/app returns the current app. Key prefixes
//! live_api_key_ / test_api_key_ come from a third-party integration guide (unverified);
//! docs_url/source paths unverified.

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
    ..TokenSpec::DEFAULTS
};

/// The `timekit` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "timekit",
    display_name: "Timekit",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
