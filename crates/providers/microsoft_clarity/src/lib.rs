//! Microsoft Clarity: an API key pasted on the token page.
//!
//! Sources:
//! <https://learn.microsoft.com/en-us/clarity/setup-and-installation/clarity-data-export-api>.
//!
//! Token (JWT) generated per project by a project admin: Settings → Data Export → Generate new API
//! token; sent as Authorization: Bearer. Only endpoint is project-live-insights and it is capped at
//! 10 requests per project per day, so verifying spends 1 of 10 daily calls; numOfDays must be 1, 2
//! or 3. Token is tied to one project.

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "microsoft-clarity-token",
    env_key: "MICROSOFT_CLARITY_TOKEN",
    docs_url: "https://learn.microsoft.com/en-us/clarity/setup-and-installation/clarity-data-export-api",
    verify: Some(Verify::get(
        "https://www.clarity.ms/export-data/api/v1/project-live-insights?numOfDays=1",
        KeyPlacement::Bearer,
    )),
    ..TokenSpec::DEFAULTS
};

/// The `microsoft_clarity` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "microsoft_clarity",
    display_name: "Microsoft Clarity",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
