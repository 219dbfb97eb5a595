//! Supabase: an API key pasted on the token page.
//!
//! Sources: <https://supabase.com/docs/reference/api/introduction>.
//!
//! Personal access token sent as Authorization: Bearer to https://api.supabase.com/v1. Classic
//! tokens have full account access; scoped tokens (default in Dashboard now) carry chosen
//! orgs/projects/permissions, so a scoped token may get 403 on /v1/projects while valid. Tokens can
//! have an expiry. Rate limit 60 req/min per user. Not to be confused with per-project
//! anon/service_role keys.

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "supabase-token",
    env_key: "SUPABASE_TOKEN",
    docs_url: "https://supabase.com/dashboard/account/tokens",
    verify: Some(
        Verify::get("https://api.supabase.com/v1/projects", KeyPlacement::Bearer)
            .forbidden_means_lacking("projects: read"),
    ),
    key_prefixes: &["sbp_"],
    ..TokenSpec::DEFAULTS
};

/// The `supabase` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "supabase",
    display_name: "Supabase",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
