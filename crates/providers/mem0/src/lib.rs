//! Mem0: an API key pasted on the token page.
//!
//! Sources: <https://docs.mem0.ai/api-reference>.
//!
//! Hosted API https://api.mem0.ai/v1/...; key sent as Authorization: Token `<key>` (not Bearer).
//! Optional org/project selection. Self-hosted OSS server uses different paths (no /v1) and its own
//! auth. SDK validates keys via GET /v1/ping/ but that endpoint is not in the public reference
//! (unverified), so no verify. Key prefix m0- reported by third parties only (unverified).

use keyfob_core::spec::{Handler, Provider, TokenSpec};

static TOKEN: TokenSpec = TokenSpec {
    name: "mem0-token",
    env_key: "MEM0_TOKEN",
    docs_url: "https://app.mem0.ai/dashboard/settings?tab=api-keys",
    ..TokenSpec::DEFAULTS
};

/// The `mem0` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "mem0",
    display_name: "Mem0",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
