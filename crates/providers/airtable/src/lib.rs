//! Airtable: an API key pasted on the token page.
//!
//! Sources: <https://airtable.com/developers/web/api/authentication>.
//!
//! Personal access tokens (prefix 'pat', form patXXXX.YYYY) replaced legacy 'key...' API keys
//! (deprecated Feb 2024). whoami returns user id (+ scopes, and email only with user.email:read
//! scope). Token scoped to chosen bases; a base-less token still passes whoami.

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "airtable-token",
    env_key: "AIRTABLE_TOKEN",
    docs_url: "https://airtable.com/create/tokens",
    verify: Some(Verify::get(
        "https://api.airtable.com/v0/meta/whoami",
        KeyPlacement::Bearer,
    )),
    key_prefixes: &["pat"],
    ..TokenSpec::DEFAULTS
};

/// The `airtable` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "airtable",
    display_name: "Airtable",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
