//! xtask's suite: generated code is fresh, the repository is tidy, the generator refuses bad
//! input without touching a file, and both templates render crates that build and pass
//! conformance, inside a copy of this repository and in a workspace of their own.
//!
//! The copies are built with the main workspace's target dir: cargo hashes path crates by their
//! path relative to the workspace root, and the copy keeps every file's mtime, so only the crates
//! that differ (the facade and the new providers) are compiled.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use xtask::codegen::{self, Mode};

const XTASK: &str = env!("CARGO_BIN_EXE_xtask");

fn root() -> PathBuf {
    xtask::project_root()
}

/// The main workspace's target dir, which copies share.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => root().join(d),
        None => root().join("target"),
    }
}

/// Copies the repository (without build output, node or Python packages or git data) into `dest`,
/// keeping modification times.
fn copy_repo(src: &Path, dest: &Path) {
    fn walk(src: &Path, dest: &Path) {
        std::fs::create_dir_all(dest).unwrap();
        for e in std::fs::read_dir(src).unwrap() {
            let e = e.unwrap();
            let name = e.file_name();
            let n = name.to_string_lossy();
            if ["target", "node_modules", ".git", ".venv"].contains(&n.as_ref()) {
                continue;
            }
            let (from, to) = (e.path(), dest.join(&name));
            if e.file_type().unwrap().is_dir() {
                walk(&from, &to);
            } else {
                std::fs::copy(&from, &to).unwrap();
                let mtime = e.metadata().unwrap().modified().unwrap();
                std::fs::File::options()
                    .write(true)
                    .open(&to)
                    .unwrap()
                    .set_modified(mtime)
                    .unwrap();
            }
        }
    }
    walk(src, dest);
}

/// Every file under `dir` (relative path → content).
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    xtask::tidy::files(dir, &[""])
        .unwrap()
        .into_iter()
        .map(|f| {
            let rel = f.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            (rel, std::fs::read(&f).unwrap())
        })
        .collect()
}

fn changed(before: &BTreeMap<String, Vec<u8>>, after: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .cloned()
        .collect()
}

/// Runs xtask on `root`; codegen's catalog build shares the main target dir.
fn xtask(root: &Path, args: &[&str]) -> Output {
    Command::new(XTASK)
        .arg("--root")
        .arg(root)
        .args(args)
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn cargo(dir: &Path, args: &[&str]) -> Output {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .env_remove("UPDATE_EXPECT")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo {args:?} in {} failed:\n{}\n{}",
        dir.display(),
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

/// Compares a rendered crate with its expected copy in `xtask/test_data/<name>`;
/// `UPDATE_EXPECT=1` rewrites the copy instead.
fn expect_dir(rendered: &Path, name: &str) {
    let expected = root().join("xtask/test_data").join(name);
    let got = snapshot(rendered);
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        let _ = std::fs::remove_dir_all(&expected);
        for (rel, bytes) in &got {
            let p = expected.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, bytes).unwrap();
        }
        return;
    }
    let want = snapshot(&expected);
    if let Some(rel) = changed(&want, &got).into_iter().next() {
        panic!(
            "{name}/{rel} differs from xtask/test_data (rerun with UPDATE_EXPECT=1 and review the diff):\n--- expected\n{}\n--- rendered\n{}",
            want.get(&rel).map(|b| text(b)).unwrap_or_default(),
            got.get(&rel).map(|b| text(b)).unwrap_or_default()
        );
    }
}

#[test]
fn codegen_is_fresh() {
    codegen::run(&root(), Mode::Check).unwrap();
}

#[test]
fn tidy() {
    let problems = xtask::tidy::check(&root()).unwrap();
    assert!(
        problems.is_empty(),
        "tidy:\n  - {}",
        problems.join("\n  - ")
    );
}

