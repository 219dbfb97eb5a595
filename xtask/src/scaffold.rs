//! `cargo xtask new-token-provider` and `new-oauth2-provider`: render a template with the
//! cargo-generate library, move the complete crate into `crates/providers/<id>`, run codegen.
//!
//! Order matters. Every value is checked (the id rules here, then each value against the regex
//! or choices its placeholder declares in the template's `cargo-generate.toml`, then that
//! codegen can read every existing provider) before anything touches disk. The template renders
//! into a scratch folder under `target/`, because a failed render leaves a half-made folder
//! behind, and under the `crates/providers/*` glob that breaks every cargo command; only a
//! complete crate is renamed into place.
//!
//! The render is hermetic: it runs in a child process (this binary's hidden `__render`
//! command) with an empty environment, so neither `CARGO_GENERATE_*` variables nor the user's
//! cargo-generate config can fill a value, `$USER` need not be set (cargo-generate wants an
//! author name, which the child gets as `CARGO_NAME`), and nothing prompts (`silent`, every
//! placeholder defined, stdin closed). The library runs with `default-features = false` (no git,
//! no network), `vcs = none`, `no_workspace` (cargo-generate would otherwise rewrite the root
//! manifest) and `no_fmt` (xtask runs rustfmt itself).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use regex::Regex;

use crate::codegen::{self, Mode};
use crate::names::{Kind, ProviderId};
use crate::providers::{self, PROVIDERS_DIR};

/// What to create.
#[derive(Debug, Clone)]
pub struct Request {
    /// Token or OAuth2.
    pub kind: Kind,
    /// The id.
    pub id: ProviderId,
    /// Replace an existing crate of that id.
    pub force: bool,
    /// Every placeholder of the template, by name.
    pub values: BTreeMap<String, String>,
}

/// What was done, for the summary.
#[derive(Debug)]
pub struct Outcome {
    /// The new crate's folder, relative to the root.
    pub crate_dir: PathBuf,
    /// Files codegen changed.
    pub wiring: Vec<PathBuf>,
    /// Whether an existing crate was replaced.
    pub replaced: bool,
}

/// Options shared by both commands (each `None` takes the default derived from the id).
#[derive(Debug, Clone, Default)]
pub struct Common {
    /// Display name.
    pub display_name: Option<String>,
    /// Env key.
    pub env_key: Option<String>,
    /// Where to get credentials.
    pub docs_url: Option<String>,
}

impl Request {
    /// A token-provider request.
    ///
    /// # Errors
    /// An invalid id.
    pub fn token(
        id: &str,
        common: Common,
        verify_url: Option<String>,
        force: bool,
    ) -> anyhow::Result<Request> {
        let id = ProviderId::parse(id).map_err(anyhow::Error::msg)?;
        let mut values = common_values(&id, common);
        values.insert("verify_url".into(), verify_url.unwrap_or_default());
        Ok(Request {
            kind: Kind::Token,
            id,
            force,
            values,
        })
    }

    /// An OAuth2-provider request. `scopes` may be separated by commas or spaces.
    ///
    /// # Errors
    /// An invalid id.
    #[allow(clippy::too_many_arguments)] // one per command-line option
    pub fn oauth2(
        id: &str,
        common: Common,
        authorize_url: String,
        token_url: String,
        scopes: Vec<String>,
        scope_separator: String,
        client_auth: String,
        pkce: bool,
        refresh: String,
        force: bool,
    ) -> anyhow::Result<Request> {
        let id = ProviderId::parse(id).map_err(anyhow::Error::msg)?;
        let mut values = common_values(&id, common);
        let scopes: Vec<&str> = scopes
            .iter()
            .flat_map(|s| s.split([',', ' ']))
            .filter(|s| !s.is_empty())
            .collect();
        let separator = match scope_separator.as_str() {
            " " => "space".to_owned(),
            "," => "comma".to_owned(),
            other => other.to_owned(),
        };
        values.extend([
            ("authorize_url".to_owned(), authorize_url),
            ("token_url".to_owned(), token_url),
            ("scopes".to_owned(), scopes.join(" ")),
            ("scope_separator".to_owned(), separator),
            ("client_auth".to_owned(), client_auth),
            ("pkce".to_owned(), pkce.to_string()),
            ("refresh".to_owned(), refresh),
        ]);
        Ok(Request {
            kind: Kind::OAuth2,
            id,
            force,
            values,
        })
    }
}

