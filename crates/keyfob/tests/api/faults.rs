//! Fault injection and load, against real parts: a stub token endpoint that answers 5xx, HTML,
//! truncated JSON, an empty body or nothing at all; clock skew around expiry and a refresh margin
//! longer than a token's life; and 1,000 concurrent flows (some over HTTP through the callback
//! server) and 10,000 concurrent cached calls, on the memory store and, smaller, on SQLite and a
//! real `redis-server`, where nobody may get another's credentials.
//!
//! The stores' own crash tests (`kill -9` of a writer, a full disk, a read-only data directory,
//! Redis stopped under an engine) live in `keyfob-store-sqlite` and `keyfob-store-redis`.
//! Timings are only ever bounded from above, with generous slack.

use std::sync::Arc;
use std::time::{Duration, Instant};

use keyfob::spec::{Handler, Provider, TokenSpec};
use keyfob::store::{Expect, MemoryStore};
use keyfob::{
    AuthRequest, CallbackParams, Config, Engine, Ensured, ErrorKind, ExposeSecret, Grant,
    SecretString, Session, SessionKey, SessionState,
};
use keyfob_testkit::{StubResponse, StubServer, state_of};
use serde_json::json;

/// A token-entry provider with no key check, so flows need no network at all.
static TOKEN: TokenSpec = TokenSpec {
    name: "faulttok-token",
    env_key: "FAULTTOK_TOKEN",
    ..TokenSpec::DEFAULTS
};
static FAULTTOK: Provider = Provider {
    id: "faulttok",
    display_name: "Fault Token",
    handlers: &[Handler::Token(&TOKEN)],
};
keyfob_core::register_provider!(FAULTTOK);

/// An engine whose config-defined OAuth2 provider `x` has its token endpoint on `stub`, with
/// the given `[session]` lines.
fn oauth_engine(stub: &StubServer, session: &str) -> Engine {
    let toml = format!(
        "[session]\n{session}\n\
         [providers.x]\nauthorize_url = \"{0}/authorize\"\ntoken_url = \"{0}/token\"\n\
         refresh = \"rotating\"\n\
         [auth.x]\nclient_id = \"kf-client\"\nclient_secret = \"kf-secret\"\n",
        stub.url()
    );
    keyfob::builder()
        .config(Config::from_toml(&toml).expect("test config"))
        .build()
        .expect("engine")
}

/// Stores a refreshable session for `x` expiring `expires_in` seconds from now and written
/// `age` seconds ago.
async fn seed(engine: &Engine, key: &SessionKey, expires_in: i64, age: i64) -> Session {
    let now = keyfob::now();
    let mut grant = Grant::bearer(SecretString::from("at-sentinel-old"));
    grant.refresh_token = Some(SecretString::from("rt-sentinel-old"));
    grant.expires_at = Some(now + expires_in);
    let mut s = Session {
        key: key.clone(),
        handler: "x-oauth2".into(),
        grant,
        created_at: now - age,
        updated_at: now - age,
        refresh_error: None,
        version: 0,
    };
    s.version = engine.store().put(&s, Expect::Any).await.unwrap();
    s
}

/// Asserts the stored session is exactly `before`: same version, same tokens, not marked.
async fn assert_unchanged(engine: &Engine, before: &Session, case: &str) {
    let now = engine
        .store()
        .get(&before.key)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{case}: the session was deleted"));
    assert_eq!(
        now.version, before.version,
        "{case}: the session was rewritten"
    );
    assert_eq!(
        now.grant.access_token.expose_secret(),
        before.grant.access_token.expose_secret(),
        "{case}"
    );
    assert_eq!(
        now.grant.refresh_token.as_ref().map(|t| t.expose_secret()),
        before
            .grant
            .refresh_token
            .as_ref()
            .map(|t| t.expose_secret()),
        "{case}: the refresh token was lost"
    );
    assert_eq!(
        now.refresh_error, None,
        "{case}: a transient fault marked the session"
    );
}

