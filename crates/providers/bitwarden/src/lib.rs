//! Bitwarden: an API key pasted on the token page.
//!
//! Sources: <https://bitwarden.com/help/public-api/>.
//!
//! Org API key (client_id 'organization.`<uuid>`' + client_secret, from Admin Console → Settings →
//! Organization info → API key) is exchanged at https://identity.bitwarden.com/connect/token
//! (client_credentials, scope api.organization) for a short-lived Bearer token; the raw key is not
//! sent to the API itself, so no verify (a cheap list like GET /public/collections with the bearer
//! token works but is unverified). Teams/Enterprise plans only. Not the vault-item API (that's the
//! CLI 'bw serve').
//!
//! Per account: cloud region https://api.bitwarden.com or https://api.bitwarden.eu; self-hosted
//! https://{domain}/api

use keyfob_core::spec::{Handler, Provider, TokenSpec};

static TOKEN: TokenSpec = TokenSpec {
    name: "bitwarden-token",
    env_key: "BITWARDEN_TOKEN",
    docs_url: "https://bitwarden.com/help/public-api/",
    ..TokenSpec::DEFAULTS
};

/// The `bitwarden` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "bitwarden",
    display_name: "Bitwarden",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
