//! Pipedrive: an API key pasted on the token page.
//!
//! Sources: <https://pipedrive.readme.io/docs/core-api-concepts-authentication>,
//! <https://pipedrive.readme.io/docs/how-to-find-the-api-token>,
//! <https://pipedrive.readme.io/docs/how-to-get-the-company-domain>.
//!
//! Personal API token, one active token per user per company (regenerating kills the old one),
//! sent in the x-api-token header on every request. The check is GET
//! https://api.pipedrive.com/v1/users/me, the docs' own example, which answers the user and the
//! company domain. A token is bound to one company; Pipedrive recommends the company domain
//! (https://{company}.pipedrive.com/api/v1/…) for speed, and api.pipedrive.com works for every
//! account. Admins can disable API access for non-admin users.

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "pipedrive-token",
    env_key: "PIPEDRIVE_TOKEN",
    docs_url: "https://app.pipedrive.com/settings/api",
    verify: Some(Verify::get(
        "https://api.pipedrive.com/v1/users/me",
        KeyPlacement::Header {
            name: "x-api-token",
            prefix: "",
        },
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
