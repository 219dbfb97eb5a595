//! Datadog: an API key pasted on the token page.
//!
//! Sources: <https://docs.datadoghq.com/api/latest/authentication/>.
//!
//! A key belongs to one Datadog site and is invalid on the others, so the check goes to
//! `https://api.{site}/api/v1/validate`, `site` in `[auth.datadog]` (default `datadoghq.com`,
//! US1; others: us3.datadoghq.com, us5.datadoghq.com, datadoghq.eu, ap1.datadoghq.com,
//! ap2.datadoghq.com, uk1.datadoghq.com, ddog-gov.com, us2.ddog-gov.com), and tools get the site
//! as `DD_SITE`, the variable Datadog's clients read. /api/v1/validate checks only the API key
//! (403 if invalid). Reading data also needs an application key in DD-APPLICATION-KEY (check both
//! with /api/v2/validate_keys). Keys are 32 hex chars (API) / 40 hex (app), no prefix.

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "datadog-token",
    env_key: "DATADOG_TOKEN",
    docs_url: "https://app.datadoghq.com/organization-settings/api-keys",
    verify: Some(Verify::get(
        "https://api.{site}/api/v1/validate",
        KeyPlacement::Header {
            name: "DD-API-KEY",
            prefix: "",
        },
    )),
    config_fields: &["site"],
    config_defaults: &[("site", "datadoghq.com")],
    config_env: &[("site", "DD_SITE")],
    ..TokenSpec::DEFAULTS
};

/// The `datadog` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "datadog",
    display_name: "Datadog",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