fn common_values(id: &ProviderId, c: Common) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("id".to_owned(), id.to_string()),
        (
            "display_name".to_owned(),
            c.display_name.unwrap_or_else(|| id.default_display_name()),
        ),
        (
            "env_key".to_owned(),
            c.env_key.unwrap_or_else(|| id.default_env_key()),
        ),
        ("docs_url".to_owned(), c.docs_url.unwrap_or_default()),
        ("keyfob_workspace".to_owned(), "true".to_owned()),
    ])
}

/// Checks every value of `req` against the placeholders the template declares: each must be
/// declared, each declared one must have a value, strings must match their `regex` (and URLs be
/// https), choices must be one of the `choices`, bools `true`/`false`.
///
/// # Errors
/// One message listing every problem.
pub fn check_values(template: &Path, req: &Request) -> anyhow::Result<()> {
    let path = template.join("cargo-generate.toml");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let doc: toml::Table =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let placeholders = doc
        .get("placeholders")
        .and_then(toml::Value::as_table)
        .with_context(|| format!("{} has no [placeholders]", path.display()))?;
    let mut problems = Vec::new();
    for (name, decl) in placeholders {
        let Some(value) = req.values.get(name) else {
            problems.push(format!(
                "no value for placeholder `{name}` (xtask must pass every one)"
            ));
            continue;
        };
        let shown = value.escape_debug().to_string();
        let flag = format!("--{}", name.replace('_', "-"));
        match decl.get("type").and_then(toml::Value::as_str) {
            Some("bool") => {
                if value != "true" && value != "false" {
                    problems.push(format!("{flag}: `{shown}` is not true or false"));
                }
            }
            Some("string") => {
                if let Some(choices) = decl.get("choices").and_then(toml::Value::as_array) {
                    let list: Vec<&str> = choices.iter().filter_map(toml::Value::as_str).collect();
                    if !list.contains(&value.as_str()) {
                        problems.push(format!(
                            "{flag}: `{shown}` is not one of {}",
                            list.join(", ")
                        ));
                    }
                }
                if let Some(re) = decl.get("regex").and_then(toml::Value::as_str) {
                    let re = Regex::new(re)
                        .with_context(|| format!("{}: bad regex for `{name}`", path.display()))?;
                    if !re.is_match(value) {
                        problems.push(explain(&flag, name, value));
                    }
                }
            }
            other => bail!(
                "{}: placeholder `{name}` has type {other:?}; xtask passes strings and bools",
                path.display()
            ),
        }
    }
    for name in req.values.keys() {
        if !placeholders.contains_key(name) {
            problems.push(format!(
                "`{name}` is not a placeholder of {}",
                template.display()
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        bail!(
            "refused, nothing was changed:\n  - {}",
            problems.join("\n  - ")
        )
    }
}

/// Why a value fails its placeholder's regex, in words.
fn explain(flag: &str, name: &str, value: &str) -> String {
    let shown = value.escape_debug().to_string();
    if name.ends_with("_url") {
        if !value.starts_with("https://") {
            let scheme = value.split("://").next().unwrap_or_default();
            let why = if value.contains("://") {
                format!("its scheme is `{scheme}`")
            } else {
                "it is not an absolute URL".to_owned()
            };
            return format!(
                "{flag}: `{shown}` is not an https URL ({why}); provider endpoints must be https. A local or test server is set per user instead, with `authorize_url`/`token_url` in `[auth.<id>]` of keyfob.toml, where http on a loopback host is accepted"
            );
        }
        return format!(
            "{flag}: `{shown}` is not a plain https URL: host, optional port and path only (no query, fragment, user info, quotes, backslashes, braces or spaces)"
        );
    }
    match name {
        "env_key" => format!(
            "{flag}: `{shown}` must be SHOUTY_SNAKE_CASE (uppercase letters, digits, single `_`)"
        ),
        "display_name" => format!(
            "{flag}: `{shown}` may hold letters, digits, spaces and . , & ( ) + / - (at most 64 characters, starting with a letter or digit)"
        ),
        "scopes" => format!(
            "{flag}: `{shown}` has a character that no OAuth2 scope may hold (space inside a scope, `\"` or `\\`)"
        ),
        _ => format!("{flag}: `{shown}` does not match what the template accepts"),
    }
}

/// Creates the provider: validates, renders into a scratch folder, moves it into place, runs
/// codegen. `exe` is the xtask binary (which renders in a child process).
///
/// # Errors
/// Any refusal (nothing changed), or a failure while rendering (nothing changed) or wiring (the
/// crate is in place; `cargo xtask codegen` finishes the job).
pub fn run(root: &Path, exe: &Path, req: &Request) -> anyhow::Result<Outcome> {
    let template = root.join(req.kind.template_dir());
    check_values(&template, req)?;
    let rel = PathBuf::from(PROVIDERS_DIR).join(req.id.as_str());
    let dest = root.join(&rel);
    let existing = dest.exists();
    if existing && !req.force {
        bail!(
            "refused, nothing was changed: {} already exists (provider `{}`); pass --force to replace it",
            rel.display(),
            req.id
        );
    }
    let others = providers::ids(root)
        .context("refused, nothing was changed: the provider folders cannot be listed")?;
    if let Some(other) = others
        .iter()
        .find(|id| **id != req.id && id.package() == req.id.package())
    {
        bail!(
            "refused, nothing was changed: package {} is taken by `{other}`",
            req.id.package(),
        );
    }

    let scratch_parent = root.join("target");
    std::fs::create_dir_all(&scratch_parent)?;
    let scratch = tempfile::Builder::new()
        .prefix("xtask-new-provider-")
        .tempdir_in(&scratch_parent)
        .context("creating a scratch folder under target/")?;
    let rendered = render(exe, &template, scratch.path(), req)?;
    for f in [
        "Cargo.toml",
        "README.md",
        "src/lib.rs",
        "tests/conformance.rs",
    ] {
        if !rendered.join(f).is_file() {
            bail!("the template rendered no {f}; nothing was changed");
        }
    }
    let mut rs = Vec::new();
    collect_files(&rendered, &mut rs)?;
    for f in &rs {
        let text = std::fs::read_to_string(f)?;
        if text.contains("{{")
            || text.contains("{%")
            || f.extension().is_some_and(|e| e == "liquid")
        {
            bail!(
                "{} was not fully rendered; nothing was changed",
                f.display()
            );
        }
        if f.extension().is_some_and(|e| e == "rs") {
            std::fs::write(f, codegen::rustfmt(root, &text)?)?;
        }
    }

    if existing {
        let old = scratch.path().join("replaced");
        std::fs::rename(&dest, &old)
            .with_context(|| format!("moving the old {} aside", rel.display()))?;
    }
    if let Err(e) = std::fs::rename(&rendered, &dest) {
        if existing {
            let _ = std::fs::rename(scratch.path().join("replaced"), &dest);
        }
        return Err(e).with_context(|| format!("moving the new crate to {}", rel.display()));
    }
    let wiring = codegen::run(root, Mode::Write).with_context(|| {
        format!(
            "{} is in place but wiring it failed; fix the cause and run `cargo xtask codegen`",
            rel.display()
        )
    })?;
    Ok(Outcome {
        crate_dir: rel,
        wiring,
        replaced: existing,
    })
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            collect_files(&e.path(), out)?;
        } else {
            out.push(e.path());
        }
    }
    Ok(())
}

/// Renders the template in a child process with an empty environment; returns the rendered
/// folder (`<scratch>/<id>`).
fn render(exe: &Path, template: &Path, scratch: &Path, req: &Request) -> anyhow::Result<PathBuf> {
    let config = scratch.join("no-user-config.toml");
    std::fs::write(&config, "")?;
    let mut cmd = Command::new(exe);
    cmd.arg("__render")
        .arg(template)
        .arg(scratch)
        .arg(req.id.as_str())
        .arg(&config);
    for (k, v) in &req.values {
        cmd.arg(format!("{k}={v}"));
    }
    let out = cmd
        .env_clear()
        .env("CARGO_NAME", "keyfob xtask")
        .current_dir(scratch)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {} __render", exe.display()))?;
    let dir = scratch.join(req.id.as_str());
    if !out.status.success() || !dir.join("Cargo.toml").is_file() {
        bail!(
            "rendering {} failed; nothing was changed:\n{}{}",
            template.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(dir)
}

/// The hidden `__render` command: one cargo-generate run, as hermetic as its API allows.
///
/// # Errors
/// Whatever cargo-generate reports.
pub fn render_here(
    template: &Path,
    destination: &Path,
    name: &str,
    config: &Path,
    defines: Vec<String>,
) -> anyhow::Result<PathBuf> {
    let args = cargo_generate::GenerateArgs {
        template_path: cargo_generate::TemplatePath {
            path: Some(template.display().to_string()),
            ..Default::default()
        },
        name: Some(name.to_owned()),
        // Keep the name as given (the folder is renamed into place anyway).
        force: true,
        destination: Some(destination.to_owned()),
        config: Some(config.to_owned()),
        define: defines,
        silent: true,
        vcs: Some(cargo_generate::Vcs::None),
        no_workspace: true,
        no_fmt: true,
        overwrite: false,
        allow_commands: false,
        ..Default::default()
    };
    cargo_generate::generate(args)
}

/// The summary printed after a successful run.
pub fn summary(req: &Request, out: &Outcome) -> String {
    let id = &req.id;
    let mut s = format!(
        "{} {} ({}, package {}):\n",
        if out.replaced { "replaced" } else { "created" },
        out.crate_dir.display(),
        req.kind.suffix(),
        id.package()
    );
    for f in [
        "Cargo.toml",
        "README.md",
        "src/lib.rs",
        "tests/conformance.rs",
    ] {
        s += &format!("  {}\n", out.crate_dir.join(f).display());
    }
    s += "wired in (cargo xtask codegen):\n";
    for f in &out.wiring {
        s += &format!("  {}\n", f.display());
    }
    s += &format!(
        "handler `{}`, env key `{}`, facade feature `{id}`\n\nnext:\n",
        id.handler(req.kind),
        req.values.get("env_key").map_or("", String::as_str)
    );
    let lib = out.crate_dir.join("src/lib.rs");
    if req.values.get("docs_url").is_none_or(String::is_empty) {
        s += &format!(
            "  - fill in `docs_url` in {} and \"Getting credentials\" in README.md\n",
            lib.display()
        );
    }
    match req.kind {
        Kind::Token => {
            if req.values.get("verify_url").is_none_or(String::is_empty) {
                s += &format!(
                    "  - optionally set `verify_url` (a cheap authenticated GET) in {}\n",
                    lib.display()
                );
            }
        }
        Kind::OAuth2 => {
            s += &format!(
                "  - check scopes, refresh, PKCE and client auth against the provider's docs in {}\n",
                lib.display()
            );
            if req.values.get("scopes").is_none_or(String::is_empty) {
                s += "  - no recommended scopes were given (--scopes)\n";
            }
        }
    }
    s += &format!(
        "  - run its conformance: cargo test -p {package} (or with every other provider's: cargo test --workspace --all-features --test registry -- {id}::)\n  - try it: cargo run -p keyfob-cli --features keyfob/{id} -- providers\n",
        package = id.package()
    );
    s
}
