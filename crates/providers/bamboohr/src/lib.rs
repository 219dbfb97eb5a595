//! BambooHR: an API key pasted on the token page.
//!
//! Sources: <https://documentation.bamboohr.com/docs/getting-started>,
//! <https://documentation.bamboohr.com/docs/past-changes-to-the-api>.
//!
//! HTTP Basic with the key as username and any random string as password. Responses default to
//! XML without Accept: application/json. Repeated bad keys temporarily lock API access for the
//! company (403). Key: user menu → API Keys; 40 hex chars (160-bit). Getting Started now leads
//! with OAuth through the developer portal, for integrations that serve several customers; the
//! 2026 changelog lists new endpoints under `/api/v1/…` paths.
//!
//! Per account: company subdomain: https://api.bamboohr.com/api/gateway.php/{company}/v1/ (company
//! = 'mycompany' from mycompany.bamboohr.com)
//!
//! No key check is recorded: the check URL depends on the account (see above), so it is not
//! recorded.

use keyfob_core::spec::{Handler, Provider, TokenSpec};

static TOKEN: TokenSpec = TokenSpec {
    name: "bamboohr-token",
    env_key: "BAMBOOHR_TOKEN",
    docs_url: "https://documentation.bamboohr.com/docs/getting-started",
    ..TokenSpec::DEFAULTS
};

/// The `bamboohr` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "bamboohr",
    display_name: "BambooHR",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
