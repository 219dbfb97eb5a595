//! Raven Tools: an API key pasted on the token page.
//!
//! Sources: client wrappers of the API documented at <https://api.raventools.com/docs/>.
//!
//! Single endpoint https://api.raventools.com/api with query params key=`<key>`, method=`<name>`,
//! format=json (the key goes in the query string only). The key is shown in the Raven account
//! settings (API page). method=profile_info answers the profile name and keyword usage; it is the
//! cheapest call, so it is the key check.

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "ravenseotools-token",
    env_key: "RAVENSEOTOOLS_TOKEN",
    docs_url: "https://api.raventools.com/docs/",
    verify: Some(Verify::get(
        "https://api.raventools.com/api?method=profile_info&format=json",
        KeyPlacement::Query("key"),
    )),
    unverified: &["`/api?key=…&method=profile_info&format=json` (client wrappers; docs not read)"],
    ..TokenSpec::DEFAULTS
};

/// The `ravenseotools` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "ravenseotools",
    display_name: "Raven Tools",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
