//! PostHog: an API key pasted on the token page.
//!
//! Sources: <https://posthog.com/docs/api/personal-api-keys>.
//!
//! Personal API key sent as Authorization: Bearer on private endpoints. Keys are scoped at creation
//! (up to 10 per user) and shown once; deleted with the user. Project API key (phc_, public capture
//! token) is NOT a personal key. Verify URL written for US; EU users need eu.posthog.com.
//! /api/users/@me/ returns the key's user; a key without the user:read scope gets 403 ("API key
//! missing required scope 'user:read'"), and is saved with a warning.
//!
//! Per account: the instance, `base_url` in `[auth.posthog]`: https://us.posthog.com (US Cloud),
//! https://eu.posthog.com (EU Cloud), or the self-hosted domain (the *.i.posthog.com hosts are for
//! public capture endpoints only). Once it is set, entered keys are checked with
//! `GET {base_url}/api/users/@me/`; without it they are saved unchecked, with a warning.

use keyfob_core::spec::{Handler, KeyPlacement, Provider, TokenSpec, Verify};

static TOKEN: TokenSpec = TokenSpec {
    name: "posthog-token",
    env_key: "POSTHOG_TOKEN",
    docs_url: "https://us.posthog.com/settings/user-api-keys",
    key_prefixes: &["phx_"],
    verify: Some(
        Verify::get("{base_url}/api/users/@me/", KeyPlacement::Bearer)
            .forbidden_means_lacking("user:read"),
    ),
    config_fields: &["base_url"],
    ..TokenSpec::DEFAULTS
};

/// The `posthog` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "posthog",
    display_name: "PostHog",
    handlers: &[Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
