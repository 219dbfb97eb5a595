//! Workiom: an API key pasted on the token page.
//!
//! Sources: <https://help.workiom.com/article/workiom-api-guide>.
//!
//! API key from Account/User Settings, sent in header X-Api-Key against https://api.workiom.com
//! (Swagger at /swagger/). The guide's own sample call GET /api/services/app/Apps/GetAll lists the
//! user's apps - used as verify. Some guide sections still show Authorization: Bearer `<access
//! token>` for user sessions.

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "workiom-token",
    env_key: "WORKIOM_TOKEN",
    docs_url: "https://help.workiom.com/article/workiom-api-guide",
    verify: Some(Verify::get(
        "https://api.workiom.com/api/services/app/Apps/GetAll",
        KeyPlacement::Header {
            name: "X-Api-Key",
            prefix: "",
        },
    )),
    ..TokenSpec::DEFAULTS
};

/// The `workiom` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "workiom",
    display_name: "Workiom",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
