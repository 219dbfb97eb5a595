//! Reads the provider crates under `crates/providers`: each folder's id and the data of its
//! `PROVIDER` (display name, handlers, env keys, and the spec fields listings show), parsed from
//! `src/lib.rs` with `syn`.
//!
//! Codegen needs that data for `docs/providers.md`, the README summary and the
//! `oauth2-providers`/`token-providers` groups. A spec field absent from a literal takes the
//! default of `OAuth2Spec::DEFAULTS`/`TokenSpec::DEFAULTS` in `keyfob-core/src/spec.rs`, mirrored
//! by the `Default` impls here (a test compares the two). Reading the source keeps codegen independent of a build; the price is that the
//! `PROVIDER` and handler statics must be written as literals in `src/lib.rs`, which is the shape
//! both templates and every hand-written provider have (tidy checks it through this module).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use syn::{Expr, Item, Lit};

use crate::names::ProviderId;

/// A handler's kind, as listings show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// `config_fields`: per-account settings the key check's URL names.
    pub config_fields: Vec<String>,
    /// `config_defaults`: the fields that have a default, with it.
    pub config_defaults: Vec<(String, String)>,
}

/// `ClientAuth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic.
    Basic,
    /// In the body.
    Body,
}

/// `Refresh`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// No refresh.
    None,
    /// The refresh token stays valid.
    Plain,
    /// Every refresh returns a new refresh token.
    Rotating,
}

/// `Offline`: how a refresh token is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

