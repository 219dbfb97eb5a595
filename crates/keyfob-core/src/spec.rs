//! Provider and handler specs: static data that provider crates declare and register.
//!
//! A provider is a list of handlers; the first is its default. Every field is plain data built in
//! const context so that a provider crate is a `static` plus one `register_provider!` line.
//! Every spec type serializes (serde), which is how codegen reads providers: the
//! `keyfob-catalog` binary prints them as JSON. Quirk hooks serialize as whether there are any.

use std::fmt;

use serde::Serialize;

/// A provider: what tools name in `auth_provider = "github"`.
#[derive(Debug, Serialize)]
pub struct Provider {
    /// The stable id: lowercase letters, digits and `_`, starting with a letter.
    pub id: &'static str,
    /// The name people know the service by.
    pub display_name: &'static str,
    /// Its handlers; the first is the default.
    pub handlers: &'static [Handler],
}

impl Provider {
    /// The default handler.
    pub fn default_handler(&self) -> &'static Handler {
        &self.handlers[0]
    }

    /// The handler called `name`, if this provider has it.
    pub fn handler(&self, name: &str) -> Option<&'static Handler> {
        self.handlers.iter().find(|h| h.name() == name)
    }
}

/// One way to authenticate with a provider.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(untagged)]
pub enum Handler {
    /// The user enters a key, a username and password, or a key pair on a local page.
    Token(&'static TokenSpec),
    /// OAuth2 authorization code (with PKCE where allowed) and refresh.
    OAuth2(&'static OAuth2Spec),
}

impl Handler {
    /// The handler's name, e.g. `github-oauth2`.
    pub fn name(&self) -> &'static str {
        match self {
            Handler::Token(t) => t.name,
            Handler::OAuth2(o) => o.name,
        }
    }

    /// The kind, for listings.
    pub fn kind(&self) -> HandlerKind {
        match self {
            Handler::Token(t) => match t.entry {
                TokenEntry::ApiKey => HandlerKind::Token,
                TokenEntry::BasicAuth => HandlerKind::BasicAuth,
                TokenEntry::KeyPair { .. } => HandlerKind::KeyPair,
            },
            Handler::OAuth2(_) => HandlerKind::OAuth2,
        }
    }

    /// The environment keys a tool receives, unprofiled.
    pub fn env_keys(&self) -> Vec<&'static str> {
        match self {
            Handler::Token(t) => match t.entry {
                TokenEntry::KeyPair { secret_env_key, .. } => vec![t.env_key, secret_env_key],
                _ => vec![t.env_key],
            },
            Handler::OAuth2(o) => vec![o.env_key],
        }
    }

    /// Whether requests through this handler carry scopes.
    pub fn scoped(&self) -> bool {
        matches!(self, Handler::OAuth2(o) if o.scope_param.is_some())
    }
}

/// The kind of a handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HandlerKind {
    /// An API key.
    Token,
    /// Username and password.
    BasicAuth,
    /// API key and secret.
    KeyPair,
    /// OAuth2.
    OAuth2,
}

impl HandlerKind {
    /// Lowercase name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            HandlerKind::Token => "token",
            HandlerKind::BasicAuth => "basicauth",
            HandlerKind::KeyPair => "keypair",
            HandlerKind::OAuth2 => "oauth2",
        }
    }
}

/// What the token-entry page asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEntry {
    /// One secret field, handed over as is.
    ApiKey,
    /// Username and password, handed over as `base64(user:password)`.
    BasicAuth,
    /// Key and secret, handed over under two env keys.
    KeyPair {
        /// The env key of the second field.
        secret_env_key: &'static str,
    },
}

