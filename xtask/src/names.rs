//! Provider ids and every name derived from them: folder, package, lib, feature, handlers, env key.
//!
//! The id is the seed's `service_name`: lowercase letters, digits and `_`, starting with a letter.
//! xtask is a little stricter than the core's rule (no trailing or doubled `_`, at most 40
//! characters) so that every derived name reads well, and it refuses ids that would collide with
//! an infra crate or a facade feature.

use std::fmt;

/// The longest id xtask creates.
pub const MAX_LEN: usize = 40;

/// Ids that name (or would be confused with) infra crates, facade features or folders.
const RESERVED: &[&str] = &[
    "all",
    "alloc",
    "bench",
    "callback",
    "cli",
    "core",
    "default",
    "facade",
    "feature_subset",
    "keyfob",
    "macros",
    "provider",
    "providers",
    "std",
    "store",
    "stores",
    "template",
    "test",
    "testkit",
    "tools",
    "xtask",
];

/// Prefixes and suffixes kept for aggregate and store features (`all-providers`,
/// `store-sqlite`, `oauth2-providers`).
const RESERVED_PREFIXES: &[&str] = &["all_", "store_", "keyfob_", "template_"];
const RESERVED_SUFFIXES: &[&str] = &["_providers", "_stores"];

/// Keywords that cannot even be raw identifiers, so no `pub use … as <id>` could name them.
const UNRAWABLE: &[&str] = &["crate", "self", "super"];

/// Rust keywords (2024 edition, strict and reserved); the facade names these with `r#`.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn",
    "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let",
    "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return",
    "static", "struct", "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use",
    "virtual", "where", "while", "yield",
];

/// A valid provider id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ProviderId(String);

/// The kind of handler a template creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Token entry (`template-token`).
    Token,
    /// OAuth2 authorization code (`template-oauth2`).
    OAuth2,
}

impl Kind {
    /// The template folder, relative to the project root.
    pub fn template_dir(self) -> &'static str {
        match self {
            Kind::Token => "template-token",
            Kind::OAuth2 => "template-oauth2",
        }
    }

    /// The handler-name suffix.
    pub fn suffix(self) -> &'static str {
        match self {
            Kind::Token => "token",
            Kind::OAuth2 => "oauth2",
        }
    }
}

