//! Affinity: an API key pasted on the token page.
//!
//! Sources: <https://developer.affinity.co/pages/external-api-v2/authentication>.
//!
//! Key generated under Settings → Manage Apps (needs 'Generate an API key' permission). v2 uses
//! Bearer; legacy v1 (https://api.affinity.co/...) uses HTTP Basic with the key as password and
//! empty username (unverified from v1 docs here). Keys may have an IP allowlist.

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "affinity-token",
    env_key: "AFFINITY_TOKEN",
    docs_url: "https://developer.affinity.co/pages/external-api-v2/authentication",
    verify: Some(Verify::get(
        "https://api.affinity.co/v2/auth/whoami",
        KeyPlacement::Bearer,
    )),
    ..TokenSpec::DEFAULTS
};

/// The `affinity` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "affinity",
    display_name: "Affinity",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
