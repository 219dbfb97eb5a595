//! `cargo xtask test` and `cargo xtask setup`: what CI runs.
//!
//! `setup` installs what the tests need: redis-server and Chromium (with apt-get, when running
//! as root) and the test IdP's node packages (oidc-provider, and playwright-core, which drives
//! Chromium headless). `test` runs it, then every keyfob test
//! (`cargo test --workspace --all-features`), then xtask's own suite (codegen freshness, tidy, the
//! generator end to end, the templates outside the repository), which lives in xtask's separate
//! workspace and so is not part of `--workspace`. Its last line counts what ran and what did not.
//!
//! Without redis-server, and where it cannot install it, `test` stops before building, naming
//! the command that installs it. `--skip-redis` leaves the Redis tests out instead: every test
//! that needs a redis-server lives in a module named `redis_server`, so the libtest filter
//! `--skip redis_server::` drops exactly those, and libtest's "filtered out" counts say how many.
//! PostgreSQL likewise (`--skip-postgres`, modules named `postgres_server`), and Chromium
//! (`--skip-browser`, modules named `real_browser`).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

/// The libtest filter that matches every test needing a redis-server, and nothing else.
pub const REDIS_TESTS: &str = "redis_server::";

/// The libtest filter that matches every test needing a PostgreSQL server, and nothing else.
pub const POSTGRES_TESTS: &str = "postgres_server::";

/// The libtest filter that matches every test driving a real headless Chromium, and nothing else.
pub const BROWSER_TESTS: &str = "real_browser::";

/// What stops `cargo xtask test` on a machine without Chromium.
pub const CHROMIUM_MISSING: &str = "chromium is not installed, and the end-to-end tests in a \
     real browser need it: install it with `apt-get install chromium`, or leave those tests out \
     with `cargo xtask test --skip-browser`";

/// What stops `cargo xtask test` on a machine without redis-server.
pub const REDIS_MISSING: &str = "redis-server is not installed, and the Redis store's tests \
     need it: install it with `apt-get install redis-server`, or leave those tests out with \
     `cargo xtask test --skip-redis`";

/// What stops `cargo xtask test` on a machine without PostgreSQL.
pub const POSTGRES_MISSING: &str = "PostgreSQL is not installed, and the PostgreSQL store's \
     tests need it: install it with `apt-get install postgresql`, or leave those tests out with \
     `cargo xtask test --skip-postgres`";

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

/// Whether Debian's PostgreSQL server programs are there (`/usr/lib/postgresql/<v>/bin`, where
/// the tests look for them).
fn postgres_installed() -> bool {
    std::fs::read_dir("/usr/lib/postgresql").is_ok_and(|versions| {
        versions
            .filter_map(Result::ok)
            .any(|v| v.path().join("bin/postgres").exists())
    })
}

