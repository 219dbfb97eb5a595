//! Cloudflare: an API key pasted on the token page.
//!
//! Sources: <https://developers.cloudflare.com/fundamentals/api/get-started/create-token/>.
//!
//! User tokens: My Profile → API Tokens; verify returns result.status active/disabled/expired
//! (check it, not just HTTP 200). Account-owned tokens (Manage Account → API Tokens) must instead
//! be verified at /client/v4/accounts/{account_id}/tokens/verify - user endpoint fails for them.
//! Legacy Global API Key is NOT a bearer token (X-Auth-Email + X-Auth-Key headers). Tokens may be
//! IP-restricted / have expiry.

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "cloudflare-token",
    env_key: "CLOUDFLARE_TOKEN",
    docs_url: "https://dash.cloudflare.com/profile/api-tokens",
    verify: Some(Verify::get(
        "https://api.cloudflare.com/client/v4/user/tokens/verify",
        KeyPlacement::Bearer,
    )),
    ..TokenSpec::DEFAULTS
};

/// The `cloudflare` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "cloudflare",
    display_name: "Cloudflare",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
