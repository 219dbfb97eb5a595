//! Neon: an API key pasted on the token page.
//!
//! Sources: <https://neon.com/docs/reference/api/get-started>,
//! <https://neon.com/docs/manage/api-keys/>.
//!
//! Bearer auth against https://console.neon.tech/api/v2. Three key types: personal, organization
//! and project-scoped; each is shown once and valid until revoked. The check is GET /users/me,
//! which answers the user behind a personal key; Neon's own first example call is GET /projects.
//! Neon documents no key format (a random token), so there are no key_prefixes.

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "neon-token",
    env_key: "NEON_TOKEN",
    docs_url: "https://console.neon.tech/app/settings/api-keys",
    verify: Some(Verify {
        headers: &[("Accept", "application/json")],
        ..Verify::get(
            "https://console.neon.tech/api/v2/users/me",
            KeyPlacement::Bearer,
        )
    }),
    unverified: &["`GET /users/me` taking organization and project-scoped keys"],
    ..TokenSpec::DEFAULTS
};

/// The `neon` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "neon",
    display_name: "Neon",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
