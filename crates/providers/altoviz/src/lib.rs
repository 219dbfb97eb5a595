//! Altoviz: an API key pasted on the token page.
//!
//! Sources: <https://developer.altoviz.com/docs/api/guides/authentication>.
//!
//! Keys are made under Settings → API access (the docs' shortcut:
//! https://app.altoviz.com/go/settings/apis) and shown once. Every request carries the key in the
//! x-api-key header; HTTP Basic with user 'apikey' and the key as password, or the apikey query
//! parameter (discouraged: the key ends up in logs), also work. The check is GET /hello, the
//! documented first call ('get information about the API server').

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "altoviz-token",
    env_key: "ALTOVIZ_TOKEN",
    docs_url: "https://app.altoviz.com/go/settings/apis",
    verify: Some(Verify::get(
        "https://api.altoviz.com/hello",
        KeyPlacement::Header {
            name: "x-api-key",
            prefix: "",
        },
    )),
    unverified: &["`GET /hello` refusing an invalid key (the docs show it with a valid one only)"],
    ..TokenSpec::DEFAULTS
};

/// The `altoviz` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "altoviz",
    display_name: "Altoviz",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
