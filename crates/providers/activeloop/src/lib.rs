//! Activeloop: an API key pasted on the token page.
//!
//! Sources: <https://docs.deeplake.ai/4.7/guide/authentication/>.
//!
//! Token created in the Deep Lake App (Settings → API Tokens); it is a JWT, org_id is a claim.
//! Newer REST API (https://api.deeplake.ai) takes Authorization: Bearer plus X-Activeloop-Org-Id
//! header and workspace-scoped paths; no documented whoami, so no verify. SDK reads
//! ACTIVELOOP_TOKEN (v3/v4) or DEEPLAKE_API_KEY (newer).

use keyfob_core::spec::{Handler, Provider, TokenSpec};

static TOKEN: TokenSpec = TokenSpec {
    name: "activeloop-token",
    env_key: "ACTIVELOOP_TOKEN",
    docs_url: "https://docs.deeplake.ai/latest/setup/authentication",
    ..TokenSpec::DEFAULTS
};

/// The `activeloop` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "activeloop",
    display_name: "Activeloop",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