#[test]
fn xtask_is_formatted() {
    // `cargo fmt --all` in CI covers the main workspace only; xtask is its own.
    let out = Command::new("cargo")
        .args(["fmt", "--manifest-path"])
        .arg(root().join("xtask/Cargo.toml"))
        .args(["--", "--check"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "run `cargo fmt --manifest-path xtask/Cargo.toml`:\n{}",
        text(&out.stdout)
    );
}

#[test]
fn test_without_redis_stops_before_building_unless_told_to_skip() {
    // An empty PATH: no redis-server, no apt-get, no `id` (so not root), no node, no cargo.
    let empty = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(XTASK)
            .args(args)
            .env_clear()
            .env("PATH", empty.path())
            .output()
            .unwrap()
    };
    let out = run(&["test"]);
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains(xtask::test::REDIS_MISSING)
            && err.contains("`apt-get install redis-server`")
            && err.contains("--skip-redis"),
        "{err}"
    );
    // With the opt-outs it goes on to the next requirement (and would then run the tests).
    let out = run(&["test", "--skip-redis", "--skip-browser"]);
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(!err.contains("redis") && err.contains("Node.js"), "{err}");
    // Without Chromium (where it cannot be installed) it stops, naming the command and the
    // opt-out.
    let out = Command::new(XTASK)
        .args(["test", "--skip-redis"])
        .env_clear()
        .env("PATH", empty.path())
        .env("KEYFOB_TEST_CHROMIUM", empty.path().join("no-chromium"))
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains(xtask::test::CHROMIUM_MISSING)
            && err.contains("`apt-get install chromium`")
            && err.contains("--skip-browser"),
        "{err}"
    );
}

#[test]
fn refusals_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("keyfob");
    copy_repo(&root(), &copy);
    let before = snapshot(&copy);
    let token = |id: &str| vec!["new-token-provider".to_owned(), id.to_owned()];
    let oauth2 = |auth: &str, token: &str| {
        [
            "new-oauth2-provider",
            "zeta_cloud",
            "--authorize-url",
            auth,
            "--token-url",
            token,
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (token("Acme"), "try `acme`"),
        (token("1acme"), "starts with `1`"),
        (token("acme-widgets"), "try `acme_widgets`"),
        (token("../x"), "contains '.', '/'"),
        (token("a b"), "contains ' '"),
        (token("core"), "reserved"),
        (token("all_providers"), "reserved"),
        (token("github"), "already exists"),
        (
            oauth2(
                "http://zeta.example/authorize",
                "https://zeta.example/token",
            ),
            "is not an https URL",
        ),
        (
            oauth2("http://127.0.0.1:9/authorize", "https://zeta.example/token"),
            "is not an https URL",
        ),
        (
            oauth2(
                "https://zeta.example/authorize",
                "https://zeta.example/t?x=\"1\"",
            ),
            "not a plain https URL",
        ),
        (
            [
                token("acme_widgets"),
                vec!["--env-key".into(), "lower".into()],
            ]
            .concat(),
            "SHOUTY_SNAKE_CASE",
        ),
    ];
    for (args, says) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = xtask(&copy, &args);
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(
            changed(&before, &snapshot(&copy)),
            Vec::<String>::new(),
            "{args:?} changed files"
        );
    }
    // A scratch folder under target/ may remain only if empty of crates; the tree is unchanged.
    assert!(!copy.join("crates/providers/acme_widgets").exists());
}

