//! Trello: an API key pasted on the token page.
//!
//! Sources: <https://developer.atlassian.com/cloud/trello/guides/rest-api/authorization/>.
//!
//! Needs TWO values: the public API key (from a Power-Up's API Key tab at
//! trello.com/power-ups/admin) and a user token (via the 'manually generate a Token' link or
//! https://trello.com/1/authorize?...&key=`<key>`&response_type=token). Both go as query params
//! key=`<key>`&token=`<token>`, or as header Authorization: OAuth oauth_consumer_key="`<key>`",
//! oauth_token="`<token>`". A token alone fails (401 invalid key), so the handler must also
//! store/ask for the key. Manually generated tokens can be expiration=never.
//!
//! No key check is recorded: the check needs the application key besides the token.

use keyfob_core::spec::{Handler, Provider, TokenSpec};

static TOKEN: TokenSpec = TokenSpec {
    name: "trello-token",
    env_key: "TRELLO_TOKEN",
    docs_url: "https://trello.com/power-ups/admin",
    ..TokenSpec::DEFAULTS
};

/// The `trello` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "trello",
    display_name: "Trello",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
