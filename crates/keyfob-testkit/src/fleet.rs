//! Several processes on one shared store, for the stores' "one refresh for everyone" tests: a
//! test binary re-runs itself as caller processes (a `#[test]` that does nothing unless
//! [`CALLERS`] is set), each with its own engine on the store and many concurrent callers of
//! one near-expiry session; the parent starts them together and counts what they got.
//!
//! The provider is `x`, defined in the configuration, whose token endpoint is a
//! [`StubServer`](crate::StubServer) of the parent's that rotates the refresh token: one
//! request in all is the pass mark.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::Duration;

use keyfob_core::store::Expect;
use keyfob_core::{
    AuthRequest, Config, Engine, Ensured, Grant, SecretString, Session, SessionKey, SessionStore,
};

/// The variable that makes a test binary's caller test run: `<stub url> <callers>`.
pub const CALLERS: &str = "KEYFOB_TEST_FLEET_CALLERS";

/// An engine on `store` whose provider `x` refreshes (rotating) at `stub_url`.
///
/// # Panics
/// When the configuration does not parse (not expected).
pub fn engine(store: Arc<dyn SessionStore>, stub_url: &str) -> Engine {
    let toml = format!(
        r#"
        [session]
        http_timeout_secs = 1
        [providers.x]
        display_name = "X"
        authorize_url = "{stub_url}/authorize"
        token_url = "{stub_url}/token"
        refresh = "rotating"
        [auth.x]
        client_id = "kf-client"
        client_secret = "kf-secret"
        "#
    );
    Engine::builder()
        .config(Config::from_toml(&toml).expect("config"))
        .store(store)
        .build()
        .expect("engine")
}

/// The token endpoint's answer to a refresh: `access`, and `refresh` as the rotated refresh
/// token, valid an hour.
pub fn rotated(access: &str, refresh: &str) -> crate::StubResponse {
    crate::StubResponse::json(
        200,
        &serde_json::json!({
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "Bearer",
            "expires_in": 3600,
        }),
    )
}

/// Stores a session for `x` that is due for refresh: written an hour ago, expiring in 10 s,
/// with the refresh token `old-refresh`.
///
/// # Panics
/// When the store fails.
pub async fn seed_near_expiry(store: &dyn SessionStore) -> Session {
    seed(store, 10, 3600).await
}

/// Stores a refreshable session for `x` (access token `old-access`, refresh token
/// `old-refresh`) written `age` seconds ago, expiring in `expires_in`.
///
/// # Panics
/// When the store fails.
pub async fn seed(store: &dyn SessionStore, expires_in: i64, age: i64) -> Session {
    let now = keyfob_core::now();
    let mut grant = Grant::bearer(SecretString::from("old-access"));
    grant.refresh_token = Some(SecretString::from("old-refresh"));
    grant.expires_at = Some(now + expires_in);
    let mut s = Session {
        key: SessionKey::default_for("x"),
        handler: "x-oauth2".into(),
        grant,
        created_at: now - age,
        updated_at: now - age,
        refresh_error: None,
        version: 0,
    };
    s.version = store.put(&s, Expect::Absent).await.expect("seed");
    s
}

/// The child's half: reads [`CALLERS`], builds an engine on `store`, says it is ready, waits for
/// `go` on stdin, then runs that many concurrent `ensure` calls of `x` and prints
/// `fleet callers done <how many got access token new-access>`.
///
/// # Panics
/// When [`CALLERS`] is malformed or stdin closes early.
pub async fn run_callers(store: Arc<dyn SessionStore>) {
    let spec = std::env::var(CALLERS).expect("the caller spec");
    let (stub_url, n) = spec.split_once(' ').expect("<stub url> <callers>");
    let n: usize = n.parse().expect("a number of callers");
    let engine = engine(store, stub_url);
    println!("fleet caller ready");
    std::io::stdout().flush().expect("stdout");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).expect("go");
    let callers: Vec<_> = (0..n)
        .map(|_| {
            let engine = engine.clone();
            tokio::spawn(async move { engine.ensure(&AuthRequest::new("x")).await })
        })
        .collect();
    let mut fresh = 0;
    for c in callers {
        if let Ok(Ok(Ensured::Ready(creds))) = c.await {
            if creds.access_token() == "new-access" {
                fresh += 1;
            }
        }
    }
    println!("fleet callers done {fresh}");
    std::io::stdout().flush().expect("stdout");
}

