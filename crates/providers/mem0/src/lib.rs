//! Mem0: an API key pasted on the token page.
//!
//! Sources: <https://docs.mem0.ai/api-reference>,
//! <https://github.com/mem0ai/mem0/blob/main/mem0/client/main.py>.
//!
//! Hosted API https://api.mem0.ai/v1/...; the key is sent as Authorization: Token `<key>` (not
//! Bearer). Optional org/project selection. The self-hosted OSS server uses different paths (no
//! /v1) and its own auth. The check is GET /v1/ping/, the call Mem0's own client makes when it is
//! created (the answer names the key's org_id, project_id and user_email). Mem0 documents no key
//! format, so there are no key_prefixes.

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "mem0-token",
    env_key: "MEM0_TOKEN",
    docs_url: "https://app.mem0.ai/dashboard/settings?tab=api-keys",
    verify: Some(Verify::get(
        "https://api.mem0.ai/v1/ping/",
        KeyPlacement::Header {
            name: "Authorization",
            prefix: "Token ",
        },
    )),
    unverified: &["key check `GET /v1/ping/`: used by Mem0's SDK, not in its API reference"],
    ..TokenSpec::DEFAULTS
};

/// The `mem0` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "mem0",
    display_name: "Mem0",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
