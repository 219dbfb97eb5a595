//! Finage: an API key pasted on the token page.
//!
//! Sources: <https://finage.co.uk/docs/api/>.
//!
//! unverified: official docs not readable here. Key is passed as query param ?apikey= on
//! https://api.finage.co.uk (e.g. GET /last/stock/AAPL?apikey=KEY, widely used), but that call
//! counts against quota and no dedicated account/verify endpoint was found, so no verify table.
//! Dashboard URL (moon.finage.co.uk) unverified.

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
