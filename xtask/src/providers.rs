//! The provider crates under `crates/providers`: their ids from the folder list, and their data
//! from the catalog, which an all-providers build prints through the real spec types.
//!
//! The wiring that must exist before anything compiles (workspace members, the facade's
//! features, link lines) needs only the ids. The documents need each handler's spec: codegen runs
//! `cargo run -p keyfob-catalog` (which links every provider crate and serializes
//! `keyfob_core::spec`) and reads its JSON here. Nothing in xtask parses provider source or knows
//! the spec's defaults: a provider may build its statics with any const expression, and a new
//! spec field reaches the catalog, and each provider README's generated spec list, by itself.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use serde::Deserialize;
use serde_json::Value;

use crate::names::ProviderId;

/// A handler's kind, as listings show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HandlerKind {
    /// OAuth2 authorization code.
    OAuth2,
    /// An API key.
    Token,
    /// Username and password.
    BasicAuth,
    /// Key and secret.
    KeyPair,
}

impl HandlerKind {
    /// The lowercase name listings use, as `keyfob_core::spec::HandlerKind::as_str`.
    pub fn as_str(self) -> &'static str {
        match self {
            HandlerKind::OAuth2 => "oauth2",
            HandlerKind::Token => "token",
            HandlerKind::BasicAuth => "basicauth",
            HandlerKind::KeyPair => "keypair",
        }
    }
}

/// One handler of a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerInfo {
    /// `github-oauth2`.
    pub name: String,
    /// Its kind.
    pub kind: HandlerKind,
    /// The env keys a tool receives.
    pub env_keys: Vec<String>,
    /// The spec fields listings show.
    pub spec: SpecInfo,
    /// Every spec field whose value differs from the spec's defaults, in declaration order,
    /// as the catalog serialized it (`name`, `env_key` and the like left out).
    pub set: Vec<(String, Value)>,
}

/// The listed fields of a handler's spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecInfo {
    /// From an `OAuth2Spec`.
    OAuth2(OAuth2Info),
    /// From a `TokenSpec` (any entry).
    Token(TokenInfo),
}

/// The listed fields of a `TokenSpec`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenInfo {
    /// `verify` is set: a key can be checked with a cheap request.
    pub verify: bool,
    /// `key_prefixes`.
    pub key_prefixes: Vec<String>,
    /// `config_fields`: per-account settings the key check's URLs name.
    pub config_fields: Vec<String>,
    /// The `config_fields` that the key check's main URL names (the others are named only by
    /// the URLs of keys with a given prefix).
    pub check_fields: Vec<String>,
    /// The key prefixes that have a check URL of their own.
    pub prefixes_checked_apart: Vec<String>,
    /// `config_defaults`: the fields that have a default, with it.
    pub config_defaults: Vec<(String, String)>,
    /// `unverified`: facts the provider's public documentation does not confirm.
    pub unverified: Vec<String>,
}

/// `ClientAuth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// HTTP Basic.
    Basic,
    /// In the body.
    Body,
}

/// `Refresh`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refresh {
    /// No refresh.
    None,
    /// The refresh token stays valid.
    Plain,
    /// Every refresh returns a new refresh token.
    Rotating,
}

/// `Offline`: how a refresh token is asked for.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Offline {
    /// Nothing to ask.
    Implicit,
    /// A scope.
    Scope(String),
    /// Authorize parameters.
    Params(Vec<(String, String)>),
}

/// The listed fields of an `OAuth2Spec`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuth2Info {
    /// `revoke_url` is set.
    pub revoke: bool,
    /// `device_url` is set.
    pub device: bool,
    /// `userinfo_url` is set.
    pub userinfo: bool,
    /// `scope_param`.
    pub scope_param: Option<String>,
    /// `recommended_scopes`.
    pub recommended_scopes: Vec<String>,
    /// `client_auth`.
    pub client_auth: ClientAuth,
    /// `pkce` is `Pkce::S256`.
    pub pkce: bool,
    /// `refresh`.
    pub refresh: Refresh,
    /// `offline`.
    pub offline: Offline,
    /// `expires`.
    pub expires: bool,
    /// `body_format` is `BodyFormat::Json`.
    pub json_body: bool,
    /// `config_fields`.
    pub config_fields: Vec<String>,
    /// `hooks` is set: the crate has quirk code.
    pub hooks: bool,
    /// `unverified`: facts the provider's public documentation does not confirm.
    pub unverified: Vec<String>,
}

#[cfg(test)]
impl Default for OAuth2Info {
    /// A plain OAuth2 handler, for tests (the real defaults live in keyfob-core).
    fn default() -> Self {
        OAuth2Info {
            revoke: false,
            device: false,
            userinfo: false,
            scope_param: Some("scope".to_owned()),
            recommended_scopes: Vec::new(),
            client_auth: ClientAuth::Body,
            pkce: true,
            refresh: Refresh::Plain,
            offline: Offline::Implicit,
            expires: true,
            json_body: false,
            config_fields: Vec::new(),
            hooks: false,
            unverified: Vec::new(),
        }
    }
}

