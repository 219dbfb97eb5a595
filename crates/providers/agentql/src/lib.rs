//! AgentQL: an API key pasted on the token page.
//!
//! Sources: <https://docs.agentql.com/rest-api/api-reference>,
//! <https://docs.agentql.com/usage-api/api-reference>.
//!
//! The REST API (POST https://api.agentql.com/v1/query-data) takes the key in the X-API-Key
//! header. The Usage API (GET https://api.agentql.com/v1/usage) takes it as ?api_key= and answers
//! the subscription's usage limit and cycle usage, with no side effects, so it is the key check.
//! The key is shown once, in the Dev Portal (https://dev.agentql.com); its key page,
//! https://dev.agentql.com/api-keys, is the one AgentQL's LangChain and LlamaIndex integrations
//! link.

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "agentql-token",
    env_key: "AGENTQL_TOKEN",
    docs_url: "https://dev.agentql.com/api-keys",
    verify: Some(Verify::get(
        "https://api.agentql.com/v1/usage",
        KeyPlacement::Query("api_key"),
    )),
    ..TokenSpec::DEFAULTS
};

/// The `agentql` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "agentql",
    display_name: "AgentQL",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
