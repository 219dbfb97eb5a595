//! Weights & Biases: an API key pasted on the token page.
//!
//! Sources: <https://docs.wandb.ai/models/ref/cli/wandb-login>.
//!
//! Key is read by SDK/CLI from WANDB_API_KEY or ~/.netrc (machine api.wandb.ai, login user,
//! password = key). Raw HTTP use (not in public docs, unverified): HTTP Basic with username 'api'
//! and the key as password against the GraphQL endpoint https://api.wandb.ai/graphql, e.g. POST
//! {"query":"{ viewer { id username } }"}. No documented REST verify, so table omitted. Newer keys
//! may carry a prefix (e.g. local-/v1-style for server installs; unverified).
//!
//! Per account: public cloud https://api.wandb.ai; dedicated/self-managed instances use their own
//! host (WANDB_BASE_URL)

use keyfob_core::spec::{Handler, Provider, TokenSpec};

static TOKEN: TokenSpec = TokenSpec {
    name: "wandb-token",
    env_key: "WANDB_TOKEN",
    docs_url: "https://wandb.ai/authorize",
    ..TokenSpec::DEFAULTS
};

/// The `wandb` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "wandb",
    display_name: "Weights & Biases",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
