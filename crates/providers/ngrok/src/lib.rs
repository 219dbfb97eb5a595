//! ngrok: an API key pasted on the token page.
//!
//! Sources: <https://ngrok.com/docs/api/>.
//!
//! API key (not the agent authtoken: using an authtoken gives ERR_NGROK_207) sent as Authorization:
//! Bearer `<key>`; every request must carry Ngrok-Version: 2 (else ERR_NGROK_218). Keys have the
//! form FIRSTPART_SECONDPART. GET /api_keys lists the account's API keys (cheap list).

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "ngrok-token",
    env_key: "NGROK_TOKEN",
    docs_url: "https://dashboard.ngrok.com/api-keys",
    verify: Some(Verify {
        headers: &[("Ngrok-Version", "2")],
        ..Verify::get(
            "https://api.ngrok.com/api_keys?limit=1",
            KeyPlacement::Bearer,
        )
    }),
    ..TokenSpec::DEFAULTS
};

/// The `ngrok` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "ngrok",
    display_name: "ngrok",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
