//! Cloudflare: an API token pasted on the token page.
//!
//! Sources: <https://developers.cloudflare.com/fundamentals/api/get-started/create-token/>,
//! <https://developers.cloudflare.com/fundamentals/api/get-started/token-formats/>,
//! <https://developers.cloudflare.com/api/resources/user/subresources/tokens/methods/verify>,
//! <https://developers.cloudflare.com/api/resources/accounts/subresources/tokens/methods/verify>.
//!
//! User tokens (My Profile → API Tokens) are checked at `/client/v4/user/tokens/verify`;
//! account-owned tokens (Manage Account → Account API Tokens) at
//! `/client/v4/accounts/{account_id}/tokens/verify`, one endpoint per kind of token (Cloudflare
//! staff, cloudflare-docs#29486). Tokens made since April 2026 say which they are: `cfut_` (user)
//! and `cfat_` (account), so a `cfat_` token is checked under the account named by `account_id` in
//! `[auth.cloudflare]` (and saved unchecked, with a hint, until it is set); tools receive it as
//! `CLOUDFLARE_ACCOUNT_ID`. Older tokens have no prefix and still work (they get the prefix
//! warning). The answer's `result.status` is `active`, `disabled` or `expired`: only `active`
//! accepts a token. The Global API Key (`cfk_…`) is not a bearer token (`X-Auth-Email` and
//! `X-Auth-Key`) and is not taken here. Tokens may be IP-restricted and may expire.

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "cloudflare-token",
    env_key: "CLOUDFLARE_TOKEN",
    docs_url: "https://dash.cloudflare.com/profile/api-tokens",
    verify: Some(
        Verify::get(
            "https://api.cloudflare.com/client/v4/user/tokens/verify",
            KeyPlacement::Bearer,
        )
        .url_for_prefixes(&[(
            "cfat_",
            "https://api.cloudflare.com/client/v4/accounts/{account_id}/tokens/verify",
        )])
        .accepted_when("/result/status", "active"),
    ),
    key_prefixes: &["cfut_", "cfat_"],
    config_fields: &["account_id"],
    config_env: &[("account_id", "CLOUDFLARE_ACCOUNT_ID")],
    unverified: &[
        "the user endpoint's HTTP 401 for an account-owned token (integrators' reports; the docs \
         say only that each kind has its own endpoint)",
    ],
    ..TokenSpec::DEFAULTS
};

/// The `cloudflare` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "cloudflare",
    display_name: "Cloudflare",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
