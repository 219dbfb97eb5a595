//! ElevenLabs: an API key pasted on the token page.
//!
//! Sources: <https://elevenlabs.io/docs/api-reference/authentication>,
//! <https://elevenlabs.io/docs/eleven-api/resources/errors>,
//! <https://help.elevenlabs.io/hc/en-us/articles/19572237925521-API-Error-Code-400-or-401>.
//!
//! The key goes in the `xi-api-key` header. Keys can be limited to some permissions, credit
//! quotas and IP allowlists (a request from another IP gets 403, so a 403 to the check saves the
//! key with a warning: keyfob may run elsewhere than the tools). `GET /v1/user` needs the
//! "User: Read" permission: a refused key gets 401 with `invalid_api_key`, and a valid key without
//! that permission gets 401 with `missing_permissions`, which keyfob saves with a warning. The
//! API also answers at data-residency hosts (`api.us.elevenlabs.io`,
//! `api.eu.residency.elevenlabs.io`, `api.in.residency.elevenlabs.io`,
//! `api.sg.residency.elevenlabs.io`), where keys made for those regions belong.

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "elevenlabs-token",
    env_key: "ELEVENLABS_TOKEN",
    docs_url: "https://elevenlabs.io/app/settings/api-keys",
    verify: Some(
        Verify::get(
            "https://{api_host}/v1/user",
            KeyPlacement::Header {
                name: "xi-api-key",
                prefix: "",
            },
        )
        .refusal_means_lacking_when("/detail/status", "missing_permissions", "User: Read")
        .forbidden_means_unchecked("a key limited to other IP addresses"),
    ),
    key_prefixes: &["sk_"],
    config_fields: &["api_host"],
    config_defaults: &[("api_host", "api.elevenlabs.io")],
    config_env: &[("api_host", "ELEVENLABS_API_HOST")],
    unverified: &[
        "HTTP 401 with `missing_permissions` for a valid key without User: Read (third-party \
         reports)",
        "key prefix `sk_` (seen on keys, not stated in the docs)",
    ],
    ..TokenSpec::DEFAULTS
};

/// The `elevenlabs` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "elevenlabs",
    display_name: "ElevenLabs",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
