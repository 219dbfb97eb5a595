//! Canvas LMS: an API key pasted on the token page.
//!
//! Sources: <https://developerdocs.instructure.com/services/canvas/oauth/file.oauth>.
//!
//! Personal access token from Account → Settings → Approved Integrations → New Access Token (admins
//! can disable user token creation). Token only works on the institution that issued it.
//! access_token query param also accepted but discouraged. docs_url anchor is unverified.
//!
//! Per account: institution host: https://{domain}/api/v1/ (e.g. school.instructure.com or a custom
//! domain)
//!
//! No key check is recorded: the check URL depends on the account (see above), so it is not
//! recorded.

use keyfob_core::spec::{Handler, Provider, TokenSpec};

static TOKEN: TokenSpec = TokenSpec {
    name: "canvas-token",
    env_key: "CANVAS_TOKEN",
    docs_url: "https://developerdocs.instructure.com/services/canvas/oauth/file.oauth#manual-token-generation",
    ..TokenSpec::DEFAULTS
};

/// The `canvas` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "canvas",
    display_name: "Canvas LMS",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
