//! HeyGen: an API key pasted on the token page.
//!
//! Sources: <https://docs.heygen.com/docs/api-key>.
//!
//! Header X-Api-Key on https://api.heygen.com. Key from Settings → API (shown once; regenerating
//! invalidates the old key). /v1/user/me is the documented 'quick verification'; GET
//! /v2/user/remaining_quota also works. API balance is separate from web-plan credits (MCP/OAuth).
//! docs_url query string unverified.

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
    ..TokenSpec::DEFAULTS
};

/// The `heygen` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "heygen",
    display_name: "HeyGen",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
