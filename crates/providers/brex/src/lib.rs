//! Brex: an API key pasted on the token page.
//!
//! Sources: <https://developer.brex.com/docs/authentication>.
//!
//! User token created by account/card admin under Developer settings with chosen scopes;
//! /v2/users/me needs the Users read scope (a token without it may 403 while valid). Some doc pages
//! use host https://api.brex.com instead of platform.brexapis.com (both documented). Tokens unused
//! for 30 days expire (unverified). Staging host exists: platform.staging.brexapps.com
//! (unverified).

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "brex-token",
    env_key: "BREX_TOKEN",
    docs_url: "https://dashboard.brex.com/settings/developer",
    verify: Some(Verify::get(
        "https://platform.brexapis.com/v2/users/me",
        KeyPlacement::Bearer,
    )),
    key_prefixes: &["bxt_"],
    ..TokenSpec::DEFAULTS
};

/// The `brex` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "brex",
    display_name: "Brex",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
