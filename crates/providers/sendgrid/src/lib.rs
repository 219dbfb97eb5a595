//! SendGrid: an API key pasted on the token page.
//!
//! Sources:
//! <https://www.twilio.com/docs/sendgrid/api-reference/api-key-permissions/retrieve-a-list-of-scopes-for-which-this-user-has-access>.
//!
//! Authorization: Bearer `<key>`. Keys are 69 chars, shown once, types Full / Restricted(Custom) /
//! Billing access; max 100 keys. GET /v3/scopes returns the scopes of the calling key itself and
//! works for any valid key, so it is the ideal check. First key must be made in the web app.
//!
//! Per account: EU regional subusers use the EU host: set `api_host = "api.eu.sendgrid.com"` in
//! `[auth.sendgrid]` (default `api.sendgrid.com`); the check goes there, and tools get it as
//! `SENDGRID_API_HOST`.

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "sendgrid-token",
    env_key: "SENDGRID_TOKEN",
    docs_url: "https://app.sendgrid.com/settings/api_keys",
    verify: Some(Verify::get(
        "https://{api_host}/v3/scopes",
        KeyPlacement::Bearer,
    )),
    key_prefixes: &["SG."],
    config_fields: &["api_host"],
    config_defaults: &[("api_host", "api.sendgrid.com")],
    config_env: &[("api_host", "SENDGRID_API_HOST")],
    ..TokenSpec::DEFAULTS
};

/// The `sendgrid` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "sendgrid",
    display_name: "SendGrid",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
