//! A real PostgreSQL server for tests: its own data directory, a free loopback port, killed
//! (with every backend) on drop.
//!
//! The data directory is a copy of a template made once per machine with Debian's `initdb`
//! (a user `keyfob` with a password, scram-sha-256 on TCP), so a server starts in a fraction of
//! a second. PostgreSQL refuses to run as root: as root, the template, the data and the server
//! belong to `nobody`. A test that needs one fails when PostgreSQL is not installed, with the
//! command that installs it: no test stands in another store for PostgreSQL. Such tests live in
//! a module named `postgres_server`, so `cargo xtask test --skip-postgres` (libtest
//! `--skip postgres_server::`) leaves out exactly them, and says how many.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{TlsFiles, free_port};

/// The role every test server has.
pub const USER: &str = "keyfob";
/// Its password.
pub const PASSWORD: &str = "keyfob-test-password";

/// Why a PostgreSQL test cannot run here, and what to do.
pub const NOT_INSTALLED: &str = "PostgreSQL is not installed, so this PostgreSQL test cannot \
     run: install it with `apt-get install postgresql`, or leave the PostgreSQL tests out with \
     `cargo xtask test --skip-postgres`";

/// A PostgreSQL server on 127.0.0.1, killed on drop.
#[derive(Debug)]
pub struct PostgresServer {
    child: Option<Child>,
    /// The port it listens on.
    pub port: u16,
    bin: PathBuf,
    dir: tempfile::TempDir,
    extra: Vec<String>,
}