/// The faulty answers, the kind each must end in, and a fragment the message must hold. The
/// hang outlasts the configured 1 s `http_timeout_secs` thirtyfold.
fn faults() -> Vec<(&'static str, StubResponse, ErrorKind, &'static str)> {
    vec![
        (
            "503 with an HTML page",
            StubResponse::html(503, "<html><body>Service Unavailable</body></html>"),
            ErrorKind::Transport,
            "HTTP 503",
        ),
        (
            "500 with an RFC 6749 error",
            StubResponse::json(500, &json!({"error": "server_error"})),
            ErrorKind::Transport,
            "server_error",
        ),
        (
            "502 with an empty body",
            StubResponse::new(502, "", ""),
            ErrorKind::Transport,
            "HTTP 502",
        ),
        (
            "200 with an HTML login page",
            StubResponse::html(200, "<html><form>Sign in</form></html>"),
            ErrorKind::Protocol,
            "text/html",
        ),
        (
            "200 with truncated JSON",
            StubResponse::new(
                200,
                "application/json",
                r#"{"access_token": "at-sentinel-new", "token_type": "Bea"#,
            ),
            ErrorKind::Protocol,
            "neither JSON nor form data",
        ),
        (
            "200 with an empty body",
            StubResponse::new(200, "application/json", ""),
            ErrorKind::Protocol,
            "(0 bytes)",
        ),
        (
            "a hang",
            StubResponse::token("at-sentinel-late").with_delay(Duration::from_secs(30)),
            ErrorKind::Transport,
            "did not answer within 1 s",
        ),
    ]
}

/// Runs `check` on every fault of [`faults`] at once, each in its own task.
async fn for_each_fault<F, Fut>(check: F)
where
    F: Fn(&'static str, StubResponse, ErrorKind, &'static str) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let tasks: Vec<_> = faults()
        .into_iter()
        .map(|(case, answer, kind, fragment)| tokio::spawn(check(case, answer, kind, fragment)))
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

fn check_error(case: &str, e: &keyfob::Error, kind: ErrorKind, fragment: &str) {
    let shown = format!("{e} {e:?}");
    assert_eq!(e.kind(), kind, "{case}: {e}");
    assert!(shown.contains(fragment), "{case}: `{fragment}` not in {e}");
    assert!(
        !shown.contains("sentinel"),
        "{case}: a token in the error: {shown}"
    );
    assert!(
        !shown.contains("<html"),
        "{case}: the raw body in the error: {shown}"
    );
}

/// Every faulty answer to a refresh: with the access token expired, the caller gets one error
/// of the right kind; while it is still valid (due for refresh), the caller is served the old
/// token. Either way the stored session is untouched. A hang ends after the configured 1 s
/// timeout (bounded here by 10 s), not the stub's 30 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faulty_refresh_answers_end_in_clear_errors_and_change_nothing() {
    for_each_fault(|case, answer, kind, fragment| async move {
        let stub = StubServer::start(answer).await.unwrap();
        let engine = oauth_engine(&stub, "http_timeout_secs = 1");
        let expired = seed(
            &engine,
            &SessionKey::new("x", "expired", "default"),
            -1,
            3600,
        )
        .await;
        let started = Instant::now();
        let e = engine
            .credentials(&expired.key)
            .await
            .expect_err("an expired token whose refresh failed is no answer");
        let took = started.elapsed();
        check_error(case, &e, kind, fragment);
        assert!(took < Duration::from_secs(10), "{case}: took {took:?}");
        if case == "a hang" {
            // A timer cannot fire early: it waited for the timeout, not a quick failure.
            assert!(took >= Duration::from_millis(900), "{case}: took {took:?}");
            eprintln!("{case}: ended after {took:?} with http_timeout_secs = 1");
        }
        assert_unchanged(&engine, &expired, case).await;

        let due = seed(&engine, &SessionKey::new("x", "due", "default"), 10, 3600).await;
        let creds = engine
            .credentials(&due.key)
            .await
            .unwrap_or_else(|e| panic!("{case}: a still-valid token is served: {e}"));
        assert_eq!(creds.access_token(), "at-sentinel-old", "{case}");
        assert_unchanged(&engine, &due, case).await;
        assert_eq!(stub.requests().len(), 2, "{case}: one request per refresh");
    })
    .await;
}

