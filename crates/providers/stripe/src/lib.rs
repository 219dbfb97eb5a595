//! Stripe: an API key pasted on the token page.
//!
//! Sources: <https://docs.stripe.com/api/authentication>.
//!
//! Secret key sent as HTTP Basic username with empty password (curl -u sk_...:), Authorization:
//! Bearer is also accepted. Test vs live mode is encoded in the key prefix. Restricted keys (rk_)
//! without the Balance: Read permission get 403 from /v1/balance (Stripe's errors page: 403 means
//! the key lacks permission, 401 that it is invalid): such a key is saved, with a warning.
//! Publishable keys (pk_) must be rejected - they cannot call the API. Optional Stripe-Version
//! header.

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "stripe-token",
    env_key: "STRIPE_TOKEN",
    docs_url: "https://dashboard.stripe.com/apikeys",
    verify: Some(
        Verify::get("https://api.stripe.com/v1/balance", KeyPlacement::Bearer)
            .forbidden_means_lacking("Balance: Read"),
    ),
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
