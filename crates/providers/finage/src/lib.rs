//! Finage: an API key pasted on the token page.
//!
//! Sources: <https://finage.co.uk/docs>, <https://finage.co.uk/docs/api/us-stocks>.
//!
//! The key goes as the apikey query parameter on https://api.finage.co.uk (e.g. GET
//! /last/stock/AAPL?apikey=KEY). Every data call counts against the quota and the docs list no
//! account endpoint, so there is no key check. Keys and usage are in the Moon Dashboard,
//! https://moon.finage.co.uk, where Finage's register and login pages live.

use keyfob_core::spec::{Handler, Provider, TokenSpec};

static TOKEN: TokenSpec = TokenSpec {
    name: "finage-token",
    env_key: "FINAGE_TOKEN",
    docs_url: "https://moon.finage.co.uk/",
    ..TokenSpec::DEFAULTS
};

/// The `finage` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "finage",
    display_name: "Finage",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
