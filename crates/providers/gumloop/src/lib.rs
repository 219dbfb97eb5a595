//! Gumloop: an API key pasted on the token page.
//!
//! Sources: <https://docs.gumloop.com/api-reference/authentication>,
//! <https://docs.gumloop.com/help/connectors/find-your-api-key>.
//!
//! Authorization: Bearer `<api key>` on https://api.gumloop.com/api/v1/..., on every endpoint. API
//! keys need the Pro plan or above. Personal keys act as the owner; most endpoints take user_id
//! (and an optional project_id, the team id) in the body or query, so there is no key-only whoami
//! and no key check. Team and personal keys differ. Keys are made on the credentials page
//! (https://www.gumloop.com/settings/profile/credentials, linked from the authentication docs) or
//! under Connectors → 'Gumloop API Key'.

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
