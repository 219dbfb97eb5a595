//! `cargo xtask test` and `cargo xtask setup`: what CI runs.
//!
//! `setup` installs what the tests need: redis-server (with apt-get, when running as root) and
//! the test IdP's node packages. `test` runs it, then every keyfob test
//! (`cargo test --workspace --all-features`), then xtask's own suite (codegen freshness, tidy, the
//! generator end to end, the templates outside the repository), which lives in xtask's separate
//! workspace and so is not part of `--workspace`. Its last line counts what ran and what did not.
//!
//! Without redis-server, and where it cannot install it, `test` stops before building, naming
//! the command that installs it. `--skip-redis` leaves the Redis tests out instead: every test
//! that needs a redis-server lives in a module named `redis_server`, so the libtest filter
//! `--skip redis_server::` drops exactly those, and libtest's "filtered out" counts say how many.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

/// The libtest filter that matches every test needing a redis-server, and nothing else.
pub const REDIS_TESTS: &str = "redis_server::";

/// What stops `cargo xtask test` on a machine without redis-server.
pub const REDIS_MISSING: &str = "redis-server is not installed, and the Redis store's tests \
     need it: install it with `apt-get install redis-server`, or leave those tests out with \
     `cargo xtask test --skip-redis`";

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

/// Whether `program --version` runs and succeeds.
fn answers(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether this process runs as root (`id -u` says 0).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.status.success() && o.stdout.trim_ascii() == b"0")
}

