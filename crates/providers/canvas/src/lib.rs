//! Canvas LMS: an API key pasted on the token page.
//!
//! Sources: <https://developerdocs.instructure.com/services/canvas/oauth/file.oauth>.
//!
//! Personal access token from Account → Settings → Approved Integrations → New Access Token (admins
//! can disable user token creation). Token only works on the institution that issued it.
//! access_token query param also accepted but discouraged. docs_url anchor is unverified.
//!
//! Per account: the institution's host (school.instructure.com or a custom domain). Entered keys
//! are checked with `GET {base_url}/api/v1/users/self` (Bearer), which answers the key's user,
//! once `[auth.canvas] base_url = "https://school.instructure.com"` is set; without it they are
//! saved unchecked, with a warning that says so.

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "canvas-token",
    env_key: "CANVAS_TOKEN",
    docs_url: "https://developerdocs.instructure.com/services/canvas/oauth/file.oauth#manual-token-generation",
    verify: Some(Verify::get(
        "{base_url}/api/v1/users/self",
        KeyPlacement::Bearer,
    )),
    config_fields: &["base_url"],
    ..TokenSpec::DEFAULTS
};

/// The `canvas` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "canvas",
    display_name: "Canvas LMS",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
