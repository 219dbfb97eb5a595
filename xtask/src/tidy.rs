//! `cargo xtask tidy`: project rules no compiler checks.
//!
//! - every Rust file (and Rust template) opens with a `//!` module doc;
//! - no test is switched off or inverted with the attributes `ignore` / `should_panic`;
//! - every provider crate has the shape both templates render: package
//!   `keyfob-provider-<dashed id>`, dependencies only on `keyfob-core` (and `serde_json` for hook
//!   code), dev-dependencies only on `keyfob-testkit`, no build script, a README, a `PROVIDER`
//!   codegen can read, the one-line `tests/conformance.rs` declared as a `[[test]]` that
//!   `cargo test -p` runs, and the one feature `_in_facade` (the facade turns it on, its
//!   registry binary runs the conformance, and the crate's own target compiles to nothing); no
//!   doctests, and no lib test binary unless the crate has quirk code to unit-test;
//! - a provider crate's prose (`//!` lines of `src/*.rs`, its README outside the generated part)
//!   carries no hedge ("unverified", "moderately sure", …): it states what the provider's docs
//!   say, and a fact they do not confirm is a line of the spec's `unverified` field;
//! - internal `[workspace.dependencies]` carry a version unless the crate is `publish = false`.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::codegen::{HANDLERS_END, HANDLERS_START};
use crate::providers;

/// Folders never searched.
const SKIP: &[&str] = &["target", "node_modules", ".git"];

/// Runs every check; returns the problems found (empty when tidy).
///
/// # Errors
/// Unreadable files.
pub fn check(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    problems.extend(module_docs(root)?);
    problems.extend(no_disabled_tests(root)?);
    problems.extend(provider_crates(root)?);
    problems.extend(provider_hedges(root)?);
    problems.extend(internal_versions(root)?);
    Ok(problems)
}

