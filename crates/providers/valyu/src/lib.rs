//! Valyu: an API key pasted on the token page.
//!
//! Sources: <https://docs.valyu.ai/api-reference>.
//!
//! API key in header x-api-key. Base URL is https://api.valyu.ai/v1 (older docs used
//! https://api.valyu.network/v1). Endpoints (search/deepsearch, contents, answer) are billed per
//! call; no free whoami/usage endpoint documented, so no verify.

use keyfob_core::spec::{Handler, Provider, TokenSpec};

static TOKEN: TokenSpec = TokenSpec {
    name: "valyu-token",
    env_key: "VALYU_API_KEY",
    docs_url: "https://platform.valyu.ai/",
    ..TokenSpec::DEFAULTS
};

/// The `valyu` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "valyu",
    display_name: "Valyu",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
