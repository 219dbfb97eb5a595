//! HeyGen: an API key pasted on the token page.
//!
//! Sources: <https://developers.heygen.com/docs/api-key>.
//!
//! Header X-Api-Key on https://api.heygen.com; GET /v1/user/me is the documented 'quick
//! verification', so it is the key check. The key comes from the HeyGen API dashboard (older
//! docs: Settings → Subscriptions & API → HeyGen API → API token) and is shown once; regenerating
//! it invalidates the old key. GET /v2/user/remaining_quota also works. API balance is separate
//! from web-plan credits (MCP/OAuth).

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "heygen-token",
    env_key: "HEYGEN_TOKEN",
    docs_url: "https://app.heygen.com/settings?nav=API",
    verify: Some(Verify::get(
        "https://api.heygen.com/v1/user/me",
        KeyPlacement::Header {
            name: "X-Api-Key",
            prefix: "",
        },
    )),
    unverified: &["key page `https://app.heygen.com/settings?nav=API` (third-party links)"],
    ..TokenSpec::DEFAULTS
};

/// The `heygen` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "heygen",
    display_name: "HeyGen",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
