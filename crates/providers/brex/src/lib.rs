//! Brex: an API key pasted on the token page.
//!
//! Sources: <https://developer.brex.com/docs/authentication>,
//! <https://developer.brex.com/docs/error_codes>, <https://developer.brex.com/openapi/team_api/>.
//!
//! An account or card admin creates a user token under Developer settings, with chosen scopes;
//! the check reads /v2/users/me, which needs the `users` or `users.readonly` scope. Brex answers
//! 401 to an invalid or revoked token and 403 to an expired one, so a 403 refuses the key. A
//! token expires after 90 days without an API call (the FAQ's 30 days is out of date). The
//! authentication guide names https://platform.brexapis.com as the production server; the
//! OpenAPI reference's Production server is https://api.brex.com. Customers get production only:
//! the staging hosts are for partners and do not take customer tokens.

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
    unverified: &["the answer to a valid token without a `users` scope (undocumented)"],
    ..TokenSpec::DEFAULTS
};

/// The `brex` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "brex",
    display_name: "Brex",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
