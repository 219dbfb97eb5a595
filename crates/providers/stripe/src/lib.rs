//! Stripe: an API key pasted on the token page.
//!
//! Sources: <https://docs.stripe.com/api/authentication>.
//!
//! Secret key sent as HTTP Basic username with empty password (curl -u sk_...:), Authorization:
//! Bearer is also accepted. Test vs live mode is encoded in the key prefix. Restricted keys (rk_)
//! may lack permission for /v1/balance (403 permission error still proves the key is valid).
//! Publishable keys (pk_) must be rejected - they cannot call the API. Optional Stripe-Version
//! header.

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "stripe-token",
    env_key: "STRIPE_TOKEN",
    docs_url: "https://dashboard.stripe.com/apikeys",
    verify: Some(Verify::get(
        "https://api.stripe.com/v1/balance",
        KeyPlacement::Bearer,
    )),
    key_prefixes: &["sk_live_", "sk_test_", "rk_live_", "rk_test_"],
    ..TokenSpec::DEFAULTS
};

/// The `stripe` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "stripe",
    display_name: "Stripe",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
