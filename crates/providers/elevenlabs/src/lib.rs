//! ElevenLabs: an API key pasted on the token page.
//!
//! Sources: <https://elevenlabs.io/docs/api-reference/authentication>.
//!
//! Header xi-api-key. Keys can be scope-restricted: /v1/user needs the 'User: Read' permission, so
//! a valid but restricted key may get 401/403 there (docs' own first call is GET /v1/models). Keys
//! may have credit quotas and IP allowlists. Residency hosts exist (e.g.
//! api.eu.residency.elevenlabs.io - unverified). sk_ prefix seen on current keys, not stated on the
//! auth page (unverified).

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "elevenlabs-token",
    env_key: "ELEVENLABS_TOKEN",
    docs_url: "https://elevenlabs.io/app/settings/api-keys",
    verify: Some(Verify::get(
        "https://api.elevenlabs.io/v1/user",
        KeyPlacement::Header {
            name: "xi-api-key",
            prefix: "",
        },
    )),
    key_prefixes: &["sk_"],
    ..TokenSpec::DEFAULTS
};

/// The `elevenlabs` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "elevenlabs",
    display_name: "ElevenLabs",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
