//! Acme Widgets: a token the user pastes on keyfob's local token page.
//!
//! Tools receive it as `ACME_WIDGETS_TOKEN`. Where users create one:
//! not recorded yet (fill in `docs_url`).
//!
//! Pure data; no quirks.

use keyfob_core::spec::{Handler, Provider, TokenSpec};

static TOKEN: TokenSpec = TokenSpec {
    name: "acme-widgets-token",
    env_key: "ACME_WIDGETS_TOKEN",
    docs_url: "",
    ..TokenSpec::DEFAULTS
};

/// The `acme_widgets` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "acme_widgets",
    display_name: "Acme Widgets",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
