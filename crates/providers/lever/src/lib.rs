//! Lever: an API key pasted on the token page.
//!
//! Sources: <https://hire.lever.co/developer/documentation#authentication>,
//! <https://help.lever.co/hc/en-us/articles/20087297592477-Generating-and-using-API-credentials>,
//! <https://github.com/lever/postings-api/blob/master/README.md>.
//!
//! HTTP Basic with the API key as username and an empty password. Super Admins create keys under
//! Settings → Integrations and API → API Credentials; a key is shown once and carries read and
//! write permissions per endpoint, so the check takes a 403 for a valid key without users read
//! permission. Lever has no whoami endpoint; the check is GET /v1/users?limit=1 (limit takes 1 to
//! 100). Lever Basic package keys reach only the Postings API.
//!
//! Per account: Lever runs a global instance (the default) and an EU one. EU accounts make keys
//! in the EU app (https://hire.eu.lever.co) and set `api_host = "api.eu.lever.co"` in
//! `[auth.lever]` (default `api.lever.co`); the check goes there, and tools get the host as
//! `LEVER_API_HOST`.

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "lever-token",
    env_key: "LEVER_TOKEN",
    docs_url: "https://help.lever.co/hc/en-us/articles/20087297592477-Generating-and-using-API-credentials",
    verify: Some(
        Verify::get(
            "https://{api_host}/v1/users?limit=1",
            KeyPlacement::BasicUser,
        )
        .forbidden_means_lacking("Users: read"),
    ),
    config_fields: &["api_host"],
    config_defaults: &[("api_host", "api.lever.co")],
    config_env: &[("api_host", "LEVER_API_HOST")],
    unverified: &[
        "EU host `api.eu.lever.co` for the v1 API (Lever documents its EU instance for postings only)",
        "403 = key lacks the endpoint permission",
    ],
    ..TokenSpec::DEFAULTS
};

/// The `lever` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "lever",
    display_name: "Lever",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