/// What the issue's first demonstration does, in a copy: two generated providers, and only
/// they and the wiring change; codegen and tidy are clean; their conformance passes; the CLI
/// built with their features lists them.
#[test]
fn generated_providers_build_and_pass_conformance() {
    let parent = target_dir().join("xtask-e2e");
    std::fs::create_dir_all(&parent).unwrap();
    let tmp = tempfile::tempdir_in(&parent).unwrap();
    let copy = tmp.path().join("keyfob");
    copy_repo(&root(), &copy);
    let before = snapshot(&copy);

    // Hermetic: ambient cargo-generate values and a missing $USER change nothing (the expected
    // crate below has the default display name, and a values file that does not exist is never
    // read).
    let out = Command::new(XTASK)
        .arg("--root")
        .arg(&copy)
        .args(["new-token-provider", "acme_widgets"])
        .env("CARGO_TARGET_DIR", target_dir())
        .env("CARGO_GENERATE_VALUE_DISPLAY_NAME", "Ambient Value")
        .env(
            "CARGO_GENERATE_TEMPLATE_VALUES_FILE",
            "/nonexistent/values.toml",
        )
        .env_remove("USER")
        .env_remove("USERNAME")
        .env_remove("CARGO_NAME")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = text(&out.stdout);
    assert!(
        summary.contains("acme-widgets-token") && summary.contains("ACME_WIDGETS_TOKEN"),
        "{summary}"
    );
    let out = xtask(
        &copy,
        &[
            "new-oauth2-provider",
            "zeta_cloud",
            "--authorize-url",
            "https://auth.zeta.example/oauth2/authorize",
            "--token-url",
            "https://auth.zeta.example/oauth2/token",
            "--scopes",
            "read,write",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    let mut diff = changed(&before, &snapshot(&copy));
    diff.retain(|f| {
        !f.starts_with("crates/providers/acme_widgets/")
            && !f.starts_with("crates/providers/zeta_cloud/")
    });
    assert_eq!(
        diff,
        [
            // The catalog build records the two new packages.
            "Cargo.lock",
            "Cargo.toml",
            "README.md",
            "crates/keyfob/Cargo.toml",
            "crates/keyfob/src/providers.rs",
            "crates/keyfob/tests/registry.rs",
            "docs/providers.md",
        ],
        "files changed besides the two new crates"
    );
    expect_dir(
        &copy.join("crates/providers/acme_widgets"),
        "expanded-token",
    );
    expect_dir(&copy.join("crates/providers/zeta_cloud"), "expanded-oauth2");
    codegen::run(&copy, Mode::Check).unwrap();
    let problems = xtask::tidy::check(&copy).unwrap();
    assert!(
        problems.is_empty(),
        "tidy in the copy:\n  - {}",
        problems.join("\n  - ")
    );

    // The same command again is refused; with --force it renders the same crate.
    let out = xtask(&copy, &["new-token-provider", "acme_widgets"]);
    assert!(!out.status.success() && text(&out.stderr).contains("--force"));
    let settled = snapshot(&copy);
    let out = xtask(&copy, &["new-token-provider", "acme_widgets", "--force"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        changed(&settled, &snapshot(&copy)),
        Vec::<String>::new(),
        "--force re-render differs"
    );

    let out = cargo(
        &copy,
        &[
            "test",
            "-p",
            "keyfob",
            "--test",
            "registry",
            "--features",
            "acme_widgets,zeta_cloud",
            "--",
            // The tree's rule that snapshots are filled in before merging; a fresh crate's are
            // empty, which its own checks accept.
            "--skip",
            "every_provider_in_the_tree_pins_its_requests",
        ],
    );
    let report = text(&out.stdout);
    for t in [
        "acme_widgets::conformance::spec_is_valid",
        "acme_widgets::conformance::is_registered",
        "acme_widgets::conformance::token_handlers",
        "acme_widgets::conformance::oauth2_handlers",
        "zeta_cloud::conformance::oauth2_handlers",
        "zeta_cloud::conformance::token_handlers",
        "zeta_cloud::conformance::requests_pinned",
        "registry_equals_enabled_features",
    ] {
        assert!(
            report.contains(&format!("test {t} ... ok")),
            "{t} did not pass:\n{report}"
        );
    }
    assert!(
        !report.contains("acme_widgets::conformance::requests_pinned"),
        "a provider that sends no request got a snapshot check:\n{report}"
    );

    // The command a contributor types first runs the new crate's conformance on its own.
    let out = cargo(&copy, &["test", "-p", "keyfob-provider-acme-widgets"]);
    let report = text(&out.stdout);
    assert!(
        report.contains("test conformance::token_handlers ... ok")
            && report.contains("test result: ok. 4 passed"),
        "`cargo test -p keyfob-provider-acme-widgets`:\n{report}"
    );

    let out = cargo(
        &copy,
        &[
            "run",
            "-q",
            "-p",
            "keyfob-cli",
            "--features",
            "keyfob/acme_widgets,keyfob/zeta_cloud",
            "--",
            "providers",
        ],
    );
    let listing = text(&out.stdout);
    for want in [
        "acme-widgets-token",
        "ACME_WIDGETS_TOKEN",
        "zeta-cloud-oauth2",
        "ZETA_CLOUD_TOKEN",
    ] {
        assert!(
            listing.contains(want),
            "`keyfob providers` lacks {want}:\n{listing}"
        );
    }
}

/// Both templates rendered as a user outside this repository would (`cargo generate --path …`
/// with `keyfob_workspace = false`), in a workspace of their own that depends on keyfob's crates
/// by version, patched to this checkout: each crate passes its own conformance test, and a
/// binary that names them finds both registered.
#[test]
fn templates_work_outside_the_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path();
    let render = |template: &str, id: &str, defines: &[(&str, &str)]| {
        let config = ws.join("empty-config.toml");
        std::fs::write(&config, "").unwrap();
        let mut cmd = Command::new(XTASK);
        cmd.arg("__render")
            .arg(root().join(template))
            .arg(ws)
            .arg(id)
            .arg(&config)
            .arg(format!("id={id}"))
            .arg("keyfob_workspace=false");
        for (k, v) in defines {
            cmd.arg(format!("{k}={v}"));
        }
        let out = cmd.env_clear().env("CARGO_NAME", "test").output().unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    };
    render(
        "template-oauth2",
        "acme_ext",
        &[
            ("display_name", "Acme Internal SSO"),
            ("env_key", ""),
            ("authorize_url", "https://sso.acme.example/authorize"),
            ("token_url", "https://sso.acme.example/token"),
            ("scopes", "openid offline_access"),
            ("scope_separator", "space"),
            ("client_auth", "basic"),
            ("pkce", "true"),
            ("refresh", "rotating"),
            ("docs_url", "https://sso.acme.example/apps"),
        ],
    );
    render(
        "template-token",
        "beta_ext",
        &[
            ("display_name", ""),
            ("env_key", "BETA_API_KEY"),
            ("docs_url", ""),
            ("verify_url", "https://api.beta.example/me"),
        ],
    );
    expect_dir(&ws.join("acme_ext"), "standalone-oauth2");
    expect_dir(&ws.join("beta_ext"), "standalone-token");

    std::fs::create_dir_all(ws.join("app/src")).unwrap();
    std::fs::write(
        ws.join("app/Cargo.toml"),
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n[dependencies]\nkeyfob-core = \"0.1\"\nkeyfob-provider-acme-ext = { path = \"../acme_ext\" }\nkeyfob-provider-beta-ext = { path = \"../beta_ext\" }\n",
    )
    .unwrap();
    std::fs::write(
        ws.join("app/src/main.rs"),
        "//! Lists the providers this binary registered.\n\n// Naming each crate once is what links it, and its registration with it.\nuse keyfob_provider_acme_ext as _;\nuse keyfob_provider_beta_ext as _;\n\nfn main() {\n    for p in keyfob_core::registry::all() {\n        let handlers: Vec<_> = p.handlers.iter().map(|h| h.name()).collect();\n        println!(\"{} {}\", p.id, handlers.join(\",\"));\n    }\n}\n",
    )
    .unwrap();
    let core = root().join("crates/keyfob-core");
    let testkit = root().join("crates/keyfob-testkit");
    std::fs::write(
        ws.join("Cargo.toml"),
        format!(
            "[workspace]\nresolver = \"3\"\nmembers = [\"acme_ext\", \"beta_ext\", \"app\"]\n\n# Stand-ins for the published crates.\n[patch.crates-io]\nkeyfob-core = {{ path = {:?} }}\nkeyfob-testkit = {{ path = {:?} }}\n",
            core.display().to_string(),
            testkit.display().to_string()
        ),
    )
    .unwrap();
    // The same versions as keyfob's own build, so nothing new is fetched or compiled for them.
    std::fs::copy(root().join("Cargo.lock"), ws.join("Cargo.lock")).unwrap();

    let out = cargo(ws, &["test", "--offline", "--workspace"]);
    let report = text(&out.stdout);
    // Both crates run the checks every provider gets, and both pin their requests (the OAuth2
    // flow's, and the token crate's key check).
    for (t, crates) in [
        ("oauth2_handlers", 2),
        ("token_handlers", 2),
        ("is_registered", 2),
        ("requests_pinned", 2),
    ] {
        assert!(
            report
                .matches(&format!("test conformance::{t} ... ok"))
                .count()
                == crates,
            "{t}:\n{report}"
        );
    }
    let out = cargo(ws, &["run", "--offline", "-q", "-p", "app"]);
    assert_eq!(
        text(&out.stdout),
        "acme_ext acme-ext-oauth2\nbeta_ext beta-ext-token\n",
        "the binary's registry"
    );
}

/// The commands BENCHMARKS.md names: each line of its code blocks and each inline code span that
/// starts with `cargo ` or `scripts/`, comments and the `[…]` marks of optional flags removed.
fn benchmarks_md_commands(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
            continue;
        }
        let mut found: Vec<&str> = Vec::new();
        if fenced {
            found.push(line.split('#').next().unwrap_or_default());
        } else {
            found.extend(line.split('`').skip(1).step_by(2));
        }
        for c in found {
            let c = c.trim().replace(['[', ']'], "");
            if (c.starts_with("cargo ") || c.starts_with("scripts/")) && !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out
}

#[test]
fn benchmarks_md_commands_are_found() {
    let doc = "Run\n```sh\ncargo run -p b -- --json   # all\nscripts/load.sh [--quick]\n```\n\
               then `cargo test -p x -- y` and `--scenario NAME`; `cargo run -p b -- --json` again.\n";
    assert_eq!(
        benchmarks_md_commands(doc),
        [
            "cargo run -p b -- --json",
            "scripts/load.sh --quick",
            "cargo test -p x -- y"
        ]
    );
}

/// Needs redis-server (the Redis scenarios and tests) and wrk, so it sits with the Redis tests,
/// and PostgreSQL (its scenarios), so with those too: `--skip-redis` and `--skip-postgres` each
/// leave it out.
mod redis_server {
    pub(super) mod postgres_server {
        use super::super::*;

        /// Every command BENCHMARKS.md names runs and does what it says, as a reader would type it,
        /// with two changes to keep the suite short: keyfob-bench and what `cargo build` names are
        /// debug builds (the release build alone would take minutes), and the bench and the scripts
        /// run with `--quick`, each distinct command once. Each bench line is a measurement
        /// (no `skipped`, no `error`), every scenario in the document's tables is one the binary
        /// runs, and a `cargo test` command builds and selects at least one test.
        #[test]
        fn every_benchmarks_md_command_runs() {
            let root = root();
            let doc = std::fs::read_to_string(root.join("BENCHMARKS.md")).unwrap();
            let commands = benchmarks_md_commands(&doc);
            let table: Vec<&str> = doc
                .lines()
                .filter_map(|l| l.strip_prefix("| `"))
                .filter_map(|l| l.split('`').next())
                .collect();
            assert!(!table.is_empty(), "BENCHMARKS.md has no figures table");
            // The MCP scenarios run the `keyfob` beside the bench.
            cargo(&root, &["build", "-p", "keyfob-bench", "-p", "keyfob-cli"]);
            let bench = target_dir().join("debug/keyfob-bench");
            let bench_prefix = "cargo run --release -p keyfob-bench -- ";
            let mut ran: Vec<String> = Vec::new();
            let mut seen: Vec<String> = Vec::new();
            for command in &commands {
                if let Some(args) = command.strip_prefix(bench_prefix) {
                    let mut args: Vec<String> = args
                        .split_whitespace()
                        .map(|a| if a == "NAME" { table[0] } else { a }.to_owned())
                        .collect();
                    if !args.iter().any(|a| a == "--quick") {
                        args.push("--quick".into());
                    }
                    if ran.contains(&args.join(" ")) {
                        continue;
                    }
                    ran.push(args.join(" "));
                    let out = Command::new(&bench).args(&args).output().unwrap();
                    assert!(
                        out.status.success(),
                        "`{command}` failed:\n{}",
                        text(&out.stderr)
                    );
                    for line in text(&out.stdout).lines() {
                        let v: serde_json::Value = serde_json::from_str(line)
                            .unwrap_or_else(|e| panic!("`{command}`: not JSON ({e}): {line}"));
                        assert!(
                            v.get("skipped").is_none() && v.get("error").is_none(),
                            "`{command}` did not measure: {line}"
                        );
                        seen.push(v["scenario"].as_str().unwrap().to_owned());
                    }
                } else if let Some(rest) = command.strip_prefix("scripts/") {
                    let mut words: Vec<&str> = rest.split_whitespace().collect();
                    if !words.contains(&"--quick") {
                        words.push("--quick");
                    }
                    if ran.contains(&words.join(" ")) {
                        continue;
                    }
                    ran.push(words.join(" "));
                    let script = root.join("scripts").join(words[0]);
                    let out = Command::new(&script)
                        .args(&words[1..])
                        .current_dir(&root)
                        .env("KEYFOB_BENCH", &bench)
                        .output()
                        .unwrap();
                    assert!(
                        out.status.success(),
                        "`{command}` failed:\n{}{}",
                        text(&out.stdout),
                        text(&out.stderr)
                    );
                } else if let Some(args) = command.strip_prefix("cargo build ") {
                    // The debug build, next to the debug bench it serves (`mcp_call_proxy` runs the
                    // `keyfob` beside it).
                    let args: Vec<&str> = std::iter::once("build")
                        .chain(args.split_whitespace().filter(|a| *a != "--release"))
                        .collect();
                    cargo(&root, &args);
                } else if let Some(args) = command.strip_prefix("cargo test ") {
                    // The tests themselves run in the workspace suite; here the command must build
                    // and its filter must select tests (`--list` names them without running them).
                    let mut args: Vec<&str> = std::iter::once("test")
                        .chain(args.split_whitespace())
                        .collect();
                    if !args.contains(&"--") {
                        args.push("--");
                    }
                    args.push("--list");
                    let out = cargo(&root, &args);
                    let listed = text(&out.stdout)
                        .lines()
                        .filter(|l| l.ends_with(": test"))
                        .count();
                    assert!(listed > 0, "`{command}` selects no test");
                } else {
                    panic!(
                        "BENCHMARKS.md names `{command}`, which this test does not know how to run"
                    );
                }
            }
            for scenario in &table {
                assert!(
                    seen.iter().any(|s| s == scenario),
                    "BENCHMARKS.md's table has `{scenario}`, which no command measured (scenarios run: {seen:?})"
                );
            }
        }
    }
}
