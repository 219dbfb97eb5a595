//! Ahrefs: an API key pasted on the token page.
//!
//! Sources: <https://docs.ahrefs.com/api/docs/api-keys-creation-and-management>.
//!
//! API v3 only (v2 discontinued). Keys made in Account settings → API keys by workspace
//! owners/admins; each key expires after 1 year and dies if its creator leaves the workspace.
//! limits-and-usage is documented as free (no API units).

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "ahrefs-token",
    env_key: "AHREFS_TOKEN",
    docs_url: "https://docs.ahrefs.com/api/docs/api-keys-creation-and-management",
    verify: Some(Verify::get(
        "https://api.ahrefs.com/v3/subscription-info/limits-and-usage",
        KeyPlacement::Bearer,
    )),
    ..TokenSpec::DEFAULTS
};

/// The `ahrefs` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "ahrefs",
    display_name: "Ahrefs",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
