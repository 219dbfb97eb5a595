//! Bitwarden: an API key pasted on the token page.
//!
//! Sources: <https://bitwarden.com/help/public-api/>.
//!
//! The organization API key (client_id 'organization.`<uuid>`' + client_secret, from Admin Console
//! → Settings → Organization info → API key) is exchanged for a short-lived Bearer token
//! (client_credentials, scope api.organization) at the identity server of the account's region:
//! https://identity.bitwarden.com/connect/token (US cloud),
//! https://identity.bitwarden.eu/connect/token (EU cloud) or
//! https://`<your domain>`/identity/connect/token (self-hosted). The raw key never reaches the API
//! itself, so there is no key check. Teams and Enterprise plans only. This is not the vault-item
//! API (that is the CLI's 'bw serve').
//!
//! Per account: the API is https://api.bitwarden.com (US cloud), https://api.bitwarden.eu (EU
//! cloud) or https://{domain}/api (self-hosted).

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
