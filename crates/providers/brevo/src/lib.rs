//! Brevo: an API key pasted on the token page.
//!
//! Sources: <https://developers.brevo.com/docs/api-key-authentication>.
//!
//! Header is lowercase 'api-key' (not Bearer). /v3/account is the documented key-validation call.
//! Key shown once. Accounts with 'Authorized IPs' enabled reject calls from unknown IPs (a 401 can
//! be an IP block, not a bad key). Prefix 'xkeysib-' is unmistakable but not stated in the page
//! read; SMTP keys ('xsmtpsib-') are not API keys.

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "brevo-token",
    env_key: "BREVO_TOKEN",
    docs_url: "https://app.brevo.com/settings/keys/api",
    verify: Some(Verify::get(
        "https://api.brevo.com/v3/account",
        KeyPlacement::Header {
            name: "api-key",
            prefix: "",
        },
    )),
    key_prefixes: &["xkeysib-"],
    ..TokenSpec::DEFAULTS
};

/// The `brevo` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "brevo",
    display_name: "Brevo",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
