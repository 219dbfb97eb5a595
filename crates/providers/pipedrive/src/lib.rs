//! Pipedrive: an API key pasted on the token page.
//!
//! Sources: <https://pipedrive.readme.io/docs/how-to-find-the-api-token>.
//!
//! Personal API token, one active token per user per company (regenerating kills the old one). Sent
//! as query param api_token (classic docs); an x-api-token header is also accepted in newer docs
//! (unverified here). Token is bound to one company; api.pipedrive.com works, company domain
//! https://{company}.pipedrive.com also works. Admins can disable API access for non-admin users.

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "pipedrive-token",
    env_key: "PIPEDRIVE_TOKEN",
    docs_url: "https://app.pipedrive.com/settings/api",
    verify: Some(Verify::get(
        "https://api.pipedrive.com/v1/users/me",
        KeyPlacement::Query("api_token"),
    )),
    ..TokenSpec::DEFAULTS
};

/// The `pipedrive` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "pipedrive",
    display_name: "Pipedrive",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