/// A handler where the user enters a key.
#[derive(Debug, Serialize)]
pub struct TokenSpec {
    /// Handler name, e.g. `notion-token`.
    pub name: &'static str,
    /// The env key a tool reads, e.g. `NOTION_TOKEN`.
    pub env_key: &'static str,
    /// What to ask for.
    pub entry: TokenEntry,
    /// Where the user creates a key (shown on the page).
    pub docs_url: &'static str,
    /// A cheap authenticated request that tells whether a key works, where the provider
    /// documents one (used by key verification).
    pub verify: Option<Verify>,
    /// Prefixes every key of this provider starts with, where documented (`sk_live_`, `SG.`).
    /// A key without one is accepted with a warning: formats change, refusing would lock users
    /// out.
    pub key_prefixes: &'static [&'static str],
    /// Per-account config fields (`base_url`) that `verify`'s URL names as `{field}`: the check
    /// runs once they are set in `[auth.<provider>]`. A field at the start of the URL takes a
    /// whole URL (`https://canvas.example.edu`); one inside the host a DNS name
    /// (`https://api.{site}/…` with `site = "datadoghq.eu"`).
    pub config_fields: &'static [&'static str],
    /// Values of `config_fields` when `[auth.<provider>]` does not set them (Datadog's site is
    /// US1 unless the account lives on another).
    pub config_defaults: &'static [(&'static str, &'static str)],
    /// `config_fields` handed to tools as environment variables, default included
    /// (`("site", "DD_SITE")`): a key is only usable with its site.
    pub config_env: &'static [(&'static str, &'static str)],
    /// Facts in this spec that the provider's public documentation does not confirm (docs
    /// behind a login, behaviour found only in third-party reports), one short line each. They
    /// are listed in docs/providers.md's "not verified" column; empty when every fact was
    /// checked against the provider's docs.
    pub unverified: &'static [&'static str],
}

impl TokenSpec {
    /// Defaults for `..TokenSpec::DEFAULTS`.
    pub const DEFAULTS: TokenSpec = TokenSpec {
        name: "",
        env_key: "",
        entry: TokenEntry::ApiKey,
        docs_url: "",
        verify: None,
        key_prefixes: &[],
        config_fields: &[],
        config_defaults: &[],
        config_env: &[],
        unverified: &[],
    };

