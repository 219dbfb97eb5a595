//! `cargo xtask test` and `cargo xtask setup`: what CI runs.
//!
//! `test` installs the test IdP's node packages when needed, runs every keyfob test
//! (`cargo test --workspace --all-features`), then xtask's own suite (codegen freshness, tidy, the
//! generator end to end, the templates outside the repository), which lives in xtask's separate
//! workspace and so is not part of `--workspace`.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let shown = format!("{cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot run {shown}"))?;
    if !status.success() {
        bail!("{shown} failed with {status}");
    }
    Ok(())
}

/// Installs the test IdP's node packages (oidc-provider) when missing or stale.
///
/// # Errors
/// No node, or npm failing.
pub fn setup(root: &Path) -> anyhow::Result<()> {
    let idp = root.join("crates/keyfob-testkit/idp");
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        bail!(
            "the tests need Node.js 20 or later for the test OAuth2 server; install it (e.g. `apt-get install nodejs npm`)"
        );
    }
    let installed = idp.join("node_modules/.package-lock.json");
    let lock = idp.join("package-lock.json");
    let stale = match (std::fs::metadata(&installed), std::fs::metadata(&lock)) {
        (Ok(i), Ok(l)) => i.modified()? < l.modified()?,
        _ => true,
    };
    if stale {
        eprintln!("xtask: installing the test IdP's node packages (npm ci)");
        run(Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(&idp))?;
    }
    Ok(())
}

/// Runs every test. `extra` goes to the workspace run; when it is non-empty (a filter, say)
/// xtask's own suite is skipped.
///
/// # Errors
/// A failing test run.
pub fn test(root: &Path, extra: Vec<String>) -> anyhow::Result<()> {
    setup(root)?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let skip_own = !extra.is_empty();
    run(Command::new(&cargo)
        .current_dir(root)
        .args(["test", "--workspace", "--all-features"])
        .args(extra))?;
    if skip_own {
        eprintln!("xtask: arguments given, so xtask's own suite was skipped");
        return Ok(());
    }
    run(Command::new(&cargo).current_dir(root).args([
        "test",
        "--manifest-path",
        "xtask/Cargo.toml",
    ]))
}
