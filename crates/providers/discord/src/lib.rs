//! Discord: OAuth2 authorization code, or an API key pasted on the token page.
//!
//! Sources: <https://discord.com/developers/docs/topics/oauth2>,
//! <https://discord.com/.well-known/oauth-authorization-server>,
//! <https://discord.com/developers/docs/reference#authentication>.
//!
//! `integration_type=1` asks for a user install, as the reference did.
//!
//! Each refresh answers a new refresh token, which replaces the old one.
//!
//! Access tokens live seven days.
//!
//! Token handler: discord-token handler takes a bot token (Developer Portal → application → Bot →
//! Reset Token; shown once). Sent as 'Authorization: Bot `<token>`' - NOT Bearer (Bearer is for
//! OAuth2 user tokens, the discord-oauth2 handler). Needs a descriptive User-Agent ('DiscordBot
//! ($url, $version)'). No fixed prefix (first segment is base64 of the bot user id).

use keyfob_core::spec::{
    ClientAuth, Handler, KeyPlacement, OAuth2Spec, Pkce, Provider, Refresh, TokenSpec, Verify,
};

static OAUTH2: OAuth2Spec = OAuth2Spec {
    name: "discord-oauth2",
    env_key: "DISCORD_TOKEN",
    authorize_url: "https://discord.com/oauth2/authorize",
    token_url: "https://discord.com/api/oauth2/token",
    revoke_url: Some("https://discord.com/api/oauth2/token/revoke"),
    userinfo_url: Some("https://discord.com/api/users/@me"),
    recommended_scopes: &["identify", "email"],
    authorize_params: &[("prompt", "consent"), ("integration_type", "1")],
    client_auth: ClientAuth::Basic,
    pkce: Pkce::S256,
    refresh: Refresh::Rotating,
    docs_url: "https://discord.com/developers/applications",
    ..OAuth2Spec::DEFAULTS
};

static TOKEN: TokenSpec = TokenSpec {
    name: "discord-token",
    env_key: "DISCORD_TOKEN",
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

/// The `discord` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "discord",
    display_name: "Discord",
    handlers: &[Handler::OAuth2(&OAUTH2), Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
