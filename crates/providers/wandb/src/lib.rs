//! Weights & Biases: an API key pasted on the token page.
//!
//! Sources: <https://docs.wandb.ai/models/ref/cli/wandb-login>,
//! <https://docs.wandb.ai/platform/hosting/iam/api-keys>,
//! <https://docs.wandb.ai/support/models/articles/why-does-my-api-key-fail-with-must-be-40-characters>.
//!
//! The SDK and CLI read the key from WANDB_API_KEY or ~/.netrc (machine api.wandb.ai, login user,
//! password = key). W&B documents no REST call that checks a key, so there is no key check. Keys
//! are either legacy 40-character keys or newer ones of about 86 characters (SDK 0.22.3 or
//! later); both work, so keyfob checks neither length nor prefix. A key's first part is its key
//! ID, which stays visible in the settings. Teams and organizations also have service-account
//! keys. Keys are managed at https://wandb.ai/account-settings/`<org>`/api-keys.
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