/// Installs redis-server with apt-get when it is missing and this runs as root; otherwise a
/// missing redis-server is an error naming the command that installs it.
///
/// # Errors
/// No redis-server after this, or apt-get failing.
pub fn redis_server() -> anyhow::Result<()> {
    if answers("redis-server") {
        return Ok(());
    }
    if is_root() && answers("apt-get") {
        eprintln!("xtask: installing redis-server (apt-get)");
        run(Command::new("apt-get").args(["update", "-qq"]))?;
        run(Command::new("apt-get")
            .args(["install", "-y", "-qq", "redis-server"])
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
        if answers("redis-server") {
            return Ok(());
        }
    }
    bail!("{REDIS_MISSING}")
}

/// Installs the test IdP's node packages (oidc-provider) when missing or stale.
///
/// # Errors
/// No node, or npm failing.
pub fn node_packages(root: &Path) -> anyhow::Result<()> {
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

/// Installs what the tests need: redis-server (unless `skip_redis`), then the node packages.
///
/// # Errors
/// See [`redis_server`] and [`node_packages`].
pub fn setup(root: &Path, skip_redis: bool) -> anyhow::Result<()> {
    if !skip_redis {
        redis_server()?;
    }
    node_packages(root)
}

/// Test counts summed over libtest's `test result:` lines.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Tests that passed.
    pub passed: u64,
    /// Tests that failed.
    pub failed: u64,
    /// Tests libtest reports as ignored.
    pub ignored: u64,
    /// Tests a filter left out (`--skip`, or a name given).
    pub filtered_out: u64,
}

impl Counts {
    /// Adds the numbers of one line if it is a libtest summary
    /// (`test result: ok. 5 passed; 0 failed; 0 ignored; 0 measured; 2 filtered out; …`).
    pub fn add_line(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split(';') {
            let mut words = part.split_whitespace().skip_while(|w| w.ends_with('.'));
            let (Some(n), Some(what)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(n) = n.parse::<u64>() else { continue };
            match what {
                "passed" => self.passed += n,
                "failed" => self.failed += n,
                "ignored" => self.ignored += n,
                "filtered" => self.filtered_out += n,
                _ => {}
            }
        }
    }
}

/// Runs `cmd`, echoing its standard output line by line while counting libtest's summaries.
fn run_counted(cmd: &mut Command, counts: &mut Counts) -> anyhow::Result<()> {
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {shown}"))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let mut out = std::io::stdout().lock();
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        counts.add_line(&line);
        writeln!(out, "{line}")?;
    }
    drop(out);
    let status = child.wait()?;
    if !status.success() {
        bail!("{shown} failed with {status}");
    }
    Ok(())
}

/// The arguments of the workspace run: `extra` (cargo's, then libtest's after `--`), with the
/// Redis filter added to libtest's when `skip_redis`.
pub fn workspace_args(skip_redis: bool, extra: &[String]) -> Vec<String> {
    let mut args: Vec<String> = ["test", "--workspace", "--all-features"]
        .map(String::from)
        .into();
    args.extend(extra.iter().cloned());
    if skip_redis {
        if !extra.iter().any(|a| a == "--") {
            args.push("--".into());
        }
        args.extend(["--skip".into(), REDIS_TESTS.into()]);
    }
    args
}

/// Runs every test. `extra` goes to the workspace run; when it is non-empty (a filter, say)
/// xtask's own suite is skipped. With `skip_redis`, the tests that need a redis-server are left
/// out and counted.
///
/// # Errors
/// A missing test dependency, or a failing test run.
pub fn test(root: &Path, skip_redis: bool, extra: Vec<String>) -> anyhow::Result<()> {
    setup(root, skip_redis)?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut counts = Counts::default();
    run_counted(
        Command::new(&cargo)
            .current_dir(root)
            .args(workspace_args(skip_redis, &extra)),
        &mut counts,
    )?;
    if extra.is_empty() {
        run_counted(
            Command::new(&cargo).current_dir(root).args([
                "test",
                "--manifest-path",
                "xtask/Cargo.toml",
            ]),
            &mut counts,
        )?;
    } else {
        eprintln!("xtask: arguments given, so xtask's own suite was skipped");
    }
    eprintln!("{}", summary(&counts, skip_redis, !extra.is_empty()));
    Ok(())
}

/// The closing line: what passed, and how many tests did not run and why.
pub fn summary(counts: &Counts, skip_redis: bool, filtered_by_args: bool) -> String {
    let mut line = format!(
        "xtask test: {} passed, {} ignored",
        counts.passed, counts.ignored
    );
    let why = match (skip_redis, filtered_by_args) {
        (true, false) => "the Redis tests, left out by --skip-redis",
        (true, true) => "left out by --skip-redis and the arguments given",
        (false, _) => "left out by the arguments given",
    };
    if counts.filtered_out > 0 || skip_redis {
        line.push_str(&format!("; {} did not run ({why})", counts.filtered_out));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_come_from_libtest_summaries() {
        let mut c = Counts::default();
        for line in [
            "test result: ok. 339 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.46s",
            "test result: FAILED. 1 passed; 34 failed; 2 ignored; 0 measured; 3 filtered out; finished in 0.22s",
            "test redis_server::round_trip ... ok",
            "running 35 tests",
        ] {
            c.add_line(line);
        }
        assert_eq!(
            c,
            Counts {
                passed: 340,
                failed: 34,
                ignored: 2,
                filtered_out: 3
            }
        );
    }

    #[test]
    fn skip_redis_adds_one_libtest_filter() {
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            workspace_args(true, &[]),
            s(&[
                "test",
                "--workspace",
                "--all-features",
                "--",
                "--skip",
                "redis_server::"
            ])
        );
        assert_eq!(
            workspace_args(true, &s(&["-p", "keyfob", "--", "--nocapture"])),
            s(&[
                "test",
                "--workspace",
                "--all-features",
                "-p",
                "keyfob",
                "--",
                "--nocapture",
                "--skip",
                "redis_server::"
            ])
        );
        assert_eq!(
            workspace_args(false, &s(&["--", "stripe::"])),
            s(&["test", "--workspace", "--all-features", "--", "stripe::"])
        );
    }

    #[test]
    fn the_summary_counts_what_did_not_run() {
        let c = Counts {
            passed: 700,
            failed: 0,
            ignored: 0,
            filtered_out: 41,
        };
        assert_eq!(
            summary(&c, true, false),
            "xtask test: 700 passed, 0 ignored; 41 did not run (the Redis tests, left out by --skip-redis)"
        );
        assert_eq!(
            summary(
                &Counts {
                    filtered_out: 0,
                    ..c
                },
                false,
                false
            ),
            "xtask test: 700 passed, 0 ignored"
        );
    }
}
