//! Basic auth: a user name and password.
//!
//! A user name and password for any service that takes HTTP Basic; tools read
//! `base64(user:password)` as `BASIC_AUTH`.

use keyfob_core::spec::{Handler, Provider, TokenEntry, TokenSpec};

static BASIC: TokenSpec = TokenSpec {
    name: "basicauth",
    env_key: "BASIC_AUTH",
    entry: TokenEntry::BasicAuth,
    docs_url: "",
    ..TokenSpec::DEFAULTS
};

/// The `basicauth` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "basicauth",
    display_name: "Basic auth",
    handlers: &[Handler::Token(&BASIC)],
};

keyfob_core::register_provider!(PROVIDER);
