//! Brevo: an API key pasted on the token page.
//!
//! Sources: <https://developers.brevo.com/docs/api-key-authentication>,
//! <https://developers.brevo.com/reference/quickstart-reference>,
//! <https://help.brevo.com/hc/en-us/articles/40159485019794-Create-and-manage-your-API-keys>.
//!
//! The key goes in the lowercase 'api-key' header (not Bearer); GET /v3/account is the documented
//! key-validation call. The key is shown once. Keys are created with per-key access permissions
//! and an expiry (7 days to 1 year, or none), so a key without permission to read the account
//! cannot pass the check. Accounts with 'Authorized IPs' enabled reject calls from unknown IPs (a
//! 401 can be an IP block, not a bad key). SMTP keys are not API keys.

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
    unverified: &[
        "key prefix `xkeysib-` (third-party pages only)",
        "the status `/v3/account` answers a key without account permission",
    ],
    ..TokenSpec::DEFAULTS
};

/// The `brevo` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "brevo",
    display_name: "Brevo",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
