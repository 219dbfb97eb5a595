//! Tavily: an API key pasted on the token page.
//!
//! Sources: <https://docs.tavily.com/api-reference/introduction>,
//! <https://docs.tavily.com/documentation/api-reference/endpoint/usage>.
//!
//! Authorization: Bearer tvly-... against https://api.tavily.com. Key types Development (free
//! plan) / Production. GET /usage answers the key's usage and limit and the account's plan usage
//! without spending search credits, so it is the key check.

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "tavily-token",
    env_key: "TAVILY_TOKEN",
    docs_url: "https://app.tavily.com/home",
    verify: Some(Verify::get(
        "https://api.tavily.com/usage",
        KeyPlacement::Bearer,
    )),
    key_prefixes: &["tvly-"],
    ..TokenSpec::DEFAULTS
};

/// The `tavily` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "tavily",
    display_name: "Tavily",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