/// Every file under `root` whose name ends in one of `suffixes`, skipping build output.
pub fn files(root: &Path, suffixes: &[&str]) -> anyhow::Result<Vec<PathBuf>> {
    fn walk(dir: &Path, suffixes: &[&str], out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
        for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            let ty = e.file_type()?;
            if ty.is_dir() {
                if !SKIP.contains(&name.as_str()) {
                    walk(&e.path(), suffixes, out)?;
                }
            } else if suffixes.iter().any(|s| name.ends_with(s)) {
                out.push(e.path());
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(root, suffixes, &mut out)?;
    out.sort();
    Ok(out)
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

/// Every `.rs` and `.rs.liquid` file starts with `//!`.
pub fn module_docs(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    for f in files(root, &[".rs", ".rs.liquid"])? {
        let text = std::fs::read_to_string(&f)?;
        // A template may open with liquid `{%- assign … -%}` lines; its output starts after them.
        let first = text
            .lines()
            .find(|l| !l.starts_with("{%"))
            .unwrap_or_default();
        if !first.starts_with("//!") {
            problems.push(format!(
                "{}: the first line must be a `//!` doc saying what the module is for",
                rel(root, &f)
            ));
        }
    }
    Ok(problems)
}

/// No test attribute `ignore` or `should_panic`: a test that cannot pass is fixed or deleted, and a
/// failure is asserted on the `Err`.
pub fn no_disabled_tests(root: &Path) -> anyhow::Result<Vec<String>> {
    // Built at run time so that this file does not match itself.
    let banned = [format!("#[{}", "ignore"), format!("#[{}", "should_panic")];
    let mut problems = Vec::new();
    for f in files(root, &[".rs", ".rs.liquid"])? {
        let text = std::fs::read_to_string(&f)?;
        for b in &banned {
            if text.contains(b.as_str()) {
                problems.push(format!("{}: `{b}]` is not allowed", rel(root, &f)));
            }
        }
    }
    Ok(problems)
}

/// The canonical body of a provider's `tests/conformance.rs` (after its `//!` lines).
pub fn conformance_line(lib: &str) -> String {
    format!("keyfob_testkit::conformance!({lib}::PROVIDER);")
}

/// Every provider crate has the templates' shape.
pub fn provider_crates(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    for (id, dir) in providers::folders(root)? {
        let at = rel(root, &dir);
        let mut p = |s: String| problems.push(format!("{at}: {s}"));
        let manifest: toml::Table = match std::fs::read_to_string(dir.join("Cargo.toml"))
            .map_err(anyhow::Error::from)
            .and_then(|t| toml::from_str(&t).map_err(anyhow::Error::from))
        {
            Ok(m) => m,
            Err(e) => {
                p(format!("Cargo.toml: {e}"));
                continue;
            }
        };
        let package = manifest.get("package").and_then(toml::Value::as_table);
        let name = package
            .and_then(|t| t.get("name"))
            .and_then(toml::Value::as_str);
        if name != Some(id.package().as_str()) {
            p(format!("package name must be `{}`", id.package()));
        }
        if package.and_then(|t| t.get("build")).is_some() || dir.join("build.rs").exists() {
            p("provider crates have no build script".into());
        }
        if package
            .and_then(|t| t.get("autotests"))
            .and_then(toml::Value::as_bool)
            != Some(false)
        {
            p("set `autotests = false`: the one test target is declared".into());
        }
        let keys = |table: &str| -> Vec<String> {
            manifest
                .get(table)
                .and_then(toml::Value::as_table)
                .map(|t| t.keys().cloned().collect())
                .unwrap_or_default()
        };
        for dep in keys("dependencies") {
            if dep != "keyfob-core" && dep != "serde_json" {
                p(format!(
                    "depends on `{dep}`; provider crates depend only on keyfob-core (and serde_json for hook code)"
                ));
            }
        }
        for dep in keys("dev-dependencies") {
            if dep != "keyfob-testkit" {
                p(format!(
                    "dev-depends on `{dep}`; provider crates dev-depend only on keyfob-testkit"
                ));
            }
        }
        if !keys("build-dependencies").is_empty() || !keys("target").is_empty() {
            p("no build- or target-specific dependencies".into());
        }
        let lib = manifest.get("lib").and_then(toml::Value::as_table);
        let flag = |k: &str| lib.and_then(|l| l.get(k)).and_then(toml::Value::as_bool);
        let has_code = files(&dir.join("src"), &[".rs"])?.len() > 1;
        if flag("doctest") != Some(false) {
            p("set `[lib] doctest = false`: provider docs are prose, and each doctest run costs a rustdoc invocation".into());
        }
        match (has_code, flag("test")) {
            (false, Some(false)) | (true, None | Some(true)) => {}
            (false, _) => p("a pure-data crate sets `[lib] test = false`: no per-crate test binary (the facade's registry binary runs its conformance)".into()),
            (true, Some(false)) => p("this crate has code besides src/lib.rs, so its unit tests must run: drop `[lib] test = false`".into()),
        }
        let tests = manifest.get("test").and_then(toml::Value::as_array);
        let ok_test = tests.is_some_and(|t| {
            t.len() == 1
                && t[0].get("name").and_then(toml::Value::as_str) == Some("conformance")
                && t[0].get("path").and_then(toml::Value::as_str) == Some("tests/conformance.rs")
                && t[0].get("test").is_none()
        });
        if !ok_test {
            p("declare exactly one [[test]]: name = \"conformance\", path = \"tests/conformance.rs\", without `test = false` (so `cargo test -p` runs it; `_in_facade` keeps it empty in the workspace run)".into());
        }
        let features = manifest.get("features").and_then(toml::Value::as_table);
        let ok_features = features.is_some_and(|f| {
            f.len() == 1
                && f.get("_in_facade")
                    .and_then(toml::Value::as_array)
                    .is_some_and(Vec::is_empty)
        });
        if !ok_features {
            p("declare exactly one feature, `[features] _in_facade = []`: the facade turns it on, so its registry binary runs this crate's conformance and the crate's own target compiles to nothing".into());
        }
        if manifest
            .get("lints")
            .and_then(|l| l.get("workspace"))
            .and_then(toml::Value::as_bool)
            != Some(true)
        {
            p("add `[lints] workspace = true`".into());
        }
        if !dir.join("README.md").is_file() {
            p("add a README.md saying where to get credentials".into());
        }
        match std::fs::read_to_string(dir.join("tests/conformance.rs")) {
            Ok(text) => {
                // Only the kit's macro: its provider, then optionally the OAuth2 snapshots.
                let body: String = text
                    .lines()
                    .filter(|l| !l.starts_with("//!"))
                    .flat_map(str::split_whitespace)
                    .collect();
                let want = conformance_line(&id.lib());
                let with_snapshots = want.trim_end_matches(");").to_owned() + ",snapshots=[";
                let ok = body == want
                    || (body.starts_with(&with_snapshots)
                        && (body.ends_with("]);") || body.ends_with("],);"))
                        && body.matches("conformance!").count() == 1);
                if !ok {
                    p(format!(
                        "tests/conformance.rs must be `//!` lines plus `{want}`, or the same \
                         macro with `, snapshots = [(\"<handler>\", keyfob_testkit::expect![[…]])]`"
                    ));
                }
            }
            Err(_) => p("has no tests/conformance.rs".into()),
        }
        let mut extra = Vec::new();
        for f in files(&dir, &[""])? {
            let r = f
                .strip_prefix(&dir)
                .unwrap_or(&f)
                .to_string_lossy()
                .into_owned();
            let known = [
                "Cargo.toml",
                "README.md",
                "src/lib.rs",
                "tests/conformance.rs",
            ];
            let quirk_code = r.starts_with("src/") && r.ends_with(".rs");
            if !known.contains(&r.as_str()) && !quirk_code {
                extra.push(r);
            }
        }
        if !extra.is_empty() {
            p(format!(
                "unexpected files {}: a provider is one data file (plus src/*.rs quirk code), a README and the conformance line",
                extra.join(", ")
            ));
        }
    }
    Ok(problems)
}

/// Words that hedge a fact, matched case-insensitively (`assum` catches assume and assumption).
pub const HEDGES: &[&str] = &[
    "unverified",
    "not verified",
    "moderately sure",
    "not stated",
    "not confirmed",
    "unclear",
    "uncertain",
    "assum",
];

/// The hedges in a provider's prose, as `(line number, hedge)`. In Rust source (`rust`) the
/// prose is the `//!` lines; in a README every line outside the part codegen writes between the
/// `handlers:` markers, which is the spec's data (its `unverified` field among them).
pub fn hedges(text: &str, rust: bool) -> Vec<(usize, &'static str)> {
    let mut found = Vec::new();
    let mut generated = false;
    for (i, line) in text.lines().enumerate() {
        let prose = if rust {
            line.trim_start().starts_with("//!")
        } else {
            generated |= line.starts_with(HANDLERS_START);
            let prose = !generated;
            generated &= !line.starts_with(HANDLERS_END);
            prose
        };
        if prose {
            let lower = line.to_lowercase();
            found.extend(
                HEDGES
                    .iter()
                    .filter(|h| lower.contains(*h))
                    .map(|h| (i + 1, *h)),
            );
        }
    }
    found
}

/// A provider crate's prose states facts with their sources, without hedges: what the provider's
/// docs do not confirm is data, the spec's `unverified` lines, which docs/providers.md lists in
/// its "not verified" column.
pub fn provider_hedges(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    for (_, dir) in providers::folders(root)? {
        let mut texts = Vec::new();
        for f in files(&dir.join("src"), &[".rs"])? {
            texts.push((f, true));
        }
        texts.push((dir.join("README.md"), false));
        for (f, rust) in texts {
            let Ok(text) = std::fs::read_to_string(&f) else {
                continue; // a missing README is reported by provider_crates
            };
            for (line, hedge) in hedges(&text, rust) {
                problems.push(format!(
                    "{}:{line}: \"{hedge}\" hedges a fact; state what the provider's docs say \
                     (with the page in `Sources:`), and put a fact they do not confirm in the \
                     spec's `unverified` field, one short line (docs/providers.md lists it as \
                     \"not verified\")",
                    rel(root, &f)
                ));
            }
        }
    }
    Ok(problems)
}

/// Internal crates listed in `[workspace.dependencies]` carry a version (so that they can be
/// published), except those marked `publish = false` (test-only crates), which must not.
pub fn internal_versions(root: &Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(root.join("Cargo.toml"))?;
    let doc: toml::Table = toml::from_str(&text)?;
    let deps = doc
        .get("workspace")
        .and_then(|w| w.get("dependencies"))
        .and_then(toml::Value::as_table)
        .cloned()
        .unwrap_or_default();
    let mut problems = Vec::new();
    for (name, spec) in deps {
        let Some(path) = spec.get("path").and_then(toml::Value::as_str) else {
            continue;
        };
        let manifest = root.join(path).join("Cargo.toml");
        let publish = std::fs::read_to_string(&manifest)
            .ok()
            .and_then(|t| toml::from_str::<toml::Table>(&t).ok())
            .and_then(|m| {
                m.get("package")
                    .and_then(|p| p.get("publish"))
                    .and_then(toml::Value::as_bool)
            })
            .unwrap_or(true);
        let has_version = spec.get("version").is_some();
        if publish && !has_version {
            problems.push(format!(
                "Cargo.toml: [workspace.dependencies] `{name}` needs a version (it is publishable)"
            ));
        }
        if !publish && has_version {
            problems.push(format!(
                "Cargo.toml: [workspace.dependencies] `{name}` is publish = false and must not carry a version"
            ));
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hedges_are_found_in_module_docs_only() {
        let src = "//! Acme: an API key.\n\
                   //!\n\
                   //! Keys start `ak_` (Unverified); the check is ASSUMED to be cheap.\n\
                   \n\
                   static TOKEN: TokenSpec = TokenSpec {\n\
                   \x20   // a comment that is not prose: not stated anywhere\n\
                   \x20   unverified: &[\"key prefix `ak_` (third-party pages only)\"],\n\
                   };\n";
        assert_eq!(hedges(src, true), vec![(3, "unverified"), (3, "assum")]);
        assert!(hedges("//! Keys start `ak_` (the auth page's example).", true).is_empty());
    }

    #[test]
    fn a_readme_is_prose_except_its_generated_part() {
        let readme = format!(
            "# keyfob-provider-acme\n\
             \n\
             {HANDLERS_START}\n\
             - `unverified`: `key prefix `ak_``\n\
             {HANDLERS_END}\n\
             \n\
             Where keys come from is unclear.\n\
             The key page is not verified; it is moderately sure.\n"
        );
        assert_eq!(
            hedges(&readme, false),
            vec![(7, "unclear"), (8, "not verified"), (8, "moderately sure")]
        );
    }
}
