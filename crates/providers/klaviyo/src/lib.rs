//! Klaviyo: an API key pasted on the token page.
//!
//! Sources: <https://developers.klaviyo.com/en/docs/authenticate_>.
//!
//! Private key in header Authorization: Klaviyo-API-Key `<key>`; every /api request needs a
//! 'revision' date header. Private keys are shown only once; scoped keys (Get Accounts needs
//! accounts:read; a key without it gets 403 and is saved with a warning). The 6-char public
//! key/site ID is for /client endpoints only and is not a valid private key. An invalid or missing
//! key gets 401 (Klaviyo's authentication page also names 400). Revisions are retired after two
//! years: the check names a current one.

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "klaviyo-token",
    env_key: "KLAVIYO_TOKEN",
    docs_url: "https://developers.klaviyo.com/en/docs/retrieve_api_credentials",
    verify: Some(
        Verify {
            headers: &[
                ("revision", "2026-10-15"),
                ("accept", "application/vnd.api+json"),
            ],
            ..Verify::get(
                "https://a.klaviyo.com/api/accounts",
                KeyPlacement::Header {
                    name: "Authorization",
                    prefix: "Klaviyo-API-Key ",
                },
            )
        }
        .forbidden_means_lacking("accounts:read"),
    ),
    key_prefixes: &["pk_"],
    ..TokenSpec::DEFAULTS
};

/// The `klaviyo` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "klaviyo",
    display_name: "Klaviyo",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
