//! OnceHub: an API key pasted on the token page.
//!
//! Sources: <https://developers.oncehub.com/docs/overview/authentication>.
//!
//! Key in custom header API-Key (HTTPS only) against https://api.oncehub.com/v2. Keys are created
//! under gear → Account Integrations → APIs & Webhooks; newer accounts can hold up to 25 keys,
//! shown once (hashed storage); older docs describe a single regenerable key. Validation endpoint
//! is GET /v2/test (path from OnceHub 'validating your API key' docs; exact v2 path moderately
//! sure).

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "oncehub-token",
    env_key: "ONCEHUB_TOKEN",
    docs_url: "https://developers.oncehub.com/docs/overview/authentication",
    verify: Some(Verify::get(
        "https://api.oncehub.com/v2/test",
        KeyPlacement::Header {
            name: "API-Key",
            prefix: "",
        },
    )),
    ..TokenSpec::DEFAULTS
};

/// The `oncehub` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "oncehub",
    display_name: "OnceHub",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
