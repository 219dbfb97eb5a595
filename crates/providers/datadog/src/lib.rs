//! Datadog: an API key pasted on the token page.
//!
//! Sources: <https://docs.datadoghq.com/api/latest/authentication/>.
//!
//! Verify URL shown for US1; substitute site host for other regions (a key from one site is invalid
//! on another). /api/v1/validate checks only the API key (403 if invalid). Reading data also needs
//! an application key in DD-APPLICATION-KEY (check both with /api/v2/validate_keys). Keys are 32
//! hex chars (API) / 40 hex (app), no prefix.
//!
//! Per account: site: https://api.{site}/ where site = datadoghq.com (US1), us3.datadoghq.com,
//! us5.datadoghq.com, datadoghq.eu, ap1.datadoghq.com, ap2.datadoghq.com, uk1.datadoghq.com,
//! ddog-gov.com, us2.ddog-gov.com

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "datadog-token",
    env_key: "DATADOG_TOKEN",
    docs_url: "https://app.datadoghq.com/organization-settings/api-keys",
    verify: Some(Verify::get(
        "https://api.datadoghq.com/api/v1/validate",
        KeyPlacement::Header {
            name: "DD-API-KEY",
            prefix: "",
        },
    )),
    ..TokenSpec::DEFAULTS
};

/// The `datadog` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "datadog",
    display_name: "Datadog",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
