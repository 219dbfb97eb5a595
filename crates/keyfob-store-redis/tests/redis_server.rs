//! Every test of the Redis store against a real `redis-server` (one per test on a free loopback
//! port): the conformance suite, what Redis holds (no plaintext secret, one slot per session,
//! TTLs), two stores as two instances on one server (races, leases, change notifications), two
//! engines sharing one Redis (one refresh for a hundred callers, a flow completed on the other
//! instance, a lock holder that dies), and Redis dying and coming back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use keyfob_core::crypto::Sealer;
use keyfob_core::store::{Expect, FlowStatus, PendingFlow};
use keyfob_core::{
    AuthRequest, CallbackParams, Engine, Ensured, ErrorKind, ExposeSecret, Grant, SecretString,
    Session, SessionKey, SessionStore,
};
use keyfob_store_redis::RedisStore;
use keyfob_store_redis::{Options, Tls};
use keyfob_testkit::TlsFiles;
use keyfob_testkit::fleet::rotated;
use keyfob_testkit::{RedisServer, StubServer, crash, fleet, free_port, store_suite};

mod cluster;

/// Store helpers on the shared test server.
#[allow(async_fn_in_trait)] // test-only helpers, never used through dyn or across threads
trait ServerExt {
    async fn store(&self, password: Option<&str>, prefix: &str) -> RedisStore;
    async fn raw(&self, password: Option<&str>) -> redis::aio::MultiplexedConnection;
}

impl ServerExt for RedisServer {
    async fn store(&self, password: Option<&str>, prefix: &str) -> RedisStore {
        RedisStore::connect(&self.url(password), prefix, sealer(1))
            .await
            .unwrap_or_else(|e| panic!("connect to {}: {e:?}", self.addr()))
    }

    /// A plain client for looking at what the store wrote.
    async fn raw(&self, password: Option<&str>) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url(password))
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }
}

fn sealer(n: u8) -> Sealer {
    Sealer::new(&[n; 32])
}

keyfob_testkit::store_conformance!(async {
    let server = RedisServer::start(&[]);
    let store: Arc<dyn SessionStore> = Arc::new(server.store(None, "kf-suite").await);
    (store, server)
});

const SENTINELS: [&str; 7] = [
    "sentinel-access-7f3a",
    "sentinel-refresh-7f3a",
    "sentinel-extra-7f3a",
    "sentinel-detail-7f3a",
    "sentinel-verifier-7f3a",
    "sentinel-prompt-7f3a",
    "sentinel-redirect-7f3a",
];

fn session(key: SessionKey, token: &str) -> Session {
    Session {
        key,
        handler: "acme-oauth2".into(),
        grant: Grant::bearer(SecretString::from(token)),
        created_at: 1,
        updated_at: 2,
        refresh_error: None,
        version: 0,
    }
}

fn flow(key: SessionKey, state_hash: &str, expires_in: i64) -> PendingFlow {
    let now = keyfob_core::now();
    PendingFlow {
        id: format!("flow-{}", &state_hash[..8]),
        state_hash: state_hash.into(),
        key,
        handler: "acme-oauth2".into(),
        scopes: Default::default(),
        redirect_uri: "http://127.0.0.1:1/callback".into(),
        verifier: Some(SecretString::from("verifier")),
        prompt_url: SecretString::from("https://id.acme.test/authorize?state=s"),
        created_at: now,
        expires_at: now + expires_in,
        status: FlowStatus::Waiting,
        user_code: None,
        next_url: Some(SecretString::from("https://id.acme.test/authorize?state=s")),
        browser: None,
    }
}

