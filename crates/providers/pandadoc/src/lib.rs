//! PandaDoc: an API key pasted on the token page.
//!
//! Sources: <https://developers.pandadoc.com/reference/authentication>.
//!
//! Authorization: API-Key `<key>` (OAuth uses Bearer). Two key kinds from the API dashboard:
//! Sandbox key (free, sandbox data only) and Production key (needs Enterprise plan + activation).
//! API keys are now described by PandaDoc as legacy in favour of OAuth. Only org admins generate
//! keys. Get current member endpoint identifies the key's user.

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "pandadoc-token",
    env_key: "PANDADOC_TOKEN",
    docs_url: "https://app.pandadoc.com/a/#/api-dashboard/configuration",
    verify: Some(Verify::get(
        "https://api.pandadoc.com/public/v1/members/current",
        KeyPlacement::Header {
            name: "Authorization",
            prefix: "API-Key ",
        },
    )),
    ..TokenSpec::DEFAULTS
};

/// The `pandadoc` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "pandadoc",
    display_name: "PandaDoc",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
