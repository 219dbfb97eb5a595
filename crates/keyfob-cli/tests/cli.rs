//! The `keyfob` binary as processes: login in one, token/exec/status in others, the embedded
//! store on disk, and the errors a person sees.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use keyfob_testkit::mcp::{
    Client as McpClient, ExampleServer, ResourceServer, SdkClient, StderrLines,
};
use keyfob_testkit::{Browser, Idp, IdpClient, IdpOptions, free_port, query_param, state_of};
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

    /// An executable `sh` script in the test's folder running `body`: a stand-in `$BROWSER`.
    fn script(&self, name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.dir.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
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
        mcp_resource: None,
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
    let (mut child, mut lines) = spawn_piped(cmd);
    let url = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.starts_with("http") {
                return Some(line);
            }
        }
        None
    })
    .await
    .expect("login prints its URL");
    let Some(url) = url else {
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            use tokio::io::AsyncReadExt;
            let _ = pipe.read_to_string(&mut stderr).await;
        }
        panic!("login printed no URL; its stderr:\n{stderr}");
    };
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

/// The user's browser: opens the login link `url`, then types `token` into the page it leads to.
/// The status and page of the form's answer.
async fn enter_token(url: &str, token: &str) -> (u16, String) {
    enter_token_with(&Browser::new(), url, token).await
}

async fn enter_token_with(browser: &Browser, url: &str, token: &str) -> (u16, String) {
    let page = browser.open_link(url).await.expect("the login link opens");
    let action = page.split('?').next().unwrap().to_owned();
    assert!(
        action.ends_with("/token"),
        "the link leads to the token page: {page}"
    );
    let (status, body) = browser
        .post_form(
            &action,
            &[("state", state_of(url).as_str()), ("token", token)],
        )
        .await
        .unwrap();
    (status.as_u16(), body)
}

/// The user's browser: opens the login link `url`, approves at the IdP and comes back to the
/// callback. The callback's status.
async fn approve_login(url: &str) -> u16 {
    let browser = Browser::new();
    let callback = browser.approve(url).await.expect("IdP approves");
    browser.get(&callback).await.unwrap().0.as_u16()
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
        &[NOTION_LOGIN.as_slice(), &["--profile", "work"]].concat(),
    )
    .await;
    assert!(
        url.starts_with(&format!(
            "http://127.0.0.1:{}/auth/notion/start?state=",
            home.port
        )),
        "{url}"
    );
    assert_eq!(enter_token(&url, secret).await.0, 200);
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
    assert_eq!(approve_login(&url).await, 200);
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
        .run(&[NOTION_LOGIN.as_slice(), &["--timeout", "1"]].concat())
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
    notion_login(&home, "tok").await;

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
    // Created 0644, as SQLite does: refused before it is read, with the fix.
    let (code, _, err) = home.run(&["status"]).await;
    assert_eq!(code, 1);
    assert!(
        err.contains("is open to other users (mode 644); run `chmod 600"),
        "{err}"
    );
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
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
    let (child, _url) = start_login(&home, &NOTION_LOGIN).await;
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
    notion_login(&home, "via-serve").await;
    let (code, out, _) = home.run(&["token", "notion"]).await;
    assert_eq!((code, out.trim()), (0, "via-serve"));
    serve.kill().await.unwrap();
}

