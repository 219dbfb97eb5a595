//! The `keyfob` binary as processes: login in one, token/exec/status in others, the embedded
//! store on disk, and the errors a person sees.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use keyfob_testkit::{Browser, Idp, IdpClient, IdpOptions, free_port};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_keyfob");

struct Home {
    dir: tempfile::TempDir,
    port: u16,
    config: PathBuf,
    env: Vec<(String, String)>,
}

impl Home {
    fn new(extra: &str) -> Home {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = dir.path().join("keyfob.toml");
        // Keys typed in these tests are checked by nobody: no request leaves 127.0.0.1.
        let mut checks = String::new();
        for id in ["github", "notion", "slack"] {
            if !extra.contains(&format!("[auth.{id}]")) {
                checks.push_str(&format!("[auth.{id}]\nverify_key = false\n"));
            }
        }
        std::fs::write(
            &config,
            format!("[server]\nbind = \"127.0.0.1:{port}\"\n{checks}{extra}"),
        )
        .unwrap();
        Home {
            dir,
            port,
            config,
            env: Vec::new(),
        }
    }

    /// Adds tables to the config file.
    fn append(&self, tables: &str) {
        let text = std::fs::read_to_string(&self.config).unwrap();
        std::fs::write(&self.config, format!("{text}{tables}")).unwrap();
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .env("KEYFOB_HOME", self.dir.path().join("data"))
            .env("KEYFOB_CONFIG", &self.config)
            .env_remove("KEYFOB_LOG")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .kill_on_drop(true);
        c
    }

    async fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.cmd(args).output().await.unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

/// A real OAuth2 server with the client `cli`, and a home whose `testidp` provider discovers it
/// and whose callback port is the client's redirect URI. `provider` adds lines to
/// `[providers.testidp]` (`refresh = "rotating"`).
async fn testidp_home(ttl: u64, provider: &str) -> (Idp, Home) {
    let home = Home::new("");
    let idp = Idp::start(IdpOptions {
        clients: vec![IdpClient::basic(
            "cli",
            "cli-secret",
            &[&format!(
                "http://127.0.0.1:{}/auth/testidp/oauth2/callback",
                home.port
            )],
        )],
        access_token_ttl_secs: ttl,
        extra_scopes: vec![],
    })
    .await
    .unwrap();
    home.append(&format!(
        "[providers.testidp]\nissuer = \"{}\"\nscopes = [\"openid\"]\n{provider}\
         [auth.testidp]\nclient_id = \"cli\"\nclient_secret = \"cli-secret\"\n",
        idp.issuer()
    ));
    (idp, home)
}

/// Starts `keyfob login …` and returns the child and the URL it printed on its own line.
async fn start_login(home: &Home, args: &[&str]) -> (Child, String) {
    start_login_in(home.cmd(args)).await
}

/// Spawns `cmd` with its output piped: the child and its stdout's lines.
fn spawn_piped(
    mut cmd: Command,
) -> (
    Child,
    tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    (child, lines)
}

/// Starts a device login: the child, and the first two lines it printed (the verification URL
/// and `code: …`).
async fn start_device_login(cmd: Command) -> (Child, String, String) {
    let (child, mut lines) = spawn_piped(cmd);
    let url = lines
        .next_line()
        .await
        .unwrap()
        .expect("the verification URL");
    let code = lines.next_line().await.unwrap().expect("the user code");
    (child, url, code)
}

/// [`start_login`] for a command set up by the caller (its environment, say).
async fn start_login_in(cmd: Command) -> (Child, String) {
    let (child, mut lines) = spawn_piped(cmd);
    let url = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.starts_with("http") {
                return line;
            }
        }
        panic!("login printed no URL");
    })
    .await
    .expect("login prints its URL");
    (child, url)
}

async fn finish(child: Child) -> (i32, String) {
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("login exits")
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn state_of(url: &str) -> String {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned()
}

fn grep_dir(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            hits.extend(grep_dir(&p, needle));
        } else if std::fs::read(&p)
            .unwrap()
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
        {
            hits.push(p);
        }
    }
    hits
}

