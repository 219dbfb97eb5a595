//! Reads the provider crates under `crates/providers`: each folder's id and the data of its
//! `PROVIDER` (display name, handlers, env keys), parsed from `src/lib.rs` with `syn`.
//!
//! Codegen needs that data for the README table and the `oauth2-providers`/`token-providers`
//! groups. Reading the source keeps codegen independent of a build; the price is that the
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

/// One handler of a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerInfo {
    /// `github-oauth2`.
    pub name: String,
    /// Its kind.
    pub kind: HandlerKind,
    /// The env keys a tool receives.
    pub env_keys: Vec<String>,
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
        let (kind, env_keys) = match variant.as_str() {
            "OAuth2" => (HandlerKind::OAuth2, vec![env_key]),
            "Token" => token_kind(&f, &target, env_key)?,
            other => bail!("unknown handler kind `Handler::{other}`"),
        };
        out.push(HandlerInfo {
            name,
            kind,
            env_keys,
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
