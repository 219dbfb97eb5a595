//! Semantic Scholar: an API key pasted on the token page.
//!
//! Sources: <https://www.semanticscholar.org/product/api/tutorial>.
//!
//! Key is requested via a form (issued by email, not self-serve), sent in header x-api-key to
//! https://api.semanticscholar.org/graph/v1. Most endpoints also work with no key (shared
//! rate-limit pool), so a successful unauthenticated call proves nothing; an invalid key is
//! reported to return 403 (unverified). No whoami endpoint documented, so no verify.

use keyfob_core::spec::{Handler, Provider, TokenSpec};

static TOKEN: TokenSpec = TokenSpec {
    name: "semantic-scholar-token",
    env_key: "SEMANTIC_SCHOLAR_TOKEN",
    docs_url: "https://www.semanticscholar.org/product/api#api-key-form",
    ..TokenSpec::DEFAULTS
};

/// The `semantic_scholar` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "semantic_scholar",
    display_name: "Semantic Scholar",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