#[tokio::test]
async fn providers_json_lists_the_build() {
    let home = Home::new("");
    let (code, out, _) = home.run(&["providers", "--json"]).await;
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let ids: Vec<_> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    for id in ["github", "notion", "slack"] {
        assert!(ids.contains(&id), "{ids:?}");
    }
    let github = v
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "github")
        .unwrap();
    assert_eq!(github["display_name"], "GitHub");
    assert_eq!(
        github["handlers"][0],
        serde_json::json!({"name": "github-oauth2", "kind": "oauth2", "default": true, "env_keys": ["GITHUB_TOKEN"], "configured": false})
    );
    assert_eq!(github["handlers"][1]["name"], "github-token");
    assert_eq!(github["handlers"][1]["default"], false);
    let (code, out, _) = home.run(&["providers"]).await;
    assert_eq!(code, 0);
    assert!(out.contains("slack-oauth2"));
}

/// An `all-providers` build carries exactly the reference's providers, handlers, defaults and
/// env keys (the list in tests/reference-providers.txt, from the design notes).
#[cfg(feature = "all-providers")]
#[tokio::test]
async fn all_providers_build_lists_exactly_the_reference_providers() {
    let home = Home::new("");
    let (code, out, _) = home.run(&["providers", "--json"]).await;
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut listed = Vec::new();
    for p in v.as_array().unwrap() {
        for h in p["handlers"].as_array().unwrap() {
            let envs: Vec<_> = h["env_keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e.as_str().unwrap())
                .collect();
            listed.push(format!(
                "{} {} {} {}",
                p["id"].as_str().unwrap(),
                h["name"].as_str().unwrap(),
                if h["default"] == true { "default" } else { "-" },
                envs.join(",")
            ));
        }
    }
    let mut expected: Vec<String> = include_str!("reference-providers.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(str::to_owned)
        .collect();
    listed.sort();
    expected.sort();
    let ids: std::collections::BTreeSet<_> = listed
        .iter()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(ids.len(), 74, "{ids:?}");
    assert_eq!(listed, expected);
}

#[tokio::test]
async fn token_login_then_token_exec_status_logout_across_processes() {
    let home = Home::new("");
    let secret = "ntn_sentinel_CLI_7f3a";
    let (child, url) = start_login(
        &home,
        &[
            "login",
            "notion",
            "--handler",
            "notion-token",
            "--no-browser",
            "--profile",
            "work",
        ],
    )
    .await;
    let http = reqwest::Client::new();
    let page = http.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let action = format!("http://127.0.0.1:{}/auth/notion/token", home.port);
    let r = http
        .post(&action)
        .form(&[("state", state_of(&url).as_str()), ("token", secret)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (code, stderr) = finish(child).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("Logged in to Notion"), "{stderr}");

    let (code, out, _) = home.run(&["token", "notion", "--profile", "work"]).await;
    assert_eq!((code, out.trim()), (0, secret));

    let (code, out, _) = home
        .run(&[
            "exec",
            "notion",
            "--profile",
            "work",
            "--",
            "sh",
            "-c",
            "echo $NOTION_TOKEN $WORK_NOTION_TOKEN",
        ])
        .await;
    assert_eq!(code, 0);
    assert_eq!(out.trim(), format!("{secret} {secret}"));
    let (code, _, _) = home
        .run(&[
            "exec",
            "notion",
            "--profile",
            "work",
            "--",
            "sh",
            "-c",
            "exit 7",
        ])
        .await;
    assert_eq!(code, 7, "exec passes the exit code through");

    let (code, out, _) = home.run(&["status", "--json"]).await;
    assert_eq!(code, 0);
    assert!(!out.contains(secret), "status must not show secrets");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["provider"], "notion");
    assert_eq!(v[0]["profile"], "work");
    assert_eq!(v[0]["state"], "valid");

    // Nothing keyfob wrote holds the token in plaintext.
    assert!(
        grep_dir(&home.data(), secret).is_empty(),
        "token found on disk: {:?}",
        grep_dir(&home.data(), secret)
    );
    assert!(home.data().join("sessions.db").is_file() && home.data().join("key").is_file());

    let (code, _, err) = home.run(&["logout", "notion", "--profile", "work"]).await;
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = home.run(&["token", "notion", "--profile", "work"]).await;
    assert_eq!(code, 3);
    assert!(err.contains("keyfob login notion --profile work"), "{err}");
}

#[tokio::test]
async fn oauth2_login_through_the_cli() {
    let (idp, home) = testidp_home(3600, "").await;
    let (child, url) = start_login(&home, &["login", "testidp", "--no-browser"]).await;
    let callback = Browser::new().approve(&url).await.unwrap();
    let r = reqwest::get(&callback).await.unwrap();
    assert_eq!(r.status(), 200);
    let (code, stderr) = finish(child).await;
    assert_eq!(code, 0, "{stderr}");
    let (code, out, _) = home.run(&["token", "testidp"]).await;
    assert_eq!(code, 0);
    assert!(!out.trim().is_empty());
    assert_eq!(idp.stats().await.token("authorization_code"), 1);
    let (_, providers, _) = home.run(&["providers", "--json"]).await;
    assert!(providers.contains("\"testidp-oauth2\""));
}

#[tokio::test]
async fn errors_are_one_readable_line_with_exit_codes() {
    let home = Home::new("");
    let (code, _, err) = home.run(&["token", "nosuch"]).await;
    assert_eq!(code, 1);
    assert!(
        err.contains("unknown provider `nosuch`;") && err.contains("enabled"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    let (code, _, err) = home.run(&["token", "slack"]).await;
    assert_eq!(code, 3);
    assert!(
        err.contains("not logged in") && err.contains("keyfob login slack"),
        "{err}"
    );

    let (code, _, err) = home.run(&["login", "github", "--no-browser"]).await;
    assert_eq!(code, 1);
    assert!(
        err.contains("no OAuth2 client id") && err.contains("[auth.github]"),
        "{err}"
    );

    let (code, _, err) = home
        .run(&[
            "login",
            "notion",
            "--handler",
            "notion-token",
            "--no-browser",
            "--timeout",
            "1",
        ])
        .await;
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("timed out"), "{err}");

    let (code, _, _) = home.run(&["bogus-command"]).await;
    assert_eq!(code, 2);

    // Variables stay strings (a Slack client id looks like a float), and variables that name no
    // config section are ignored.
    let out = home
        .cmd(&["providers", "--json"])
        .env("KEYFOB_AUTH__SLACK__CLIENT_ID", "123456789012.1234567890")
        .env("KEYFOB_AUTH__SLACK__CLIENT_SECRET", "0012345")
        .env("KEYFOB_NODE", "/usr/bin/node")
        .output()
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let slack = v
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "slack")
        .unwrap();
    assert_eq!(slack["handlers"][0]["configured"], true);
    let out = home
        .cmd(&["status"])
        .env("KEYFOB_SESSION__FLOW_TIMEOUT_SECS", "soon-ish-0012345")
        .output()
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("flow_timeout_secs"), "{err}");
}

#[tokio::test]
async fn corrupted_foreign_and_wrongly_keyed_databases_are_refused_clearly() {
    let home = Home::new("");
    // Create the database and key with one session.
    let (child, url) = start_login(
        &home,
        &[
            "login",
            "notion",
            "--handler",
            "notion-token",
            "--no-browser",
        ],
    )
    .await;
    reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/auth/notion/token", home.port))
        .form(&[("state", state_of(&url).as_str()), ("token", "tok")])
        .send()
        .await
        .unwrap();
    assert_eq!(finish(child).await.0, 0);

    // Wrong key.
    let other_key = keyfob::crypto::Sealer::generate_key();
    let out = home
        .cmd(&["status"])
        .env("KEYFOB_STORE__KEY", &other_key)
        .output()
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("key does not match"), "{err}");

    // Corrupted file.
    let db = home.data().join("sessions.db");
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(home.data().join(format!("sessions.db{suffix}")));
    }
    std::fs::write(&db, vec![0x5a; 8192]).unwrap();
    let (code, _, err) = home.run(&["status"]).await;
    assert_eq!(code, 1);
    assert!(
        err.contains("corrupted") || err.contains("not a database"),
        "{err}"
    );

    // A foreign SQLite database.
    std::fs::remove_file(&db).unwrap();
    let foreign = rusqlite::Connection::open(&db).unwrap();
    foreign
        .execute_batch("create table t(x); insert into t values (1);")
        .unwrap();
    drop(foreign);
    let (code, _, err) = home.run(&["status"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("not a keyfob"), "{err}");
}

