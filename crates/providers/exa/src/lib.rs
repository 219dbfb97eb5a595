//! Exa: an API key pasted on the token page.
//!
//! Sources: <https://docs.exa.ai/reference/get-contents>,
//! <https://exa.ai/docs/get-started/quickstart>.
//!
//! The key goes in the x-api-key header or as Authorization: Bearer (both documented). All core
//! endpoints (search, contents, findSimilar, answer) are billed POSTs and no free whoami is
//! documented, so there is no key check. Base https://api.exa.ai. The team-management API uses a
//! separate service key. Keys are made in the Exa Dashboard at https://dashboard.exa.ai/api-keys,
//! the page Exa's docs link as 'Get your Exa API key'.

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