fn hash(n: u64) -> String {
    format!("{n:064x}")
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Every key on the server with every byte Redis holds for it: the name, the value read with the
/// command of its type, and its `DUMP`.
async fn everything(conn: &mut redis::aio::MultiplexedConnection) -> Vec<(String, Vec<Vec<u8>>)> {
    let names: Vec<String> = redis::cmd("KEYS").arg("*").query_async(conn).await.unwrap();
    let mut out = Vec::new();
    for name in names {
        let kind: String = redis::cmd("TYPE")
            .arg(&name)
            .query_async(conn)
            .await
            .unwrap();
        let mut values: Vec<Vec<u8>> = match kind.as_str() {
            "string" => vec![
                redis::cmd("GET")
                    .arg(&name)
                    .query_async::<Vec<u8>>(conn)
                    .await
                    .unwrap(),
            ],
            "hash" => redis::cmd("HGETALL")
                .arg(&name)
                .query_async::<Vec<Vec<u8>>>(conn)
                .await
                .unwrap(),
            "zset" => redis::cmd("ZRANGE")
                .arg(&name)
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES")
                .query_async::<Vec<Vec<u8>>>(conn)
                .await
                .unwrap(),
            other => panic!("the store wrote a {other} ({name}), which this test cannot read"),
        };
        values.push(
            redis::cmd("DUMP")
                .arg(&name)
                .query_async::<Vec<u8>>(conn)
                .await
                .unwrap(),
        );
        out.push((name, values));
    }
    out
}

fn sentinels_in(keys: &[(String, Vec<Vec<u8>>)]) -> Vec<String> {
    let mut found = Vec::new();
    for (name, values) in keys {
        for s in SENTINELS {
            if name.contains(s) || values.iter().any(|v| contains(v, s)) {
                found.push(format!("{s} in {name}"));
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_redis_in_plaintext() {
    // No compression, so that `DUMP` shows values as they are.
    let server = RedisServer::start(&["--rdbcompression", "no"]);
    let store = server.store(None, "kf").await;
    let key = SessionKey::new("acme", "thread-1", "work");
    let mut s = session(key.clone(), SENTINELS[0]);
    s.grant.refresh_token = Some(SecretString::from(SENTINELS[1]));
    s.grant
        .extra_secrets
        .push(("ACME_SECRET".into(), SecretString::from(SENTINELS[2])));
    s.grant
        .detail
        .insert("instance".into(), SENTINELS[3].into());
    let v = store.put(&s, Expect::Absent).await.unwrap();
    store.put(&s, Expect::Version(v)).await.unwrap();
    let mut f = flow(key.clone(), &hash(1), 600);
    f.verifier = Some(SecretString::from(SENTINELS[4]));
    f.prompt_url = SecretString::from(format!("https://id.acme.test/a?state={}", SENTINELS[5]));
    store.put_pending(&f).await.unwrap();
    let mut done = flow(SessionKey::new("acme", "thread-2", "work"), &hash(2), 600);
    done.verifier = Some(SecretString::from(SENTINELS[4]));
    done.redirect_uri = format!("http://127.0.0.1:1/{}", SENTINELS[6]);
    store.put_pending(&done).await.unwrap();
    let now = keyfob_core::now();
    store.claim_pending(&hash(1), now).await.unwrap().unwrap();
    store
        .finish_pending(&hash(1), FlowStatus::Done)
        .await
        .unwrap();
    store.claim_pending(&hash(2), now).await.unwrap().unwrap();
    store
        .finish_pending(&hash(2), FlowStatus::Failed(ErrorKind::Denied, "no".into()))
        .await
        .unwrap();
    assert!(
        store
            .try_lock("refresh\0acme\0thread-1\0work", "o", 60_000)
            .await
            .unwrap()
    );
    store.publish(&key).await.unwrap();

    let mut raw = server.raw(None).await;
    let keys = everything(&mut raw).await;
    assert!(
        keys.len() >= 8,
        "the test must see what the store wrote: {keys:?}"
    );
    assert_eq!(
        sentinels_in(&keys),
        Vec::<String>::new(),
        "plaintext secrets in redis"
    );

    // The search itself works: a plaintext sentinel is found.
    let _: () = redis::cmd("SET")
        .arg("canary")
        .arg(SENTINELS[0])
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(sentinels_in(&everything(&mut raw).await).len(), 1);

    // The secrets are there, sealed: reading them back works.
    let got = store.get(&key).await.unwrap().unwrap();
    assert_eq!(got.grant.access_token.expose_secret(), SENTINELS[0]);
    let got = store.pending(&hash(2)).await.unwrap().unwrap();
    assert_eq!(got.verifier.unwrap().expose_secret(), SENTINELS[4]);
    assert_eq!(
        got.status,
        FlowStatus::Failed(ErrorKind::Denied, "no".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_moved_to_another_key_does_not_open() {
    let server = RedisServer::start(&[]);
    let store = server.store(None, "kf").await;
    let (a, b) = (
        SessionKey::new("acme", "t", "a"),
        SessionKey::new("acme", "t", "b"),
    );
    store
        .put(&session(a.clone(), "token-a"), Expect::Absent)
        .await
        .unwrap();
    store
        .put(&session(b.clone(), "token-b"), Expect::Absent)
        .await
        .unwrap();
    let mut raw = server.raw(None).await;
    let sealed: Vec<u8> = redis::cmd("HGET")
        .arg("kf:{acme/t/a}:session")
        .arg("d")
        .query_async(&mut raw)
        .await
        .unwrap();
    let _: () = redis::cmd("HSET")
        .arg("kf:{acme/t/b}:session")
        .arg("d")
        .arg(sealed)
        .query_async(&mut raw)
        .await
        .unwrap();
    let e = store
        .get(&b)
        .await
        .expect_err("a record sealed for another key must not open");
    assert_eq!(e.kind(), ErrorKind::Store);
    assert!(e.to_string().contains("cannot read session"), "{e}");
    assert!(store.get(&a).await.unwrap().is_some());

    // An expiry pushed back in the plaintext field breaks the flow's seal, and the failed claim
    // leaves the flow waiting.
    store
        .put_pending(&flow(a.clone(), &hash(7), 600))
        .await
        .unwrap();
    let _: () = redis::cmd("HINCRBY")
        .arg("kf:{acme/t/a}:flow")
        .arg("exp")
        .arg(86_400)
        .query_async(&mut raw)
        .await
        .unwrap();
    let e = store
        .claim_pending(&hash(7), keyfob_core::now())
        .await
        .expect_err("an edited expiry must not open");
    assert_eq!(e.kind(), ErrorKind::Store);
    let status: String = redis::cmd("HGET")
        .arg("kf:{acme/t/a}:flow")
        .arg("st")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(status, "waiting");
}

/// With write access to Redis but not the store key, another party can put back an old copy of
/// a session record (a logged-out session, a refresh token already spent) or copy a record under
/// another prefix. Neither is served: a record's version is sealed into it and compared with
/// the key's version counter, and the prefix is sealed in too.
/// MUTATION: dropping the `version < last` comparison in `open_session` fails the first two
/// cases (verified); leaving the prefix out of `session_aad` fails the last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_or_moved_record_is_not_served() {
    let server = RedisServer::start(&[]);
    let store = server.store(None, "kf").await;
    let key = SessionKey::new("acme", "t", "old");
    let name = "kf:{acme/t/old}:session";
    store
        .put(&session(key.clone(), "token-before-logout"), Expect::Absent)
        .await
        .unwrap();
    let mut raw = server.raw(None).await;
    let copy = |raw: &mut redis::aio::MultiplexedConnection| {
        let mut raw = raw.clone();
        async move {
            let v: (String, Vec<u8>) = redis::cmd("HMGET")
                .arg(name)
                .arg(&["v", "d"])
                .query_async(&mut raw)
                .await
                .unwrap();
            v
        }
    };
    let restore = |raw: &mut redis::aio::MultiplexedConnection, (v, d): (String, Vec<u8>)| {
        let mut raw = raw.clone();
        async move {
            let _: () = redis::cmd("HSET")
                .arg(name)
                .arg("v")
                .arg(v)
                .arg("d")
                .arg(d)
                .query_async(&mut raw)
                .await
                .unwrap();
        }
    };
    let old = copy(&mut raw).await;

    // Logged out, then the old copy put back: not revived.
    assert!(store.delete(&key).await.unwrap());
    restore(&mut raw, old.clone()).await;
    assert!(
        store.get(&key).await.unwrap().is_none(),
        "a logged-out session must not come back"
    );
    assert!(store.list(None).await.unwrap().is_empty());

    // Overwritten by a newer session (a rotated refresh token), then the old copy put back.
    store
        .put(&session(key.clone(), "token-after-rotation"), Expect::Any)
        .await
        .unwrap();
    let newer = copy(&mut raw).await;
    restore(&mut raw, old).await;
    assert!(store.get(&key).await.unwrap().is_none());
    // The current record is served again once it is back, and a new login replaces a stale one.
    restore(&mut raw, newer.clone()).await;
    let served = store.get(&key).await.unwrap().expect("the latest record");
    assert_eq!(
        served.grant.access_token.expose_secret(),
        "token-after-rotation"
    );

    // Copied under another prefix (another deployment sharing the server and the key).
    let other = server.store(None, "kf2").await;
    let _: () = redis::cmd("HSET")
        .arg("kf2:{acme/t/old}:session")
        .arg("v")
        .arg(&newer.0)
        .arg("d")
        .arg(&newer.1)
        .query_async(&mut raw)
        .await
        .unwrap();
    let moved = other.get(&key).await;
    assert!(
        !matches!(moved, Ok(Some(_))),
        "a record from another prefix must not be served: {moved:?}"
    );
}

/// The hash tag of a key name: what Redis Cluster hashes to choose the slot.
fn hash_tag(name: &str) -> Option<&str> {
    let open = name.find('{')?;
    let close = open + name[open..].find('}')?;
    Some(&name[open + 1..close])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layout_one_slot_per_session_and_ttls() {
    let server = RedisServer::start(&[]);
    let store = server.store(None, "app:kf").await;
    let key = SessionKey::new("acme", "thread/with:odd{chars}", "work");
    let mut expiring = session(key.clone(), "t");
    expiring.grant.expires_at = Some(keyfob_core::now() + 600);
    store.put(&expiring, Expect::Absent).await.unwrap();
    store
        .put_pending(&flow(key.clone(), &hash(1), 300))
        .await
        .unwrap();
    assert!(
        store
            .try_lock("refresh\0acme\0thread/with:odd{chars}\0work", "me", 5_000)
            .await
            .unwrap()
    );

    let mut raw = server.raw(None).await;
    let names: Vec<String> = redis::cmd("KEYS")
        .arg("app:kf:{*")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(
        names.len(),
        4,
        "session, version, flow and lease: {names:?}"
    );
    let tags: std::collections::BTreeSet<_> = names.iter().map(|n| hash_tag(n)).collect();
    assert_eq!(
        tags.len(),
        1,
        "one session's keys must share one hash tag: {names:?}"
    );
    assert_eq!(
        tags.into_iter().next().flatten(),
        Some("acme/thread%2Fwith%3Aodd%7Bchars%7D/work")
    );

    let pttl = |name: &str| {
        let mut raw = raw.clone();
        let name = name.to_owned();
        async move {
            redis::cmd("PTTL")
                .arg(name)
                .query_async::<i64>(&mut raw)
                .await
                .unwrap()
        }
    };
    let tag = "{acme/thread%2Fwith%3Aodd%7Bchars%7D/work}";
    let hour = 3_600_000;
    // Not refreshable: the session follows its token, plus an hour.
    let ttl = pttl(&format!("app:kf:{tag}:session")).await;
    assert!(
        (600_000 + hour - 5_000..=600_000 + hour).contains(&ttl),
        "{ttl}"
    );
    // A flow lives until its expiry plus an hour, so purge_expired can still count it.
    let ttl = pttl(&format!("app:kf:{tag}:flow")).await;
    assert!(
        (300_000 + hour - 5_000..=300_000 + hour).contains(&ttl),
        "{ttl}"
    );
    let ttl = pttl(&format!("app:kf:state:{}", hash(1))).await;
    assert!(
        (300_000 + hour - 5_000..=300_000 + hour).contains(&ttl),
        "{ttl}"
    );
    // Refreshable: no TTL.
    let mut refreshable = store.get(&key).await.unwrap().unwrap();
    refreshable.grant.refresh_token = Some(SecretString::from("r"));
    let v = store
        .put(&refreshable, Expect::Version(refreshable.version))
        .await
        .unwrap();
    assert_eq!(pttl(&format!("app:kf:{tag}:session")).await, -1);
    assert_eq!(pttl(&format!("app:kf:{tag}:version")).await, -1);
    // After a delete the version counter stays a month, and versions keep rising.
    assert!(store.delete(&key).await.unwrap());
    let ttl = pttl(&format!("app:kf:{tag}:version")).await;
    assert!(ttl > 29 * 24 * hour, "{ttl}");
    let again = store
        .put(&session(key.clone(), "again"), Expect::Absent)
        .await
        .unwrap();
    assert!(again > v, "{again} > {v}");
    // Even with the counter gone (its grace over), a new version is above the old ones.
    let _: () = redis::cmd("DEL")
        .arg(format!("app:kf:{tag}:version"))
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(store.delete(&key).await.unwrap());
    let fresh = store
        .put(&session(key.clone(), "fresh"), Expect::Absent)
        .await
        .unwrap();
    assert!(fresh > again, "{fresh} > {again}");
    for old in [v, again] {
        let stale = store
            .put(&session(key.clone(), "stale"), Expect::Version(old))
            .await;
        assert_eq!(stale.unwrap_err().kind(), ErrorKind::Conflict);
    }
}

fn pair(a: RedisStore, b: RedisStore) -> [Arc<dyn SessionStore>; 2] {
    [Arc::new(a), Arc::new(b)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_race_cas_puts_and_claims() {
    let server = RedisServer::start(&[]);
    let stores = pair(
        server.store(None, "kf").await,
        server.store(None, "kf").await,
    );
    store_suite::concurrent_cas_on(&stores).await;
    let other = pair(
        server.store(None, "kf2").await,
        server.store(None, "kf2").await,
    );
    store_suite::concurrent_claim_on(&other).await;
    store_suite::concurrent_increments(Arc::clone(&other[1])).await;
    // Prefixes are separate worlds.
    assert_eq!(stores[0].list(None).await.unwrap().len(), 1);
    assert_eq!(other[0].list(None).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_are_exclusive_expire_and_only_owners_release_them() {
    let server = RedisServer::start(&[]);
    let (a, b) = (
        server.store(None, "kf").await,
        server.store(None, "kf").await,
    );
    let name = "refresh\0acme\0default\0default";
    assert!(a.try_lock(name, "owner-a", 300).await.unwrap());
    assert!(
        !b.try_lock(name, "owner-b", 300).await.unwrap(),
        "held by a"
    );
    assert!(
        a.try_lock(name, "owner-a", 300).await.unwrap(),
        "its owner extends it"
    );
    b.unlock(name, "owner-b").await.unwrap();
    assert!(
        !b.try_lock(name, "owner-b", 300).await.unwrap(),
        "only the owner releases"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        b.try_lock(name, "owner-b", 300).await.unwrap(),
        "an expired lease is free"
    );
    a.unlock(name, "owner-a").await.unwrap();
    assert!(
        !a.try_lock(name, "owner-a", 300).await.unwrap(),
        "a's unlock was not b's"
    );
    b.unlock(name, "owner-b").await.unwrap();
    assert!(a.try_lock(name, "owner-a", 300).await.unwrap(), "released");
    // Other names are other leases.
    assert!(b.try_lock("another lease", "owner-b", 300).await.unwrap());
}

/// Waits on `waiter` for `key` (up to 10 s), publishes on `publisher` once it waits, and returns
/// how long the wake took after the publish.
async fn wake_latency(publisher: &RedisStore, waiter: &RedisStore, key: &SessionKey) -> Duration {
    let w = waiter.clone();
    let k = key.clone();
    let task = tokio::spawn(async move {
        w.wait_published(&k, Duration::from_secs(10)).await;
        Instant::now()
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let sent = Instant::now();
    publisher.publish(key).await.unwrap();
    let woke = task.await.unwrap();
    woke.saturating_duration_since(sent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_on_one_instance_wakes_the_other() {
    let server = RedisServer::start(&[]);
    let (a, b) = (
        server.store(None, "kf").await,
        server.store(None, "kf").await,
    );
    assert!(a.is_subscribed() && b.is_subscribed());
    let key = SessionKey::new("acme", "t", "p");
    let mut timings = Vec::new();
    for _ in 0..5 {
        timings.push(wake_latency(&a, &b, &key).await);
    }
    eprintln!("timing: publish -> wait_published on the other instance: {timings:?}");
    assert!(
        timings.iter().all(|t| *t < Duration::from_millis(100)),
        "{timings:?}"
    );
    // Another key's change, or another prefix's, does not wake the waiter.
    let other_prefix = server.store(None, "kf-other").await;
    let started = Instant::now();
    let waiting = b.wait_published(&key, Duration::from_millis(300));
    let publishing = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        a.publish(&SessionKey::new("acme", "t", "q")).await.unwrap();
        other_prefix.publish(&key).await.unwrap();
    };
    tokio::join!(waiting, publishing);
    assert!(
        started.elapsed() >= Duration::from_millis(290),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_errors_are_clear_and_never_show_the_password() {
    let password = "pw-sentinel-7f3a";
    let server = RedisServer::start(&["--requirepass", password]);
    let ok = RedisStore::connect(&server.url(Some(password)), "kf", sealer(1)).await;
    let store = ok.expect("the right password connects");
    assert_eq!(store.server(), server.addr());
    assert!(!format!("{store:?}").contains(password));

    let wrong = format!("redis://:wrong-{password}@127.0.0.1:{}", server.port);
    let none = server.url(None);
    let closed = format!("redis://:{password}@127.0.0.1:{}", free_port());
    for (url, want) in [
        (wrong.as_str(), "authentication failed"),
        (none.as_str(), "requires a password"),
        (closed.as_str(), "connection refused"),
    ] {
        let e = RedisStore::connect(url, "kf", sealer(1)).await.unwrap_err();
        let msg = e.to_string();
        eprintln!("message: {msg}");
        assert_eq!(e.kind(), ErrorKind::Store, "{msg}");
        assert!(msg.contains(want) && msg.contains("127.0.0.1:"), "{msg}");
        assert!(
            !msg.contains(password) && !format!("{e:?}").contains(password),
            "{e:?}"
        );
    }

    let e = RedisStore::connect(&server.url(Some(password)), "kf", sealer(2))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Store);
    assert!(
        e.to_string().contains("encryption key does not match"),
        "{e}"
    );
    let e = RedisStore::connect(&server.url(Some(password)), "kf{x}", sealer(1))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_and_restarted_fails_clearly_then_works_uncorrupted() {
    let password = "pw-sentinel-7f3a";
    // Persistent this time: every write reaches the append-only file before it is answered.
    let mut server = RedisServer::start(&[
        "--requirepass",
        password,
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
    ]);
    let (a, b) = (
        server.store(Some(password), "kf").await,
        server.store(Some(password), "kf").await,
    );
    let key = SessionKey::new("acme", "t", "p");
    let mut s = session(key.clone(), "before");
    s.grant.refresh_token = Some(SecretString::from("refresh-before"));
    let v1 = a.put(&s, Expect::Absent).await.unwrap();
    b.put_pending(&flow(key.clone(), &hash(5), 600))
        .await
        .unwrap();

    server.kill();
    let started = Instant::now();
    let e = a.get(&key).await.unwrap_err();
    let took = started.elapsed();
    let msg = e.to_string();
    eprintln!("timing: get with redis down failed after {took:?}: {msg}");
    assert_eq!(e.kind(), ErrorKind::Store);
    assert!(
        msg.contains(&server.addr()) && msg.starts_with("cannot read session"),
        "{msg}"
    );
    assert!(!format!("{e:?}").contains(password), "{e:?}");
    assert!(took < Duration::from_secs(8), "{took:?}");
    let e = a
        .put(&session(key.clone(), "during"), Expect::Version(v1))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Store, "{e}");
    assert!(b.claim_pending(&hash(5), keyfob_core::now()).await.is_err());
    // The subscription is noticed lost, and waiting degrades to sleeping.
    let deadline = Instant::now() + Duration::from_secs(10);
    while b.is_subscribed() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!b.is_subscribed());
    let started = Instant::now();
    b.wait_published(&key, Duration::from_millis(200)).await;
    assert!(started.elapsed() >= Duration::from_millis(190));

    server.restart();
    let started = Instant::now();
    let got = a.get(&key).await.expect("works again once redis is back");
    eprintln!(
        "timing: first get after the restart took {:?}",
        started.elapsed()
    );
    let got = got.expect("the session survived");
    assert_eq!(got.version, v1);
    assert_eq!(got.grant.access_token.expose_secret(), "before");
    assert_eq!(
        got.grant
            .refresh_token
            .as_ref()
            .map(|t| t.expose_secret().to_owned()),
        Some("refresh-before".to_owned())
    );
    let v2 = a
        .put(&session(key.clone(), "after"), Expect::Version(v1))
        .await
        .unwrap();
    assert!(v2 > v1);
    let claimed = b.claim_pending(&hash(5), keyfob_core::now()).await.unwrap();
    assert!(claimed.is_some(), "the flow survived and is claimed once");
    // The subscription comes back and announcements flow again.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !b.is_subscribed() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let back = started.elapsed();
    assert!(b.is_subscribed(), "resubscribed");
    let latency = wake_latency(&a, &b, &key).await;
    eprintln!("timing: resubscribed {back:?} after the restart; wake latency then {latency:?}");
    assert!(latency < Duration::from_millis(100), "{latency:?}");
}

/// An engine on `store` whose provider `x` refreshes at the stub (see `fleet::engine`).
fn engine(store: RedisStore, stub: &StubServer) -> Engine {
    fleet::engine(Arc::new(store), stub.url())
}

/// Stores a session for `x` whose token is due for refresh: written an hour ago, expiring in
/// 10 s.
async fn near_expiry(store: &RedisStore) -> Session {
    fleet::seed_near_expiry(store).await
}

async fn seed(store: &RedisStore, expires_in: i64, age: i64) -> Session {
    fleet::seed(store, expires_in, age).await
}

/// Calls per command since the last `CONFIG RESETSTAT`, leaving out this test's own and the
/// subscription's pings.
async fn command_calls(conn: &mut redis::aio::MultiplexedConnection) -> Vec<(String, u64)> {
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await
        .unwrap();
    stats
        .lines()
        .filter_map(|line| {
            let (name, rest) = line.strip_prefix("cmdstat_")?.split_once(":calls=")?;
            let calls = rest.split(',').next()?.parse().ok()?;
            Some((name.to_owned(), calls))
        })
        .filter(|(name, _)| !matches!(name.as_str(), "info" | "config|resetstat" | "ping"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_ensure_is_one_redis_round_trip() {
    let server = RedisServer::start(&[]);
    let stub = StubServer::start(rotated("unused", "unused"))
        .await
        .unwrap();
    let store = server.store(None, "kf").await;
    seed(&store, 3600, 0).await;
    let engine = engine(store, &stub);
    // The first call loads the read script into the server.
    engine.ensure(&AuthRequest::new("x")).await.unwrap();
    let mut raw = server.raw(None).await;
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(&mut raw)
        .await
        .unwrap();
    let started = Instant::now();
    for _ in 0..100 {
        match engine.ensure(&AuthRequest::new("x")).await.unwrap() {
            Ensured::Ready(creds) => assert_eq!(creds.access_token(), "old-access"),
            other => panic!("the session is valid: {other:?}"),
        }
    }
    eprintln!("timing: 100 cached ensure calls: {:?}", started.elapsed());
    // One script per call (a round trip), which reads the record and its version counter.
    let mut calls = command_calls(&mut raw).await;
    calls.sort();
    assert_eq!(
        calls,
        vec![
            ("evalsha".to_owned(), 100),
            ("get".to_owned(), 100),
            ("hmget".to_owned(), 100)
        ],
        "one EVALSHA (HMGET + GET inside) per cached call, nothing else"
    );
    assert!(stub.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_callers_on_two_engines_cause_one_refresh() {
    let server = RedisServer::start(&[]);
    let stub = StubServer::start(
        rotated("new-access", "new-refresh").with_delay(Duration::from_millis(300)),
    )
    .await
    .unwrap();
    let store = server.store(None, "kf").await;
    let seeded = near_expiry(&store).await;
    let engines = [
        engine(store.clone(), &stub),
        engine(server.store(None, "kf").await, &stub),
    ];
    let started = Instant::now();
    let callers: Vec<_> = (0..100)
        .map(|i| {
            let engine = engines[i % 2].clone();
            tokio::spawn(async move { engine.ensure(&AuthRequest::new("x")).await })
        })
        .collect();
    for caller in callers {
        match caller.await.unwrap() {
            Ok(Ensured::Ready(creds)) => assert_eq!(creds.access_token(), "new-access"),
            other => panic!("every caller gets the new token: {other:?}"),
        }
    }
    eprintln!(
        "timing: 100 callers over 2 engines, one refresh: {:?}",
        started.elapsed()
    );
    let requests = stub.requests();
    assert_eq!(requests.len(), 1, "exactly one token request");
    assert_eq!(
        requests[0].form_value("grant_type").as_deref(),
        Some("refresh_token")
    );
    assert_eq!(
        requests[0].form_value("refresh_token").as_deref(),
        Some("old-refresh")
    );
    let s = store.get(&seeded.key).await.unwrap().unwrap();
    assert!(s.version > seeded.version);
    assert_eq!(s.grant.access_token.expose_secret(), "new-access");
    assert_eq!(
        s.grant
            .refresh_token
            .as_ref()
            .map(|t| t.expose_secret().to_owned()),
        Some("new-refresh".to_owned()),
        "the rotated refresh token is stored"
    );
    assert_eq!(s.refresh_error, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_lease_holder_dies_another_instance_refreshes_after_it_expires() {
    let server = RedisServer::start(&[]);
    let stub =
        StubServer::start(rotated("a-access", "a-refresh").with_delay(Duration::from_millis(900)))
            .await
            .unwrap();
    let store = server.store(None, "kf").await;
    let seeded = near_expiry(&store).await;
    let (a, b) = (
        engine(store.clone(), &stub),
        engine(server.store(None, "kf").await, &stub),
    );
    // Instance A takes the lease and sends its request, then dies before the answer.
    let holder = tokio::spawn(async move { a.ensure(&AuthRequest::new("x")).await });
    while stub.requests().is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    holder.abort();
    let _ = holder.await;
    stub.set_response(rotated("b-access", "b-refresh"));
    let started = Instant::now();
    let Ensured::Ready(creds) = b.ensure(&AuthRequest::new("x")).await.unwrap() else {
        panic!("B refreshes once the lease has expired")
    };
    let took = started.elapsed();
    eprintln!("timing: B refreshed {took:?} after A died (lease: http timeout 1 s + 5 s)");
    assert_eq!(creds.access_token(), "b-access");
    assert!(
        took >= Duration::from_secs(4),
        "B waited for the lease: {took:?}"
    );
    assert_eq!(stub.requests().len(), 2);
    let s = store.get(&seeded.key).await.unwrap().unwrap();
    assert_eq!(s.grant.access_token.expose_secret(), "b-access");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_started_on_one_instance_completes_on_the_other_and_wakes_the_first() {
    let server = RedisServer::start(&[]);
    let stub = StubServer::start(rotated("flow-access", "flow-refresh"))
        .await
        .unwrap();
    let (a, b) = (
        engine(server.store(None, "kf").await, &stub),
        engine(server.store(None, "kf").await, &stub),
    );
    let mut timings = Vec::new();
    for round in 0..3 {
        let req = AuthRequest::new("x").thread(format!("t{round}"));
        let prompt = a.login(&req).await.unwrap();
        let waiter = {
            let (a, prompt) = (a.clone(), prompt.clone());
            tokio::spawn(async move {
                let creds = a.wait(&prompt, Duration::from_secs(10)).await;
                (creds, Instant::now())
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        // The browser opened the link through A; B recognises it from the shared store.
        let link = keyfob_testkit::open_prompt(&a, &prompt).await;
        let params = CallbackParams {
            state: Some(link.state.clone()),
            code: Some(format!("code-{round}")),
            ..CallbackParams::default()
        };
        let completed = b.complete_oauth2("x", params, &link.cookies).await.unwrap();
        let done = Instant::now();
        assert_eq!(completed.key, req.key());
        let (creds, woke) = waiter.await.unwrap();
        assert_eq!(creds.unwrap().access_token(), "flow-access");
        timings.push(woke.saturating_duration_since(done));
    }
    eprintln!("timing: completion on B -> A.wait returned: {timings:?}");
    // Polling alone would take up to 250 ms.
    assert!(
        timings.iter().all(|t| *t < Duration::from_millis(100)),
        "{timings:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_reports_an_outage_and_the_flow_completes_after_it() {
    let mut server = RedisServer::start(&["--appendonly", "yes", "--appendfsync", "always"]);
    let stub = StubServer::start(rotated("late-access", "late-refresh"))
        .await
        .unwrap();
    let (a, b) = (
        engine(server.store(None, "kf").await, &stub),
        engine(server.store(None, "kf").await, &stub),
    );
    let prompt = a.login(&AuthRequest::new("x")).await.unwrap();
    let link = keyfob_testkit::open_prompt(&a, &prompt).await;
    let waiter = {
        let (a, prompt) = (a.clone(), prompt.clone());
        tokio::spawn(async move { a.wait(&prompt, Duration::from_secs(30)).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.kill();
    let killed = Instant::now();
    let e = waiter
        .await
        .unwrap()
        .expect_err("the waiter sees the outage");
    eprintln!(
        "timing: waiter reported the outage after {:?}: {e}",
        killed.elapsed()
    );
    assert_eq!(e.kind(), ErrorKind::Store);
    assert!(e.to_string().contains(&server.addr()), "{e}");

    server.restart();
    let params = CallbackParams {
        state: Some(link.state.clone()),
        code: Some("code".into()),
        ..CallbackParams::default()
    };
    b.complete_oauth2("x", params, &link.cookies)
        .await
        .expect("the flow survived the outage");
    let creds = a.wait(&prompt, Duration::from_secs(5)).await.unwrap();
    assert_eq!(creds.access_token(), "late-access");
}

// --- Faults: a writer killed mid-write, and Redis going away under a running engine. ---

/// Env var with the Redis URL a crash-writer child process writes to.
const CRASH_URL: &str = "KEYFOB_REDIS_TEST_CRASH_URL";

/// `kill -9` of a process while it rewrites large sessions, many times, at random moments: every
/// session is then exactly its old or its new version (it decrypts, decodes and matches one of
/// them in every part) and the store still works. Each write is one Lua script, which Redis runs
/// only once the whole command has arrived, and atomically.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_writing_leaves_every_session_old_or_new() {
    let server = RedisServer::start(&[]);
    kill_9_rounds(&server.url(None)).await;
}

/// Twenty rounds of a writer process on `url` killed at random points; the other half of
/// [`kill_9_while_writing_leaves_every_session_old_or_new`].
async fn kill_9_rounds(url: &str) {
    let open = || async { RedisStore::connect(url, "kf", sealer(1)).await.unwrap() };
    let env = (CRASH_URL, std::ffi::OsStr::new(url));
    crash::kill_rounds(
        "redis_server::crash_writer",
        env,
        Duration::from_millis(20),
        open,
    )
    .await;
}

/// The child half of [`kill_9_while_writing_leaves_every_session_old_or_new`]: rewrites every
/// session, alternating versions, until killed. Does nothing in a normal run.
#[test]
fn crash_writer() {
    let Ok(url) = std::env::var(CRASH_URL) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = RedisStore::connect(&url, "kf", sealer(1)).await.unwrap();
        crash::rewrite_until_killed(&store).await;
    });
}

/// Redis stops under a running engine: `ensure`, `credentials` and a new login each fail with
/// one clear store error naming the server (never a hang, a panic or a prompt built on nothing),
/// and once Redis is back the same engine serves the same session again, and refreshes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_reports_a_redis_outage_and_recovers_after_it() {
    let mut server = RedisServer::start(&["--appendonly", "yes", "--appendfsync", "always"]);
    let stub = StubServer::start(rotated("new-access", "new-refresh"))
        .await
        .unwrap();
    let store = server.store(None, "kf").await;
    seed(&store, 3600, 0).await;
    let engine = engine(store, &stub);
    let req = AuthRequest::new("x");
    assert!(matches!(
        engine.ensure(&req).await.unwrap(),
        Ensured::Ready(_)
    ));

    server.kill();
    fleet::fails_clearly_while_down(&engine, &server.addr()).await;
    server.restart();
    fleet::recovers_after_restart(&engine, &stub, Duration::from_secs(10)).await;
}

/// The files of `certs` a client trusts and presents.
fn client_tls(certs: &TlsFiles, with_cert: bool) -> Tls {
    Tls {
        ca: Some(certs.path("ca.pem")),
        cert: with_cert.then(|| certs.path("client.pem")),
        key: with_cert.then(|| certs.path("client-key.pem")),
    }
}

/// The conformance suite again, over TLS (`rediss://`, the server's certificate checked against
/// a CA given in the configuration), as an ACL user with a password.
mod tls {
    use super::*;

    keyfob_testkit::store_conformance!(async {
        let certs = TlsFiles::generate();
        let server = RedisServer::start_tls(
            &certs,
            &["--user", "keyfob", "on", ">acl-pw", "~*", "&*", "+@all"],
        );
        let store = RedisStore::connect_with(
            &server.tls_url(Some(("keyfob", "acl-pw"))),
            "kf-tls",
            sealer(1),
            &Options {
                tls: client_tls(&certs, false),
                ..Options::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("connect over TLS: {e}"));
        let store: Arc<dyn SessionStore> = Arc::new(store);
        (store, (server, certs))
    });
}

/// A TLS server that asks for client certificates: the store connects with its certificate
/// and key, change notices work over TLS too, and each misconfiguration says what is wrong
/// without quoting the password: no client certificate, a CA that did not sign the server's,
/// plain `redis://` to a TLS port, half a client pair, an unreadable file, files for a plain
/// URL, and a wrong ACL password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_client_certificates_and_acl_users_and_clear_errors() {
    let certs = TlsFiles::generate();
    let server = RedisServer::start_tls(
        &certs,
        &[
            "--tls-auth-clients",
            "yes",
            "--user",
            "keyfob",
            "on",
            ">acl-pw-4e2",
            "~*",
            "&*",
            "+@all",
        ],
    );
    let url = server.tls_url(Some(("keyfob", "acl-pw-4e2")));
    let with = |tls: Tls| Options {
        tls,
        ..Options::default()
    };
    let a = RedisStore::connect_with(&url, "kf", sealer(1), &with(client_tls(&certs, true)))
        .await
        .unwrap();
    let b = RedisStore::connect_with(&url, "kf", sealer(1), &with(client_tls(&certs, true)))
        .await
        .unwrap();
    let key = SessionKey::default_for("acme");
    a.put(&session(key.clone(), "over-tls"), Expect::Absent)
        .await
        .unwrap();
    assert_eq!(
        b.get(&key)
            .await
            .unwrap()
            .unwrap()
            .grant
            .access_token
            .expose_secret(),
        "over-tls"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while !b.is_subscribed() {
        assert!(Instant::now() < deadline, "no change subscription over TLS");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let latency = wake_latency(&a, &b, &key).await;
    assert!(latency < Duration::from_secs(1), "{latency:?}");

    let other = TlsFiles::generate();
    let wrong_password = server.tls_url(Some(("keyfob", "not-it-9c1")));
    let plain = format!("redis://keyfob:acl-pw-4e2@127.0.0.1:{}", server.port);
    let half = Tls {
        cert: Some(certs.path("client.pem")),
        ..client_tls(&certs, false)
    };
    let missing = Tls {
        ca: Some(certs.path("no-such-ca.pem")),
        ..Tls::default()
    };
    for (url, tls, kind, want) in [
        (
            &url,
            client_tls(&certs, false),
            ErrorKind::Store,
            "set [store] tls_cert and tls_key",
        ),
        (
            &url,
            client_tls(&other, true),
            ErrorKind::Store,
            "set [store] tls_ca",
        ),
        (&plain, Tls::default(), ErrorKind::Store, "127.0.0.1"),
        (
            &url,
            half,
            ErrorKind::Config,
            "tls_cert and tls_key go together",
        ),
        (
            &url,
            missing,
            ErrorKind::Config,
            "cannot read the CA certificate",
        ),
        (
            &plain,
            client_tls(&certs, true),
            ErrorKind::Config,
            "write the url as rediss://",
        ),
        (
            &wrong_password,
            client_tls(&certs, true),
            ErrorKind::Store,
            "authentication failed",
        ),
    ] {
        let e = RedisStore::connect_with(url, "kf", sealer(1), &with(tls))
            .await
            .unwrap_err();
        let text = format!("{e} {e:?}");
        eprintln!("message: {e}");
        assert_eq!(e.kind(), kind, "{text}");
        assert!(text.contains(want), "{want}: {text}");
        assert!(
            !text.contains("acl-pw-4e2") && !text.contains("not-it-9c1"),
            "{text}"
        );
    }
}

/// A store with client-side caching (sessions kept until 300 s before they expire), once
/// Redis tracks its keys.
async fn cached_store(server: &RedisServer, prefix: &str) -> RedisStore {
    let store = RedisStore::connect_with(
        &server.url(None),
        prefix,
        sealer(1),
        &Options {
            client_cache: Some(Duration::from_secs(300)),
            ..Options::default()
        },
    )
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !store.is_caching() {
        assert!(Instant::now() < deadline, "redis does not track the keys");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    store
}

/// The conformance suite again, with client-side caching on.
mod cached {
    use super::*;

    keyfob_testkit::store_conformance!(async {
        let server = RedisServer::start(&[]);
        let store: Arc<dyn SessionStore> = Arc::new(cached_store(&server, "kf-cached").await);
        (store, server)
    });
}

/// Reads `key` on `store` until `want` (a token, or `None` for no session) shows, up to 2 s:
/// how long it took.
async fn until_seen(store: &RedisStore, key: &SessionKey, want: Option<&str>) -> Duration {
    let started = Instant::now();
    loop {
        let got = store.get(key).await.unwrap();
        let token = got.as_ref().map(|s| s.grant.access_token.expose_secret());
        if token == want {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "still {token:?}, not {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Server-assisted client-side caching between two instances: a cached read sends Redis
/// nothing; another instance's write, rotation or delete shows here as soon as Redis's
/// invalidation arrives, and the old token is never served after that; a session near expiry
/// is read from Redis every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_session_is_served_from_memory_until_redis_says_it_changed() {
    let server = RedisServer::start(&[]);
    let (a, b) = (
        cached_store(&server, "kf").await,
        server.store(None, "kf").await,
    );
    let key = SessionKey::default_for("acme");
    let v1 = b
        .put(&session(key.clone(), "token-1"), Expect::Absent)
        .await
        .unwrap();
    until_seen(&a, &key, Some("token-1")).await;

    // The invalidation of b's write may still be on its way to a's tracking connection and
    // drop what the read above cached: wait until one read sends Redis nothing.
    let mut raw = server.raw(None).await;
    let warm = Instant::now();
    loop {
        let _: () = redis::cmd("CONFIG")
            .arg("RESETSTAT")
            .query_async(&mut raw)
            .await
            .unwrap();
        a.get(&key).await.unwrap();
        if command_calls(&mut raw).await.is_empty() {
            break;
        }
        assert!(
            warm.elapsed() < Duration::from_secs(2),
            "never served from the cache"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = Instant::now();
    for _ in 0..1000 {
        let s = a.get(&key).await.unwrap().unwrap();
        assert_eq!(s.version, v1);
    }
    eprintln!("timing: 1000 cached reads: {:?}", started.elapsed());
    assert_eq!(
        command_calls(&mut raw).await,
        vec![],
        "cached reads send nothing"
    );

    // Another instance rotates the token: once seen here, never the old one again.
    let mut rotated = session(key.clone(), "token-2");
    rotated.version = v1;
    b.put(&rotated, Expect::Version(v1)).await.unwrap();
    let took = until_seen(&a, &key, Some("token-2")).await;
    eprintln!("timing: the rotation showed on the caching instance after {took:?}");
    for _ in 0..200 {
        let s = a.get(&key).await.unwrap().unwrap();
        assert_eq!(s.grant.access_token.expose_secret(), "token-2");
    }
    // A logout on the other instance.
    assert!(b.delete(&key).await.unwrap());
    until_seen(&a, &key, None).await;

    // Near expiry (within the 300 s margin): every read goes to Redis.
    let mut near = session(key.clone(), "token-3");
    near.grant.expires_at = Some(keyfob_core::now() + 60);
    b.put(&near, Expect::Absent).await.unwrap();
    until_seen(&a, &key, Some("token-3")).await;
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(&mut raw)
        .await
        .unwrap();
    for _ in 0..10 {
        a.get(&key).await.unwrap().unwrap();
    }
    let calls = command_calls(&mut raw).await;
    assert!(
        calls.contains(&("evalsha".to_owned(), 10)),
        "each read near expiry reaches redis: {calls:?}"
    );
}

/// The tracking connection is killed: the cache empties and stops serving before any write
/// made meanwhile could be missed, reads go to Redis, and caching resumes (empty) once tracking
/// is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_tracking_connection_empties_the_cache_first() {
    let server = RedisServer::start(&[]);
    let (a, b) = (
        cached_store(&server, "kf").await,
        server.store(None, "kf").await,
    );
    let key = SessionKey::default_for("acme");
    let v1 = b
        .put(&session(key.clone(), "before"), Expect::Absent)
        .await
        .unwrap();
    until_seen(&a, &key, Some("before")).await;
    assert_eq!(a.get(&key).await.unwrap().unwrap().version, v1);

    let mut raw = server.raw(None).await;
    let killed: i64 = redis::cmd("CLIENT")
        .arg(&["KILL", "TYPE", "pubsub"])
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(killed >= 1, "the tracking connection is a subscriber");
    let deadline = Instant::now() + Duration::from_secs(5);
    while a.is_caching() {
        assert!(Instant::now() < deadline, "the loss was not noticed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Written while nobody tracks for the caching instance: its cache must not answer.
    let mut changed = session(key.clone(), "during");
    changed.version = v1;
    b.put(&changed, Expect::Version(v1)).await.unwrap();
    assert_eq!(
        a.get(&key)
            .await
            .unwrap()
            .unwrap()
            .grant
            .access_token
            .expose_secret(),
        "during"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !a.is_caching() {
        assert!(Instant::now() < deadline, "tracking did not come back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        a.get(&key)
            .await
            .unwrap()
            .unwrap()
            .grant
            .access_token
            .expose_secret(),
        "during"
    );
}

/// A thousand concurrent callers of one near-expiry session, in three processes (each its own
/// engine and store on the server, with client-side caching), started together: every one gets
/// the new token, and the token endpoint sees exactly one refresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_callers_in_three_processes_cause_one_refresh() {
    let server = RedisServer::start(&[]);
    let store = server.store(None, "kf").await;
    let env = (FLEET_URL, server.url(None));
    fleet::thousand_callers_cause_one_refresh(&store, "redis_server::fleet_callers", env).await;
}

/// The URL a caller process of [`fleet_callers`] connects to; with client-side caching unless it
/// ends in `#cluster` (a Redis Cluster, where caching is refused).
const FLEET_URL: &str = "KEYFOB_TEST_REDIS_FLEET_URL";

/// The caller processes of [`thousand_callers_in_three_processes_cause_one_refresh`]. Does
/// nothing in a normal run.
#[test]
fn fleet_callers() {
    let Ok(url) = std::env::var(FLEET_URL) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (url, cache) = match url.strip_suffix("#cluster") {
        Some(url) => (url.to_owned(), None),
        None => (url, Some(Duration::from_secs(300))),
    };
    rt.block_on(async {
        let options = Options {
            client_cache: cache,
            ..Options::default()
        };
        let store = RedisStore::connect_with(&url, "kf", sealer(1), &options)
            .await
            .unwrap();
        fleet::run_callers(Arc::new(store)).await;
    });
}