    /// The value of the config field `field` in `config`, else its default.
    pub fn config_value<'a>(
        &self,
        config: &'a crate::config::ProviderConfig,
        field: &str,
    ) -> Option<&'a str> {
        config.extra.get(field).map(String::as_str).or_else(|| {
            self.config_defaults
                .iter()
                .find(|(f, _)| *f == field)
                .map(|(_, d)| *d)
        })
    }

    /// `config` with the default of each config field it does not set.
    pub fn with_defaults(
        &self,
        config: &crate::config::ProviderConfig,
    ) -> crate::config::ProviderConfig {
        let mut config = config.clone();
        for (field, default) in self.config_defaults {
            config
                .extra
                .entry((*field).to_owned())
                .or_insert_with(|| (*default).to_owned());
        }
        config
    }

    /// A warning when `key` does not look like this provider's keys; never contains the key.
    pub fn format_warning(&self, key: &str) -> Option<String> {
        if key.chars().any(char::is_whitespace) {
            return Some(format!(
                "the value entered for {} contains spaces or line breaks; keys rarely do",
                self.env_key
            ));
        }
        if self.key_prefixes.is_empty() || self.key_prefixes.iter().any(|p| key.starts_with(p)) {
            return None;
        }
        Some(format!(
            "the value entered for {} does not start like its keys usually do ({}); it was saved \
             anyway, check it if calls fail",
            self.env_key,
            self.key_prefixes
                .iter()
                .map(|p| format!("`{p}…`"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

/// A request that tells whether a key works: a 2xx answer means yes, 401/403 means no.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Verify {
    /// `GET` or `POST`.
    pub method: Method,
    /// The URL, https.
    pub url: &'static str,
    /// How the key is sent.
    pub key: KeyPlacement,
    /// Fixed headers the request needs (an API version, say).
    pub headers: &'static [(&'static str, &'static str)],
    /// What an HTTP 403 answer means, as the provider documents it (401 always refuses).
    pub forbidden: Forbidden,
    /// Other check URLs for keys that start with a prefix, `(prefix, url)`, the first match
    /// winning over `url` (Cloudflare checks account-owned tokens, `cfat_…`, under the account).
    pub url_by_prefix: &'static [(&'static str, &'static str)],
    /// A 2xx answer accepts the key only when this JSON field (a JSON pointer) holds this value
    /// (Cloudflare answers 200 for a disabled or expired token, with `result.status`).
    pub accepted_when: Option<(&'static str, &'static str)>,
    /// A 401 or 403 answer whose JSON field (a JSON pointer) holds this value means the key is
    /// valid but lacks this permission, `(pointer, value, permission)`: it is saved, with a
    /// warning naming the permission (ElevenLabs' `detail.status` `missing_permissions`).
    pub lacking_when: Option<(&'static str, &'static str, &'static str)>,
}

impl Verify {
    /// An authenticated `GET` of `url` with `key` placement and no extra headers; a 403 refuses.
    pub const fn get(url: &'static str, key: KeyPlacement) -> Verify {
        Verify {
            method: Method::Get,
            url,
            key,
            headers: &[],
            forbidden: Forbidden::Refused,
            url_by_prefix: &[],
            accepted_when: None,
            lacking_when: None,
        }
    }

    /// The same check, sent to another URL for keys with one of these prefixes (see
    /// [`Verify::url_by_prefix`]).
    pub const fn url_for_prefixes(self, urls: &'static [(&'static str, &'static str)]) -> Verify {
        Verify {
            url_by_prefix: urls,
            ..self
        }
    }

    /// The same check, accepting a key only when the answer's `pointer` holds `value`.
    pub const fn accepted_when(self, pointer: &'static str, value: &'static str) -> Verify {
        Verify {
            accepted_when: Some((pointer, value)),
            ..self
        }
    }

    /// The same check, where a 401 or 403 answer whose `pointer` holds `value` means the key
    /// lacks `permission` (see [`Verify::lacking_when`]).
    pub const fn refusal_means_lacking_when(
        self,
        pointer: &'static str,
        value: &'static str,
        permission: &'static str,
    ) -> Verify {
        Verify {
            lacking_when: Some((pointer, value, permission)),
            ..self
        }
    }

    /// The same check, where a 403 says nothing about the key itself, only `why` the request
    /// was refused (a key limited to other IP addresses): such a key is saved, with a warning.
    pub const fn forbidden_means_unchecked(self, why: &'static str) -> Verify {
        Verify {
            forbidden: Forbidden::Unchecked(why),
            ..self
        }
    }

    /// The URL template that checks `key`: the first of [`Verify::url_by_prefix`] whose prefix
    /// `key` has, else [`Verify::url`].
    pub fn url_for(&self, key: &str) -> &'static str {
        self.url_by_prefix
            .iter()
            .find(|(prefix, _)| key.starts_with(prefix))
            .map_or(self.url, |(_, url)| url)
    }

    /// Every URL template of the check: `url`, then those by prefix.
    pub fn urls(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.url).chain(self.url_by_prefix.iter().map(|(_, u)| *u))
    }

    /// The same check, where the provider answers 403 to a valid key that lacks `permission`
    /// (which the check endpoint needs): such a key is saved, with a warning naming it.
    pub const fn forbidden_means_lacking(self, permission: &'static str) -> Verify {
        Verify {
            forbidden: Forbidden::LacksPermission(permission),
            ..self
        }
    }
}

/// What a provider's HTTP 403 answer to a key check means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Forbidden {
    /// The key is refused (Datadog answers 403 to an invalid key).
    Refused,
    /// The key is valid but lacks this permission (Stripe's restricted keys without
    /// `Balance: Read`): it is saved, with a warning naming the permission.
    LacksPermission(&'static str),
    /// The answer does not tell whether the key is valid, for this reason (ElevenLabs answers
    /// 403 to a request from an IP address the key is not allowed from): it is saved, with a
    /// warning giving the reason.
    Unchecked(&'static str),
}

/// An HTTP method for [`Verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// GET.
    Get,
    /// POST with an empty body.
    Post,
}

/// How an API expects a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyPlacement {
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// `<name>: <prefix><key>`, e.g. `X-Api-Key: <key>` or `Authorization: Token <key>`.
    Header {
        /// Header name.
        name: &'static str,
        /// Text before the key, often empty.
        prefix: &'static str,
    },
    /// A query parameter.
    Query(&'static str),
    /// HTTP Basic with the key as user name and an empty password (Stripe).
    BasicUser,
    /// HTTP Basic with a fixed user name and the key as password.
    BasicPassword(&'static str),
}

/// How the client authenticates at the token endpoint. Never both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// HTTP Basic with form-url-encoded id and secret (RFC 6749 §2.3.1).
    Basic,
    /// `client_id` and `client_secret` in the request body.
    Body,
}

/// PKCE support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pkce {
    /// Send an S256 challenge and a fresh verifier per flow.
    S256,
    /// The provider rejects or ignores PKCE.
    None,
}

/// How access tokens are renewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refresh {
    /// Tokens never expire or cannot be refreshed: log in again when needed.
    None,
    /// `grant_type=refresh_token`; the refresh token stays valid.
    Plain,
    /// `grant_type=refresh_token`; every use returns a new refresh token and kills the old one.
    Rotating,
}

/// How a provider is asked for a refresh token; the engine adds it to every authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Offline {
    /// Nothing to ask: the provider issues one by itself, or never does.
    Implicit,
    /// A scope: `offline_access` (Atlassian, Microsoft), `offline.access` (X), `refresh_token`
    /// (Salesforce).
    Scope(&'static str),
    /// Authorize parameters: `access_type=offline` + `prompt=consent` (Google),
    /// `duration=permanent` (Reddit).
    Params(&'static [(&'static str, &'static str)]),
}

/// How tokens are revoked at `revoke_url`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RevokeStyle {
    /// RFC 7009: a form POST per token (the refresh token first), with client authentication.
    Rfc7009,
    /// RFC 7009's form POSTs, with the client credentials in the body whatever the token
    /// endpoint's method (Calendly: `client_id`, `client_secret` and `token`).
    Rfc7009CredentialsInBody,
    /// `POST revoke_url` with HTTP Basic client credentials, the JSON body `{"token": …}` of the
    /// access token, and these headers (Notion: `Notion-Version`).
    JsonBasic(&'static [(&'static str, &'static str)]),
    /// `DELETE revoke_url` with HTTP Basic client credentials and the JSON body
    /// `{"access_token": …}`, answered 204 (GitHub's "delete an app token"). The URL may name
    /// `{client_id}`.
    DeleteAccessToken,
    /// `POST revoke_url` with the access token as its own bearer credential and no body
    /// (Slack's `auth.revoke`).
    BearerPost,
}

/// The body format of token requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyFormat {
    /// `application/x-www-form-urlencoded` (RFC 6749).
    Form,
    /// `application/json` (Notion).
    Json,
}

/// Code for what data cannot say. Every method has a default that does nothing.
pub trait OAuth2Hooks: Send + Sync + 'static {
    /// Rewrites a token response before it is parsed, e.g. to lift a nested token.
    fn normalize_token_response(&self, _body: &mut serde_json::Value) {}
}