impl Default for OAuth2Info {
    /// `OAuth2Spec::DEFAULTS`.
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

/// Every provider crate with its data, sorted by id.
///
/// # Errors
/// As [`folders`] and [`read`].
pub fn all(root: &Path) -> anyhow::Result<Vec<ProviderInfo>> {
    folders(root)?
        .into_iter()
        .map(|(id, dir)| read(&id, &dir))
        .collect()
}

/// Reads the provider in `dir` (whose folder name is `id`).
///
/// # Errors
/// When `src/lib.rs` does not parse or does not hold the data as literals.
pub fn read(id: &ProviderId, dir: &Path) -> anyhow::Result<ProviderInfo> {
    let path = dir.join("src/lib.rs");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    parse(id, &text).with_context(|| {
        format!(
            "{}: codegen reads `pub static PROVIDER: Provider` and its handler statics from this file as literals",
            path.display()
        )
    })
}

/// Parses a provider's `src/lib.rs`.
///
/// # Errors
/// A message naming what is missing or not a literal.
pub fn parse(id: &ProviderId, text: &str) -> anyhow::Result<ProviderInfo> {
    let file = syn::parse_file(text).context("the file does not parse")?;
    let mut statics: BTreeMap<String, (String, &Expr)> = BTreeMap::new();
    for item in &file.items {
        if let Item::Static(s) = item {
            let ty = match &*s.ty {
                syn::Type::Path(p) => p
                    .path
                    .segments
                    .last()
                    .map(|s| s.ident.to_string())
                    .unwrap_or_default(),
                _ => String::new(),
            };
            statics.insert(s.ident.to_string(), (ty, &s.expr));
        }
    }
    let Some((ty, expr)) = statics.get("PROVIDER") else {
        bail!("no `static PROVIDER`");
    };
    if ty != "Provider" {
        bail!("`PROVIDER` has type `{ty}`, not `Provider`");
    }
    let fields = struct_fields(expr, "PROVIDER")?;
    let source_id = string_field(&fields, "id", "PROVIDER")?;
    if source_id != id.as_str() {
        bail!(
            "`PROVIDER.id` is `{source_id}` but the folder is `{id}`; they must be equal (the folder name is the id)"
        );
    }
    let display_name = string_field(&fields, "display_name", "PROVIDER")?;
    let Some(handlers) = fields.get("handlers") else {
        bail!("`PROVIDER` has no `handlers`");
    };
    let Expr::Reference(r) = handlers else {
        bail!("`PROVIDER.handlers` must be `&[Handler::…(&STATIC), …]`");
    };
    let Expr::Array(arr) = &*r.expr else {
        bail!("`PROVIDER.handlers` must be `&[Handler::…(&STATIC), …]`");
    };
    let mut out = Vec::new();
    for elem in &arr.elems {
        let Expr::Call(call) = elem else {
            bail!("a handler must be `Handler::OAuth2(&STATIC)` or `Handler::Token(&STATIC)`");
        };
        let variant = match &*call.func {
            Expr::Path(p) => p
                .path
                .segments
                .last()
                .map(|s| s.ident.to_string())
                .unwrap_or_default(),
            _ => String::new(),
        };
        let target = match call.args.first() {
            Some(Expr::Reference(r)) => match &*r.expr {
                Expr::Path(p) => p.path.get_ident().map(|i| i.to_string()),
                _ => None,
            },
            _ => None,
        };
        let Some(target) = target else {
            bail!(
                "handler `{variant}` must reference a static in this file: `Handler::{variant}(&NAME)`"
            );
        };
        let Some((_, spec)) = statics.get(&target) else {
            bail!("handler static `{target}` is not defined in this file");
        };
        let f = struct_fields(spec, &target)?;
        let name = string_field(&f, "name", &target)?;
        let env_key = string_field(&f, "env_key", &target)?;
        let (kind, env_keys, spec) = match variant.as_str() {
            "OAuth2" => (
                HandlerKind::OAuth2,
                vec![env_key],
                SpecInfo::OAuth2(oauth2_info(&f, &target)?),
            ),
            "Token" => {
                let (kind, keys) = token_kind(&f, &target, env_key)?;
                (kind, keys, SpecInfo::Token(token_info(&f, &target)?))
            }
            other => bail!("unknown handler kind `Handler::{other}`"),
        };
        out.push(HandlerInfo {
            name,
            kind,
            env_keys,
            spec,
        });
    }
    if out.is_empty() {
        bail!("`PROVIDER.handlers` is empty");
    }
    Ok(ProviderInfo {
        id: id.clone(),
        display_name,
        handlers: out,
    })
}

fn token_kind(
    f: &BTreeMap<String, &Expr>,
    what: &str,
    env_key: String,
) -> anyhow::Result<(HandlerKind, Vec<String>)> {
    let Some(entry) = f.get("entry") else {
        return Ok((HandlerKind::Token, vec![env_key]));
    };
    let last = |p: &syn::Path| {
        p.segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default()
    };
    match entry {
        Expr::Path(p) if last(&p.path) == "ApiKey" => Ok((HandlerKind::Token, vec![env_key])),
        Expr::Path(p) if last(&p.path) == "BasicAuth" => {
            Ok((HandlerKind::BasicAuth, vec![env_key]))
        }
        Expr::Struct(s) if last(&s.path) == "KeyPair" => {
            let inner: BTreeMap<String, &Expr> = s
                .fields
                .iter()
                .filter_map(|fv| match &fv.member {
                    syn::Member::Named(n) => Some((n.to_string(), &fv.expr)),
                    syn::Member::Unnamed(_) => None,
                })
                .collect();
            let second = string_field(&inner, "secret_env_key", what)?;
            Ok((HandlerKind::KeyPair, vec![env_key, second]))
        }
        _ => bail!("`{what}.entry` must be a `TokenEntry` literal"),
    }
}

/// The listed fields of a `TokenSpec` literal; absent ones take `TokenSpec::DEFAULTS`.
fn token_info(f: &BTreeMap<String, &Expr>, what: &str) -> anyhow::Result<TokenInfo> {
    let mut t = TokenInfo::default();
    if let Some(e) = f.get("verify") {
        t.verify = option_set(e, what, "verify")?;
    }
    if let Some(e) = f.get("key_prefixes") {
        t.key_prefixes = string_slice(e, what, "key_prefixes")?;
    }
    if let Some(e) = f.get("config_fields") {
        t.config_fields = string_slice(e, what, "config_fields")?;
    }
    if let Some(e) = f.get("config_defaults") {
        t.config_defaults = pair_slice(e, what, "config_defaults")?;
    }
    Ok(t)
}

/// The listed fields of an `OAuth2Spec` literal; absent ones take `OAuth2Spec::DEFAULTS`.
fn oauth2_info(f: &BTreeMap<String, &Expr>, what: &str) -> anyhow::Result<OAuth2Info> {
    let mut o = OAuth2Info::default();
    let field = |name: &str| f.get(name).copied();
    let variant = |name: &str, allowed: &[&'static str]| -> anyhow::Result<Option<&'static str>> {
        let Some(e) = field(name) else {
            return Ok(None);
        };
        let found = match e {
            Expr::Path(p) => allowed
                .iter()
                .find(|a| p.path.segments.last().is_some_and(|s| s.ident == **a)),
            _ => None,
        };
        match found {
            Some(a) => Ok(Some(*a)),
            None => bail!(
                "`{what}.{name}` must be one of {} as a path",
                allowed.join(", ")
            ),
        }
    };
    if let Some(e) = field("revoke_url") {
        o.revoke = option_set(e, what, "revoke_url")?;
    }
    if let Some(e) = field("device_url") {
        o.device = option_set(e, what, "device_url")?;
    }
    if let Some(e) = field("userinfo_url") {
        o.userinfo = option_set(e, what, "userinfo_url")?;
    }
    if let Some(e) = field("scope_param") {
        o.scope_param = match option_inner(e, what, "scope_param")? {
            None => None,
            Some(inner) => Some(str_lit(inner).with_context(|| {
                format!("`{what}.scope_param` must be `None` or `Some(\"…\")`")
            })?),
        };
    }
    if let Some(e) = field("recommended_scopes") {
        o.recommended_scopes = string_slice(e, what, "recommended_scopes")?;
    }
    if let Some(v) = variant("client_auth", &["Basic", "Body"])? {
        o.client_auth = if v == "Basic" {
            ClientAuth::Basic
        } else {
            ClientAuth::Body
        };
    }
    if let Some(v) = variant("pkce", &["S256", "None"])? {
        o.pkce = v == "S256";
    }
    if let Some(v) = variant("refresh", &["None", "Plain", "Rotating"])? {
        o.refresh = match v {
            "None" => Refresh::None,
            "Plain" => Refresh::Plain,
            _ => Refresh::Rotating,
        };
    }
    if let Some(e) = field("offline") {
        o.offline = offline(e, what)?;
    }
    if let Some(e) = field("expires") {
        o.expires = match e {
            Expr::Lit(l) => match &l.lit {
                Lit::Bool(b) => b.value,
                _ => bail!("`{what}.expires` must be `true` or `false`"),
            },
            _ => bail!("`{what}.expires` must be `true` or `false`"),
        };
    }
    if let Some(v) = variant("body_format", &["Form", "Json"])? {
        o.json_body = v == "Json";
    }
    if let Some(e) = field("config_fields") {
        o.config_fields = string_slice(e, what, "config_fields")?;
    }
    if let Some(e) = field("hooks") {
        o.hooks = option_set(e, what, "hooks")?;
    }
    Ok(o)
}

fn offline(e: &Expr, what: &str) -> anyhow::Result<Offline> {
    let wrong = || {
        anyhow::anyhow!(
            "`{what}.offline` must be `Offline::Implicit`, `Offline::Scope(\"…\")` or `Offline::Params(&[(\"…\", \"…\"), …])`"
        )
    };
    let last = |p: &syn::Path| p.segments.last().map(|s| s.ident.to_string());
    match e {
        Expr::Path(p) if last(&p.path).as_deref() == Some("Implicit") => Ok(Offline::Implicit),
        Expr::Call(c) if c.args.len() == 1 => {
            let Expr::Path(p) = &*c.func else {
                return Err(wrong());
            };
            let arg = &c.args[0];
            match last(&p.path).as_deref() {
                Some("Scope") => Ok(Offline::Scope(str_lit(arg).ok_or_else(wrong)?)),
                Some("Params") => {
                    let Expr::Reference(r) = arg else {
                        return Err(wrong());
                    };
                    let Expr::Array(a) = &*r.expr else {
                        return Err(wrong());
                    };
                    let mut pairs = Vec::new();
                    for el in &a.elems {
                        let Expr::Tuple(t) = el else {
                            return Err(wrong());
                        };
                        let (Some(k), Some(v), 2) = (
                            t.elems.first().and_then(str_lit),
                            t.elems.last().and_then(str_lit),
                            t.elems.len(),
                        ) else {
                            return Err(wrong());
                        };
                        pairs.push((k, v));
                    }
                    Ok(Offline::Params(pairs))
                }
                _ => Err(wrong()),
            }
        }
        _ => Err(wrong()),
    }
}

/// `None` → `None`, `Some(x)` → `Some(x)`.
fn option_inner<'a>(e: &'a Expr, what: &str, name: &str) -> anyhow::Result<Option<&'a Expr>> {
    match e {
        Expr::Path(p) if p.path.is_ident("None") => Ok(None),
        Expr::Call(c)
            if c.args.len() == 1
                && matches!(&*c.func, Expr::Path(p) if p.path.is_ident("Some")) =>
        {
            Ok(c.args.first())
        }
        _ => bail!("`{what}.{name}` must be `None` or `Some(…)`"),
    }
}