/// Every faulty answer to a code exchange: the callback gets one error of the right kind, the
/// waiter gets the same kind, and the session the user had stays as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faulty_code_exchange_answers_fail_the_flow_and_keep_the_old_session() {
    for_each_fault(|case, answer, kind, fragment| async move {
        let stub = StubServer::start(answer).await.unwrap();
        let engine = oauth_engine(&stub, "http_timeout_secs = 1");
        let req = AuthRequest::new("x").thread("exchange");
        let before = seed(&engine, &req.key(), 3600, 0).await;
        let prompt = engine.login(&req).await.unwrap();
        let link = keyfob_testkit::open_prompt(&engine, &prompt).await;
        let started = Instant::now();
        let e = engine
            .complete_oauth2(
                "x",
                CallbackParams {
                    state: Some(link.state.clone()),
                    code: Some("code-sentinel".into()),
                    ..CallbackParams::default()
                },
                &link.cookies,
            )
            .await
            .expect_err("the exchange failed");
        assert!(started.elapsed() < Duration::from_secs(10), "{case}");
        check_error(case, &e, kind, fragment);
        let waited = engine
            .wait(&prompt, Duration::from_secs(5))
            .await
            .expect_err("the waiter hears of the failure");
        assert_eq!(waited.kind(), kind, "{case}: {waited}");
        assert_unchanged(&engine, &before, case).await;
        // The state was used: the link is dead, and the old session still serves.
        assert!(
            engine
                .store()
                .pending_for(&req.key())
                .await
                .unwrap()
                .is_none()
        );
        match engine.ensure(&req).await.unwrap() {
            Ensured::Ready(c) => assert_eq!(c.access_token(), "at-sentinel-old"),
            other => panic!("{case}: {other:?}"),
        }
    })
    .await;
}

/// `Session::state` and `effective_margin` around expiry, as ARCHITECTURE.md states them: due
/// within the margin, capped at half the token's life counted from the last write, so a
/// margin longer than the life never means "refresh on every call"; a writer whose clock ran
/// ahead (last write in our future) changes nothing of that.
#[test]
fn session_state_around_expiry_and_a_margin_longer_than_the_life() {
    let now = keyfob::now();
    let session = |expires_at: i64, updated_at: i64| Session {
        key: SessionKey::default_for("x"),
        handler: "x-oauth2".into(),
        grant: Grant {
            expires_at: Some(expires_at),
            ..Grant::bearer(SecretString::from("t"))
        },
        created_at: updated_at,
        updated_at,
        refresh_error: None,
        version: 1,
    };
    let none = Default::default();
    // An hour-long token written an hour ago: just past and just ahead of expiry are both due.
    let old = session(now + 1, now - 3599);
    assert_eq!(old.effective_margin(300), 300);
    assert_eq!(old.state(&none, now, 300), SessionState::NeedsRefresh);
    assert_eq!(old.state(&none, now + 2, 300), SessionState::NeedsRefresh);
    assert!(!old.is_expired(now) && old.is_expired(now + 1));
    // Valid until exactly the margin before expiry.
    let fresh = session(now + 3600, now);
    assert_eq!(fresh.state(&none, now + 3299, 300), SessionState::Valid);
    assert_eq!(
        fresh.state(&none, now + 3300, 300),
        SessionState::NeedsRefresh
    );
    // A margin of two hours on a one-hour token: capped at half the life (1,800 s).
    assert_eq!(fresh.effective_margin(7200), 1800);
    assert_eq!(fresh.state(&none, now, 7200), SessionState::Valid);
    assert_eq!(fresh.state(&none, now + 1799, 7200), SessionState::Valid);
    assert_eq!(
        fresh.state(&none, now + 1800, 7200),
        SessionState::NeedsRefresh
    );
    // A 2-second token: due after 1 s, not at once.
    let short = session(now + 2, now);
    assert_eq!(short.effective_margin(300), 1);
    assert_eq!(short.state(&none, now, 300), SessionState::Valid);
    assert_eq!(short.state(&none, now + 1, 300), SessionState::NeedsRefresh);
    // Written by a host whose clock is 10 minutes ahead: the life counts from that write.
    let ahead = session(now + 600 + 3600, now + 600);
    assert_eq!(ahead.state(&none, now, 300), SessionState::Valid);
    // Expired by our clock although "written" later: no negative margin, simply due.
    let skewed = session(now - 1, now + 600);
    assert_eq!(skewed.effective_margin(300), 0);
    assert_eq!(skewed.state(&none, now, 300), SessionState::NeedsRefresh);
    // A refresh that failed for good makes the session need a login, expired or not (the
    // provider revoked the access token with the grant, most likely).
    let marked = Session {
        refresh_error: Some("rejected".into()),
        ..session(now - 1, now - 3600)
    };
    assert_eq!(marked.state(&none, now, 300), SessionState::NeedsAuth);
    let marked_valid = Session {
        refresh_error: Some("rejected".into()),
        ..session(now + 3600, now)
    };
    assert_eq!(marked_valid.state(&none, now, 300), SessionState::NeedsAuth);
}

