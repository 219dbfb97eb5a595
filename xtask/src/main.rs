//! Project tasks: `cargo xtask test` sets up what the tests need and runs them all.
//!
//! The provider generators and `codegen` arrive with their own issue; see ARCHITECTURE.md.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("test") => test(args.collect()),
        Some("setup") => setup(),
        _ => {
            eprintln!(
                "usage: cargo xtask <command>\n\n  test [cargo test args]   install test dependencies, then run every test\n  setup                    only install test dependencies (node packages of the test IdP)"
            );
            std::process::exit(2);
        }
    }
}

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_path_buf()
}

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
fn setup() -> anyhow::Result<()> {
    let idp = project_root().join("crates/keyfob-testkit/idp");
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

fn test(extra: Vec<String>) -> anyhow::Result<()> {
    setup()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(Command::new(cargo)
        .current_dir(project_root())
        .args(["test", "--workspace", "--all-features"])
        .args(extra))
}