/// One provider crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderInfo {
    /// The id, equal to the folder name.
    pub id: ProviderId,
    /// The display name.
    pub display_name: String,
    /// Its handlers, the default first.
    pub handlers: Vec<HandlerInfo>,
}

impl ProviderInfo {
    /// Whether some handler is OAuth2.
    pub fn has_oauth2(&self) -> bool {
        self.handlers.iter().any(|h| h.kind == HandlerKind::OAuth2)
    }

    /// Whether some handler takes a token, password or key pair on the entry page.
    pub fn has_token(&self) -> bool {
        self.handlers.iter().any(|h| h.kind != HandlerKind::OAuth2)
    }

    /// Every env key, in handler order, without repeats.
    pub fn env_keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = Vec::new();
        for h in &self.handlers {
            for k in &h.env_keys {
                if !keys.contains(&k.as_str()) {
                    keys.push(k);
                }
            }
        }
        keys
    }
}

/// The folder holding provider crates, relative to the project root.
pub const PROVIDERS_DIR: &str = "crates/providers";

/// Every provider folder under `crates/providers`, sorted by id.
///
/// # Errors
/// A folder whose name is not a valid id, or that has no `Cargo.toml` (a half-made crate would
/// break every cargo command under the members glob, so it is reported, not skipped).
pub fn folders(root: &Path) -> anyhow::Result<Vec<(ProviderId, PathBuf)>> {
    let dir = root.join(PROVIDERS_DIR);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let id = ProviderId::parse(&name)
            .map_err(|e| anyhow::anyhow!("{}/{name}: {e}", PROVIDERS_DIR))?;
        if !entry.path().join("Cargo.toml").is_file() {
            bail!(
                "{}/{name} has no Cargo.toml: a folder under the members glob must be a complete crate (remove it, or finish it)",
                PROVIDERS_DIR
            );
        }
        out.push((id, entry.path()));
    }
    out.sort();
    Ok(out)
}

/// The package that prints the catalog.
pub const CATALOG: &str = "keyfob-catalog";

/// Every provider id, from the folder list.
///
/// # Errors
/// As [`folders`].
pub fn ids(root: &Path) -> anyhow::Result<Vec<ProviderId>> {
    Ok(folders(root)?.into_iter().map(|(id, _)| id).collect())
}

/// Every provider crate with its data, sorted by id: builds and runs `keyfob-catalog` in `root`
/// (cargo's output goes to stderr) and reads what it prints.
///
/// # Errors
/// A provider crate that does not build, or a catalog that does not list exactly the folders.
pub fn catalog(root: &Path) -> anyhow::Result<Vec<ProviderInfo>> {
    let ids = ids(root)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(root)
        .args(["run", "--quiet", "--package", CATALOG])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running `cargo run -p {CATALOG}`"))?;
    if !out.status.success() {
        bail!(
            "`cargo run -p {CATALOG}` failed ({}): the provider catalog is read from an \
             all-providers build, so every provider crate must compile (the compiler's message is \
             above)",
            out.status
        );
    }
    read_catalog(&out.stdout, &ids)
}

/// The catalog's document.
#[derive(Deserialize)]
struct Catalog {
    defaults: Defaults,
    providers: Vec<RawProvider>,
}

/// `OAuth2Spec::DEFAULTS` and `TokenSpec::DEFAULTS`, serialized.
#[derive(Deserialize)]
struct Defaults {
    oauth2: serde_json::Map<String, Value>,
    token: serde_json::Map<String, Value>,
}

#[derive(Deserialize)]
struct RawProvider {
    id: String,
    display_name: String,
    handlers: Vec<RawHandler>,
}

#[derive(Deserialize)]
struct RawHandler {
    name: String,
    kind: HandlerKind,
    env_keys: Vec<String>,
    spec: serde_json::Map<String, Value>,
}

/// The `OAuth2Spec` fields listings show.
#[derive(Deserialize)]
struct RawOAuth2 {
    revoke_url: Option<String>,
    device_url: Option<String>,
    userinfo_url: Option<String>,
    scope_param: Option<String>,
    recommended_scopes: Vec<String>,
    client_auth: ClientAuth,
    pkce: String,
    refresh: Refresh,
    offline: Offline,
    expires: bool,
    body_format: String,
    config_fields: Vec<String>,
    hooks: bool,
    unverified: Vec<String>,
}

