//! Discord Bot: an API key pasted on the token page.
//!
//! Sources: <https://discord.com/developers/docs/reference#authentication>.
//!
//! Same credential type as discord-token: bot token from Developer Portal → Bot, sent as
//! 'Authorization: Bot `<token>`'. /users/@me returns the bot user (bot=true). Resetting the token
//! invalidates the old one.

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "discordbot-token",
    env_key: "DISCORDBOT_TOKEN",
    docs_url: "https://discord.com/developers/applications",
    verify: Some(Verify::get(
        "https://discord.com/api/v10/users/@me",
        KeyPlacement::Header {
            name: "Authorization",
            prefix: "Bot ",
        },
    )),
    ..TokenSpec::DEFAULTS
};

/// The `discordbot` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "discordbot",
    display_name: "Discord Bot",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