/// The engine around expiry: a token expired a second ago or expiring in a second is refreshed
/// before it is handed out (never served expired); a two-hour margin on a one-hour token does
/// not refresh on every call; and a login link just past its expiry is refused while one just
/// ahead of it completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_around_expiry() {
    let stub = StubServer::start(StubResponse::json(
        200,
        &json!({"access_token": "at-new", "refresh_token": "rt-new", "expires_in": 3600}),
    ))
    .await
    .unwrap();
    let engine = oauth_engine(&stub, "refresh_margin_secs = 7200");
    for (thread, expires_in) in [("past", -1), ("ahead", 1)] {
        let s = seed(
            &engine,
            &SessionKey::new("x", thread, "default"),
            expires_in,
            3600,
        )
        .await;
        let creds = engine.credentials(&s.key).await.unwrap();
        assert_eq!(creds.access_token(), "at-new", "{thread}");
    }
    assert_eq!(stub.requests().len(), 2);
    // Just refreshed, one-hour token, two-hour margin: cached from now on.
    for _ in 0..100 {
        let Ensured::Ready(c) = engine
            .ensure(&AuthRequest::new("x").thread("past"))
            .await
            .unwrap()
        else {
            panic!("a valid session")
        };
        assert_eq!(c.access_token(), "at-new");
    }
    assert_eq!(stub.requests().len(), 2, "no refresh on every call");

    // Login links: one made to expire a second ago, one that expires in two seconds.
    let engine = keyfob::builder().build().unwrap();
    for (thread, expires_in, ok) in [("expired", -1, false), ("valid", 2, true)] {
        let req = AuthRequest::new("faulttok").thread(thread);
        let prompt = engine.login(&req).await.unwrap();
        let link = keyfob_testkit::open_prompt(&engine, &prompt).await;
        let mut flow = engine
            .store()
            .pending_for(&req.key())
            .await
            .unwrap()
            .unwrap();
        flow.expires_at = keyfob::now() + expires_in;
        engine.store().put_pending(&flow).await.unwrap();
        let done = engine
            .complete_token(
                "faulttok",
                Some(&link.state),
                vec![("token".into(), SecretString::from("tok"))],
                &link.cookies,
            )
            .await;
        match (ok, done) {
            (true, Ok(_)) => {}
            (false, Err(e)) => assert_eq!(e.kind(), ErrorKind::Expired, "{e}"),
            (_, other) => panic!("{thread}: {other:?}"),
        }
        assert_eq!(
            engine.store().get(&req.key()).await.unwrap().is_some(),
            ok,
            "{thread}"
        );
    }
}

// --- Load ---

/// The request of caller `i`: its own thread and profile.
fn load_req(i: usize) -> AuthRequest {
    AuthRequest::new("faulttok")
        .thread(format!("thread-{}", i % 37))
        .profile(format!("p{i}"))
}

fn load_token(i: usize) -> String {
    format!("tok-{i}-{}", "k".repeat(i % 13))
}

/// Checks `creds` are caller `i`'s and nobody else's: the token and its profile-prefixed copy.
fn assert_own(i: usize, creds: &keyfob::Credentials) {
    assert_eq!(
        creds.access_token(),
        load_token(i),
        "caller {i} got another's token"
    );
    let prefixed = format!("P{i}_FAULTTOK_TOKEN");
    assert_eq!(
        creds.get(&prefixed).map(|t| t.expose_secret().to_owned()),
        Some(load_token(i)),
        "caller {i}: {creds:?}"
    );
}

