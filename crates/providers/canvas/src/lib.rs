//! Canvas LMS: an API key pasted on the token page.
//!
//! Sources: <https://developerdocs.instructure.com/services/canvas/oauth/file.oauth>,
//! <https://community.canvaslms.com/t5/Canvas-Basics-Guide/How-do-I-manage-API-access-tokens-in-my-user-account/ta-p/615312>.
//!
//! Personal access token from Account → Settings → Approved Integrations → New Access Token
//! (admins can restrict token creation), as the OAuth page's 'Manual Token Generation' section
//! describes. A token works only on the institution that issued it. The access_token query
//! parameter is also accepted but discouraged. Canvas answers 401 with a WWW-Authenticate header
//! to an invalid or expired token, and 401 without it to a permission problem; the check reads
//! the token's own user, and keyfob refuses any 401.
//!
//! Per account: the institution's host (school.instructure.com or a custom domain). Entered keys
//! are checked with `GET {base_url}/api/v1/users/self` (Bearer), which answers the key's user,
//! once `[auth.canvas] base_url = "https://school.instructure.com"` is set; without it they are
//! saved unchecked, with a warning that says so.

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "canvas-token",
    env_key: "CANVAS_TOKEN",
    docs_url: "https://developerdocs.instructure.com/services/canvas/oauth/file.oauth",
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
