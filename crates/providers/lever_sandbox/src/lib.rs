//! Lever (sandbox): an API key pasted on the token page.
//!
//! Sources: <https://hire.lever.co/developer/documentation#authentication>.
//!
//! Same scheme as production Lever (Basic, key as username, empty password) but against the sandbox
//! host; the key is generated inside the sandbox account's settings. Sandbox accounts are requested
//! from Lever (partner program). Same per-endpoint permission caveat as lever.
//!
//! Per account: sandbox host https://api.sandbox.lever.co/v1 (keys are not interchangeable with
//! production)

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "lever-sandbox-token",
    env_key: "LEVER_SANDBOX_TOKEN",
    docs_url: "https://help.lever.co/hc/en-us/articles/20087297592477-Generating-and-using-API-credentials",
    verify: Some(
        Verify::get(
            "https://api.sandbox.lever.co/v1/users?limit=1",
            KeyPlacement::BasicUser,
        )
        .forbidden_means_lacking("Users: read"),
    ),
    unverified: &["403 = key lacks the endpoint permission"],
    ..TokenSpec::DEFAULTS
};

/// The `lever_sandbox` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "lever_sandbox",
    display_name: "Lever (sandbox)",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