/// The `TokenSpec` fields listings show.
#[derive(Deserialize)]
struct RawToken {
    verify: Option<Value>,
    key_prefixes: Vec<String>,
    config_fields: Vec<String>,
    config_defaults: Vec<(String, String)>,
    unverified: Vec<String>,
}

/// Spec fields the listings show elsewhere, left out of [`HandlerInfo::set`].
const SHOWN_ELSEWHERE: &[&str] = &["name", "env_key"];

/// Reads the catalog's JSON; `ids` are the provider folders, which it must list exactly.
///
/// # Errors
/// JSON that is not a catalog, or a catalog whose providers are not the folders.
pub fn read_catalog(json: &[u8], ids: &[ProviderId]) -> anyhow::Result<Vec<ProviderInfo>> {
    let catalog: Catalog =
        serde_json::from_slice(json).context("reading the catalog printed by keyfob-catalog")?;
    let mut out = Vec::new();
    for raw in catalog.providers {
        let id = ProviderId::parse(&raw.id).map_err(|e| anyhow::anyhow!("catalog: {e}"))?;
        if !ids.contains(&id) {
            bail!(
                "the catalog lists `{id}`, which has no folder under {PROVIDERS_DIR}: is a \
                 provider crate registering another id?"
            );
        }
        let handlers = raw
            .handlers
            .into_iter()
            .map(|h| handler(h, &catalog.defaults))
            .collect::<anyhow::Result<_>>()
            .with_context(|| format!("catalog entry `{id}`"))?;
        out.push(ProviderInfo {
            id,
            display_name: raw.display_name,
            handlers,
        });
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    if let Some(missing) = ids.iter().find(|id| !out.iter().any(|p| &p.id == *id)) {
        bail!(
            "{PROVIDERS_DIR}/{missing} is not in the catalog: the all-providers build does not \
             link it (run `cargo xtask codegen` to wire it, and check that its `PROVIDER` static \
             has id `{missing}`)"
        );
    }
    Ok(out)
}

fn handler(h: RawHandler, defaults: &Defaults) -> anyhow::Result<HandlerInfo> {
    let (spec, defaults) = if h.kind == HandlerKind::OAuth2 {
        let o: RawOAuth2 = serde_json::from_value(Value::Object(h.spec.clone()))
            .with_context(|| format!("handler `{}`", h.name))?;
        let info = OAuth2Info {
            revoke: o.revoke_url.is_some(),
            device: o.device_url.is_some(),
            userinfo: o.userinfo_url.is_some(),
            scope_param: o.scope_param,
            recommended_scopes: o.recommended_scopes,
            client_auth: o.client_auth,
            pkce: o.pkce == "s256",
            refresh: o.refresh,
            offline: o.offline,
            expires: o.expires,
            json_body: o.body_format == "json",
            config_fields: o.config_fields,
            hooks: o.hooks,
            unverified: o.unverified,
        };
        (SpecInfo::OAuth2(info), &defaults.oauth2)
    } else {
        let t: RawToken = serde_json::from_value(Value::Object(h.spec.clone()))
            .with_context(|| format!("handler `{}`", h.name))?;
        let url = t
            .verify
            .as_ref()
            .and_then(|v| v["url"].as_str())
            .unwrap_or_default();
        let check_fields = t
            .config_fields
            .iter()
            .filter(|f| url.contains(&format!("{{{f}}}")))
            .cloned()
            .collect();
        let prefixes_checked_apart = t
            .verify
            .as_ref()
            .and_then(|v| v["url_by_prefix"].as_array())
            .into_iter()
            .flatten()
            .filter_map(|pair| pair[0].as_str().map(str::to_owned))
            .collect();
        let info = TokenInfo {
            verify: t.verify.is_some(),
            key_prefixes: t.key_prefixes,
            check_fields,
            prefixes_checked_apart,
            config_fields: t.config_fields,
            config_defaults: t.config_defaults,
            unverified: t.unverified,
        };
        (SpecInfo::Token(info), &defaults.token)
    };
    let set = h
        .spec
        .into_iter()
        .filter(|(k, v)| !SHOWN_ELSEWHERE.contains(&k.as_str()) && defaults.get(k) != Some(v))
        .collect();
    Ok(HandlerInfo {
        name: h.name,
        kind: h.kind,
        env_keys: h.env_keys,
        spec,
        set,
    })
}
#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> ProviderId {
        ProviderId::parse(s).unwrap()
    }

    /// A catalog as `keyfob-catalog` prints it, cut to what the reader needs.
    fn catalog(providers: &str) -> String {
        let oauth2 = r#"{"name": "", "env_key": "", "token_url": "", "revoke_url": null,
            "device_url": null, "userinfo_url": null, "scope_param": "scope",
            "recommended_scopes": [], "client_auth": "body", "pkce": "s256", "refresh": "plain",
            "offline": "implicit", "expires": true, "body_format": "form", "config_fields": [],
            "hooks": false, "unverified": []}"#;
        let token = r#"{"name": "", "env_key": "", "entry": "api_key", "verify": null,
            "key_prefixes": [], "config_fields": [], "config_defaults": [], "unverified": []}"#;
        format!(
            r#"{{"defaults": {{"oauth2": {oauth2}, "token": {token}}}, "providers": [{providers}]}}"#
        )
    }

    const ACME: &str = r#"{"id": "acme", "display_name": "Acme", "handlers": [
        {"name": "acme-oauth2", "kind": "oauth2", "env_keys": ["ACME_TOKEN"], "spec": {
            "name": "acme-oauth2", "env_key": "ACME_TOKEN", "token_url": "https://a.test/token",
            "revoke_url": "https://a.test/r", "device_url": null, "userinfo_url": "{domain_url}/me",
            "scope_param": "user_scope", "recommended_scopes": ["read", "write"],
            "client_auth": "basic", "pkce": "none", "refresh": "none",
            "offline": {"params": [["access_type", "offline"], ["prompt", "consent"]]},
            "expires": false, "body_format": "json", "config_fields": ["domain_url"],
            "hooks": true, "unverified": ["the revocation endpoint"]}},
        {"name": "acme-keypair", "kind": "keypair", "env_keys": ["ACME_KEY", "ACME_SECRET"], "spec": {
            "name": "acme-keypair", "env_key": "ACME_KEY",
            "entry": {"key_pair": {"secret_env_key": "ACME_SECRET"}},
            "verify": {"method": "get", "url": "https://a.test"}, "key_prefixes": ["ak_", "AK."],
            "config_fields": [], "config_defaults": [], "unverified": []}}
    ]}"#;

    #[test]
    fn reads_handlers_env_keys_and_listed_fields() {
        let ps = read_catalog(catalog(ACME).as_bytes(), &[id("acme")]).unwrap();
        let p = &ps[0];
        assert_eq!(p.display_name, "Acme");
        assert_eq!(p.handlers[1].kind, HandlerKind::KeyPair);
        assert_eq!(p.env_keys(), ["ACME_TOKEN", "ACME_KEY", "ACME_SECRET"]);
        assert!(p.has_oauth2() && p.has_token());
        assert_eq!(
            p.handlers[0].spec,
            SpecInfo::OAuth2(OAuth2Info {
                revoke: true,
                device: false,
                userinfo: true,
                scope_param: Some("user_scope".into()),
                recommended_scopes: vec!["read".into(), "write".into()],
                client_auth: ClientAuth::Basic,
                pkce: false,
                refresh: Refresh::None,
                offline: Offline::Params(vec![
                    ("access_type".into(), "offline".into()),
                    ("prompt".into(), "consent".into())
                ]),
                expires: false,
                json_body: true,
                config_fields: vec!["domain_url".into()],
                hooks: true,
                unverified: vec!["the revocation endpoint".into()],
            })
        );
        assert_eq!(
            p.handlers[1].spec,
            SpecInfo::Token(TokenInfo {
                verify: true,
                key_prefixes: vec!["ak_".into(), "AK.".into()],
                ..TokenInfo::default()
            })
        );
    }

    /// `set` is every field that differs from the defaults, in the catalog's order, whatever
    /// its name: a field xtask has never heard of is listed too.
    #[test]
    fn set_fields_are_those_off_the_defaults() {
        let with_new_field = ACME.replace(
            r#""hooks": true,"#,
            r#""hooks": true, "brand_new_field": "x","#,
        );
        let ps = read_catalog(catalog(&with_new_field).as_bytes(), &[id("acme")]).unwrap();
        let fields: Vec<&str> = ps[0].handlers[0]
            .set
            .iter()
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(
            fields,
            [
                "token_url",
                "revoke_url",
                "userinfo_url",
                "scope_param",
                "recommended_scopes",
                "client_auth",
                "pkce",
                "refresh",
                "offline",
                "expires",
                "body_format",
                "config_fields",
                "hooks",
                "brand_new_field",
                "unverified",
            ]
        );
        let token: Vec<&str> = ps[0].handlers[1]
            .set
            .iter()
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(token, ["entry", "verify", "key_prefixes"]);
    }

    #[test]
    fn the_catalog_must_list_exactly_the_folders() {
        let e = read_catalog(catalog(ACME).as_bytes(), &[id("acme"), id("beta")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("crates/providers/beta is not in the catalog"),
            "{e}"
        );
        let e = read_catalog(catalog(ACME).as_bytes(), &[id("beta")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("the catalog lists `acme`"), "{e}");
        let e = format!(
            "{:#}",
            read_catalog(b"not json", &[id("acme")]).unwrap_err()
        );
        assert!(e.contains("reading the catalog"), "{e}");
    }
}
