//! GitHub: an OAuth app (authorization code) or a personal access token.
//!
//! Sources: <https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps>
//! and <https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/scopes-for-oauth-apps>.
//!
//! Quirks, all handled by the core: the token endpoint answers form-encoded data unless sent
//! `Accept: application/json` (always sent), and reports errors such as `bad_verification_code`
//! with HTTP 200. Tokens of classic OAuth apps do not expire; GitHub-App user tokens expire after
//! 8 hours and rotate their refresh token, which the plain refresh path stores each time.
//! GitHub supports PKCE S256 (announced July 2025). Sign-out deletes the token through the REST
//! API's "delete an app token" (`DELETE /applications/{client_id}/token`, Basic client
//! credentials, JSON `access_token`, 204), not RFC 7009:
//! <https://docs.github.com/en/rest/apps/oauth-applications#delete-an-app-token>.

use keyfob_core::spec::{
    ClientAuth, Handler, KeyPlacement, OAuth2Spec, Provider, Refresh, RevokeStyle, TokenSpec,
    Verify,
};

static OAUTH2: OAuth2Spec = OAuth2Spec {
    name: "github-oauth2",
    env_key: "GITHUB_TOKEN",
    authorize_url: "https://github.com/login/oauth/authorize",
    token_url: "https://github.com/login/oauth/access_token",
    device_url: Some("https://github.com/login/device/code"),
    userinfo_url: Some("https://api.github.com/user"),
    revoke_url: Some("https://api.github.com/applications/{client_id}/token"),
    revoke_style: RevokeStyle::DeleteAccessToken,
    recommended_scopes: &["repo"],
    client_auth: ClientAuth::Body,
    refresh: Refresh::Rotating,
    docs_url: "https://github.com/settings/applications/new",
    ..OAuth2Spec::DEFAULTS
};

static TOKEN: TokenSpec = TokenSpec {
    name: "github-token",
    env_key: "GITHUB_TOKEN",
    docs_url: "https://github.com/settings/tokens",
    verify: Some(Verify::get(
        "https://api.github.com/user",
        KeyPlacement::Bearer,
    )),
    key_prefixes: &["ghp_", "github_pat_"],
    ..TokenSpec::DEFAULTS
};

/// The `github` provider. The facade links this crate by naming it.
pub static PROVIDER: Provider = Provider {
    id: "github",
    display_name: "GitHub",
    handlers: &[Handler::OAuth2(&OAUTH2), Handler::Token(&TOKEN)],
};

keyfob_core::register_provider!(PROVIDER);
