//! Data for the stores' `kill -9` tests: a child process rewrites [`KEYS`] large sessions
//! between an old and a new version until it is killed, and the parent then checks that each
//! session is exactly one of the two ([`which_version`]), never a mix or a truncation.

use std::time::Duration;

use keyfob_core::store::Expect;
use keyfob_core::{ExposeSecret, Grant, SecretString, Session, SessionKey, SessionStore};

/// Sessions the crash writer rewrites in turn.
pub const KEYS: usize = 4;

/// A random number from the std hasher's per-process random keys (no RNG dependency), for the
/// moment of the kill.
pub fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.finish()
}

/// The key of session `i`.
pub fn key(i: usize) -> SessionKey {
    SessionKey::new("acme", format!("thread-{i}"), "default")
}

/// Version `which` (0 = old, 1 = new) of session `i`: large (several SQLite pages; more than one
/// network packet), of a different size per version, and every part tagged with the version.
pub fn session(i: usize, which: usize) -> Session {
    let tag = ["old", "new"][which];
    let size = [12 * 1024, 20 * 1024][which];
    let mut grant = Grant::bearer(SecretString::from(format!("{tag}-{i}-").repeat(size / 8)));
    grant.refresh_token = Some(SecretString::from(format!("{tag}-refresh-{i}")));
    grant.detail.insert(
        "payload".into(),
        format!("{tag}-detail-{i}-").repeat(size / 16).into(),
    );
    Session {
        key: key(i),
        handler: "acme-oauth2".into(),
        grant,
        created_at: 1,
        updated_at: which as i64,
        refresh_error: None,
        version: 0,
    }
}

/// Which version (0 old, 1 new) `got` is, after checking that it is exactly that version of
/// session `i` in every part; panics on a mix or a truncation.
pub fn which_version(i: usize, got: &Session) -> usize {
    let token = got.grant.access_token.expose_secret();
    let which = usize::from(!token.starts_with("old-"));
    let want = session(i, which);
    assert_eq!(
        token,
        want.grant.access_token.expose_secret(),
        "session {i}: access token is neither the old nor the new one (length {})",
        token.len()
    );
    assert_eq!(
        got.grant.refresh_token.as_ref().map(|t| t.expose_secret()),
        want.grant.refresh_token.as_ref().map(|t| t.expose_secret()),
        "session {i}: refresh token from another version"
    );
    assert_eq!(
        got.grant.detail, want.grant.detail,
        "session {i}: detail from another version"
    );
    assert_eq!(got.updated_at, want.updated_at, "session {i}");
    which
}

/// The child's half: rewrites every session, alternating versions, until it is killed; prints
/// `crash writer ready` once a first round is stored.
pub async fn rewrite_until_killed(store: &dyn SessionStore) {
    use std::io::Write;
    let versions: Vec<[Session; 2]> = (0..KEYS).map(|i| [session(i, 0), session(i, 1)]).collect();
    for n in 0usize.. {
        for (i, v) in versions.iter().enumerate() {
            store
                .put(&v[(n + i + 1) % 2], Expect::Any)
                .await
                .expect("write");
        }
        if n == 0 {
            println!("crash writer ready");
            std::io::stdout().flush().expect("stdout");
        }
    }
}

/// The parent's whole test: seeds the [`KEYS`] sessions through a store from `open`, then twenty
/// rounds of running this test binary's test `writer` (its exact name, a test that calls
/// [`rewrite_until_killed`] when it finds `env`) and `kill -9`ing it within `max_delay` of its
/// start, each followed by [`check_survivors`] on a store from `open`; then [`still_works`].
pub async fn kill_rounds<S, F, Fut>(
    writer: &str,
    env: (&str, &std::ffi::OsStr),
    max_delay: Duration,
    open: F,
) where
    S: SessionStore,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = S>,
{
    let store = open().await;
    for i in 0..KEYS {
        store
            .put(&session(i, 0), Expect::Absent)
            .await
            .expect("seed a session");
    }
    let rounds = 20;
    let mut seen = [0usize; 2];
    for round in 0..rounds {
        let mut cmd = crate::test_child(writer);
        cmd.env(env.0, env.1)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
        kill_when_ready(cmd.spawn().expect("the writer"), round, max_delay);
        check_survivors(&open().await, round, &mut seen).await;
    }
    eprintln!(
        "after {rounds} kills: {} old and {} new sessions found",
        seen[0], seen[1]
    );
    still_works(&store).await;
}

/// The parent's half of one round: waits until `writer` (stdout piped) is rewriting, then
/// `kill -9`s it at a random moment within `max_delay`.
pub fn kill_when_ready(mut writer: std::process::Child, round: usize, max_delay: Duration) {
    use std::io::BufRead;
    let stdout = writer.stdout.take().expect("the writer's stdout is piped");
    let ready = std::io::BufReader::new(stdout)
        .lines()
        .any(|l| l.is_ok_and(|l| l.contains("crash writer ready")));
    assert!(ready, "round {round}: the writer did not start");
    let micros = u64::try_from(max_delay.as_micros())
        .unwrap_or(u64::MAX)
        .max(1);
    std::thread::sleep(Duration::from_micros(random_u64() % micros));
    writer.kill().expect("SIGKILL");
    let status = writer.wait().expect("the writer ends");
    assert!(
        !status.success(),
        "round {round}: the writer was not killed"
    );
}

/// After a kill: every session is there and exactly its old or its new version; counts which in
/// `seen`.
pub async fn check_survivors(store: &dyn SessionStore, round: usize, seen: &mut [usize; 2]) {
    let all = store.list(None).await.expect("list after the kill");
    assert_eq!(all.len(), KEYS, "round {round}: a session was lost");
    for (i, s) in all.iter().enumerate() {
        assert_eq!(s.key, key(i));
        seen[which_version(i, s)] += 1;
    }
}

/// The store still works after the kills: a compare-and-swap write on top of whatever survived,
/// read back.
pub async fn still_works(store: &dyn SessionStore) {
    let current = store.get(&key(0)).await.expect("get").expect("session 0");
    let mut after = session(0, 0);
    after.grant.access_token = SecretString::from("after");
    let v = store
        .put(&after, Expect::Version(current.version))
        .await
        .expect("the store still works");
    let back = store.get(&key(0)).await.expect("get").expect("session 0");
    assert_eq!(
        (back.version, back.grant.access_token.expose_secret()),
        (v, "after")
    );
}