/// Installs PostgreSQL with apt-get when it is missing and this runs as root (the tests run
/// their own servers from its programs; the cluster the package creates is not used);
/// otherwise a missing PostgreSQL is an error naming the command that installs it.
///
/// # Errors
/// No PostgreSQL after this, or apt-get failing.
pub fn postgres() -> anyhow::Result<()> {
    if postgres_installed() {
        return Ok(());
    }
    if is_root() && answers("apt-get") {
        eprintln!("xtask: installing postgresql (apt-get)");
        run(Command::new("apt-get").args(["update", "-qq"]))?;
        run(Command::new("apt-get")
            .args(["install", "-y", "-qq", "postgresql"])
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
        if postgres_installed() {
            return Ok(());
        }
    }
    bail!("{POSTGRES_MISSING}")
}

/// What stops `cargo xtask test` on a machine without wrk.
pub const WRK_MISSING: &str = "wrk is not installed, and the test that runs every command of \
     BENCHMARKS.md (its load scenarios) needs it: install it with `apt-get install wrk`, or leave \
     it out with the Redis tests (`--skip-redis`; it needs a redis-server too)";

/// Installs wrk with apt-get when it is missing and this runs as root; otherwise a missing wrk
/// is an error naming the command that installs it.
///
/// # Errors
/// No wrk after this, or apt-get failing.
pub fn wrk() -> anyhow::Result<()> {
    // `wrk --version` prints its version and exits non-zero: that it runs is what counts.
    let there = || Command::new("wrk").arg("--version").output().is_ok();
    if there() {
        return Ok(());
    }
    if is_root() && answers("apt-get") {
        eprintln!("xtask: installing wrk (apt-get)");
        run(Command::new("apt-get").args(["update", "-qq"]))?;
        run(Command::new("apt-get")
            .args(["install", "-y", "-qq", "wrk"])
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
        if there() {
            return Ok(());
        }
    }
    bail!("{WRK_MISSING}")
}

/// Installs Debian's Chromium with apt-get when it is missing and this runs as root (the
/// end-to-end tests drive it headless through playwright-core, from the IdP's node packages);
/// otherwise a missing Chromium is an error naming the command that installs it.
///
/// # Errors
/// No Chromium after this, or apt-get failing.
pub fn chromium() -> anyhow::Result<()> {
    let there = || {
        std::env::var_os("KEYFOB_TEST_CHROMIUM").map_or_else(
            || Path::new("/usr/bin/chromium").exists(),
            |p| Path::new(&p).exists(),
        )
    };
    if there() {
        return Ok(());
    }
    if is_root() && answers("apt-get") {
        eprintln!("xtask: installing chromium (apt-get)");
        run(Command::new("apt-get").args(["update", "-qq"]))?;
        run(Command::new("apt-get")
            .args(["install", "-y", "-qq", "chromium"])
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
        if there() {
            return Ok(());
        }
    }
    bail!("{CHROMIUM_MISSING}")
}

/// Installs the tests' node packages (oidc-provider, the MCP SDK's example server, the MCP
/// Inspector's CLI, the MCP conformance suite with Node.js 22) when missing or stale.
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
    // The test servers and clients (idp/), and the MCP conformance suite with its Node.js 22
    // (conformance-node/).
    for dir in [
        idp.clone(),
        root.join("crates/keyfob-testkit/conformance-node"),
    ] {
        let installed = dir.join("node_modules/.package-lock.json");
        let lock = dir.join("package-lock.json");
        let stale = match (std::fs::metadata(&installed), std::fs::metadata(&lock)) {
            (Ok(i), Ok(l)) => i.modified()? < l.modified()?,
            _ => true,
        };
        if stale {
            eprintln!(
                "xtask: installing the node packages of {} (npm ci)",
                dir.display()
            );
            run(Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--prefix"])
                .arg(&dir))?;
        }
    }
    Ok(())
}

/// Installs the MCP Python SDK (a real MCP client for the tests) into a virtual environment,
/// `crates/keyfob-testkit/python/.venv`, from the pinned `requirements.txt`, when missing or
/// stale (a copy of the requirements it was made from is kept in it).
///
/// # Errors
/// No `python3` with `venv`, or pip failing.
pub fn python_packages(root: &Path) -> anyhow::Result<()> {
    let dir = root.join("crates/keyfob-testkit/python");
    let venv = dir.join(".venv");
    let wanted = std::fs::read_to_string(dir.join("requirements.txt"))
        .context("reading crates/keyfob-testkit/python/requirements.txt")?;
    let made_from = std::fs::read_to_string(venv.join("requirements.txt")).unwrap_or_default();
    if venv.join("bin/python").is_file() && made_from == wanted {
        return Ok(());
    }
    eprintln!(
        "xtask: installing the MCP Python SDK into {}",
        venv.display()
    );
    let _ = std::fs::remove_dir_all(&venv);
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv)).context(
        "the tests need Python 3.10 or later with venv for the MCP Python SDK (e.g. `apt-get \
         install python3-venv`)",
    )?;
    run(Command::new(venv.join("bin/pip"))
        .args([
            "install",
            "--quiet",
            "--no-deps",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(dir.join("requirements.txt")))?;
    std::fs::write(venv.join("requirements.txt"), wanted)?;
    Ok(())
}

/// Which groups of tests to leave out (and count) instead of installing what they need.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Skip {
    /// The tests that need a redis-server.
    pub redis: bool,
    /// The tests that need PostgreSQL.
    pub postgres: bool,
    /// The end-to-end tests in a real headless Chromium.
    pub browser: bool,
}

/// Installs what the tests need: redis-server and wrk, PostgreSQL, and Chromium (unless
/// skipped), then the node packages and the MCP Python SDK.
///
/// # Errors
/// See [`redis_server`], [`wrk`], [`postgres`], [`chromium`], [`node_packages`] and
/// [`python_packages`].
pub fn setup(root: &Path, skip: Skip) -> anyhow::Result<()> {
    if !skip.redis {
        redis_server()?;
        wrk()?;
    }
    if !skip.postgres {
        postgres()?;
    }
    if !skip.browser {
        chromium()?;
    }
    node_packages(root)?;
    python_packages(root)
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
/// filters of the skipped groups added to libtest's.
pub fn workspace_args(skip: Skip, extra: &[String]) -> Vec<String> {
    let mut args: Vec<String> = ["test", "--workspace", "--all-features"]
        .map(String::from)
        .into();
    args.extend(extra.iter().cloned());
    let filters: Vec<&str> = [
        (skip.redis, REDIS_TESTS),
        (skip.postgres, POSTGRES_TESTS),
        (skip.browser, BROWSER_TESTS),
    ]
    .into_iter()
    .filter_map(|(on, f)| on.then_some(f))
    .collect();
    if !filters.is_empty() && !extra.iter().any(|a| a == "--") {
        args.push("--".into());
    }
    for f in filters {
        args.extend(["--skip".into(), f.into()]);
    }
    args
}

/// Runs every test. `extra` goes to the workspace run; when it is non-empty (a filter, say)
/// xtask's own suite is skipped. With `skip_redis`, the tests that need a redis-server are left
/// out and counted.
///
/// # Errors
/// A missing test dependency, or a failing test run.
pub fn test(root: &Path, skip: Skip, extra: Vec<String>) -> anyhow::Result<()> {
    setup(root, skip)?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut counts = Counts::default();
    run_counted(
        Command::new(&cargo)
            .current_dir(root)
            .args(workspace_args(skip, &extra)),
        &mut counts,
    )?;
    if extra.is_empty() {
        // The same filters: xtask's suite has a test that needs redis-server too.
        let mut args: Vec<String> = ["test", "--manifest-path", "xtask/Cargo.toml"]
            .map(String::from)
            .into();
        let skipped = workspace_args(skip, &[]);
        if let Some(i) = skipped.iter().position(|a| a == "--") {
            args.extend(skipped[i..].iter().cloned());
        }
        run_counted(
            Command::new(&cargo).current_dir(root).args(args),
            &mut counts,
        )?;
    } else {
        eprintln!("xtask: arguments given, so xtask's own suite was skipped");
    }
    eprintln!("{}", summary(&counts, skip, !extra.is_empty()));
    Ok(())
}

/// The closing line: what passed, and how many tests did not run and why.
pub fn summary(counts: &Counts, skip: Skip, filtered_by_args: bool) -> String {
    let mut line = format!(
        "xtask test: {} passed, {} ignored",
        counts.passed, counts.ignored
    );
    let mut why: Vec<&str> = Vec::new();
    if skip.redis {
        why.push("the Redis tests, left out by --skip-redis");
    }
    if skip.postgres {
        why.push("the PostgreSQL tests, left out by --skip-postgres");
    }
    if skip.browser {
        why.push("the real-browser tests, left out by --skip-browser");
    }
    if filtered_by_args {
        why.push("left out by the arguments given");
    }
    if counts.filtered_out > 0 || skip.redis || skip.postgres || skip.browser {
        line.push_str(&format!(
            "; {} did not run ({})",
            counts.filtered_out,
            why.join("; ")
        ));
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
            workspace_args(
                Skip {
                    redis: true,
                    ..Skip::default()
                },
                &[]
            ),
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
            workspace_args(
                Skip {
                    redis: true,
                    ..Skip::default()
                },
                &s(&["-p", "keyfob", "--", "--nocapture"])
            ),
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
            workspace_args(Skip::default(), &s(&["--", "stripe::"])),
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
        let redis = Skip {
            redis: true,
            ..Skip::default()
        };
        assert_eq!(
            summary(&c, redis, false),
            "xtask test: 700 passed, 0 ignored; 41 did not run (the Redis tests, left out by --skip-redis)"
        );
        let both = Skip {
            redis: true,
            postgres: false,
            browser: true,
        };
        assert_eq!(
            summary(&c, both, false),
            "xtask test: 700 passed, 0 ignored; 41 did not run (the Redis tests, left out by \
             --skip-redis; the real-browser tests, left out by --skip-browser)"
        );
        assert_eq!(
            summary(
                &Counts {
                    filtered_out: 0,
                    ..c
                },
                Skip::default(),
                false
            ),
            "xtask test: 700 passed, 0 ignored"
        );
    }
}
