//! Beta Ext: a token the user pastes on keyfob's local token page.
//!
//! Tools receive it as `BETA_API_KEY`. Where users create one:
//! not recorded yet (fill in `docs_url`).
//!
//! Pure data; no quirks.

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "beta-ext-token",
    env_key: "BETA_API_KEY",
    docs_url: "",
    verify: Some(Verify::get("https://api.beta.example/me", KeyPlacement::Bearer)),
    ..TokenSpec::DEFAULTS
};

/// The `beta_ext` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "beta_ext",
    display_name: "Beta Ext",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