/// Whether an `Option` field is `Some(…)`.
fn option_set(e: &Expr, what: &str, name: &str) -> anyhow::Result<bool> {
    Ok(option_inner(e, what, name)?.is_some())
}

fn str_lit(e: &Expr) -> Option<String> {
    match e {
        Expr::Lit(l) => match &l.lit {
            Lit::Str(s) => Some(s.value()),
            _ => None,
        },
        _ => None,
    }
}

/// `&["a", "b"]`.
fn string_slice(e: &Expr, what: &str, name: &str) -> anyhow::Result<Vec<String>> {
    let wrong = || anyhow::anyhow!("`{what}.{name}` must be a literal `&[\"…\", …]`");
    let Expr::Reference(r) = e else {
        return Err(wrong());
    };
    let Expr::Array(a) = &*r.expr else {
        return Err(wrong());
    };
    a.elems
        .iter()
        .map(|el| str_lit(el).ok_or_else(wrong))
        .collect()
}

fn pair_slice(e: &Expr, what: &str, name: &str) -> anyhow::Result<Vec<(String, String)>> {
    let wrong = || anyhow::anyhow!("`{what}.{name}` must be a literal `&[(\"…\", \"…\"), …]`");
    let Expr::Reference(r) = e else {
        return Err(wrong());
    };
    let Expr::Array(a) = &*r.expr else {
        return Err(wrong());
    };
    a.elems
        .iter()
        .map(|el| match el {
            Expr::Tuple(t) if t.elems.len() == 2 => str_lit(&t.elems[0])
                .zip(str_lit(&t.elems[1]))
                .ok_or_else(wrong),
            _ => Err(wrong()),
        })
        .collect()
}

