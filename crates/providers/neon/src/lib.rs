//! Neon: an API key pasted on the token page.
//!
//! Sources: <https://neon.com/docs/reference/api/get-started>.
//!
//! Bearer auth against https://console.neon.tech/api/v2. Three key types: personal, organization,
//! project-scoped; shown once, valid until revoked. /users/me identifies the user for personal
//! keys; org- or project-scoped keys may not be allowed on it (unverified) - fall back to GET
//! /projects. No documented prefix (docs describe a random token).

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
    ..TokenSpec::DEFAULTS
};

/// The `neon` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "neon",
    display_name: "Neon",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