/// The parent's half: starts `processes` copies of the running test binary's `test` (a test
/// calling [`run_callers`]) with `env` (the store's location) and `total` callers split among
/// them, starts them together once all are ready, and returns how many callers in all got the
/// new token.
///
/// # Panics
/// When a child does not start, report, or succeed within a minute.
pub fn run_fleet(
    test: &str,
    env: &[(&str, String)],
    stub_url: &str,
    processes: usize,
    total: usize,
) -> usize {
    let mut children: Vec<(Child, BufReader<std::process::ChildStdout>)> = (0..processes)
        .map(|i| {
            let n = total / processes + usize::from(i < total % processes);
            let mut cmd = crate::test_child(test);
            cmd.env(CALLERS, format!("{stub_url} {n}"))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit());
            for (k, v) in env {
                cmd.env(k, v);
            }
            let mut child = cmd.spawn().expect("a caller process");
            let out = BufReader::new(child.stdout.take().expect("piped"));
            (child, out)
        })
        .collect();
    for (_, out) in &mut children {
        assert!(
            // libtest may print the test's name on the same line first.
            out.lines()
                .any(|l| l.is_ok_and(|l| l.ends_with("fleet caller ready"))),
            "a caller process did not get ready"
        );
    }
    for (child, _) in &mut children {
        let stdin = child.stdin.as_mut().expect("piped");
        stdin.write_all(b"go\n").expect("go");
        stdin.flush().expect("go");
    }
    let mut fresh = 0;
    for (mut child, out) in children {
        let mut lines = out.lines().map_while(Result::ok);
        let done = lines
            .find_map(|l| l.split("fleet callers done ").nth(1).map(str::to_owned))
            .expect("a caller process reports");
        // Read to the end, so libtest's last lines reach an open pipe.
        lines.for_each(drop);
        fresh += done.parse::<usize>().expect("a count");
        let status = wait_timeout(&mut child, Duration::from_secs(60));
        assert!(status, "a caller process did not exit cleanly");
    }
    fresh
}

/// Whether `child` exits successfully within `max` (it is killed otherwise).
fn wait_timeout(child: &mut Child, max: Duration) -> bool {
    let deadline = std::time::Instant::now() + max;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status.success();
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The parent's whole test: seeds a near-expiry session of `x` in `store`, runs 1,000 callers
/// of it split over three processes of `test` (with `env`, where they find the store), started
/// together, against a token endpoint that answers after 300 ms; every caller must get the new
/// token, and the endpoint must see exactly one refresh.
///
/// # Panics
/// When either fails.
pub async fn thousand_callers_cause_one_refresh(
    store: &dyn SessionStore,
    test: &'static str,
    env: (&'static str, String),
) {
    let stub = crate::StubServer::start(
        rotated("new-access", "new-refresh").with_delay(Duration::from_millis(300)),
    )
    .await
    .expect("the token endpoint");
    seed_near_expiry(store).await;
    let stub_url = stub.url().to_owned();
    let fresh =
        tokio::task::spawn_blocking(move || run_fleet(test, &[(env.0, env.1)], &stub_url, 3, 1000))
            .await
            .expect("the fleet");
    assert_eq!(fresh, 1000, "every caller got the new token");
    assert_eq!(stub.requests().len(), 1, "exactly one refresh request");
}

/// The first half of the stores' outage tests, with the store's server just killed under
/// `engine` (see [`engine`], its session of `x` stored): `ensure`, `credentials` and a new login
/// each fail with one store error, the first naming `addr`, all within 30 s (no hang, no prompt
/// built on nothing).
///
/// # Panics
/// When one of them does otherwise.
pub async fn fails_clearly_while_down(engine: &Engine, addr: &str) {
    let req = AuthRequest::new("x");
    let started = std::time::Instant::now();
    let e = engine.ensure(&req).await.expect_err("the store is down");
    eprintln!(
        "ensure with the store down failed after {:?}: {e}",
        started.elapsed()
    );
    assert_eq!(e.kind(), keyfob_core::ErrorKind::Store, "{e}");
    assert!(e.to_string().contains(addr), "names the server: {e}");
    let e = engine.credentials(&req.key()).await.expect_err("down");
    assert_eq!(e.kind(), keyfob_core::ErrorKind::Store, "{e}");
    let e = engine.login(&req).await.expect_err("the store is down");
    assert_eq!(e.kind(), keyfob_core::ErrorKind::Store, "{e}");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(30), "{took:?}");
}

/// The second half, with the server started again: within `patience` (store errors meanwhile)
/// the same engine serves the same session (`old-access`, no refresh needed), and once the
/// session is made due it is refreshed through `stub` with one request.
///
/// # Panics
/// When it does not recover in time, or serves or sends anything else.
pub async fn recovers_after_restart(engine: &Engine, stub: &crate::StubServer, patience: Duration) {
    let req = AuthRequest::new("x");
    let deadline = std::time::Instant::now() + patience;
    let creds = loop {
        match engine.ensure(&req).await {
            Ok(Ensured::Ready(c)) => break c,
            Ok(other) => panic!("the session survived, so no prompt: {other:?}"),
            Err(e) if std::time::Instant::now() < deadline => {
                assert_eq!(e.kind(), keyfob_core::ErrorKind::Store, "{e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("no recovery {patience:?} after the restart: {e}"),
        }
    };
    assert_eq!(creds.access_token(), "old-access");
    assert!(stub.requests().is_empty(), "no refresh was needed");
    let key = req.key();
    let mut due = engine.store().get(&key).await.unwrap().unwrap();
    due.grant.expires_at = Some(keyfob_core::now() + 5);
    due.updated_at = keyfob_core::now() - 3600;
    engine
        .store()
        .put(&due, Expect::Version(due.version))
        .await
        .unwrap();
    assert_eq!(
        engine.credentials(&key).await.unwrap().access_token(),
        "new-access"
    );
    assert_eq!(stub.requests().len(), 1);
}