fn struct_fields<'a>(expr: &'a Expr, what: &str) -> anyhow::Result<BTreeMap<String, &'a Expr>> {
    let Expr::Struct(s) = expr else {
        bail!("`{what}` must be a struct literal");
    };
    Ok(s.fields
        .iter()
        .filter_map(|fv| match &fv.member {
            syn::Member::Named(n) => Some((n.to_string(), &fv.expr)),
            syn::Member::Unnamed(_) => None,
        })
        .collect())
}

fn string_field(f: &BTreeMap<String, &Expr>, name: &str, what: &str) -> anyhow::Result<String> {
    match f.get(name) {
        Some(Expr::Lit(l)) => match &l.lit {
            Lit::Str(s) => Ok(s.value()),
            _ => bail!("`{what}.{name}` must be a string literal"),
        },
        Some(_) => bail!("`{what}.{name}` must be a string literal"),
        None => bail!("`{what}` has no `{name}` field"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = r#"
        //! Doc.
        use keyfob_core::spec::*;
        static OAUTH2: OAuth2Spec = OAuth2Spec { name: "acme-oauth2", env_key: "ACME_TOKEN", ..OAuth2Spec::DEFAULTS };
        static PAIR: TokenSpec = TokenSpec {
            name: "acme-keypair", env_key: "ACME_KEY",
            entry: TokenEntry::KeyPair { secret_env_key: "ACME_SECRET" },
            ..TokenSpec::DEFAULTS
        };
        pub static PROVIDER: Provider = Provider {
            id: "acme", display_name: "Acme",
            handlers: &[Handler::OAuth2(&OAUTH2), Handler::Token(&PAIR)],
        };
        keyfob_core::register_provider!(PROVIDER);
    "#;

    #[test]
    fn reads_handlers_and_env_keys() {
        let id = ProviderId::parse("acme").unwrap();
        let p = parse(&id, SRC).unwrap();
        assert_eq!(p.display_name, "Acme");
        assert_eq!(p.handlers.len(), 2);
        assert_eq!(p.handlers[1].kind, HandlerKind::KeyPair);
        assert_eq!(p.env_keys(), ["ACME_TOKEN", "ACME_KEY", "ACME_SECRET"]);
        assert!(p.has_oauth2() && p.has_token());
    }

    #[test]
    fn reads_spec_fields_and_defaults() {
        let id = ProviderId::parse("acme").unwrap();
        let p = parse(&id, SRC).unwrap();
        assert_eq!(p.handlers[0].spec, SpecInfo::OAuth2(OAuth2Info::default()));
        assert_eq!(p.handlers[1].spec, SpecInfo::Token(TokenInfo::default()));

        let src = SRC
            .replace(
                "env_key: \"ACME_TOKEN\",",
                r#"env_key: "ACME_TOKEN", revoke_url: Some("https://a.test/r"),
                   device_url: None, userinfo_url: Some("{domain_url}/me"),
                   scope_param: Some("user_scope"), recommended_scopes: &["read", "write"],
                   client_auth: ClientAuth::Basic, pkce: Pkce::None, refresh: Refresh::None,
                   offline: Offline::Params(&[("access_type", "offline"), ("prompt", "consent")]),
                   expires: false, body_format: BodyFormat::Json, config_fields: &["domain_url"],
                   hooks: Some(&quirks::Hooks),"#,
            )
            .replace(
                "name: \"acme-keypair\",",
                r#"name: "acme-keypair", verify: Some(Verify::get("https://a.test", KeyPlacement::Bearer)),
                   key_prefixes: &["ak_", "AK."],"#,
            );
        let p = parse(&id, &src).unwrap();
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

        let scope = SRC.replace(
            "env_key: \"ACME_TOKEN\",",
            r#"env_key: "ACME_TOKEN", scope_param: None, offline: Offline::Scope("offline_access"),"#,
        );
        let SpecInfo::OAuth2(o) = &parse(&id, &scope).unwrap().handlers[0].spec else {
            panic!("not OAuth2");
        };
        assert_eq!(o.scope_param, None);
        assert_eq!(o.offline, Offline::Scope("offline_access".into()));
    }

    #[test]
    fn refuses_spec_fields_it_cannot_read() {
        let id = ProviderId::parse("acme").unwrap();
        for (field, says) in [
            (
                "pkce: PKCE_MODE,",
                "`OAUTH2.pkce` must be one of S256, None",
            ),
            (
                "expires: EXPIRES,",
                "`OAUTH2.expires` must be `true` or `false`",
            ),
            (
                "recommended_scopes: SCOPES,",
                "`OAUTH2.recommended_scopes` must be a literal",
            ),
            (
                "offline: Offline::Scope(SCOPE),",
                "`OAUTH2.offline` must be",
            ),
            (
                "revoke_url: REVOKE,",
                "`OAUTH2.revoke_url` must be `None` or `Some(…)`",
            ),
        ] {
            let src = SRC.replace(
                "env_key: \"ACME_TOKEN\",",
                &format!("env_key: \"ACME_TOKEN\", {field}"),
            );
            let e = format!("{:#}", parse(&id, &src).unwrap_err());
            assert!(e.contains(says), "{field}: {e}");
        }
    }

    /// The `Default` impls here are `OAuth2Spec::DEFAULTS` and `TokenSpec::DEFAULTS` as
    /// `keyfob-core` writes them, read with the same parser.
    #[test]
    fn defaults_match_spec_rs() {
        let path = crate::project_root().join("crates/keyfob-core/src/spec.rs");
        let file = syn::parse_file(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let defaults = |ty: &str| -> BTreeMap<String, &Expr> {
            let expr = file
                .items
                .iter()
                .find_map(|item| match item {
                    Item::Impl(i) if matches!(&*i.self_ty, syn::Type::Path(p) if p.path.is_ident(ty)) => {
                        i.items.iter().find_map(|ii| match ii {
                            syn::ImplItem::Const(c) if c.ident == "DEFAULTS" => Some(&c.expr),
                            _ => None,
                        })
                    }
                    _ => None,
                })
                .unwrap_or_else(|| panic!("spec.rs has no `{ty}::DEFAULTS`"));
            struct_fields(expr, ty).unwrap()
        };
        let oauth2 = defaults("OAuth2Spec");
        let token = defaults("TokenSpec");
        // Every listed field is spelled out there, so these read spec.rs, not the fallbacks.
        for f in [
            "revoke_url",
            "device_url",
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
        ] {
            assert!(oauth2.contains_key(f), "OAuth2Spec::DEFAULTS lacks `{f}`");
        }
        assert!(token.contains_key("verify") && token.contains_key("key_prefixes"));
        assert_eq!(
            oauth2_info(&oauth2, "OAuth2Spec::DEFAULTS").unwrap(),
            OAuth2Info::default()
        );
        assert_eq!(
            token_info(&token, "TokenSpec::DEFAULTS").unwrap(),
            TokenInfo::default()
        );
    }

    #[test]
    fn explains_what_it_cannot_read() {
        let id = ProviderId::parse("other").unwrap();
        let e = parse(&id, SRC).unwrap_err().to_string();
        assert!(e.contains("folder is `other`"), "{e}");
        let id = ProviderId::parse("acme").unwrap();
        let e = parse(&id, "//! x\nconst A: u8 = 1;")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no `static PROVIDER`"), "{e}");
    }
}