impl ProviderId {
    /// Checks `id` against the naming rules.
    ///
    /// # Errors
    /// A sentence saying what is wrong and, where one exists, the id that would do.
    pub fn parse(id: &str) -> Result<ProviderId, String> {
        let rule = "a provider id has lowercase letters, digits and single `_`, starting with a letter (e.g. `acme_widgets`)";
        if id.is_empty() {
            return Err(format!("the provider id is empty; {rule}"));
        }
        let shown: String = id
            .chars()
            .take(60)
            .collect::<String>()
            .escape_debug()
            .to_string();
        let bad: Vec<char> = {
            let mut v: Vec<char> = id
                .chars()
                .filter(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        if !bad.is_empty() {
            let lower = id.to_ascii_lowercase().replace('-', "_");
            let fits = lower.starts_with(|c: char| c.is_ascii_lowercase())
                && lower
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            let hint = if fits {
                format!(": try `{lower}`")
            } else {
                String::new()
            };
            let listed: Vec<String> = bad.iter().map(|c| format!("{:?}", c)).collect();
            return Err(format!(
                "`{shown}` is not a valid provider id: it contains {}; {rule}{hint}",
                listed.join(", ")
            ));
        }
        if !id.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(format!(
                "`{shown}` is not a valid provider id: it starts with `{}`; {rule}",
                &id[..1]
            ));
        }
        if id.ends_with('_') || id.contains("__") {
            return Err(format!(
                "`{shown}` is not a valid provider id: no trailing or doubled `_` (it would give the handler `{}-token`); {rule}",
                id.replace('_', "-")
            ));
        }
        if id.len() > MAX_LEN {
            return Err(format!(
                "`{shown}` is not a valid provider id: it has {} characters, at most {MAX_LEN} are allowed",
                id.len()
            ));
        }
        if RESERVED.contains(&id) || UNRAWABLE.contains(&id) {
            return Err(format!(
                "`{id}` is reserved: it names (or would be confused with) an infra crate, a facade feature or a Rust path keyword"
            ));
        }
        if let Some(p) = RESERVED_PREFIXES.iter().find(|p| id.starts_with(*p)) {
            return Err(format!(
                "`{id}` is reserved: ids starting with `{p}` would be confused with the facade's aggregate and store features (`all-providers`, `store-sqlite`)"
            ));
        }
        if let Some(s) = RESERVED_SUFFIXES.iter().find(|s| id.ends_with(*s)) {
            return Err(format!(
                "`{id}` is reserved: ids ending in `{s}` would be confused with the facade's group features (`oauth2-providers`, `token-providers`)"
            ));
        }
        Ok(ProviderId(id.to_owned()))
    }

    /// The id, which is also the folder under `crates/providers` and the facade feature.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id with `-` for `_`, used in package and handler names.
    pub fn dashed(&self) -> String {
        self.0.replace('_', "-")
    }

    /// `keyfob-provider-<dashed>`.
    pub fn package(&self) -> String {
        format!("keyfob-provider-{}", self.dashed())
    }

    /// `keyfob_provider_<id>`.
    pub fn lib(&self) -> String {
        format!("keyfob_provider_{}", self.0)
    }

    /// `<dashed>-token` or `<dashed>-oauth2`.
    pub fn handler(&self, kind: Kind) -> String {
        format!("{}-{}", self.dashed(), kind.suffix())
    }

    /// `<ID>_TOKEN`.
    pub fn default_env_key(&self) -> String {
        format!("{}_TOKEN", self.0.to_ascii_uppercase())
    }

    /// The id in title case: `acme_widgets` → `Acme Widgets`.
    pub fn default_display_name(&self) -> String {
        self.0
            .split('_')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The id as a Rust identifier (`r#box` for a keyword).
    pub fn ident(&self) -> String {
        if KEYWORDS.contains(&self.0.as_str()) {
            format!("r#{}", self.0)
        } else {
            self.0.clone()
        }
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_names() {
        let id = ProviderId::parse("acme_widgets").unwrap();
        assert_eq!(id.dashed(), "acme-widgets");
        assert_eq!(id.package(), "keyfob-provider-acme-widgets");
        assert_eq!(id.lib(), "keyfob_provider_acme_widgets");
        assert_eq!(id.handler(Kind::Token), "acme-widgets-token");
        assert_eq!(id.handler(Kind::OAuth2), "acme-widgets-oauth2");
        assert_eq!(id.default_env_key(), "ACME_WIDGETS_TOKEN");
        assert_eq!(id.default_display_name(), "Acme Widgets");
        assert_eq!(ProviderId::parse("box").unwrap().ident(), "r#box");
        assert_eq!(ProviderId::parse("s3").unwrap().ident(), "s3");
    }

    #[test]
    fn refusals_say_why() {
        for (id, says) in [
            ("Acme", "try `acme`"),
            ("1acme", "starts with `1`"),
            ("acme-widgets", "try `acme_widgets`"),
            ("../x", "'.', '/'"),
            ("a b", "' '"),
            ("", "empty"),
            ("acme_", "trailing or doubled"),
            ("a__b", "trailing or doubled"),
            ("core", "reserved"),
            ("testkit", "reserved"),
            ("self", "reserved"),
            ("store_redis", "reserved"),
            ("all_providers", "reserved"),
            ("oauth2_providers", "reserved"),
        ] {
            let e = ProviderId::parse(id).unwrap_err();
            assert!(e.contains(says), "{id:?}: {e}");
        }
        assert!(ProviderId::parse(&"a".repeat(MAX_LEN + 1)).is_err());
        assert!(ProviderId::parse("microsoft_clarity").is_ok());
    }
}
