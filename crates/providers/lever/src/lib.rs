//! Lever: an API key pasted on the token page.
//!
//! Sources: <https://hire.lever.co/developer/documentation#authentication>.
//!
//! HTTP Basic with the API key as username and an empty password. Keys are created by Super Admins
//! under Settings → Integrations and API → API Credentials, shown once, and carry per-endpoint
//! permissions, so a key without users read permission fails the users check (403) while still
//! being valid. No whoami endpoint; users?limit=1 is a cheap list (choice of endpoint unverified).
//! Lever Basic package keys only reach the Postings API.
//!
//! Per account: none: production host https://api.lever.co/v1

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "lever-token",
    env_key: "LEVER_TOKEN",
    docs_url: "https://help.lever.co/hc/en-us/articles/20087297592477-Generating-and-using-API-credentials",
    verify: Some(
        Verify::get(
            "https://api.lever.co/v1/users?limit=1",
            KeyPlacement::BasicUser,
        )
        .forbidden_means_lacking("Users: read"),
    ),
    ..TokenSpec::DEFAULTS
};

/// The `lever` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "lever",
    display_name: "Lever",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
