//! Zinc: an API key pasted on the token page.
//!
//! Sources: <https://www.zinc.com/docs/v2/migration-reference>,
//! <https://www.zinc.com/docs/v2/api-reference/orders/list-orders>.
//!
//! Pick by key shape: zn_ keys are v2 (Authorization: Bearer), anything else is a v1 client token
//! (basic-user against https://api.zinc.io/v1/orders?limit=1, documented list). The check is v2
//! GET /orders, the orders of the key's user, all in one response (v2 has no pagination yet). v2
//! accounts start fresh (keys are not interchangeable). Keys are issued in the Zinc dashboard.
//!
//! Per account: two API generations: v2 https://api.zinc.com (Bearer zn_live_...), legacy v1
//! https://api.zinc.io/v1 (HTTP Basic, client token as username, empty password)

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "zinc-token",
    env_key: "ZINC_TOKEN",
    docs_url: "https://www.zinc.com/docs/v2/migration-reference",
    verify: Some(Verify::get(
        "https://api.zinc.com/orders",
        KeyPlacement::Bearer,
    )),
    key_prefixes: &["zn_"],
    ..TokenSpec::DEFAULTS
};

/// The `zinc` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "zinc",
    display_name: "Zinc",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