/// `flows` concurrent token-page flows on one engine, one per caller; every `http_every`-th is
/// completed over HTTP through the callback server, the rest through the engine. Each caller
/// waits for its own flow and must get exactly its own credentials.
async fn concurrent_flows(engine: Engine, flows: usize, http_every: usize) -> Duration {
    let server = keyfob_callback::start(engine.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let origin = format!("http://{}", server.local_addr());
    let started = Instant::now();
    let barrier = Arc::new(tokio::sync::Barrier::new(flows));
    let tasks: Vec<_> = (0..flows)
        .map(|i| {
            let (engine, origin, barrier) = (engine.clone(), origin.clone(), barrier.clone());
            tokio::spawn(async move {
                let req = load_req(i);
                let Ensured::Prompt(prompt) = engine.ensure(&req).await.unwrap() else {
                    panic!("caller {i}: no session yet, so a prompt")
                };
                barrier.wait().await;
                if i % http_every == 0 {
                    // Each user's own browser: the link, then the form, with its cookie.
                    let browser = keyfob_testkit::Browser::new();
                    let page = browser.open_link(&prompt.url).await.unwrap();
                    assert!(page.starts_with(&origin), "caller {i}: {page}");
                    let state = state_of(&prompt.url);
                    let (status, _) = browser
                        .post_form(
                            &format!("{origin}/auth/faulttok/token"),
                            &[("state", state.as_str()), ("token", &load_token(i))],
                        )
                        .await
                        .unwrap();
                    assert_eq!(status, 200, "caller {i}");
                } else {
                    let link = keyfob_testkit::open_prompt(&engine, &prompt).await;
                    engine
                        .complete_token(
                            "faulttok",
                            Some(&link.state),
                            vec![("token".into(), SecretString::from(load_token(i)))],
                            &link.cookies,
                        )
                        .await
                        .unwrap();
                }
                let creds = engine.wait(&prompt, Duration::from_secs(60)).await.unwrap();
                assert_own(i, &creds);
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let took = started.elapsed();
    server.shutdown().await;
    // Nothing lost, nothing left behind: every session stored once, every flow record gone.
    let all = engine.store().list(None).await.unwrap();
    assert_eq!(all.len(), flows, "sessions lost or duplicated");
    for i in 0..flows {
        let key = load_req(i).key();
        assert!(
            engine.store().pending_for(&key).await.unwrap().is_none(),
            "flow {i} kept"
        );
    }
    took
}

/// `calls` concurrent cached `ensure` calls spread over `sessions` sessions (stored by
/// [`concurrent_flows`]); every caller gets exactly its own session's credentials and nothing
/// is refreshed.
async fn concurrent_cached_calls(engine: &Engine, sessions: usize, calls: usize) -> Duration {
    let started = Instant::now();
    let barrier = Arc::new(tokio::sync::Barrier::new(calls));
    let tasks: Vec<_> = (0..calls)
        .map(|n| {
            let (engine, barrier) = (engine.clone(), barrier.clone());
            tokio::spawn(async move {
                // Neighbours in spawn order ask for different sessions.
                let i = (n * 7919) % sessions;
                barrier.wait().await;
                match engine.ensure(&load_req(i)).await.unwrap() {
                    Ensured::Ready(creds) => assert_own(i, &creds),
                    other => panic!("caller {n} (session {i}): {other:?}"),
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(engine.stats().inline_refreshes, 0);
    started.elapsed()
}

/// 1,000 concurrent flows (100 of them over HTTP), then 10,000 concurrent cached calls, on the
/// memory store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_flows_and_ten_thousand_cached_calls_never_mix_sessions() {
    let engine = keyfob::builder()
        .store(Arc::new(MemoryStore::new()))
        .build()
        .unwrap();
    let flows = concurrent_flows(engine.clone(), 1000, 10).await;
    let calls = concurrent_cached_calls(&engine, 1000, 10_000).await;
    eprintln!(
        "memory store: 1,000 concurrent flows in {flows:?}, 10,000 cached calls in {calls:?}"
    );
}

/// The same on a SQLite file, smaller: 100 flows (10 over HTTP) and 1,000 cached calls.
#[cfg(feature = "store-sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_flows_and_cached_calls_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = keyfob::store_sqlite::SqliteStore::open(
        &dir.path().join("sessions.db"),
        keyfob::crypto::Sealer::new(&[7; 32]),
    )
    .unwrap();
    let engine = keyfob::builder().store(Arc::new(store)).build().unwrap();
    let flows = concurrent_flows(engine.clone(), 100, 10).await;
    let calls = concurrent_cached_calls(&engine, 100, 1000).await;
    eprintln!("sqlite store: 100 concurrent flows in {flows:?}, 1,000 cached calls in {calls:?}");
}

/// Tests that need a real `redis-server` (they fail without one); `cargo xtask test --skip-redis`
/// leaves out every test whose name contains `redis_server::`.
#[cfg(feature = "store-redis")]
mod redis_server {
    use super::*;

    /// The same on a real `redis-server`, smaller: 100 flows (10 over HTTP) and 1,000 cached
    /// calls.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_flows_and_cached_calls_on_redis() {
        let server = keyfob_testkit::RedisServer::start(&[]);
        let store = keyfob::store_redis::RedisStore::connect(
            &server.url(None),
            "kf-load",
            keyfob::crypto::Sealer::new(&[7; 32]),
        )
        .await
        .unwrap();
        let engine = keyfob::builder().store(Arc::new(store)).build().unwrap();
        let flows = concurrent_flows(engine.clone(), 100, 10).await;
        let calls = concurrent_cached_calls(&engine, 100, 1000).await;
        eprintln!(
            "redis store: 100 concurrent flows in {flows:?}, 1,000 cached calls in {calls:?}"
        );
    }
}