/// A handler for OAuth2 authorization code with refresh.
#[derive(Serialize)]
pub struct OAuth2Spec {
    /// Handler name, e.g. `github-oauth2`.
    pub name: &'static str,
    /// The env key a tool reads, e.g. `GITHUB_TOKEN`.
    pub env_key: &'static str,
    /// Authorization endpoint; may contain `{field}` placeholders filled from config.
    pub authorize_url: &'static str,
    /// Token endpoint; may contain `{field}` placeholders filled from config.
    pub token_url: &'static str,
    /// Revocation endpoint; may contain `{client_id}` and `{field}` placeholders.
    pub revoke_url: Option<&'static str>,
    /// How `revoke_url` is called.
    pub revoke_style: RevokeStyle,
    /// RFC 8628 device authorization endpoint.
    pub device_url: Option<&'static str>,
    /// An endpoint that answers the account's identity for the access token (OIDC userinfo,
    /// GitHub `/user`, Slack `auth.test`).
    pub userinfo_url: Option<&'static str>,
    /// The authorize parameter that carries scopes (`scope`, Slack's `user_scope`); `None` when
    /// the provider takes no scopes.
    pub scope_param: Option<&'static str>,
    /// What joins scopes.
    pub scope_separator: &'static str,
    /// Scopes requested when `use_recommended_scopes` is on.
    pub recommended_scopes: &'static [&'static str],
    /// Fixed extra authorize parameters.
    pub authorize_params: &'static [(&'static str, &'static str)],
    /// Client authentication at the token endpoint.
    pub client_auth: ClientAuth,
    /// PKCE support.
    pub pkce: Pkce,
    /// Refresh behaviour.
    pub refresh: Refresh,
    /// How to ask for a refresh token.
    pub offline: Offline,
    /// Whether access tokens expire. `false` for providers whose tokens live until revoked
    /// (Notion, Mailchimp, classic GitHub OAuth apps).
    pub expires: bool,
    /// Token request body format.
    pub body_format: BodyFormat,
    /// Extra config fields the provider needs (`domain_url`), used in URL placeholders.
    pub config_fields: &'static [&'static str],
    /// Where to register an OAuth app.
    pub docs_url: &'static str,
    /// Quirk code.
    #[serde(serialize_with = "is_set")]
    pub hooks: Option<&'static dyn OAuth2Hooks>,
    /// Facts in this spec that the provider's public documentation does not confirm, one short
    /// line each (as [`TokenSpec::unverified`]).
    pub unverified: &'static [&'static str],
}

