//! Kraken: an API key and secret.
//!
//! Sources: <https://docs.kraken.com/api/docs/guides/spot-rest-auth>.
//!
//! Key pair (public API key + base64 private secret). Every private call is POST form-encoded with
//! a strictly increasing 'nonce' and headers API-Key: `<public key>` and API-Sign:
//! base64(HMAC-SHA512(base64decode(secret), uri_path + SHA256(nonce + postdata))), uri_path
//! starting /0/private/. Plain header auth alone is NOT enough: verify needs the signing code.
//! Optional 'otp' param if 2FA on API key. User-Agent required. Balance needs the key's Query Funds
//! permission.
//!
//! No key check is recorded: requests must be signed (HMAC-SHA512 of nonce and body), which a plain
//! check cannot do.

use keyfob_core::spec::{Handler, Provider, TokenEntry, TokenSpec};

static TOKEN: TokenSpec = TokenSpec {
    name: "kraken-keypair",
    env_key: "KRAKEN_API_KEY",
    entry: TokenEntry::KeyPair {
        secret_env_key: "KRAKEN_API_SECRET",
    },
    docs_url: "https://support.kraken.com/hc/en-us/articles/360000919966-How-to-create-an-API-key",
    ..TokenSpec::DEFAULTS
};

/// The `kraken` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "kraken",
    display_name: "Kraken",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