#[tokio::test]
async fn env_keys_are_used_only_when_allowed_and_never_logged() {
    let home = Home::new("");
    let secret = "secret_sentinel_env_91";
    let out = home
        .cmd(&["exec", "notion", "--", "sh", "-c", "echo $NOTION_TOKEN"])
        .env("NOTION_TOKEN", secret)
        .output()
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "the env key is not used unless allowed"
    );
    let out = home
        .cmd(&["exec", "notion", "--", "sh", "-c", "echo $NOTION_TOKEN"])
        .env("NOTION_TOKEN", secret)
        .env("KEYFOB_AUTH__NOTION__ALLOW_ENV", "true")
        .env("KEYFOB_LOG", "trace")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), secret);
    let logs = String::from_utf8_lossy(&out.stderr);
    assert!(
        logs.contains("TRACE") || logs.contains("DEBUG") || logs.contains("INFO"),
        "trace logging is on: {logs}"
    );
    assert!(!logs.contains(secret), "a secret reached the logs: {logs}");
    // The variable is used, never stored: without it there is no session.
    let (code, _, _) = home.run(&["token", "notion"]).await;
    assert_eq!(code, 3);
    if home.data().exists() {
        assert!(grep_dir(&home.data(), secret).is_empty());
    }
}

#[tokio::test]
async fn ctrl_c_ends_login_cleanly() {
    let home = Home::new("");
    let (child, _url) = start_login(
        &home,
        &[
            "login",
            "notion",
            "--handler",
            "notion-token",
            "--no-browser",
        ],
    )
    .await;
    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let (code, stderr) = finish(child).await;
    assert_eq!(code, 130, "{stderr}");
    assert!(stderr.contains("cancelled"), "{stderr}");
    // The link is dead: the page refuses it.
    let r = reqwest::get(&_url).await;
    assert!(
        r.is_err() || r.unwrap().status() != 200,
        "the server is gone or refuses the link"
    );
    let mut config = keyfob::Config::from_toml("").unwrap();
    config.home = Some(home.data());
    let store = keyfob::open_store(&config).await.unwrap();
    assert!(
        store
            .pending_for(&keyfob::SessionKey::default_for("notion"))
            .await
            .unwrap()
            .is_none(),
        "nothing left behind"
    );
}