impl OAuth2Spec {
    /// Defaults for `..OAuth2Spec::DEFAULTS`: space-separated `scope`, body client auth, S256
    /// PKCE, plain refresh, form bodies.
    pub const DEFAULTS: OAuth2Spec = OAuth2Spec {
        name: "",
        env_key: "",
        authorize_url: "",
        token_url: "",
        revoke_url: None,
        revoke_style: RevokeStyle::Rfc7009,
        device_url: None,
        userinfo_url: None,
        scope_param: Some("scope"),
        scope_separator: " ",
        recommended_scopes: &[],
        authorize_params: &[],
        client_auth: ClientAuth::Body,
        pkce: Pkce::S256,
        refresh: Refresh::Plain,
        offline: Offline::Implicit,
        expires: true,
        body_format: BodyFormat::Form,
        config_fields: &[],
        docs_url: "",
        hooks: None,
        unverified: &[],
    };
}

/// Serializes quirk hooks as whether there are any: code is not data.
fn is_set<S: serde::Serializer>(
    hooks: &Option<&'static dyn OAuth2Hooks>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_bool(hooks.is_some())
}

impl fmt::Debug for OAuth2Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth2Spec")
            .field("name", &self.name)
            .field("authorize_url", &self.authorize_url)
            .field("token_url", &self.token_url)
            .field("client_auth", &self.client_auth)
            .field("pkce", &self.pkce)
            .field("refresh", &self.refresh)
            .field("hooks", &self.hooks.is_some())
            .finish_non_exhaustive()
    }
}

