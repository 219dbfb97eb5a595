//! Semantic Scholar: an API key pasted on the token page.
//!
//! Sources: <https://www.semanticscholar.org/product/api/tutorial>,
//! <https://github.com/allenai/s2-folks/issues/224>.
//!
//! The key is requested via a form (issued by email, not self-serve) and sent in the x-api-key
//! header to https://api.semanticscholar.org/graph/v1. Most endpoints also work with no key
//! (shared rate-limit pool), so a successful unauthenticated call proves nothing. The S2 FAQ, as
//! quoted in Semantic Scholar's s2-folks repository, says a 403 means an incorrect key; keys left
//! unused are suspended and then also get 403. No whoami endpoint is documented, so there is no
//! key check.

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