impl PostgresServer {
    /// The directory of PostgreSQL's server programs (`initdb`, `postgres`): the newest
    /// `/usr/lib/postgresql/<version>/bin`, where Debian puts them.
    pub fn bin_dir() -> Option<PathBuf> {
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| {
                let e = e.ok()?;
                let v = e.file_name().to_str()?.parse().ok()?;
                let bin = e.path().join("bin");
                bin.join("postgres").exists().then_some((v, bin))
            })
            .collect();
        versions.sort();
        versions.pop().map(|(_, bin)| bin)
    }

    /// Whether the server programs are installed.
    pub fn installed() -> bool {
        Self::bin_dir().is_some()
    }

    /// Starts a server on a copy of the template.
    ///
    /// # Panics
    /// When PostgreSQL is not installed (naming the command that installs it and the opt-out),
    /// and when it does not start.
    pub fn start() -> PostgresServer {
        Self::start_with(&[])
    }

    /// [`PostgresServer::start`] with more `postgres` arguments, after the defaults (so
    /// `["-c", "fsync=on"]` makes it durable against a machine crash too, as in production).
    ///
    /// # Panics
    /// As [`PostgresServer::start`].
    pub fn start_with(extra: &[&str]) -> PostgresServer {
        Self::launch(extra, &[])
    }

    /// A server with TLS on (`ssl=on`, the certificates of `files`: its own for 127.0.0.1 and
    /// localhost, and the CA it checks client certificates against), plain connections still
    /// allowed, and `hba` lines put before the template's `pg_hba.conf` (such as `hostssl certdb
    /// all 127.0.0.1/32 scram-sha-256 clientcert=verify-ca` to ask one database's clients for
    /// a certificate).
    ///
    /// # Panics
    /// As [`PostgresServer::start`].
    pub fn start_tls(files: &TlsFiles, hba: &[&str]) -> PostgresServer {
        let (uid, gid) = nobody();
        files.share_with(uid, gid);
        let settings = [
            "ssl=on".to_owned(),
            format!("ssl_cert_file={}", files.path("server.pem").display()),
            format!("ssl_key_file={}", files.path("server-key.pem").display()),
            format!("ssl_ca_file={}", files.path("ca.pem").display()),
        ];
        let mut extra = Vec::new();
        for s in &settings {
            extra.extend(["-c", s.as_str()]);
        }
        Self::launch(&extra, hba)
    }

    fn launch(extra: &[&str], hba: &[&str]) -> PostgresServer {
        let bin = Self::bin_dir().unwrap_or_else(|| panic!("{NOT_INSTALLED}"));
        let template = template(&bin);
        let dir = tempfile::tempdir().expect("a temp dir for PostgreSQL");
        set_mode(dir.path(), 0o755);
        let data = dir.path().join("data");
        let copied = Command::new("cp")
            .arg("-a")
            .arg(&template)
            .arg(&data)
            .status()
            .expect("cp");
        assert!(copied.success(), "cannot copy the PostgreSQL template");
        if !hba.is_empty() {
            let conf = data.join("pg_hba.conf");
            let rest = std::fs::read_to_string(&conf).expect("read pg_hba.conf");
            std::fs::write(&conf, format!("{}\n{rest}", hba.join("\n"))).expect("pg_hba.conf");
        }
        let mut server = PostgresServer {
            child: None,
            port: 0,
            bin,
            dir,
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
        };
        // Another process may take the free port first: try a few.
        for _ in 0..5 {
            server.port = free_port();
            if server.spawn() {
                return server;
            }
        }
        panic!("PostgreSQL did not start: see {}", server.log().display());
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The server's log file.
    pub fn log(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    /// `postgres://keyfob:…@127.0.0.1:<port>/<database>`.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{USER}:{PASSWORD}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Creates the database `name` (through `psql`).
    ///
    /// # Panics
    /// When it cannot.
    pub fn create_database(&self, name: &str) {
        let out = Command::new(self.bin.join("psql"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", USER])
            .args(["-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c"])
            .arg(format!("CREATE DATABASE \"{name}\""))
            .env("PGPASSWORD", PASSWORD)
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "cannot create database {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs `sql` in `database` through `psql`: its output (unaligned, tuples only).
    ///
    /// # Panics
    /// When `psql` fails.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", USER])
            .args([
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-A",
                "-t",
                "-c",
                sql,
            ])
            .env("PGPASSWORD", PASSWORD)
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "psql failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts the server on `self.port` and waits until it accepts connections; `false` when it
    /// exits first.
    fn spawn(&mut self) -> bool {
        let log = std::fs::File::create(self.log()).expect("the PostgreSQL log");
        if as_root() {
            std::os::unix::fs::chown(self.log(), Some(nobody().0), Some(nobody().1))
                .expect("chown the log");
        }
        let mut cmd = as_postgres_user(&self.bin.join("postgres"));
        cmd.arg("-D")
            .arg(self.data())
            .args(["-p", &self.port.to_string()])
            .arg("-k")
            .arg(self.data())
            .args(["-c", "listen_addresses=127.0.0.1"])
            // A killed process keeps its page cache: durability across `kill -9` holds without
            // fsync, and the tests run faster.
            .args(["-c", "fsync=off", "-c", "max_connections=300"])
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(log);
        // Its own process group, so that a kill reaches every backend too.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        self.child = Some(cmd.spawn().expect("spawn postgres"));
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                eprintln!("PostgreSQL on port {} exited: {status}", self.port);
                self.child = None;
                return false;
            }
            if self.ready() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("PostgreSQL on port {} did not answer in 20 s", self.port);
    }

    fn ready(&self) -> bool {
        TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            && Command::new(self.bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .status()
                .is_ok_and(|s| s.success())
    }

    /// Kills the server and every backend (SIGKILL: a crash, no shutdown checkpoint).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            // Backends of the group may take a moment to go.
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Starts it again on the same port and data directory (recovering after a kill).
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.spawn() {
            assert!(Instant::now() < deadline, "PostgreSQL did not restart");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The template data directory, made once per machine (and PostgreSQL version, and user); the
/// tests of one process wait for the first one's.
fn template(bin: &Path) -> PathBuf {
    static TEMPLATE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    TEMPLATE.get_or_init(|| make_template(bin)).clone()
}

fn make_template(bin: &Path) -> PathBuf {
    let version = bin
        .parent()
        .and_then(|p| p.file_name())
        .map(|v| v.to_string_lossy().into_owned())
        .unwrap_or_default();
    let euid =
        std::fs::metadata("/proc/self").map_or(0, |m| std::os::unix::fs::MetadataExt::uid(&m));
    let base = std::env::temp_dir().join(format!("keyfob-testkit-pg{version}-{euid}"));
    let template = base.join("data");
    if template.join("PG_VERSION").exists() {
        return template;
    }
    // Made aside and renamed into place, so that tests starting together never see half of it.
    let _ = std::fs::create_dir_all(&base);
    set_mode(&base, 0o755);
    let work = base.join(format!("init-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir(&work).expect("the template's work directory");
    set_mode(&work, 0o755);
    let pwfile = work.join("pw");
    std::fs::write(&pwfile, PASSWORD).expect("the password file");
    let data = work.join("data");
    std::fs::create_dir(&data).expect("the template's data directory");
    set_mode(&data, 0o700);
    if as_root() {
        let (uid, gid) = nobody();
        for p in [&pwfile, &data] {
            std::os::unix::fs::chown(p, Some(uid), Some(gid)).expect("chown the template");
        }
    }
    let out = as_postgres_user(&bin.join("initdb"))
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            USER,
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--no-locale",
        ])
        .arg("--no-sync")
        .arg(format!("--pwfile={}", pwfile.display()))
        .output()
        .expect("initdb");
    assert!(
        out.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    if std::fs::rename(&data, &template).is_err() {
        // Another test made it first.
        assert!(
            template.join("PG_VERSION").exists(),
            "no PostgreSQL template"
        );
    }
    let _ = std::fs::remove_dir_all(&work);
    template
}

fn as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
}

/// `nobody`'s uid and gid.
fn nobody() -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.first() == Some(&"nobody")).then(|| (f[2].parse().ok(), f[3].parse().ok()))
        })
        .and_then(|(u, g)| Some((u?, g?)))
        .unwrap_or((65534, 65534))
}

/// `program`, as `nobody` when this process is root (PostgreSQL refuses to run as root).
fn as_postgres_user(program: &Path) -> Command {
    if as_root() {
        let (uid, gid) = nobody();
        let mut cmd = Command::new("setpriv");
        cmd.args([
            &format!("--reuid={uid}"),
            &format!("--regid={gid}"),
            "--clear-groups",
        ])
        .arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
}