#[tokio::test]
async fn login_completes_through_a_separate_serve_process() {
    let home = Home::new("");
    let mut serve = home
        .cmd(&["serve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(serve.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        first.contains(&format!("127.0.0.1:{}", home.port)),
        "{first}"
    );
    // The port is taken, so `login` uses the running server; the flow completes there (another
    // process) and reaches the waiting login through the shared database.
    let (child, url) = start_login(
        &home,
        &[
            "login",
            "notion",
            "--handler",
            "notion-token",
            "--no-browser",
        ],
    )
    .await;
    let r = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/auth/notion/token", home.port))
        .form(&[("state", state_of(&url).as_str()), ("token", "via-serve")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (code, stderr) = finish(child).await;
    assert_eq!(code, 0, "{stderr}");
    let (code, out, _) = home.run(&["token", "notion"]).await;
    assert_eq!((code, out.trim()), (0, "via-serve"));
    serve.kill().await.unwrap();
}

#[tokio::test]
async fn concurrent_token_processes_refresh_once() {
    let (idp, home) = testidp_home(60, "refresh = \"rotating\"\n").await;
    let (child, url) = start_login(&home, &["login", "testidp", "--no-browser"]).await;
    let callback = Browser::new().approve(&url).await.unwrap();
    reqwest::get(&callback).await.unwrap();
    assert_eq!(finish(child).await.0, 0);

    // Make the 60 s token due: written an hour ago (through the library, same database and key).
    let mut config = keyfob::Config::from_toml("").unwrap();
    config.home = Some(home.data());
    let store = keyfob::open_store(&config).await.unwrap();
    let key = keyfob::SessionKey::default_for("testidp");
    let mut session = store.get(&key).await.unwrap().unwrap();
    session.updated_at -= 3600;
    store
        .put(&session, keyfob::store::Expect::Any)
        .await
        .unwrap();
    drop(store);
    idp.reset_stats().await;

    let runs: Vec<_> = (0..6).map(|_| home.run(&["token", "testidp"])).collect();
    let mut tokens = Vec::new();
    for r in runs {
        let (code, out, err) = r.await;
        assert_eq!(code, 0, "{err}");
        tokens.push(out.trim().to_owned());
    }
    assert_eq!(
        idp.stats().await.token("refresh_token"),
        1,
        "six processes, one refresh"
    );
    assert!(
        tokens.iter().all(|t| t == &tokens[0]),
        "every process prints the new token"
    );
}

/// Starts `keyfob serve --bind 127.0.0.1:<port>` and waits until it listens.
async fn serve(home: &Home, port: u16) -> Child {
    let mut child = home
        .cmd(&["serve", "--bind", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(first.contains(&format!("127.0.0.1:{port}")), "{first}");
    child
}

/// Tests that need a real `redis-server` (they fail without one); `cargo xtask test --skip-redis`
/// leaves out every test whose name contains `redis_server::`.
mod redis_server {
    use super::*;

    /// Two `keyfob serve` processes share one Redis: a flow started through one (the waiting
    /// `login` uses it) completes through the other, for a token page and for OAuth2 against the
    /// real authorization server; then 100 concurrent `token` processes refresh once.
    #[tokio::test]
    async fn serve_processes_sharing_redis_complete_each_others_flows() {
        let redis = keyfob_testkit::RedisServer::start(&[]);
        let (pa, pb) = (free_port(), free_port());
        let idp = Idp::start(IdpOptions {
            clients: vec![IdpClient::basic(
                "pool",
                "pool-secret",
                &[&format!(
                    "http://127.0.0.1:{pa}/auth/testidp/oauth2/callback"
                )],
            )],
            access_token_ttl_secs: 60,
            extra_scopes: vec![],
        })
        .await
        .unwrap();
        let mut home = Home::new(&format!(
            "[store]\nkind = \"redis\"\nurl = \"{}\"\nprefix = \"cli-pool\"\n\
             [providers.testidp]\nissuer = \"{}\"\nscopes = [\"openid\"]\nrefresh = \"rotating\"\n\
             [auth.testidp]\nclient_id = \"pool\"\nclient_secret = \"pool-secret\"\n",
            redis.url(None),
            idp.issuer()
        ));
        home.env.push((
            "KEYFOB_STORE__KEY".into(),
            keyfob::crypto::Sealer::generate_key(),
        ));
        let mut a = serve(&home, pa).await;
        let mut b = serve(&home, pb).await;
        let via_a = format!("127.0.0.1:{pa}");

        // Token flow: the login uses A (its port is taken); the user's POST reaches B.
        let (child, url) = start_login(
            &home,
            &[
                "login",
                "notion",
                "--handler",
                "notion-token",
                "--no-browser",
                "--bind",
                &via_a,
            ],
        )
        .await;
        assert!(url.starts_with(&format!("http://{via_a}/")), "{url}");
        let r = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{pb}/auth/notion/token"))
            .form(&[("state", state_of(&url).as_str()), ("token", "ntn_pool")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let (code, stderr) = finish(child).await;
        assert_eq!(code, 0, "{stderr}");
        let (code, out, _) = home.run(&["token", "notion"]).await;
        assert_eq!((code, out.trim()), (0, "ntn_pool"));

        // OAuth2: the IdP redirects to A's callback; the load balancer sends it to B.
        let (child, url) = start_login(
            &home,
            &["login", "testidp", "--no-browser", "--bind", &via_a],
        )
        .await;
        let callback = Browser::new().approve(&url).await.unwrap();
        let to_b = callback.replace(&format!("127.0.0.1:{pa}"), &format!("127.0.0.1:{pb}"));
        let r = reqwest::get(&to_b).await.unwrap();
        assert_eq!(r.status(), 200);
        let (code, stderr) = finish(child).await;
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(idp.stats().await.token("authorization_code"), 1);

        // Make the 60 s token due, then many processes ask at once: one refresh.
        let mut config =
            keyfob::Config::from_toml(&std::fs::read_to_string(&home.config).unwrap()).unwrap();
        config.store.key = Some(home.env[0].1.clone().into());
        let store = keyfob::open_store(&config).await.unwrap();
        let key = keyfob::SessionKey::default_for("testidp");
        let mut session = store.get(&key).await.unwrap().unwrap();
        session.updated_at -= 3600;
        store
            .put(&session, keyfob::store::Expect::Any)
            .await
            .unwrap();
        idp.reset_stats().await;
        let runs: Vec<_> = (0..100).map(|_| home.run(&["token", "testidp"])).collect();
        let mut tokens = Vec::new();
        for r in runs {
            let (code, out, err) = r.await;
            assert_eq!(code, 0, "{err}");
            tokens.push(out.trim().to_owned());
        }
        assert_eq!(
            idp.stats().await.token("refresh_token"),
            1,
            "100 processes over Redis, one refresh"
        );
        let after = store.get(&key).await.unwrap().expect("session intact");
        assert!(after.refresh_error.is_none() && after.grant.refresh_token.is_some());
        assert!(tokens.iter().all(|t| t == &tokens[0]));
        a.kill().await.unwrap();
        b.kill().await.unwrap();
    }
}

/// `keyfob login --device` against a real device-flow server, the code typed "on another
/// device" over HTTP; `status --json` names the account; `logout` revokes at the server.
#[tokio::test]
async fn device_login_status_identity_and_revoking_logout() {
    let (idp, home) = testidp_home(3600, "").await;
    let (child, url, code_line) =
        start_device_login(home.cmd(&["login", "testidp", "--device", "--label-from-identity"]))
            .await;
    assert!(url.starts_with(idp.issuer()), "{url}");
    let code = code_line.strip_prefix("code: ").expect("code line");
    assert!(
        url.contains(&code.replace('-', "")) || url.contains(code),
        "{url} {code}"
    );
    Browser::new().approve_device(&url).await.unwrap();
    let (status, err) = finish(child).await;
    assert_eq!(status, 0, "{err}");
    assert!(
        err.contains("Logged in to testidp as user-1 (thread default, profile user-1)"),
        "{err}"
    );

    let (_, out, _) = home.run(&["status", "--json"]).await;
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["identity"], "user-1", "{out}");
    assert_eq!(
        v[0]["profile"], "user-1",
        "labelled from the identity: {out}"
    );
    assert_eq!(v[0]["needs_reauth"], false);
    let (_, token, _) = home.run(&["token", "testidp", "--profile", "user-1"]).await;
    let token = token.trim().to_owned();

    let (code, _, err) = home
        .run(&["logout", "testidp", "--profile", "user-1"])
        .await;
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("Revoked the tokens at the provider."), "{err}");
    let active = reqwest::Client::new()
        .post(idp.introspection_url())
        .basic_auth("cli", Some("cli-secret"))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()["active"]
        .clone();
    assert_eq!(active, false, "the server rejects the revoked token");
    let (_, out, _) = home.run(&["status", "--json"]).await;
    assert_eq!(out.trim(), "[]");
}

/// Without `--device` or `--no-browser`, `login` picks the flow by itself: a device code where
/// no browser can be opened (no `DISPLAY`, `WAYLAND_DISPLAY` or `BROWSER`: SSH, a container),
/// the browser flow where one can (`BROWSER` set; `true` stands in for the browser).
/// MUTATION: `browser_available` always true fails the first half; always false the second.
#[tokio::test]
async fn login_chooses_a_device_code_without_a_display_and_the_browser_with_one() {
    let (_idp, home) = testidp_home(3600, "").await;
    let headless = |mut c: Command| {
        c.env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("BROWSER");
        c
    };
    let (child, url, code) = start_device_login(headless(home.cmd(&["login", "testidp"]))).await;
    assert!(code.starts_with("code: "), "a device login: {url} / {code}");
    Browser::new().approve_device(&url).await.unwrap();
    let (status, err) = finish(child).await;
    assert_eq!(status, 0, "{err}");

    let mut with_browser = headless(home.cmd(&["login", "testidp", "--profile", "desk"]));
    with_browser.env("BROWSER", "true");
    let (child, url) = start_login_in(with_browser).await;
    assert!(
        url.contains("response_type=code") && url.contains("state="),
        "an authorization request for the browser: {url}"
    );
    let callback = Browser::new().approve(&url).await.unwrap();
    assert_eq!(reqwest::get(&callback).await.unwrap().status(), 200);
    let (status, err) = finish(child).await;
    assert_eq!(status, 0, "{err}");
    let (_, out, _) = home.run(&["status", "--json"]).await;
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_array().map(Vec::len), Some(2), "{out}");
}

/// `keyfob serve --tls` with a self-signed certificate kept in the home; a `login` in another
/// process finds it over https, and the token page works over TLS with that certificate trusted.
#[tokio::test]
async fn serve_tls_and_a_login_that_uses_it() {
    let home = Home::new("");
    let text = std::fs::read_to_string(&home.config).unwrap();
    std::fs::write(
        &home.config,
        text.replacen("[server]\n", "[server]\ntls = true\n", 1),
    )
    .unwrap();
    let mut serve = home
        .cmd(&["serve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(serve.stdout.take().unwrap()).lines();
    let banner = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("serve starts")
        .unwrap()
        .unwrap();
    assert!(
        banner.contains(&format!("https://127.0.0.1:{}", home.port)),
        "{banner}"
    );
    let cert = std::fs::read(home.data().join("tls").join("cert.pem")).expect("self-signed cert");
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&cert).unwrap())
        .build()
        .unwrap();
    let (login, url) = start_login(
        &home,
        &[
            "login",
            "notion",
            "--handler",
            "notion-token",
            "--no-browser",
        ],
    )
    .await;
    assert!(
        url.starts_with(&format!(
            "https://127.0.0.1:{}/auth/notion/token?state=",
            home.port
        )),
        "{url}"
    );
    let action = format!("https://127.0.0.1:{}/auth/notion/token", home.port);
    let r = http
        .post(&action)
        .form(&[
            ("state", state_of(&url).as_str()),
            ("token", "ntn_over_tls"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (code, err) = finish(login).await;
    assert_eq!(code, 0, "{err}");
    let (_, token, _) = home.run(&["token", "notion"]).await;
    assert_eq!(token.trim(), "ntn_over_tls");
    serve.kill().await.unwrap();
}