/// Checks that a provider id follows the rule: `^[a-z][a-z0-9_]*$`.
pub fn is_valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Checks a spec for mistakes a provider author can make; used by the conformance kit.
///
/// # Errors
/// A list of problems, one sentence each.
pub fn validate(provider: &Provider) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    if !is_valid_id(provider.id) {
        problems.push(format!("id `{}` must match ^[a-z][a-z0-9_]*$", provider.id));
    }
    if provider.display_name.trim().is_empty() {
        problems.push("display_name is empty".into());
    }
    if provider.handlers.is_empty() {
        problems.push("a provider needs at least one handler".into());
    }
    let dashed = provider.id.replace('_', "-");
    for h in provider.handlers {
        if !h.name().starts_with(&dashed) {
            problems.push(format!(
                "handler `{}` should start with `{dashed}`",
                h.name()
            ));
        }
        for key in h.env_keys() {
            if key.is_empty()
                || !key
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            {
                problems.push(format!(
                    "env key `{key}` of `{}` must be SHOUTY_SNAKE_CASE",
                    h.name()
                ));
            }
        }
        if let Handler::Token(t) = h {
            if let Some(v) = &t.verify {
                for url in v.urls() {
                    let placeholders: Vec<&str> = url
                        .split('{')
                        .skip(1)
                        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
                        .collect();
                    for name in &placeholders {
                        if !t.config_fields.contains(name) {
                            problems.push(format!(
                                "verify url of `{}` names `{{{name}}}`, which is not in its config_fields",
                                t.name
                            ));
                        }
                    }
                    // A per-account URL starts with a field, which is checked when it is filled.
                    if !url.starts_with("https://") && !url.starts_with('{') {
                        problems.push(format!("verify url of `{}` must be https", t.name));
                    }
                }
                let pointers = v
                    .accepted_when
                    .map(|(p, value)| ("accepted_when", p, value));
                let pointers = pointers.into_iter().chain(
                    v.lacking_when
                        .map(|(p, value, _)| ("lacking_when", p, value)),
                );
                for (what, pointer, value) in pointers {
                    if !pointer.starts_with('/') || value.is_empty() {
                        problems.push(format!(
                            "{what} of `{}` needs a JSON pointer (`/result/status`) and a value",
                            t.name
                        ));
                    }
                }
                for (prefix, _) in v.url_by_prefix {
                    if !t.key_prefixes.contains(prefix) {
                        problems.push(format!(
                            "url_by_prefix of `{}` names `{prefix}`, which is not one of its key_prefixes",
                            t.name
                        ));
                    }
                }
            }
        }
        if let Handler::OAuth2(o) = h {
            if !o.expires && o.refresh != Refresh::None {
                problems.push(format!(
                    "`{}` says access tokens never expire, so it cannot refresh them",
                    o.name
                ));
            }
            if matches!(o.offline, Offline::Scope(_)) && o.scope_param.is_none() {
                problems.push(format!(
                    "`{}` asks for a refresh token by scope but sends no scopes",
                    o.name
                ));
            }
            for (what, url) in [
                ("authorize_url", o.authorize_url),
                ("token_url", o.token_url),
            ] {
                if !url.starts_with("https://") && !url.starts_with("{") {
                    problems.push(format!("{what} of `{}` must be https", o.name));
                }
            }
            if o.scope_separator.is_empty() {
                problems.push(format!("scope_separator of `{}` is empty", o.name));
            }
        }
    }
    let mut names: Vec<_> = provider.handlers.iter().map(|h| h.name()).collect();
    names.sort_unstable();
    names.dedup();
    if names.len() != provider.handlers.len() {
        problems.push("handler names must be unique".into());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(is_valid_id("github"));
        assert!(is_valid_id("microsoft_clarity"));
        assert!(!is_valid_id("Github"));
        assert!(!is_valid_id("1password"));
        assert!(!is_valid_id("a-b"));
        assert!(!is_valid_id(""));
    }

    static BAD_TOKEN: TokenSpec = TokenSpec {
        name: "other-token",
        env_key: "lower",
        verify: Some(Verify::get("{tenant}/me", KeyPlacement::Bearer)),
        config_fields: &["base_url"],
        ..TokenSpec::DEFAULTS
    };
    static BAD_OAUTH: OAuth2Spec = OAuth2Spec {
        name: "acme-oauth2",
        env_key: "ACME_TOKEN",
        authorize_url: "http://acme.test/authorize",
        token_url: "https://acme.test/token",
        ..OAuth2Spec::DEFAULTS
    };
    static BAD: Provider = Provider {
        id: "acme",
        display_name: " ",
        handlers: &[Handler::Token(&BAD_TOKEN), Handler::OAuth2(&BAD_OAUTH)],
    };

    #[test]
    fn validate_lists_every_problem() {
        let problems = validate(&BAD).unwrap_err();
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert!(
            problems
                .iter()
                .any(|p| p.contains("`{tenant}`, which is not"))
        );
        assert!(problems.iter().any(|p| p.contains("display_name")));
        assert!(
            problems
                .iter()
                .any(|p| p.contains("should start with `acme`"))
        );
        assert!(problems.iter().any(|p| p.contains("SHOUTY")));
        assert!(problems.iter().any(|p| p.contains("authorize_url")));
    }
}
