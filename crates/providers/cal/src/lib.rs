//! Cal.com: an API key pasted on the token page.
//!
//! Sources: <https://cal.com/docs/api-reference/v2/me/get-my-profile>.
//!
//! API v2 takes Authorization: Bearer `<key>`; keys prefixed cal_ (live keys cal_live_). Keys can
//! expire (7d/30d/3m/1y or never). Legacy v1 (api.cal.com/v1) used ?apiKey= query param.
//! Self-hosted instances have their own API host. Many v2 endpoints need a cal-api-version header;
//! /v2/me does not document one.

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "cal-token",
    env_key: "CAL_TOKEN",
    docs_url: "https://app.cal.com/settings/developer/api-keys",
    verify: Some(Verify::get(
        "https://api.cal.com/v2/me",
        KeyPlacement::Bearer,
    )),
    key_prefixes: &["cal_live_", "cal_"],
    ..TokenSpec::DEFAULTS
};

/// The `cal` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "cal",
    display_name: "Cal.com",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
