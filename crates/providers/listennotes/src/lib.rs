//! Listen Notes: an API key pasted on the token page.
//!
//! Sources: <https://www.listennotes.com/api/docs/>.
//!
//! Key in custom header X-ListenAPI-Key against https://listen-api.listennotes.com/api/v2; 401 =
//! wrong key or suspended account, 429 = FREE plan quota exceeded. No whoami endpoint is
//! documented, so there is no key check (any call, e.g. GET /genres, spends quota). Mock host
//! https://listen-api-test.listennotes.com/api/v2 needs no key and returns fake data (never use it
//! to validate). docs_url is the API dashboard's apps section, where the key is shown, as Listen
//! Notes' SDK READMEs link it.

use keyfob_core::spec::{Handler, Provider, TokenSpec};

static TOKEN: TokenSpec = TokenSpec {
    name: "listennotes-token",
    env_key: "LISTENNOTES_TOKEN",
    docs_url: "https://www.listennotes.com/api/dashboard/#apps",
    ..TokenSpec::DEFAULTS
};

/// The `listennotes` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "listennotes",
    display_name: "Listen Notes",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
