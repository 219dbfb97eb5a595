//! Affinity: an API key pasted on the token page.
//!
//! Sources: <https://developer.affinity.co/pages/external-api-v2/authentication>,
//! <https://developer.affinity.co/api-reference/2026-09-17/auth/get-current-user>,
//! <https://support.affinity.co/s/article/How-to-create-and-manage-API-keys>.
//!
//! The v2 API takes the key as a Bearer token. A user with the 'Generate an API key' permission
//! generates it under Settings → Manage Apps; keys can be limited to an IP allowlist. A user has
//! one active key: generating a new one revokes the old. The check is GET /v2/auth/whoami, which
//! answers the key's user, organization and permissions.

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
