//! Gumloop: an API key pasted on the token page.
//!
//! Sources: <https://docs.gumloop.com/api-reference/authentication>.
//!
//! Authorization: Bearer `<api key>` on https://api.gumloop.com/api/v1/... Requires a paid plan
//! (Solo/Pro+). Personal keys act as the owner and (per newer reference pages) also need header
//! x-auth-key: `<user_id>`; most endpoints take user_id (and optional project_id = team id) in
//! body/query, so no key-only whoami → no verify. Team vs personal keys differ. docs_url unverified
//! (older docs: https://www.gumloop.com/profile#Credentials).

use keyfob_core::spec::{Handler, Provider, TokenSpec};

static TOKEN: TokenSpec = TokenSpec {
    name: "gumloop-token",
    env_key: "GUMLOOP_TOKEN",
    docs_url: "https://www.gumloop.com/settings/profile/credentials",
    ..TokenSpec::DEFAULTS
};

/// The `gumloop` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "gumloop",
    display_name: "Gumloop",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
