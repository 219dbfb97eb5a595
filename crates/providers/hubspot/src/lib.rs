//! HubSpot: OAuth2 authorization code, or an API key pasted on the token page.
//!
//! Sources: <https://developers.hubspot.com/docs/api-reference/auth-oauth-v3/guide>,
//! <https://developers.hubspot.com/docs/api-reference/legacy/authentication/oauth-tokens/v1/migration-guide>,
//! <https://developers.hubspot.com/docs/apps/legacy-apps/authentication/intro-to-auth>,
//! <https://developers.hubspot.com/changelog/legacy-private-app-creation-sunset>,
//! <https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/account-service-keys>,
//! <https://developers.hubspot.com/docs/api-reference/legacy/account/account-information/v1/get-integrations-v1-me>.
//!
//! The v3 token endpoint: v1 (`/oauth/v1/token`, the reference's) is retired on 2027-02-16.
//!
//! Every parameter goes in the form body; access tokens live 30 minutes; refresh tokens are reused.
//!
//! The account behind a token comes from `POST /oauth/v3/token/introspect`, not a GET.
//!
//! Token handler: HubSpot has closed the creation of legacy private apps (from 2026-09-28 in
//! accounts created since then, from 2026-10-26 in older ones); existing private-app tokens keep
//! working, sent as Authorization: Bearer, and changing their scopes can require a new token.
//! Static tokens are now service keys: made under Development → Keys → Service keys (or Settings
//! → Integrations → Service Keys) by super admins or users with the Developer tools permission,
//! scoped per key, for REST calls only (no webhooks, no UI extensions). HubSpot auto-deactivates
//! tokens found leaked on GitHub. The check is GET /integrations/v1/me, documented for OAuth and
//! private-app tokens. HubSpot documents no token format, so there are no key_prefixes.
//!
//! Per account: none: single host https://api.hubapi.com for all accounts

use keyfob_core::spec::{
    ClientAuth, Handler, KeyPlacement, OAuth2Spec, Pkce, Provider, Refresh, TokenSpec, Verify,
};

static OAUTH2: OAuth2Spec = OAuth2Spec {
    name: "hubspot-oauth2",
    env_key: "HUBSPOT_TOKEN",
    authorize_url: "https://app.hubspot.com/oauth/authorize",
    token_url: "https://api.hubapi.com/oauth/v3/token",
    recommended_scopes: &["oauth"],
    client_auth: ClientAuth::Body,
    pkce: Pkce::S256,
    refresh: Refresh::Plain,
    docs_url: "https://app.hubspot.com/developer",
    ..OAuth2Spec::DEFAULTS
};

static TOKEN: TokenSpec = TokenSpec {
    name: "hubspot-token",
    env_key: "HUBSPOT_TOKEN",
    docs_url: "https://developers.hubspot.com/docs/apps/developer-platform/build-apps/authentication/account-service-keys",
    verify: Some(Verify::get(
        "https://api.hubapi.com/integrations/v1/me",
        KeyPlacement::Bearer,
    )),
    unverified: &[
        "service keys sent as `Authorization: Bearer` (third-party reports)",
        "`/integrations/v1/me` taking service keys (its docs list OAuth and private-app tokens)",
    ],
    ..TokenSpec::DEFAULTS
};

/// The `hubspot` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "hubspot",
    display_name: "HubSpot",
    handlers: &[Handler::OAuth2(&OAUTH2), Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
