//! A real `redis-server` for tests, on a free loopback port, killed on drop.
//!
//! A test that needs one fails when `redis-server` is not installed, with the command that
//! installs it: no test stands in another store for Redis. Such tests live in a module named
//! `redis_server`, so `cargo xtask test --skip-redis` (libtest `--skip redis_server::`) leaves out
//! exactly them, and says how many.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::TlsFiles;
use crate::free_port;

/// A `redis-server` child on 127.0.0.1, killed on drop.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    /// The port it listens on.
    pub port: u16,
    args: Vec<String>,
    dir: tempfile::TempDir,
    /// Whether the port speaks TLS (and only TLS).
    tls: bool,
}

impl RedisServer {
    /// Whether `redis-server` is on the `PATH`.
    pub fn installed() -> bool {
        Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Starts a server with `extra` arguments.
    ///
    /// # Panics
    /// When `redis-server` is not installed (naming the command that installs it and the
    /// opt-out), and when it does not start.
    pub fn start(extra: &[&str]) -> RedisServer {
        Self::launch(extra, false)
    }

    fn launch(extra: &[&str], tls: bool) -> RedisServer {
        assert!(Self::installed(), "{NOT_INSTALLED}");
        let dir = tempfile::tempdir().expect("a temp dir for redis-server");
        let mut args: Vec<String> = [
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--loglevel",
            "warning",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        args.extend(["--dir".to_owned(), dir.path().display().to_string()]);
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let mut server = RedisServer {
            child: None,
            port: 0,
            args,
            dir,
            tls,
        };
        // Another process may take the free port first: try a few.
        for _ in 0..5 {
            server.port = free_port();
            if server.spawn() {
                return server;
            }
        }
        panic!("redis-server did not start: see {}", server.log().display());
    }

    /// Starts a server that speaks only TLS on its port, with the certificates of `files`;
    /// `extra` may ask for client certificates (`--tls-auth-clients yes`) or add ACL users.
    ///
    /// # Panics
    /// As [`RedisServer::start`].
    pub fn start_tls(files: &TlsFiles, extra: &[&str]) -> RedisServer {
        let tls_args = [
            "--tls-cert-file".to_owned(),
            files.path("server.pem").display().to_string(),
            "--tls-key-file".to_owned(),
            files.path("server-key.pem").display().to_string(),
            "--tls-ca-cert-file".to_owned(),
            files.path("ca.pem").display().to_string(),
        ];
        let mut args: Vec<&str> = tls_args.iter().map(String::as_str).collect();
        args.extend(["--tls-auth-clients", "optional"]);
        args.extend(extra);
        Self::launch(&args, true)
    }

    /// `rediss://[user:password@]127.0.0.1:<port>` of a TLS server.
    pub fn tls_url(&self, user: Option<(&str, &str)>) -> String {
        match user {
            Some((u, p)) => format!("rediss://{u}:{p}@127.0.0.1:{}", self.port),
            None => format!("rediss://127.0.0.1:{}", self.port),
        }
    }

    /// The server's log file.
    pub fn log(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    /// Starts the process on `self.port` and waits until it answers; `false` when it exits.
    fn spawn(&mut self) -> bool {
        let port = self.port.to_string();
        let ports = if self.tls {
            ["--port", "0", "--tls-port", &port]
        } else {
            ["--port", &port, "--tls-port", "0"]
        };
        let child = Command::new("redis-server")
            .args(ports)
            .args(["--logfile", &self.log().display().to_string()])
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                eprintln!("redis-server on port {} exited: {status}", self.port);
                self.child = None;
                return false;
            }
            let up = if self.tls {
                TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            } else {
                answers(self.port)
            };
            if up {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("redis-server on port {} did not answer in 10 s", self.port);
    }

    /// `redis://127.0.0.1:<port>`, with `password` when given.
    pub fn url(&self, password: Option<&str>) -> String {
        match password {
            Some(p) => format!("redis://:{p}@127.0.0.1:{}", self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills the process (SIGKILL: a crash, no shutdown save).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port with the same arguments and data directory.
    pub fn restart(&mut self) {
        self.kill();
        assert!(self.spawn(), "redis-server did not restart");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A Redis Cluster of three primaries (no replicas) on 127.0.0.1, each a [`RedisServer`] started
/// with `--cluster-enabled yes` and joined by `redis-cli --cluster create`; killed on drop.
#[derive(Debug)]
pub struct RedisCluster {
    /// The nodes; each serves a third of the slots.
    pub nodes: Vec<RedisServer>,
    /// `redis-cli`'s TLS arguments, for a TLS cluster.
    cli: Vec<String>,
}

impl RedisCluster {
    /// Starts three nodes and waits until every one of them says the cluster is `ok`.
    ///
    /// # Panics
    /// As [`RedisServer::start`], and when `redis-cli` fails or the cluster does not form in
    /// 20 s.
    pub fn start() -> RedisCluster {
        Self::start_with(&[])
    }

    /// [`RedisCluster::start`] with `extra` arguments for every node.
    ///
    /// # Panics
    /// As [`RedisCluster::start`].
    pub fn start_with(extra: &[&str]) -> RedisCluster {
        Self::form(extra, None)
    }

    /// A cluster that speaks only TLS, clients and cluster bus alike, with the certificates of
    /// `files` (see [`RedisServer::start_tls`]); `extra` for every node.
    ///
    /// # Panics
    /// As [`RedisCluster::start`].
    pub fn start_tls(files: &TlsFiles, extra: &[&str]) -> RedisCluster {
        Self::form(extra, Some(files))
    }

    fn form(extra: &[&str], tls: Option<&TlsFiles>) -> RedisCluster {
        let nodes: Vec<RedisServer> = (0..3)
            .map(|_| {
                // The bus port, given: port + 10000 may not exist or be free.
                let bus = free_port().to_string();
                let mut args = vec![
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-port",
                    &bus,
                    "--cluster-node-timeout",
                    "2000",
                ];
                args.extend(extra);
                match tls {
                    None => RedisServer::start(&args),
                    Some(files) => {
                        args.extend(["--tls-cluster", "yes"]);
                        RedisServer::start_tls(files, &args)
                    }
                }
            })
            .collect();
        let cli: Vec<String> = tls
            .map(|f| {
                let ca = f.path("ca.pem").display().to_string();
                vec!["--tls".to_owned(), "--cacert".to_owned(), ca]
            })
            .unwrap_or_default();
        let addrs: Vec<String> = nodes.iter().map(RedisServer::addr).collect();
        let out = Command::new("redis-cli")
            .args(&cli)
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("run redis-cli (it comes with redis-server: apt-get install redis-server)");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let cluster = RedisCluster { nodes, cli };
        cluster.wait_ok();
        cluster
    }

    /// `redis://127.0.0.1:<port>` of the first node, or `rediss://…` on a TLS cluster: a seed.
    pub fn url(&self) -> String {
        let seed = &self.nodes[0];
        if seed.tls {
            seed.tls_url(None)
        } else {
            seed.url(None)
        }
    }

    /// Waits until every node says the cluster is `ok` again (after a node restarted).
    ///
    /// # Panics
    /// When that takes more than 20 s.
    pub fn wait_ok(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.nodes.iter().all(|n| cluster_ok(n.port, &self.cli)) {
            assert!(
                Instant::now() < deadline,
                "the Redis Cluster did not reach cluster_state:ok in 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Whether the node on `port` knows all three nodes and says `cluster_state:ok`.
fn cluster_ok(port: u16, cli: &[String]) -> bool {
    let out = Command::new("redis-cli")
        .args(cli)
        .args(["-p", &port.to_string(), "cluster", "info"])
        .output();
    out.is_ok_and(|o| {
        let info = String::from_utf8_lossy(&o.stdout);
        info.contains("cluster_state:ok") && info.contains("cluster_known_nodes:3")
    })
}

/// Why a Redis test cannot run here, and what to do.
pub const NOT_INSTALLED: &str = "redis-server is not installed, so this Redis test cannot run: \
     install it with `apt-get install redis-server`, or leave the Redis tests out with \
     `cargo xtask test --skip-redis`";

/// Whether something on `port` answers a Redis `PING` (or asks for a password).
fn answers(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    let mut buf = [0u8; 64];
    s.write_all(b"PING\r\n").is_ok()
        && s.read(&mut buf)
            .is_ok_and(|n| buf[..n].starts_with(b"+PONG") || buf[..n].starts_with(b"-NOAUTH"))
}
