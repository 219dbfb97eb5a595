//! PagerDuty: an API key pasted on the token page.
//!
//! Sources: <https://developer.pagerduty.com/docs/rest-api-v2/authentication/>.
//!
//! REST API key sent as Authorization: Token token=`<key>` (not Bearer; Bearer is for OAuth). Send
//! Accept: application/vnd.pagerduty+json;version=2. General access keys are 20 chars, created by
//! Admins/Account Owner under Integrations → Developer Tools → API Access Keys, optionally
//! read-only; user-level tokens also exist. /users/me only works with user tokens, so use GET
//! /abilities (account-level list). EU accounts use the same api.pagerduty.com host. Events API
//! routing keys are a different thing.

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "pagerduty-token",
    env_key: "PAGERDUTY_TOKEN",
    docs_url: "https://support.pagerduty.com/main/docs/api-access-keys",
    verify: Some(Verify {
        headers: &[("Accept", "application/vnd.pagerduty+json;version=2")],
        ..Verify::get(
            "https://api.pagerduty.com/abilities",
            KeyPlacement::Header {
                name: "Authorization",
                prefix: "Token token=",
            },
        )
    }),
    ..TokenSpec::DEFAULTS
};

/// The `pagerduty` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "pagerduty",
    display_name: "PagerDuty",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
