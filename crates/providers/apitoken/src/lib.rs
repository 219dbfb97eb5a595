//! API token: an API key pasted on the token page.
//!
//! A generic API key for services without a provider of their own; tools read it as `API_TOKEN`.

use keyfob_core::spec::{Handler, Provider, TokenSpec};

static TOKEN: TokenSpec = TokenSpec {
    name: "apitoken",
    env_key: "API_TOKEN",
    docs_url: "",
    ..TokenSpec::DEFAULTS
};

/// The `apitoken` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "apitoken",
    display_name: "API token",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
