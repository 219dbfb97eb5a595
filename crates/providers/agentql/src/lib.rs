//! AgentQL: an API key pasted on the token page.
//!
//! Sources: <https://docs.agentql.com/rest-api/api-reference>.
//!
//! Main REST API (POST https://api.agentql.com/v1/query-data) takes header X-API-Key; the
//! documented Usage API (https://docs.agentql.com/usage-api/api-reference) instead takes ?api_key=
//! and returns subscription usage (no side effects), hence used for verify. Key shown only once in
//! the Dev Portal. docs_url path /api-keys is unverified; Dev Portal is https://dev.agentql.com.

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
