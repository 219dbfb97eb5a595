//! Altoviz: an API key pasted on the token page.
//!
//! Sources: <https://developer.altoviz.com/docs/api/guides/authentication>.
//!
//! Key from Settings → API access, shown once. Also accepted: HTTP Basic user 'apikey' + key as
//! password, or ?apikey= query param (discouraged). /hello is the documented first call ('API
//! server info'); whether it rejects an invalid key is unverified.

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
    ..TokenSpec::DEFAULTS
};

/// The `altoviz` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "altoviz",
    display_name: "Altoviz",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
