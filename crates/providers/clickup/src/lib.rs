//! ClickUp: an API key pasted on the token page.
//!
//! Sources: <https://developer.clickup.com/docs/authentication>,
//! <https://developer.clickup.com/reference/getaccesstoken.md>.
//!
//! A personal token begins `pk_`, is generated under Settings → Apps, never expires, and goes in
//! the Authorization header as is, without 'Bearer '. OAuth tokens (no `pk_`) take 'Bearer '.

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "clickup-token",
    env_key: "CLICKUP_TOKEN",
    docs_url: "https://developer.clickup.com/docs/authentication",
    verify: Some(Verify::get(
        "https://api.clickup.com/api/v2/user",
        KeyPlacement::Header {
            name: "Authorization",
            prefix: "",
        },
    )),
    key_prefixes: &["pk_"],
    ..TokenSpec::DEFAULTS
};

/// The `clickup` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "clickup",
    display_name: "ClickUp",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
