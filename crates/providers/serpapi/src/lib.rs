//! SerpApi: an API key pasted on the token page.
//!
//! Sources: <https://serpapi.com/account-api>.
//!
//! Private key passed as query param api_key (header not documented). Account API
//! https://serpapi.com/account.json returns plan and remaining searches and does not consume search
//! credits. One key per account (no scopes); can be regenerated from the dashboard.

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "serpapi-token",
    env_key: "SERPAPI_TOKEN",
    docs_url: "https://serpapi.com/manage-api-key",
    verify: Some(Verify::get(
        "https://serpapi.com/account.json",
        KeyPlacement::Query("api_key"),
    )),
    ..TokenSpec::DEFAULTS
};

/// The `serpapi` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "serpapi",
    display_name: "SerpApi",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
