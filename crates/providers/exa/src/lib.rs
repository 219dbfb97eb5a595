//! Exa: an API key pasted on the token page.
//!
//! Sources: <https://docs.exa.ai/reference/get-contents>.
//!
//! API key via header x-api-key OR Authorization: Bearer (both documented). All core endpoints
//! (search, contents, findSimilar, answer) are billed POSTs; no documented free whoami, so no
//! verify. Base https://api.exa.ai. Team-management API uses a separate service key. docs_url path
//! unverified (dashboard.exa.ai → API Keys).

use keyfob_core::spec::{Handler, Provider, TokenSpec};

static TOKEN: TokenSpec = TokenSpec {
    name: "exa-token",
    env_key: "EXA_TOKEN",
    docs_url: "https://dashboard.exa.ai/api-keys",
    ..TokenSpec::DEFAULTS
};

/// The `exa` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "exa",
    display_name: "Exa",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
