//! Raven Tools: an API key pasted on the token page.
//!
//! Sources: <https://api.raventools.com/docs/>.
//!
//! Single endpoint https://api.raventools.com/api with query params key=`<key>`, method=`<name>`,
//! format=json (key in query string only). Key shown in the Raven account settings (API page).
//! method=profile_info returns profile name and keyword usage - cheapest check. Facts taken from
//! official client wrappers and examples; the official docs page itself was not readable here
//! (unverified). Raven Tools product has been winding down (unverified).

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "ravenseotools-token",
    env_key: "RAVENSEOTOOLS_TOKEN",
    docs_url: "https://api.raventools.com/docs/",
    verify: Some(Verify::get(
        "https://api.raventools.com/api?method=profile_info&format=json",
        KeyPlacement::Query("key"),
    )),
    ..TokenSpec::DEFAULTS
};

/// The `ravenseotools` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "ravenseotools",
    display_name: "Raven Tools",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