#[tokio::test]
async fn concurrent_token_processes_refresh_once() {
    let (idp, home) = testidp_home(60, "refresh = \"rotating\"\n").await;
    let (child, url) = start_login(&home, &["login", "testidp", "--no-browser"]).await;
    assert_eq!(approve_login(&url).await, 200);
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

/// Two `keyfob mcp serve --http` instances on the shared store `store` (a `[store]` table): a
/// client of the first (the TypeScript SDK's, over streamable HTTP, with URL elicitation) calls
/// a tool that needs Notion; the user's browser is sent to the second instance (as a load
/// balancer would), types the key there, and the call waiting on the first instance completes
/// with it.
async fn mcp_serve_instances_finish_each_others_logins(store: &str) {
    let mut home = Home::new(store);
    home.env.push((
        "KEYFOB_STORE__KEY".into(),
        keyfob::crypto::Sealer::generate_key(),
    ));
    let tools = notion_tool(&home, "printf 'key %s' \"$NOTION_TOKEN\"");
    let mut instances = Vec::new();
    let mut ports = Vec::new();
    for _ in 0..2 {
        let (child, http, callback) = mcp_serve_http(&home, &tools).await;
        instances.push(child);
        ports.push((http, callback));
    }
    let mut client = eliciting_client(ports[0].0).await;
    let call = client
        .start_call("notion_key", serde_json::json!({}))
        .await
        .unwrap();
    let m = client.next_message(Duration::from_secs(30)).await.unwrap();
    let link = m["elicit"]["url"].as_str().unwrap_or_else(|| panic!("{m}"));
    let on_a = format!("127.0.0.1:{}", ports[0].1);
    assert!(link.contains(&on_a), "{link}");
    let on_b = link.replace(&on_a, &format!("127.0.0.1:{}", ports[1].1));
    assert_eq!(enter_token(&on_b, "ntn_through_b").await.0, 200);
    let answer = loop {
        let m = client.next_message(Duration::from_secs(30)).await.unwrap();
        if m.get("elicit_complete").is_none() {
            break m;
        }
    };
    assert_eq!(answer["id"], call);
    assert_eq!(answer["text"], "key ntn_through_b", "{answer}");
    for mut c in instances {
        c.kill().await.unwrap();
    }
}

/// Three `keyfob serve` processes on the shared store `store` (a `[store]` table with its
/// key), driven together: 10,000 token flows, each started here (an engine of this process on
/// the same store) for a thread of its own and completed through one of the three servers, in
/// turn (its start link, then its form, as a browser would), 32 at a time; every session then
/// holds the key typed into its own flow: no mix-up between flows or instances.
async fn serve_instances_complete_ten_thousand_flows(store: &str) {
    const FLOWS: usize = 10_000;
    let home = Home::new(store);
    let ports = [free_port(), free_port(), free_port()];
    let mut servers = Vec::new();
    for port in ports {
        servers.push(serve(&home, port).await);
    }
    let config =
        keyfob::Config::from_toml(&std::fs::read_to_string(&home.config).unwrap()).unwrap();
    let engine = keyfob::open(config).await.unwrap();
    let base = format!("127.0.0.1:{}", home.port);
    // Idle connections are dropped well before the servers close them (`read_timeout_secs`,
    // 10 s): a request sent on a connection the server is closing fails half-way.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let lanes = std::sync::Arc::new(tokio::sync::Semaphore::new(32));
    let mut flows = tokio::task::JoinSet::new();
    for i in 0..FLOWS {
        let (engine, http, base) = (engine.clone(), http.clone(), base.clone());
        let lane = lanes.clone().acquire_owned().await.unwrap();
        flows.spawn(async move {
            let _lane = lane;
            let req = keyfob::AuthRequest::new("notion")
                .handler("notion-token")
                .thread(format!("flow-{i}"));
            let prompt = engine.login(&req).await.unwrap();
            let instance = format!("127.0.0.1:{}", ports[i % 3]);
            let link = prompt.url.replace(&base, &instance);
            let opened = http.get(&link).send().await.unwrap();
            assert_eq!(opened.status(), 303, "flow {i}");
            let cookie = opened.headers()["set-cookie"]
                .to_str()
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .to_owned();
            let form = format!("http://{instance}/auth/notion/token");
            let posted = http
                .post(&form)
                .header("cookie", cookie)
                .header("origin", format!("http://{instance}"))
                .header("sec-fetch-site", "same-origin")
                .form(&[
                    ("state", state_of(&link).as_str()),
                    ("token", &format!("ntn_flow_{i}")),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(posted.status(), 200, "flow {i}");
        });
    }
    while let Some(done) = flows.join_next().await {
        done.unwrap();
    }
    eprintln!(
        "timing: {FLOWS} flows over 3 keyfob serve instances: {:?}",
        started.elapsed()
    );
    let sessions = engine.store().list(None).await.unwrap();
    assert_eq!(sessions.len(), FLOWS);
    for s in &sessions {
        let i = s.key.thread.strip_prefix("flow-").unwrap();
        assert_eq!(
            keyfob::ExposeSecret::expose_secret(&s.grant.access_token),
            format!("ntn_flow_{i}"),
            "the session of {} holds another flow's key",
            s.key.thread
        );
    }
    for mut s in servers {
        s.kill().await.unwrap();
    }
}

/// Tests that need a real PostgreSQL (they fail without one); `cargo xtask test
/// --skip-postgres` leaves out every test whose name contains `postgres_server::`.
mod postgres_server {
    use super::*;

    fn postgres_store(pg: &keyfob_testkit::PostgresServer) -> String {
        format!(
            "[store]\nkind = \"postgres\"\nurl = \"{}\"\n",
            pg.url("postgres")
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn three_serve_instances_on_postgres_complete_ten_thousand_flows() {
        let pg = keyfob_testkit::PostgresServer::start();
        serve_instances_complete_ten_thousand_flows(&format!(
            "{}key = \"{}\"\n",
            postgres_store(&pg),
            keyfob::crypto::Sealer::generate_key()
        ))
        .await;
    }

    /// The CLI reaches a PostgreSQL that refuses plain connections over TLS, trusting the CA
    /// of `[store] tls_ca`; without it, it says which setting is missing.
    #[tokio::test]
    async fn the_cli_reaches_postgres_over_tls_with_its_ca() {
        let files = keyfob_testkit::TlsFiles::generate();
        let pg = keyfob_testkit::PostgresServer::start_tls(
            &files,
            &["hostnossl all all 127.0.0.1/32 reject"],
        );
        let store = format!(
            "[store]\nkind = \"postgres\"\nurl = \"{}?sslmode=verify-full\"\nkey = \"{}\"\n",
            pg.url("postgres"),
            keyfob::crypto::Sealer::generate_key()
        );
        let (code, _, err) = Home::new(&store).run(&["status"]).await;
        assert_ne!(code, 0);
        assert!(err.contains("set [store] tls_ca"), "{err}");
        let with_ca = format!("{store}tls_ca = {:?}\n", files.path("ca.pem"));
        let (code, _, err) = Home::new(&with_ca).run(&["status"]).await;
        assert_eq!(code, 0, "{err}");
        assert!(
            err.contains(&format!(
                "Store: postgres at 127.0.0.1:{}/postgres",
                pg.port
            )),
            "{err}"
        );
    }

    /// The same as over Redis, on PostgreSQL: the second instance's completion reaches the
    /// call waiting on the first (a `NOTIFY` wakes it).
    #[tokio::test]
    async fn mcp_serve_instances_sharing_postgres_finish_each_others_logins() {
        let pg = keyfob_testkit::PostgresServer::start();
        mcp_serve_instances_finish_each_others_logins(&postgres_store(&pg)).await;
    }

    /// The CLI on a PostgreSQL store: a token login is stored there (sealed), and `status`
    /// names the store in use and lists the session; without a shared key the store refuses
    /// to open, saying what to set.
    #[tokio::test]
    async fn the_cli_keeps_its_sessions_in_postgres_and_says_so() {
        let pg = keyfob_testkit::PostgresServer::start();
        let mut home = Home::new(&postgres_store(&pg));
        let (code, _, err) = home.run(&["status"]).await;
        assert_ne!(code, 0);
        assert!(
            err.contains("a postgres store is shared, so its key must be too"),
            "{err}"
        );
        home.env.push((
            "KEYFOB_STORE__KEY".into(),
            keyfob::crypto::Sealer::generate_key(),
        ));
        notion_login(&home, "ntn_kept_in_postgres").await;
        let (code, out, err) = home.run(&["status"]).await;
        assert_eq!(code, 0, "{err}");
        assert!(
            err.contains(&format!(
                "Store: postgres at 127.0.0.1:{}/postgres",
                pg.port
            )),
            "{err}"
        );
        assert!(out.contains("notion"), "{out}");
        assert!(
            !pg.psql(
                "postgres",
                "SELECT encode(sealed, 'escape') FROM keyfob_sessions"
            )
            .contains("ntn_kept_in_postgres")
        );
        let (code, token, err) = home.run(&["token", "notion"]).await;
        assert_eq!(code, 0, "{err}");
        assert_eq!(token.trim(), "ntn_kept_in_postgres");
    }
}

/// Tests that need a real `redis-server` (they fail without one); `cargo xtask test --skip-redis`
/// leaves out every test whose name contains `redis_server::`.
mod redis_server {
    use super::*;

    /// Two `keyfob mcp serve --http` instances share one Redis. A client of the first (the
    /// TypeScript SDK's, over streamable HTTP, with URL elicitation) calls a tool that needs
    /// Notion; the user's browser is sent to the second instance (as a load balancer would),
    /// types the key there, and the call waiting on the first instance completes with it.
    #[tokio::test]
    async fn mcp_serve_instances_sharing_redis_finish_each_others_logins() {
        let redis = keyfob_testkit::RedisServer::start(&[]);
        mcp_serve_instances_finish_each_others_logins(&format!(
            "[store]\nkind = \"redis\"\nurl = \"{}\"\nprefix = \"mcp-pool\"\n",
            redis.url(None),
        ))
        .await;
    }

    /// A running `keyfob mcp serve` keeps the Notion session in process memory
    /// (`client_cache = true`); `keyfob logout` in another process deletes it, and once Redis'
    /// invalidation has reached the server, the next tool call asks for a login again instead
    /// of running with the deleted key. MUTATION: ignoring invalidation messages serves it.
    #[tokio::test]
    async fn a_session_logged_out_elsewhere_is_not_served_from_a_cache_afterwards() {
        let redis = keyfob_testkit::RedisServer::start(&[]);
        let mut home = Home::new(&format!(
            "[store]\nkind = \"redis\"\nurl = \"{}\"\nclient_cache = true\n",
            redis.url(None),
        ));
        home.env.push((
            "KEYFOB_STORE__KEY".into(),
            keyfob::crypto::Sealer::generate_key(),
        ));
        let tools = notion_tool(&home, "printf 'key %s' \"$NOTION_TOKEN\"");
        let (mut server, http, _) = mcp_serve_http(&home, &tools).await;
        let mut client = eliciting_client(http).await;
        // Answers the call `call`, skipping completion notices.
        async fn answer(client: &mut SdkClient, call: u64) -> serde_json::Value {
            loop {
                let m = client.next_message(Duration::from_secs(30)).await.unwrap();
                if m.get("elicit_complete").is_none() {
                    assert_eq!(m["id"], call, "{m}");
                    return m;
                }
            }
        }
        let call = client.start_call("notion_key", serde_json::json!({})).await;
        let m = client.next_message(Duration::from_secs(30)).await.unwrap();
        let link = m["elicit"]["url"].as_str().unwrap_or_else(|| panic!("{m}"));
        assert_eq!(enter_token(link, "ntn_before_logout").await.0, 200);
        let first = answer(&mut client, call.unwrap()).await;
        assert_eq!(first["text"], "key ntn_before_logout", "{first}");
        // Served again (from the cache now).
        let call = client.start_call("notion_key", serde_json::json!({})).await;
        let again = answer(&mut client, call.unwrap()).await;
        assert_eq!(again["text"], "key ntn_before_logout", "{again}");

        let (code, _, err) = home.run(&["logout", "notion"]).await;
        assert_eq!(code, 0, "{err}");
        // The invalidation travels from Redis to the server's tracking connection.
        tokio::time::sleep(Duration::from_millis(300)).await;
        client
            .start_call("notion_key", serde_json::json!({}))
            .await
            .unwrap();
        let m = client.next_message(Duration::from_secs(30)).await.unwrap();
        assert!(
            m["elicit"]["url"].is_string(),
            "the logged-out session was served: {m}"
        );
        server.kill().await.unwrap();
    }

    /// On a Redis Cluster (three primaries), which `keyfob status` names.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn three_serve_instances_on_a_redis_cluster_complete_ten_thousand_flows() {
        let cluster = keyfob_testkit::RedisCluster::start();
        let store = format!(
            "[store]\nkind = \"redis\"\nurl = \"{}\"\nprefix = \"fleet\"\nkey = \"{}\"\n",
            cluster.url(),
            keyfob::crypto::Sealer::generate_key()
        );
        let (code, _, err) = Home::new(&store).run(&["status"]).await;
        assert_eq!(code, 0, "{err}");
        let named = format!(
            "Store: redis at {} (Redis Cluster, prefix fleet)",
            cluster.nodes[0].addr()
        );
        assert!(err.contains(&named), "{err}");
        serve_instances_complete_ten_thousand_flows(&store).await;
    }

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
            mcp_resource: None,
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
            &[NOTION_LOGIN.as_slice(), &["--bind", &via_a]].concat(),
        )
        .await;
        assert!(url.starts_with(&format!("http://{via_a}/")), "{url}");
        // The browser opens the link on A; its form post lands on B, which knows the flow's
        // cookie from the shared store (cookies are per host, not per port).
        let browser = Browser::new();
        browser.open_link(&url).await.unwrap();
        let (status, _) = browser
            .post_form(
                &format!("http://127.0.0.1:{pb}/auth/notion/token"),
                &[("state", state_of(&url).as_str()), ("token", "ntn_pool")],
            )
            .await
            .unwrap();
        assert_eq!(status, 200);
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
        let browser = Browser::new();
        let callback = browser.approve(&url).await.unwrap();
        let to_b = callback.replace(&format!("127.0.0.1:{pa}"), &format!("127.0.0.1:{pb}"));
        assert_eq!(browser.get(&to_b).await.unwrap().0, 200);
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

    // The "browser" records the command line it was started with, which every local user can
    // read in /proc: it must hold no state, only the path of a private file that leads to the link.
    let args_file = home.dir.path().join("browser-args");
    let script = home.script(
        "browser.sh",
        &format!("printf '%s\\n' \"$@\" >> '{}'", args_file.display()),
    );
    let mut with_browser = headless(home.cmd(&["login", "testidp", "--profile", "desk"]));
    with_browser.env("BROWSER", &script);
    // Every log line at TRACE, the browser opener's included: no state in them either.
    with_browser.env("KEYFOB_LOG", "trace");
    let (child, url) = start_login_in(with_browser).await;
    assert!(
        url.contains("/auth/testidp/start?state="),
        "keyfob's login link: {url}"
    );
    let argv = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Ok(text) = std::fs::read_to_string(&args_file)
                && !text.is_empty()
            {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the browser was started");
    let state = state_of(&url);
    assert!(
        !argv.contains(&state),
        "the state is on a command line: {argv}"
    );
    let opened = argv.trim().strip_prefix("file://").expect("a file URL");
    let page = std::fs::read_to_string(opened).unwrap();
    assert!(page.contains(&url), "the file leads to the link: {page}");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(opened).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "only the user reads the file");
    }
    assert_eq!(approve_login(&url).await, 200);
    let (status, err) = finish(child).await;
    assert_eq!(status, 0, "{err}");
    assert!(!err.contains(&state), "the state reached the log: {err}");
    // Logs to a pipe carry no colour codes (issue 13).
    assert!(
        err.contains("TRACE") || err.contains("DEBUG"),
        "the log ran: {err}"
    );
    assert!(
        !err.contains('\u{1b}'),
        "ANSI codes in a piped log: {err:?}"
    );
    assert!(
        !std::path::Path::new(opened).exists(),
        "the file is removed once the login ends"
    );
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
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (login, url) = start_login(&home, &NOTION_LOGIN).await;
    assert!(
        url.starts_with(&format!(
            "https://127.0.0.1:{}/auth/notion/start?state=",
            home.port
        )),
        "{url}"
    );
    let browser = Browser::with_http(http);
    assert_eq!(
        enter_token_with(&browser, &url, "ntn_over_tls").await.0,
        200
    );
    let (code, err) = finish(login).await;
    assert_eq!(code, 0, "{err}");
    let (_, token, _) = home.run(&["token", "notion"]).await;
    assert_eq!(token.trim(), "ntn_over_tls");
    serve.kill().await.unwrap();
}

/// Starts, as another local user (`nobody`, through `setpriv`), a look-alike server on `port`
/// that answers `/health` as keyfob does and serves a fake form: the red-team's port squatter.
async fn squatter(port: u16) -> Child {
    let script = r#"
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = b'{"status":"ok"}' if self.path.startswith('/health') else b'<form method=post>Paste your key</form>'
        self.send_response(200)
        self.send_header('content-length', str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
"#;
    let child = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .args(["/usr/bin/python3", "-c", script, &port.to_string()])
        .kill_on_drop(true)
        .spawn()
        .expect("setpriv and python3 start the squatter");
    let health = format!("http://127.0.0.1:{port}/health");
    for _ in 0..100 {
        if reqwest::get(&health).await.is_ok() {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the squatter never answered on {port}");
}

/// Another local user binds the callback port first with a server that answers `/health` like
/// keyfob's. `login` never sends the user there: a token login serves its page on a free port
/// (and says so), an OAuth2 login, whose redirect URI needs the port, stops with what to do.
/// A keyfob `serve` of the same user with another configuration on the port is named instead of
/// waited on.
/// MUTATION: `keyfob_server_at` answering `Verdict::Ours` without a proof (the old check trusted
/// any `/health`) fails the first assertion: the link points at the squatter (verified).
#[tokio::test]
async fn login_never_trusts_a_squatter_on_the_callback_port() {
    let home =
        Home::new("[auth.github]\nclient_id = \"c\"\nclient_secret = \"s\"\nverify_key = false\n");
    let mut fake = squatter(home.port).await;

    let (child, url) = start_login(&home, &NOTION_LOGIN).await;
    assert!(
        !url.starts_with(&format!("http://127.0.0.1:{}/", home.port)),
        "the link must not point at the squatter: {url}"
    );
    assert_eq!(enter_token(&url, "ntn_not_for_mallory").await.0, 200);
    let (code, stderr) = finish(child).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("is taken by a program that is not this user's keyfob server"),
        "{stderr}"
    );

    let (code, _, stderr) = home.run(&["login", "github", "--no-browser"]).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("not this user's keyfob server") && stderr.contains("redirect URI"),
        "{stderr}"
    );
    fake.kill().await.unwrap();

    // The same user's keyfob, another configuration (another home), on the port.
    let other = tempfile::tempdir().unwrap();
    let mut serve = home
        .cmd(&["serve"])
        .env("KEYFOB_HOME", other.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(serve.stdout.take().unwrap()).lines();
    tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("serve starts")
        .unwrap();
    let (code, _, stderr) = home.run(&["login", "github", "--no-browser"]).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("not this user's keyfob server"),
        "another home's server cannot prove itself to this one: {stderr}"
    );
    serve.kill().await.unwrap();
}

/// `exec` hands the child the credentials it asked for and the user's environment, but none of
/// keyfob's own settings: the store key and client secrets in `KEYFOB_*` stay behind.
/// MUTATION: removing the `env_remove` loop in `exec` fails this (verified).
#[tokio::test]
async fn exec_keeps_keyfobs_own_variables_from_the_child() {
    let home = Home::new("");
    let key = keyfob::crypto::Sealer::generate_key();
    let out = home
        .cmd(&["exec", "notion", "--", "env"])
        .env("NOTION_TOKEN", "ntn_env_for_the_child")
        .env("KEYFOB_AUTH__NOTION__ALLOW_ENV", "true")
        .env("KEYFOB_STORE__KEY", &key)
        .env("KEYFOB_AUTH__GITHUB__CLIENT_SECRET", "gh_secret_sentinel")
        .env("UNRELATED_SETTING", "kept")
        .output()
        .await
        .unwrap();
    let env = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(env.contains("NOTION_TOKEN=ntn_env_for_the_child"), "{env}");
    assert!(env.contains("UNRELATED_SETTING=kept"), "{env}");
    assert!(
        !env.contains("KEYFOB_"),
        "keyfob's settings reached the child: {env}"
    );
    assert!(
        !env.contains(&key) && !env.contains("gh_secret_sentinel"),
        "{env}"
    );
}

/// Another local user pre-creates a world-writable home with a key file they know, waiting for
/// the victim to store sessions there. keyfob refuses it, naming the fix, and writes nothing.
/// MUTATION: removing `check_private` from `Sealer::from_key_file` fails this.
#[tokio::test]
async fn a_home_planted_by_another_user_is_refused() {
    let home = Home::new("");
    let shared = tempfile::tempdir().unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(shared.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    }
    let planted = shared.path().join("home");
    let made = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            "sh",
            "-c",
        ])
        .arg(format!(
            "umask 000 && mkdir '{0}' && printf '%s' '{1}' > '{0}/key'",
            planted.display(),
            keyfob::crypto::Sealer::generate_key()
        ))
        .status()
        .unwrap();
    assert!(made.success(), "the attacker planted the home");
    let out = home
        .cmd(&["status"])
        .env("KEYFOB_HOME", &planted)
        .output()
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("belongs to another user") && err.contains("KEYFOB_HOME"),
        "{err}"
    );
    assert!(
        !planted.join("sessions.db").exists(),
        "nothing was written there"
    );
}

