//! Linear: OAuth2 authorization code, or an API key pasted on the token page.
//!
//! Sources: <https://linear.app/developers/oauth-2-0-authentication>,
//! <https://linear.app/developers/oauth-actor-authorization>,
//! <https://linear.app/developers/graphql>.
//!
//! Scopes are comma-separated; `actor=user` makes the user the author.
//!
//! PKCE is documented (plain or S256); S256 is sent.
//!
//! Refresh tokens are mandatory since April 2026 and rotate; access tokens live about a day.
//!
//! The account behind a token comes from the GraphQL `viewer` query, not a GET.
//!
//! Token handler: Personal API key goes in Authorization header WITHOUT 'Bearer' (Bearer is for
//! OAuth tokens). GraphQL only: verify is POST https://api.linear.app/graphql with JSON body
//! {"query":"{ viewer { id name email } }"} and Content-Type application/json. Keys can be scoped
//! (read/write/admin) and team-limited; workspace admins may disable member keys.
//!
//! No key check is recorded: the check is a GraphQL POST with a body.

use keyfob_core::spec::{ClientAuth, Handler, OAuth2Spec, Pkce, Provider, Refresh, TokenSpec};

static OAUTH2: OAuth2Spec = OAuth2Spec {
    name: "linear-oauth2",
    env_key: "LINEAR_TOKEN",
    authorize_url: "https://linear.app/oauth/authorize",
    token_url: "https://api.linear.app/oauth/token",
    revoke_url: Some("https://api.linear.app/oauth/revoke"),
    scope_separator: ",",
    recommended_scopes: &["read", "write"],
    authorize_params: &[("actor", "user")],
    client_auth: ClientAuth::Body,
    pkce: Pkce::S256,
    refresh: Refresh::Rotating,
    docs_url: "https://linear.app/settings/api/applications/new",
    ..OAuth2Spec::DEFAULTS
};

static TOKEN: TokenSpec = TokenSpec {
    name: "linear-token",
    env_key: "LINEAR_TOKEN",
    docs_url: "https://linear.app/settings/account/security",
    key_prefixes: &["lin_api_"],
    ..TokenSpec::DEFAULTS
};

/// The `linear` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "linear",
    display_name: "Linear",
    handlers: &[Handler::OAuth2(&OAUTH2), Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
