//! Alchemy: an API key pasted on the token page.
//!
//! Sources: <https://alchemy.com/docs/how-to-use-api-keys-in-http-headers>.
//!
//! Key traditionally sits in the URL path; header form Authorization: Bearer `<key>` also accepted.
//! Cheapest check is a JSON-RPC POST (eth_blockNumber) to the network host, which needs a body, so
//! no verify table. 'demo' is a public demo key.
//!
//! Per account: per-network host, e.g. https://eth-mainnet.g.alchemy.com/v2/{api_key} (key in URL
//! path) or https://eth-mainnet.g.alchemy.com/v2 with Authorization: Bearer `<key>`

use keyfob_core::spec::{Handler, Provider, TokenSpec};

static TOKEN: TokenSpec = TokenSpec {
    name: "alchemy-token",
    env_key: "ALCHEMY_TOKEN",
    docs_url: "https://dashboard.alchemy.com/",
    ..TokenSpec::DEFAULTS
};

/// The `alchemy` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "alchemy",
    display_name: "Alchemy",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