/// Config errors name the key and the file, never a value: a secret with a syntax error or the
/// wrong type is not repeated. `keyfob providers | head -1` ends without a panic.
/// MUTATION: `config_error` returning figment's own text fails the first two cases.
#[tokio::test]
async fn config_errors_quote_no_value_and_a_closed_pipe_is_quiet() {
    let home = Home::new("");
    for (toml, says) in [
        (
            "[auth.github]\nclient_secret = \"sentinel-secret-1\n",
            "line 2",
        ),
        (
            "[auth.github]\nclient_secret = 123456789\n",
            "found an integer",
        ),
        (
            "[auth.github]\nclient_secret = [\"sentinel-secret-1\"]\n",
            "found a list",
        ),
    ] {
        std::fs::write(&home.config, toml).unwrap();
        let (code, _, err) = home.run(&["status"]).await;
        assert_eq!(code, 1, "{err}");
        assert!(
            err.contains(says) && err.contains("client_secret") || err.contains(says),
            "{err}"
        );
        assert!(
            !err.contains("sentinel") && !err.contains("123456789"),
            "{err}"
        );
    }
    std::fs::write(&home.config, "").unwrap();
    let out = home
        .cmd(&["providers"])
        .arg("--json")
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    let piped = std::process::Command::new("sh")
        .args(["-c", "\"$0\" providers | head -c 10 >/dev/null", BIN])
        .env("KEYFOB_HOME", home.data())
        .env("KEYFOB_CONFIG", &home.config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&piped.stderr);
    assert!(
        !err.contains("panicked") && !err.contains("Broken pipe"),
        "{err}"
    );
}

/// Tests that drive a real headless Chromium (`cargo xtask test --skip-browser` leaves them out).
mod real_browser {
    use super::*;

    /// The login as a person sees it, in a real browser: headless Chromium driven by
    /// `crates/keyfob-testkit/idp/browser.mjs` (playwright-core), started by `keyfob login` through
    /// `$BROWSER` like any browser. It opens keyfob's private page, follows it to the login link,
    /// gets the flow's cookie, and lands on the token form (one submit) or the IdP (one approval),
    /// whose redirect back carries the cookie (SameSite=Lax); keyfob says it is logged in. No test
    /// hook anywhere in keyfob.
    #[tokio::test]
    async fn a_real_browser_logs_in_with_one_click() {
        let (idp, home) = testidp_home(3600, "").await;
        let driver = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../keyfob-testkit/idp/browser.mjs"
        );
        for (args, token) in [
            (
                vec!["login", "notion", "--handler", "notion-token"],
                Some("ntn_typed_in_chromium"),
            ),
            (vec!["login", "testidp"], None),
        ] {
            let provider = args[1];
            let report = home.dir.path().join(format!("report-{provider}"));
            let typed = token.map(|t| format!(" --token '{t}'")).unwrap_or_default();
            let script = home.script(
                &format!("chromium-{provider}.sh"),
                &format!(
                    "node '{driver}' \"$1\" '{}'{typed} >/dev/null 2>&1 &",
                    report.display()
                ),
            );
            let mut cmd = home.cmd(&args);
            cmd.env("BROWSER", &script);
            let (child, url) = start_login_in(cmd).await;
            let (code, stderr) = finish(child).await;
            // The browser reports once it has shown keyfob's answer, a moment after keyfob exits.
            let steps = tokio::time::timeout(Duration::from_secs(20), async {
                loop {
                    let steps = std::fs::read_to_string(&report).unwrap_or_default();
                    if steps.contains("done") || steps.contains("failed") {
                        return steps;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
            .await
            .unwrap_or_else(|_| std::fs::read_to_string(&report).unwrap_or_default());
            assert_eq!(code, 0, "{provider}: {stderr}\nbrowser: {steps}");
            assert!(stderr.contains("Logged in to"), "{stderr}");
            assert_eq!(steps.lines().last(), Some("done"), "{provider}: {steps}");
            assert!(
                steps.contains(&format!("at /auth/{provider}/start")),
                "the browser went through the login link: {steps} ({url})"
            );
        }
        let (_, token, _) = home.run(&["token", "notion"]).await;
        assert_eq!(token.trim(), "ntn_typed_in_chromium");
        let (code, _, _) = home.run(&["token", "testidp"]).await;
        assert_eq!(code, 0);
        assert_eq!(idp.stats().await.token("authorization_code"), 1);
    }
}

/// Logs in to the MCP example server through `login --mcp`: the browser opens the link, the
/// demo authorization server approves at once, the callback completes. The authorize URL.
async fn mcp_login(home: &Home, url: &str) -> String {
    let (child, link) = start_login(home, &["login", "--mcp", url, "--no-browser"]).await;
    let browser = Browser::new();
    let authorize = browser
        .open_link(&link)
        .await
        .expect("the login link opens");
    let callback = browser
        .redirect_of(&authorize)
        .await
        .expect("the demo authorization server approves at once");
    let (status, page) = browser.get(&callback).await.unwrap();
    assert_eq!(status.as_u16(), 200, "{page}");
    let (code, stderr) = finish(child).await;
    assert_eq!(code, 0, "{stderr}");
    authorize
}

/// A protected MCP server that keyfob did not write (the TypeScript SDK's example, strict: it
/// issues tokens only for its exact resource and checks their audience): `login --mcp` finds
/// its authorization server from the 401, registers keyfob there, logs in with PKCE S256 and the
/// resource; the token calls a tool; status lists the login; logout deletes it; a second login
/// reuses the stored registration.
#[tokio::test]
async fn mcp_login_discovers_registers_and_the_token_calls_a_tool() {
    let server = ExampleServer::start(true).await.unwrap();
    let home = Home::new("");
    let url = server.url();
    let authorize = mcp_login(&home, &url).await;
    assert_eq!(
        query_param(&authorize, "resource").as_deref(),
        Some(url.as_str())
    );
    assert_eq!(
        query_param(&authorize, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(
        query_param(&authorize, "scope").as_deref(),
        Some("mcp:tools")
    );
    assert!(authorize.starts_with(&server.issuer()), "{authorize}");
    let client_id = query_param(&authorize, "client_id").expect("a registered client");

    let (code, token, err) = home.run(&["token", "--mcp", &url]).await;
    assert_eq!(code, 0, "{err}");
    let mut mcp = McpClient::connect(&url, token.trim()).await.unwrap();
    let hello = mcp
        .call_tool("greet", serde_json::json!({"name": "keyfob"}))
        .await
        .unwrap();
    assert_eq!(hello, "Hello, keyfob!");

    let (code, status, _) = home.run(&["status"]).await;
    assert_eq!(code, 0);
    let id = format!(
        "mcp_localhost_{}_mcp_",
        url.split(':').nth(2).unwrap().trim_end_matches("/mcp")
    );
    assert!(status.contains(&id), "{status}");
    assert!(
        !status.contains("~mcp"),
        "the registration is not a session: {status}"
    );

    let (code, _, err) = home.run(&["logout", "--mcp", &url]).await;
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("Logged out"), "{err}");
    let (code, _, err) = home.run(&["token", "--mcp", &url]).await;
    assert_eq!(code, 3, "{err}");

    // The registration outlives the session: the next login uses the same client.
    let again = mcp_login(&home, &url).await;
    assert_eq!(query_param(&again, "client_id"), Some(client_id));
}

#[tokio::test]
async fn mcp_errors_say_what_to_do() {
    let home = Home::new("");
    let closed = format!("http://localhost:{}/mcp", free_port());
    for (args, code, says) in [
        (
            vec!["token", "--mcp", "http://localhost:9/mcp"],
            1,
            "has not logged in to the MCP server http://localhost:9/mcp yet; run `keyfob login --mcp",
        ),
        (
            vec!["login", "--mcp", "linear", "--no-browser"],
            1,
            "no MCP server named `linear`: give its URL, or add [mcp.linear]",
        ),
        (
            vec![
                "login",
                "--mcp",
                "http://mcp.example.com/mcp",
                "--no-browser",
            ],
            1,
            "must use https",
        ),
        (
            vec!["login", "--mcp", &closed, "--no-browser"],
            1,
            "cannot be reached",
        ),
        (
            vec!["login", "--no-browser"],
            2,
            "required arguments were not provided",
        ),
        (
            vec!["token", "github", "--thread", "~mcp"],
            1,
            "the thread `~mcp` is keyfob's own (MCP client registrations); choose another thread",
        ),
    ] {
        let (got, _, err) = home.run(&args).await;
        assert_eq!(got, code, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

/// A `keyfob mcp proxy` child driven as a stdio MCP client drives its server command.
struct Proxy {
    child: Child,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    next_id: u64,
    /// Messages other than the answers waited for (notifications, requests).
    seen: Vec<serde_json::Value>,
}

impl Proxy {
    fn spawn(
        home: &Home,
        url: &str,
    ) -> (
        Proxy,
        tokio::io::Lines<BufReader<tokio::process::ChildStderr>>,
    ) {
        let mut child = home
            .cmd(&["mcp", "proxy", url, "--no-browser"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        (
            Proxy {
                child,
                stdin,
                stdout,
                next_id: 1,
                seen: Vec::new(),
            },
            stderr,
        )
    }

    async fn send(&mut self, msg: serde_json::Value) {
        use tokio::io::AsyncWriteExt;
        let mut line = msg.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await.unwrap();
    }

    /// Sends a request and returns its answer; every line on stdout must be JSON-RPC.
    async fn request(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(
            serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
        )
        .await;
        tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                let line = self
                    .stdout
                    .next_line()
                    .await
                    .unwrap()
                    .expect("the proxy answers");
                let v: serde_json::Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("stdout carries only JSON-RPC ({e}): {line}"));
                assert_eq!(v["jsonrpc"], "2.0", "{line}");
                if v["id"] == id {
                    return v;
                }
                self.seen.push(v);
            }
        })
        .await
        .expect("an answer within 20 s")
    }

    /// Waits (at most 20 s) until the messages seen besides answers satisfy `done`.
    async fn wait_seen(&mut self, done: impl Fn(&[serde_json::Value]) -> bool) {
        tokio::time::timeout(Duration::from_secs(20), async {
            while !done(&self.seen) {
                let line = self.stdout.next_line().await.unwrap().expect("open");
                self.seen.push(serde_json::from_str(&line).unwrap());
            }
        })
        .await
        .unwrap_or_else(|_| panic!("seen: {:?}", self.seen));
    }

    /// `initialize`, `notifications/initialized`, then `greet`: the tool's text.
    async fn greet(&mut self, name: &str) -> String {
        let init = self
            .request(
                "initialize",
                serde_json::json!({"protocolVersion": "2025-11-25", "capabilities": {},
                    "clientInfo": {"name": "keyfob-tests", "version": "0"}}),
            )
            .await;
        assert!(init["result"]["serverInfo"].is_object(), "{init}");
        self.send(serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        let tools = self.request("tools/list", serde_json::json!({})).await;
        assert!(tools.to_string().contains("\"greet\""), "{tools}");
        let call = self
            .request(
                "tools/call",
                serde_json::json!({"name": "greet", "arguments": {"name": name}}),
            )
            .await;
        call["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_else(|| panic!("{call}"))
            .to_owned()
    }

    /// Closes stdin: the proxy ends the server's session and exits 0.
    async fn close(self) {
        drop(self.stdin);
        let status = tokio::time::timeout(Duration::from_secs(20), {
            let mut c = self.child;
            async move { c.wait().await }
        })
        .await
        .expect("the proxy exits at the end of stdin")
        .unwrap();
        assert!(status.success(), "{status}");
    }
}

/// `keyfob mcp proxy` as a stdio client's server command: with no session it logs in first (the
/// link on stderr, since stdout carries JSON-RPC only), then bridges initialize, a notification,
/// tools/list and a tool call, whose answers arrive as server-sent events. A second proxy for
/// the same server uses the stored login: no link, same tools, and the notifications the server
/// sends outside any request (on its GET stream) reach the client.
#[tokio::test]
async fn mcp_proxy_logs_in_and_bridges_stdio_to_the_server() {
    let server = ExampleServer::start(true).await.unwrap();
    let home = Home::new("");
    let url = server.url();
    let (mut proxy, mut stderr) = Proxy::spawn(&home, &url);
    let link = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = stderr.next_line().await.unwrap() {
            if line.starts_with("http") {
                return line;
            }
        }
        panic!("the proxy printed no login link");
    })
    .await
    .expect("a login link on stderr");
    let browser = Browser::new();
    let authorize = browser.open_link(&link).await.unwrap();
    let callback = browser.redirect_of(&authorize).await.unwrap();
    assert_eq!(browser.get(&callback).await.unwrap().0.as_u16(), 200);
    assert_eq!(proxy.greet("proxy").await, "Hello, proxy!");
    proxy.close().await;

    let (mut again, stderr) = Proxy::spawn(&home, &url);
    assert_eq!(again.greet("again").await, "Hello, again!");
    // What the server sends outside any request comes on its GET stream, which the proxy
    // listens to once the session is initialized: the example's periodic notifications.
    let call = again
        .request(
            "tools/call",
            serde_json::json!({"name": "start-notification-stream",
                "arguments": {"interval": 50, "count": 3}}),
        )
        .await;
    assert!(call["result"].is_object(), "{call}");
    again
        .wait_seen(|seen| {
            let periodic = seen
                .iter()
                .filter(|m| {
                    m["method"] == "notifications/message"
                        && m["params"]["data"]
                            .as_str()
                            .is_some_and(|d| d.starts_with("Periodic notification #"))
                })
                .count();
            periodic == 3
        })
        .await;
    again.close().await;
    let mut said = Vec::new();
    let mut stderr = stderr;
    while let Some(line) = stderr.next_line().await.unwrap() {
        said.push(line);
    }
    assert!(
        !said.iter().any(|l| l.contains("http")),
        "the stored login was used: {said:?}"
    );
}

/// The first line starting with `http` a child writes to stderr (within 30 s).
async fn link_on(stderr: &mut StderrLines) -> String {
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = stderr.next_line().await.unwrap() {
            if line.starts_with("http") {
                return line;
            }
        }
        panic!("no login link on stderr");
    })
    .await
    .expect("a login link on stderr")
}

/// The user opens a login link, logs in and approves at the test authorization server, and
/// lands on keyfob's callback.
async fn approve_link(link: &str) {
    let browser = Browser::new();
    let authorize = browser.open_link(link).await.unwrap();
    let callback = browser.approve(&authorize).await.unwrap();
    let (status, page) = browser.get(&callback).await.unwrap();
    assert_eq!(status.as_u16(), 200, "{page}");
}

/// The TypeScript SDK's stdio client with `keyfob mcp proxy <url>` as its server command.
/// With `elicits`, the client declares URL-mode elicitation.
fn sdk_client_through_proxy(home: &Home, url: &str, elicits: bool) -> (SdkClient, StderrLines) {
    SdkClient::spawn(
        Path::new(BIN),
        &["mcp", "proxy", url, "--no-browser"],
        &[
            ("KEYFOB_HOME", home.data().as_os_str()),
            ("KEYFOB_CONFIG", home.config.as_os_str()),
            (
                "KEYFOB_TEST_ELICIT_URL",
                std::ffi::OsStr::new(if elicits { "1" } else { "0" }),
            ),
        ],
    )
    .unwrap()
}

/// `keyfob mcp proxy` in front of an MCP server behind a real authorization server
/// (oidc-provider with dynamic registration, resource indicators, rotating refresh tokens and
/// JWT access tokens for that server), driven by the TypeScript SDK's stdio client: the login
/// link on stderr, tool calls on the token; two proxies of one home whose token is due send one
/// refresh between them and both calls go on; once the user revokes the grant and the token has
/// expired, the next call offers a new login link (as a URL elicitation to the client that
/// declared them, and on stderr) and completes after the login, and the other proxy goes on with
/// that login without asking.
#[tokio::test]
async fn mcp_proxies_share_one_refresh_and_log_in_again_when_the_grant_is_revoked() {
    // Tokens live 8 s and are refreshed once less than 5 s are left: due after 3 s.
    let (idp, server) = ResourceServer::start(8).await.unwrap();
    let home = Home::new("[session]\nrefresh_margin_secs = 5\n");
    let url = server.url();

    let (mut a, mut a_err) = sdk_client_through_proxy(&home, url, true);
    approve_link(&link_on(&mut a_err).await).await;
    a.ready().await.unwrap();
    let me = a.call("whoami", serde_json::json!({})).await.unwrap();
    assert_eq!(me, "user-1 mcp:tools");
    let (mut b, _b_err) = sdk_client_through_proxy(&home, url, false);
    b.ready().await.unwrap();
    let hello = b
        .call("greet", serde_json::json!({"name": "b"}))
        .await
        .unwrap();
    assert_eq!(hello, "Hello, b!");

    idp.reset_stats().await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (ra, rb) = tokio::join!(
        a.call("greet", serde_json::json!({"name": "a"})),
        b.call("greet", serde_json::json!({"name": "b"}))
    );
    assert_eq!(
        (ra.unwrap(), rb.unwrap()),
        ("Hello, a!".into(), "Hello, b!".into())
    );
    let stats = idp.stats().await;
    assert_eq!(stats.token("refresh_token"), 1, "{stats:?}");
    assert_eq!(stats.token_requests_total, 1, "{stats:?}");

    assert!(idp.revoke_grants().await >= 1);
    // Past the refreshed token's expiry: the refresh is refused, a new login is the way on.
    tokio::time::sleep(Duration::from_secs(9)).await;
    // Client a declared URL elicitation: the link comes as an elicitation (and on stderr), then
    // its completion, then the answer.
    let call = a.start_call("whoami", serde_json::json!({})).await.unwrap();
    let mut seen = Vec::new();
    let answer = loop {
        let m = a.next_message(Duration::from_secs(60)).await.unwrap();
        if let Some(e) = m.get("elicit") {
            assert_eq!(e["mode"], "url", "{e}");
            let link = e["url"].as_str().unwrap();
            assert!(link.contains("/start?"), "keyfob's start link: {link}");
            assert_eq!(
                link,
                link_on(&mut a_err).await,
                "the same link as on stderr"
            );
            approve_link(link).await;
            seen.push(format!("elicit {}", e["elicitationId"]));
        } else if let Some(id) = m.get("elicit_complete") {
            seen.push(format!("complete {id}"));
        } else {
            break m;
        }
    };
    assert_eq!(answer["id"], call);
    assert_eq!(answer["text"], "user-1 mcp:tools", "{answer}");
    assert_eq!(
        seen,
        [r#"elicit "keyfob-login-1""#, r#"complete "keyfob-login-1""#]
    );
    let hello = tokio::time::timeout(
        Duration::from_secs(20),
        b.call("greet", serde_json::json!({"name": "b"})),
    )
    .await
    .expect("the other proxy uses the new login without asking");
    assert_eq!(hello.unwrap(), "Hello, b!");
    assert_eq!(idp.stats().await.token("authorization_code"), 1);
    a.close().await.unwrap();
    b.close().await.unwrap();
}

/// `login --mcp --device` on a machine without a browser: keyfob registers with the device
/// grant where the authorization server offers it, the user approves the code elsewhere, the
/// token calls a tool; `status` lists the login and `logout --mcp` revokes it at the server.
#[tokio::test]
async fn mcp_device_login_and_revoking_logout() {
    let (idp, server) = ResourceServer::start(3600).await.unwrap();
    let home = Home::new("");
    let url = server.url();
    let (child, link, code) =
        start_device_login(home.cmd(&["login", "--mcp", url, "--device"])).await;
    assert!(link.starts_with(idp.issuer()), "{link}");
    assert!(code.starts_with("code: "), "{code}");
    Browser::new().approve_device(&link).await.unwrap();
    let (status, stderr) = finish(child).await;
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(idp.stats().await.token("authorization_code"), 0);

    let (code, token, err) = home.run(&["token", "--mcp", url]).await;
    assert_eq!(code, 0, "{err}");
    let mut mcp = McpClient::connect(url, token.trim()).await.unwrap();
    let me = mcp
        .call_tool("whoami", serde_json::json!({}))
        .await
        .unwrap();
    assert_eq!(me, "user-1 mcp:tools");
    let (_, status, _) = home.run(&["status"]).await;
    assert!(status.contains("mcp_127_0_0_1_"), "{status}");

    let (code, _, err) = home.run(&["logout", "--mcp", url]).await;
    assert_eq!(code, 0, "{err}");
    assert!(idp.stats().await.revocation_requests >= 1);
    let (_, status, _) = home.run(&["status", "--json"]).await;
    assert_eq!(status.trim(), "[]");
}

/// Starts `keyfob <args>` (an `mcp serve --http`) in `home` and waits (20 s) until it says it
/// listens.
async fn serving_http(home: &Home, args: &[&str]) -> Child {
    let mut child = home.cmd(args).stderr(Stdio::piped()).spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), stderr.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap_or_default();
    assert!(line.contains("listening on"), "{line}");
    // The rest goes to the test's output (shown when it fails).
    tokio::spawn(async move {
        while let Ok(Some(line)) = stderr.next_line().await {
            eprintln!("keyfob mcp serve: {line}");
        }
    });
    child
}

/// `keyfob login notion` with the token handler, printing its link instead of opening a browser.
const NOTION_LOGIN: [&str; 5] = [
    "login",
    "notion",
    "--handler",
    "notion-token",
    "--no-browser",
];

/// `keyfob login notion` with the token handler, `key` typed into its page as a browser would:
/// the login exits 0.
async fn notion_login(home: &Home, key: &str) {
    let (child, url) = start_login(home, &NOTION_LOGIN).await;
    assert_eq!(enter_token(&url, key).await.0, 200);
    let (code, stderr) = finish(child).await;
    assert_eq!(code, 0, "{stderr}");
}

/// `keyfob mcp serve` over streamable HTTP with `tools`, on a free port, its callback server on
/// another: the process and both ports.
async fn mcp_serve_http(home: &Home, tools: &Path) -> (Child, u16, u16) {
    let (http, callback) = (free_port(), free_port());
    let child = serving_http(
        home,
        &[
            "mcp",
            "serve",
            "--http",
            &format!("127.0.0.1:{http}"),
            "--bind",
            &format!("127.0.0.1:{callback}"),
            "--tools",
            tools.to_str().unwrap(),
        ],
    )
    .await;
    (child, http, callback)
}

/// The TypeScript SDK's client on the MCP server at `port`, declaring URL elicitation, ready.
async fn eliciting_client(port: u16) -> SdkClient {
    let (mut client, _) = SdkClient::http(
        &format!("http://127.0.0.1:{port}/mcp"),
        &[("KEYFOB_TEST_ELICIT_URL", std::ffi::OsStr::new("1"))],
    )
    .unwrap();
    client.ready().await.unwrap();
    client
}

/// A tools directory in `home` holding one manifest, `notion_key`, that needs a Notion key
/// (the token handler) and runs `sh -c <script>` with it in `NOTION_TOKEN`.
fn notion_tool(home: &Home, script: &str) -> PathBuf {
    let tools = home.dir.path().join("tools");
    std::fs::create_dir(&tools).unwrap();
    std::fs::write(
        tools.join("notion_key.toml"),
        format!(
            "name = \"notion_key\"\ndescription = \"Runs with a Notion key\"\n\
             command = [\"sh\", \"-c\", {script:?}]\n\n[auth]\nauth_provider = \"notion\"\n\
             auth_handler = \"notion-token\"\n"
        ),
    )
    .unwrap();
    tools
}

/// Runs the MCP Inspector's CLI (npm, pinned in the testkit) on `keyfob <server_args>` with
/// `home`'s configuration and the inspector's own `args`.
async fn inspector(home: &Home, server_args: &[&str], args: &[&str]) -> std::process::Output {
    // The inspector starts its server with a minimal environment: the home goes in the config.
    let config = home.dir.path().join("inspector.toml");
    std::fs::write(
        &config,
        format!(
            "home = {:?}\n{}",
            home.data().display().to_string(),
            std::fs::read_to_string(&home.config).unwrap()
        ),
    )
    .unwrap();
    let inspector =
        Idp::dir().join("node_modules/@modelcontextprotocol/inspector-cli/build/index.js");
    Command::new("node")
        .arg(&inspector)
        .args([BIN, "--config"])
        .arg(&config)
        .args(server_args)
        .args(args)
        // It imports its own package.json if `../package.json` exists from the working
        // directory (a check meant for its source tree): run it where that holds.
        .current_dir(Idp::dir().join("node_modules"))
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .unwrap()
}

/// `keyfob mcp serve` with a tool manifest that needs Notion (a token provider), driven by the
/// TypeScript SDK's stdio client. A client that declared URL elicitation gets keyfob's link for
/// Notion as an elicitation; the user types the key on keyfob's page; the completion
/// notification follows and the same call returns what the tool made with the key. A client
/// without URL elicitation (another thread, no session) gets the link in the result, and the
/// call succeeds when made again after the login.
#[tokio::test]
async fn mcp_serve_asks_for_a_login_through_url_elicitation_or_the_result() {
    let home = Home::new("");
    let tools = notion_tool(&home, "printf 'a key of %s characters' ${#NOTION_TOKEN}");
    let serve = |thread: &str, elicits: bool| {
        SdkClient::spawn(
            Path::new(BIN),
            &[
                "mcp",
                "serve",
                "--tools",
                tools.to_str().unwrap(),
                "--thread",
                thread,
            ],
            &[
                ("KEYFOB_HOME", home.data().as_os_str()),
                ("KEYFOB_CONFIG", home.config.as_os_str()),
                (
                    "KEYFOB_TEST_ELICIT_URL",
                    std::ffi::OsStr::new(if elicits { "1" } else { "0" }),
                ),
            ],
        )
        .unwrap()
    };
    let key = "ntn_typed_on_keyfobs_page";

    let (mut client, _stderr) = serve("default", true);
    client.ready().await.unwrap();
    let call = client
        .start_call("notion_key", serde_json::json!({}))
        .await
        .unwrap();
    let mut seen = Vec::new();
    let answer = loop {
        let m = client.next_message(Duration::from_secs(60)).await.unwrap();
        if let Some(e) = m.get("elicit") {
            assert_eq!(e["mode"], "url", "{e}");
            let link = e["url"].as_str().unwrap();
            assert!(link.contains("/auth/notion/start?state="), "{link}");
            let (status, page) = enter_token(link, key).await;
            assert_eq!(status, 200, "{page}");
            seen.push(format!("elicit {}", e["elicitationId"]));
        } else if let Some(id) = m.get("elicit_complete") {
            seen.push(format!("complete {id}"));
        } else {
            break m;
        }
    };
    assert_eq!(answer["id"], call);
    assert_eq!(
        answer["text"],
        format!("a key of {} characters", key.len()),
        "{answer}"
    );
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].replace("elicit", "complete"), seen[1], "{seen:?}");
    // The session stays: the next call needs nobody.
    let again = client
        .call("notion_key", serde_json::json!({}))
        .await
        .unwrap();
    assert_eq!(again, format!("a key of {} characters", key.len()));
    client.close().await.unwrap();

    let (mut plain, _stderr) = serve("other", false);
    plain.ready().await.unwrap();
    let refused = plain
        .call("notion_key", serde_json::json!({}))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains(
            "notion is not connected. Open this link to connect it, then call the tool again: http"
        ),
        "{refused}"
    );
    let link = refused
        .split("call the tool again: ")
        .nth(1)
        .unwrap()
        .trim_end_matches('"')
        .to_owned();
    assert_eq!(enter_token(&link, "ntn_another_key").await.0, 200);
    let after = plain
        .call("notion_key", serde_json::json!({}))
        .await
        .unwrap();
    assert_eq!(after, "a key of 15 characters");
    plain.close().await.unwrap();
}

/// The MCP Inspector's CLI (a client keyfob did not write) lists the tools `keyfob mcp serve`
/// serves: a manifest's, with its description and schema, and the built-in session tools.
#[tokio::test]
async fn mcp_inspector_cli_lists_the_tools_of_keyfob_mcp_serve() {
    let home = Home::new("");
    let tools = home.dir.path().join("tools");
    std::fs::create_dir(&tools).unwrap();
    std::fs::write(
        tools.join("echo.toml"),
        r#"name = "echo_text"
description = "Echoes its text"
command = ["cat"]
parameters = { type = "object", properties = { text = { type = "string" } }, required = ["text"] }
"#,
    )
    .unwrap();
    let out = inspector(
        &home,
        &["mcp", "serve", "--tools", tools.to_str().unwrap()],
        &["--method", "tools/list"],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let names: Vec<&str> = listed["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["echo_text", "keyfob_list_sessions", "keyfob_delete_session"],
        "{listed}"
    );
    assert_eq!(listed["tools"][0]["description"], "Echoes its text");
    assert_eq!(listed["tools"][0]["inputSchema"]["required"][0], "text");
}

/// `keyfob mcp serve --http` judged by the pinned official MCP conformance suite (0.1.16, as a
/// client): initialization, ping, the tool list, DNS-rebinding protection (a request with a
/// foreign `Host` is refused), and tool calls with a text result and with an error result (the
/// suite's `test_simple_text` and `test_error_handling`, served as tool manifests) pass.
/// (Logging, resources, prompts, sampling and form elicitation are not what this server offers;
/// the suite has no URL-elicitation server scenario.)
#[tokio::test]
async fn mcp_serve_http_passes_the_conformance_server_scenarios() {
    let home = Home::new("");
    let tools = home.dir.path().join("tools");
    std::fs::create_dir(&tools).unwrap();
    for (name, script) in [
        (
            "test_simple_text",
            "echo 'This is a simple text response for testing.'",
        ),
        (
            "test_error_handling",
            "echo 'This tool always fails' >&2; exit 1",
        ),
    ] {
        std::fs::write(
            tools.join(format!("{name}.toml")),
            format!(
                "name = \"{name}\"\ndescription = \"The conformance suite's {name}\"\n\
                 command = [\"sh\", \"-c\", {script:?}]\n"
            ),
        )
        .unwrap();
    }
    let port = free_port();
    let mut child = serving_http(
        &home,
        &[
            "mcp",
            "serve",
            "--http",
            &format!("127.0.0.1:{port}"),
            "--tools",
            tools.to_str().unwrap(),
        ],
    )
    .await;
    let url = format!("http://127.0.0.1:{port}/mcp");
    let runs = keyfob_testkit::mcp::conformance_server_run(
        &url,
        &[
            "server-initialize",
            "ping",
            "tools-list",
            "dns-rebinding-protection",
            "tools-call-simple-text",
            "tools-call-error",
        ],
    )
    .await
    .unwrap();
    for (scenario, passed, text) in &runs {
        assert!(passed, "{scenario}:\n{text}");
    }
    child.kill().await.unwrap();
}

/// The MCP Python SDK's client (a third client keyfob did not write) with `keyfob mcp serve`
/// as its stdio server: it lists the tools, gets the URL elicitation for Notion, and once the
/// user typed the key on keyfob's page, the call's result.
#[tokio::test]
async fn the_python_sdk_client_gets_the_elicitation_and_the_result() {
    let (python, script) = keyfob_testkit::mcp::python_client().unwrap();
    let home = Home::new("");
    let tools = notion_tool(&home, "printf 'key %s' \"$NOTION_TOKEN\"");
    let mut client = Command::new(&python)
        .arg(&script)
        .args([BIN, "mcp", "serve", "--tools", tools.to_str().unwrap()])
        .env("KEYFOB_HOME", home.data())
        .env("KEYFOB_CONFIG", &home.config)
        .env("KEYFOB_TEST_TOOL", "notion_key")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(client.stdout.take().unwrap()).lines();
    let mut next = async || -> serde_json::Value {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("the Python client reports")
            .unwrap()
            .expect("the Python client is running");
        serde_json::from_str(&line).unwrap()
    };
    let listed = next().await;
    assert_eq!(
        listed["tools"],
        serde_json::json!([
            "notion_key",
            "keyfob_list_sessions",
            "keyfob_delete_session"
        ])
    );
    let asked = next().await;
    assert_eq!(asked["elicit"]["mode"], "url", "{asked}");
    let link = asked["elicit"]["url"].as_str().unwrap().to_owned();
    assert!(link.contains("/auth/notion/start?state="), "{link}");
    assert_eq!(enter_token(&link, "ntn_from_python").await.0, 200);
    let result = next().await;
    assert_eq!(
        result,
        serde_json::json!({"text": "key ntn_from_python", "is_error": false})
    );
    let status = tokio::time::timeout(Duration::from_secs(20), client.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");
}

/// Opens a protected MCP server's login `link` in `browser`, which signs in at the server's
/// authorization server as `account`: the start link it is sent back to (with its pass), or
/// the refusal's status and text.
async fn connect_as(browser: &Browser, link: &str, account: &str) -> Result<String, String> {
    let sign_in = browser.open_link(link).await.map_err(|e| e.to_string())?;
    let back = if account == "user-1" {
        browser.approve(&sign_in).await
    } else {
        browser.approve_as(&sign_in, account).await
    }
    .map_err(|e| e.to_string())?;
    browser.redirect_of(&back).await.map_err(|e| e.to_string())
}

/// A protected `keyfob mcp serve --http` (MCP authorization) behind a real authorization server
/// (oidc-provider issuing JWTs for it): without a token, or with a bad one, a 401 whose
/// challenge points at its RFC 9728 metadata, which names the authorization server; keyfob as
/// the MCP client logs two users in there (`login --mcp`); each user's call of a tool needing
/// Notion asks for their own Notion key — user 1 through the TypeScript SDK's client (a URL
/// elicitation, then its completion and the result), user 2 through a client without URL
/// elicitation (the link in the result, then the call again). Each link opens only for its own
/// user (the browser signs in at the authorization server first; the other user is refused),
/// each user gets a result made with their own key, never the other's, and one user's MCP
/// session id is refused to the other.
#[tokio::test]
async fn mcp_serve_protects_itself_and_keeps_each_users_sessions() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/mcp");
    let idp = Idp::start(IdpOptions {
        mcp_resource: Some(url.clone()),
        ..IdpOptions::default()
    })
    .await
    .unwrap();
    let server_home = Home::new("");
    let tools = notion_tool(&server_home, "printf 'key %s' \"$NOTION_TOKEN\"");
    let mut server = serving_http(
        &server_home,
        &[
            "mcp",
            "serve",
            "--http",
            &format!("127.0.0.1:{port}"),
            "--tools",
            tools.to_str().unwrap(),
            "--auth-issuer",
            idp.issuer(),
            "--auth-scope",
            "mcp:tools",
        ],
    )
    .await;

    let http = reqwest::Client::new();
    let init = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"}}});
    for bearer in [None, Some("not-a-jwt")] {
        let mut req = http
            .post(&url)
            .header("accept", "application/json, text/event-stream")
            .json(&init);
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 401);
        let challenge = resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            challenge.contains(&format!(
                r#"resource_metadata="http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp""#
            )) && challenge.contains(r#"scope="mcp:tools""#)
                // RFC 6750 §3.1: no error code when no token was sent.
                && challenge.contains(r#"error="invalid_token""#) == bearer.is_some(),
            "{challenge}"
        );
    }
    let prm: serde_json::Value = http
        .get(format!(
            "http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(prm["resource"], url.as_str());
    assert_eq!(prm["authorization_servers"][0], idp.issuer());

    // Two users log in to the server through keyfob (each in their own home).
    let mut tokens = Vec::new();
    for account in ["user-1", "user-2"] {
        let home = Home::new("");
        let (child, link) = start_login(&home, &["login", "--mcp", &url, "--no-browser"]).await;
        let browser = Browser::new();
        let authorize = browser.open_link(&link).await.unwrap();
        let callback = if account == "user-1" {
            browser.approve(&authorize).await.unwrap()
        } else {
            browser.approve_as(&authorize, account).await.unwrap()
        };
        assert_eq!(browser.get(&callback).await.unwrap().0.as_u16(), 200);
        let (code, err) = finish(child).await;
        assert_eq!(code, 0, "{err}");
        let (code, token, err) = home.run(&["token", "--mcp", &url]).await;
        assert_eq!(code, 0, "{err}");
        tokens.push(token.trim().to_owned());
    }

    // User 1, with the TypeScript SDK's client declaring URL elicitation, is asked for Notion.
    let key_one = "ntn_key_of_user_one";
    let (mut sdk, _stderr) = SdkClient::http(
        &url,
        &[
            ("KEYFOB_TEST_BEARER", std::ffi::OsStr::new(&tokens[0])),
            ("KEYFOB_TEST_ELICIT_URL", std::ffi::OsStr::new("1")),
        ],
    )
    .unwrap();
    sdk.ready().await.unwrap();
    let call = sdk
        .start_call("notion_key", serde_json::json!({}))
        .await
        .unwrap();
    let asked = sdk.next_message(Duration::from_secs(60)).await.unwrap();
    let link_one = asked["elicit"]["url"].as_str().unwrap().to_owned();
    assert!(link_one.contains("/auth/notion/start?state="), "{asked}");
    // User 2 opening user 1's link signs in as user 2 and is refused; the link stays user 1's.
    let refused = connect_as(&Browser::new(), &link_one, "user-2")
        .await
        .unwrap_err();
    assert!(
        refused.contains("403") && refused.contains("made for another user"),
        "{refused}"
    );
    let browser = Browser::new();
    let page = connect_as(&browser, &link_one, "user-1").await.unwrap();
    assert_eq!(enter_token_with(&browser, &page, key_one).await.0, 200);
    assert!(
        sdk.next_message(Duration::from_secs(60)).await.unwrap()["elicit_complete"].is_string()
    );
    let answer = sdk.next_message(Duration::from_secs(60)).await.unwrap();
    assert_eq!(answer["id"], call);
    assert_eq!(answer["text"], format!("key {key_one}"), "{answer}");
    sdk.close().await.unwrap();

    // User 2's client declares no URL elicitation: the link comes in the result; user 1
    // cannot use it, user 2 can, and the call made again gets user 2's own key.
    let key_two = "ntn_key_of_user_two";
    let mut mcp = McpClient::connect(&url, &tokens[1]).await.unwrap();
    let asked = mcp
        .call_tool("notion_key", serde_json::json!({}))
        .await
        .unwrap();
    let link_two = asked
        .split("call the tool again: ")
        .nth(1)
        .unwrap_or_else(|| panic!("{asked}"))
        .to_owned();
    assert!(
        connect_as(&Browser::new(), &link_two, "user-1")
            .await
            .is_err()
    );
    let browser = Browser::new();
    let page = connect_as(&browser, &link_two, "user-2").await.unwrap();
    assert_eq!(enter_token_with(&browser, &page, key_two).await.0, 200);
    let answer = mcp
        .call_tool("notion_key", serde_json::json!({}))
        .await
        .unwrap();
    assert_eq!(answer, format!("key {key_two}"));
    // An MCP session belongs to the user who opened it: user 2 with user 1's session id is
    // answered as for an unknown session.
    let opened = http
        .post(&url)
        .bearer_auth(&tokens[0])
        .header("accept", "application/json, text/event-stream")
        .json(&init)
        .send()
        .await
        .unwrap();
    assert!(opened.status().is_success(), "{}", opened.status());
    let session = opened.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let list = serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    for (token, status) in [(&tokens[1], 404), (&tokens[0], 200)] {
        let resp = http
            .post(&url)
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", &session)
            .header("mcp-protocol-version", "2025-11-25")
            .json(&list)
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status().as_u16(),
            status,
            "{}",
            resp.text().await.unwrap()
        );
    }
    // And keeps it: user 1 still gets user 1's key.
    let mut first = McpClient::connect(&url, &tokens[0]).await.unwrap();
    assert_eq!(
        first
            .call_tool("notion_key", serde_json::json!({}))
            .await
            .unwrap(),
        "key ntn_key_of_user_one"
    );
    server.kill().await.unwrap();
}

/// A stdio MCP client keyfob did not write — the MCP Inspector's CLI (npm, pinned in the
/// testkit) — with `keyfob mcp proxy` as its server command calls a tool of the protected
/// server, on the login `login --mcp` stored.
#[tokio::test]
async fn mcp_inspector_cli_calls_a_tool_through_the_proxy() {
    let server = ExampleServer::start(true).await.unwrap();
    let home = Home::new("");
    let url = server.url();
    mcp_login(&home, &url).await;
    let out = inspector(
        &home,
        &["mcp", "proxy", &url, "--no-browser"],
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "greet",
            "--tool-arg",
            "name=inspector",
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("Hello, inspector!"),
        "{}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The official MCP conformance suite (npm `@modelcontextprotocol/conformance` 0.1.16, pinned)
/// with `keyfob mcp proxy` as the client: every scenario of the auth, back-compat and draft
/// client suites passes — discovery variants, CIMD, registration, pre-registration, scope
/// selection, step-up, the retry limit, the three token endpoint auth methods, the 2025-03-26
/// fallbacks, a mismatched resource refused, offline access.
#[tokio::test]
async fn mcp_conformance_client_suites_pass() {
    let script = keyfob_testkit::mcp::conformance_client_script();
    for (suite, scenarios) in [("auth", 14), ("backcompat", 2), ("draft", 3)] {
        let (verdicts, text) = keyfob_testkit::mcp::conformance_client_suite(
            suite,
            &script,
            &[("KEYFOB_BIN", std::ffi::OsStr::new(BIN))],
        )
        .await
        .unwrap();
        let failed: Vec<&str> = verdicts
            .iter()
            .filter(|(_, ok)| !ok)
            .map(|(n, _)| n.as_str())
            .collect();
        assert!(
            failed.is_empty() && verdicts.len() == scenarios,
            "suite {suite}: {} scenarios, failed: {failed:?}\n{text}",
            verdicts.len()
        );
        eprintln!("conformance suite {suite}: {scenarios}/{scenarios} scenarios passed");
    }
}
