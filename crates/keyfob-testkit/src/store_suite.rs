//! The store conformance suite: the checks every [`SessionStore`] must pass.
//!
//! Each check is an `async fn` that takes a fresh, empty store and panics with a message naming
//! the store and the broken rule. Store crates run them all with
//! [`store_conformance!`](crate::store_conformance!) in their tests, with this crate as a
//! dev-dependency:
//!
//! ```text
//! keyfob_testkit::store_conformance!(async { std::sync::Arc::new(MyStore::new()) });
//! ```
//!
//! The suite pins down what the trait's prose leaves open, the way the engine relies on it:
//! - versions are never reused for a key, not even after a delete (a stale
//!   `Expect::Version` must not match a newer session);
//! - a flow is expired when `expires_at <= now`, for both [`SessionStore::claim_pending`] and
//!   [`SessionStore::purge_expired`];
//! - [`SessionStore::finish_pending`] and [`SessionStore::delete_pending`] of an unknown flow
//!   are no-ops, because a newer login may have replaced the flow meanwhile.
//!
//! The checks only panic, never return errors. keyfob-core's own `MemoryStore` runs them from
//! this crate's `tests/fixtures.rs`, since the core cannot depend on the testkit.

use std::sync::Arc;

use keyfob_core::scope;
use keyfob_core::session::{Grant, Session, SessionKey};
use keyfob_core::store::{Expect, FlowStatus, PendingFlow, SessionStore};
use keyfob_core::{ErrorKind, ExposeSecret, SecretString};
use tokio::sync::Barrier;
use tokio::task::JoinHandle;

/// How many tasks race in [`concurrent_cas`].
const CAS_TASKS: usize = 50;
/// How many tasks race in [`concurrent_claim`].
const CLAIM_TASKS: usize = 20;
/// How many tasks each add one to a counter in [`concurrent_increments`].
const INCREMENT_TASKS: usize = 20;

/// What the expression given to [`store_conformance!`](crate::store_conformance!) yields once
/// awaited: a store, or a store paired with a guard that must outlive it, such as the temporary
/// directory of its file.
pub trait Fixture {
    /// The store under test.
    fn store(&self) -> Arc<dyn SessionStore>;
}

impl Fixture for Arc<dyn SessionStore> {
    fn store(&self) -> Arc<dyn SessionStore> {
        Arc::clone(self)
    }
}

impl<S: SessionStore + 'static> Fixture for Arc<S> {
    fn store(&self) -> Arc<dyn SessionStore> {
        Arc::clone(self) as Arc<dyn SessionStore>
    }
}

impl<F: Fixture, G> Fixture for (F, G) {
    fn store(&self) -> Arc<dyn SessionStore> {
        self.0.store()
    }
}

/// Runs every check of the suite as its own test, each on a fresh store.
///
/// `$make` is evaluated once per test and awaited, so it must be a future, usually an `async`
/// block. Its output implements [`Fixture`]: an `Arc` of the store, or `(Arc<store>, guard)` when
/// something such as a temporary directory must live as long as the store.
///
/// The expansion is a private module `store_conformance` with one test per check, each on a
/// two-worker tokio runtime. It names everything through `$crate`, so the calling crate needs only
/// `keyfob-testkit` and `tokio` (with `macros` and `rt-multi-thread`); items of the enclosing
/// module are visible to `$make`.
///
/// ```text
/// keyfob_testkit::store_conformance!(async {
///     let dir = tempfile::tempdir().unwrap();
///     let store = MyStore::open(&dir.path().join("sessions.db")).unwrap();
///     (std::sync::Arc::new(store), dir)
/// });
/// ```
#[macro_export]
macro_rules! store_conformance {
    ($make:expr) => {
        $crate::__store_conformance_tests! {
            $make;
            round_trip,
            missing_is_none,
            cas_absent,
            cas_version,
            cas_any,
            versions_not_reused,
            concurrent_cas,
            concurrent_increments,
            delete,
            list_sorted_and_filtered,
            keys_are_distinct,
            pending_round_trip,
            pending_replaced_per_key,
            claim_once,
            claim_refuses,
            concurrent_claim,
            bind_once,
            bind_refuses,
            concurrent_bind,
            finish_pending,
            delete_pending,
            purge_expired,
        }
    };
}

/// The body of [`store_conformance!`](crate::store_conformance!): one test per named check.
#[doc(hidden)]
#[macro_export]
macro_rules! __store_conformance_tests {
    ($make:expr; $($check:ident),* $(,)?) => {
        mod store_conformance {
            #[allow(unused_imports)] // lets `$make` name the caller's items
            use super::*;

            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let fixture = $make.await;
                    let store = $crate::store_suite::Fixture::store(&fixture);
                    $crate::store_suite::$check(store).await;
                }
            )*
        }
    };
}

/// `put` then `get` keeps every field, with and without the optional ones, and sets the version
/// `put` returned, which is above 0 whatever version the written session carried.
pub async fn round_trip(store: Arc<dyn SessionStore>) {
    let name = store.name();
    assert!(!name.is_empty(), "SessionStore::name must not be empty");
    let mut full = session(key("acme", "thread-1", "work"), "access-full");
    full.version = 999;
    let mut bare = session(key("acme", "thread-1", "home"), "access-bare");
    bare.grant = Grant::bearer(SecretString::from("access-bare"));
    bare.refresh_error = None;
    for s in [&full, &bare] {
        let v = store
            .put(s, Expect::Absent)
            .await
            .unwrap_or_else(|e| panic!("[{name}] put {}: {e:?}", s.key));
        assert!(v > 0, "[{name}] put must return a version above 0, got {v}");
        let got = get(&*store, &s.key)
            .await
            .unwrap_or_else(|| panic!("[{name}] get after put returned None"));
        assert_eq!(
            got.version, v,
            "[{name}] get must return the version put returned"
        );
        assert_same_session(name, &got, s);
    }
}

/// Reads of unknown keys and flows return `None`, and deleting an unknown session returns `false`.
pub async fn missing_is_none(store: Arc<dyn SessionStore>) {
    let name = store.name();
    let k = key("acme", "default", "default");
    assert!(
        get(&*store, &k).await.is_none(),
        "[{name}] get of a missing key must be None"
    );
    assert!(
        !store.delete(&k).await.unwrap(),
        "[{name}] delete of a missing key must return false"
    );
    assert!(
        store.pending(&hash(1)).await.unwrap().is_none(),
        "[{name}] pending of an unknown hash must be None"
    );
    assert!(
        store.pending_for(&k).await.unwrap().is_none(),
        "[{name}] pending_for without a flow must be None"
    );
    assert!(
        store.list(None).await.unwrap().is_empty(),
        "[{name}] list of an empty store must be empty"
    );
}

/// `Expect::Absent` creates, and fails with `Conflict` once the session exists.
pub async fn cas_absent(store: Arc<dyn SessionStore>) {
    let name = store.name();
    let s = session(key("acme", "default", "default"), "first");
    let v = store.put(&s, Expect::Absent).await.unwrap();
    let again = store
        .put(&session(s.key.clone(), "second"), Expect::Absent)
        .await;
    assert_conflict(name, "put(Expect::Absent) on an existing session", again);
    let got = get(&*store, &s.key).await.unwrap();
    assert_eq!(
        (got.version, got.grant.access_token.expose_secret()),
        (v, "first"),
        "[{name}] a lost CAS must not write"
    );
}

/// `Expect::Version` succeeds only against the current version, and bumps it.
pub async fn cas_version(store: Arc<dyn SessionStore>) {
    let name = store.name();
    let k = key("acme", "default", "default");
    let missing = store
        .put(&session(k.clone(), "x"), Expect::Version(1))
        .await;
    assert_conflict(name, "put(Expect::Version) on a missing session", missing);
    let v1 = store
        .put(&session(k.clone(), "one"), Expect::Absent)
        .await
        .unwrap();
    let v2 = store
        .put(&session(k.clone(), "two"), Expect::Version(v1))
        .await
        .unwrap();
    assert!(
        v2 > v1,
        "[{name}] a successful CAS must raise the version ({v1} -> {v2})"
    );
    let stale = store
        .put(&session(k.clone(), "stale"), Expect::Version(v1))
        .await;
    assert_conflict(name, "put(Expect::Version(old)) after another write", stale);
    let got = get(&*store, &k).await.unwrap();
    assert_eq!(
        (got.version, got.grant.access_token.expose_secret()),
        (v2, "two"),
        "[{name}] a lost CAS must not write"
    );
    let v3 = store
        .put(&session(k.clone(), "three"), Expect::Version(v2))
        .await
        .unwrap();
    assert!(
        v3 > v2,
        "[{name}] a successful CAS must raise the version ({v2} -> {v3})"
    );
}

/// `Expect::Any` creates and overwrites, bumping the version each time.
pub async fn cas_any(store: Arc<dyn SessionStore>) {
    let name = store.name();
    let k = key("acme", "default", "default");
    let v1 = store
        .put(&session(k.clone(), "one"), Expect::Any)
        .await
        .unwrap();
    let v2 = store
        .put(&session(k.clone(), "two"), Expect::Any)
        .await
        .unwrap();
    assert!(
        v2 > v1,
        "[{name}] put(Expect::Any) must raise the version ({v1} -> {v2})"
    );
    let got = get(&*store, &k).await.unwrap();
    assert_eq!(
        (got.version, got.grant.access_token.expose_secret()),
        (v2, "two"),
        "[{name}] Expect::Any must overwrite"
    );
}

/// A session deleted and created again never gets a version it had before, so a writer holding a
/// stale version cannot overwrite the new session.
pub async fn versions_not_reused(store: Arc<dyn SessionStore>) {
    let name = store.name();
    let k = key("acme", "default", "default");
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(
            store
                .put(&session(k.clone(), "a"), Expect::Absent)
                .await
                .unwrap(),
        );
        seen.push(
            store
                .put(&session(k.clone(), "b"), Expect::Any)
                .await
                .unwrap(),
        );
        assert!(
            store.delete(&k).await.unwrap(),
            "[{name}] delete of a stored session must return true"
        );
    }
    let mut unique = seen.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(
        unique.len(),
        seen.len(),
        "[{name}] versions were reused across delete and re-create: {seen:?}"
    );
    let v = store
        .put(&session(k.clone(), "new"), Expect::Absent)
        .await
        .unwrap();
    for old in seen {
        let stale = store
            .put(&session(k.clone(), "stale"), Expect::Version(old))
            .await;
        assert_conflict(
            name,
            "put(Expect::Version) with a version from before a delete",
            stale,
        );
    }
    assert_eq!(get(&*store, &k).await.unwrap().version, v);
}

/// Fifty tasks read the same version, then all write with `Expect::Version`: exactly one
/// wins, the others get `Conflict`, and the winner's write is what is stored.
pub async fn concurrent_cas(store: Arc<dyn SessionStore>) {
    concurrent_cas_on(&[store]).await;
}

/// [`concurrent_cas`] with the tasks spread over several handles to the same data (two
/// processes opening one file, two clients of one server).
///
/// # Panics
/// When `stores` is empty, or a rule is broken.
pub async fn concurrent_cas_on(stores: &[Arc<dyn SessionStore>]) {
    let name = stores[0].name();
    let k = key("acme", "race", "default");
    let start = stores[0]
        .put(&session(k.clone(), "start"), Expect::Absent)
        .await
        .unwrap();
    let barrier = Arc::new(Barrier::new(CAS_TASKS));
    let tasks: Vec<_> = (0..CAS_TASKS)
        .map(|i| {
            let store = Arc::clone(&stores[i % stores.len()]);
            let (barrier, k) = (Arc::clone(&barrier), k.clone());
            tokio::spawn(async move {
                let mut seen = store.get(&k).await.unwrap().expect("the session exists");
                // Every task has read before any writes: all start from the same version.
                barrier.wait().await;
                let read = seen.version;
                seen.grant.access_token = SecretString::from(format!("writer-{i}"));
                (i, read, store.put(&seen, Expect::Version(read)).await)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        let (i, read, result) = join(task).await;
        assert_eq!(
            read, start,
            "[{name}] every task must read the start version"
        );
        match result {
            Ok(v) => winners.push((i, v)),
            Err(e) => assert_eq!(
                e.kind(),
                ErrorKind::Conflict,
                "[{name}] a lost CAS must be Conflict: {e:?}"
            ),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "[{name}] exactly one of {CAS_TASKS} racing CAS writes must win, got {winners:?}"
    );
    let (i, v) = winners[0];
    assert!(v > start, "[{name}] the winning CAS must raise the version");
    let got = get(&*stores[0], &k).await.unwrap();
    assert_eq!(
        got.version, v,
        "[{name}] the stored version must be the winner's"
    );
    assert_eq!(
        got.grant.access_token.expose_secret(),
        format!("writer-{i}"),
        "[{name}] the stored session must be the winner's"
    );
}

/// Twenty tasks each add one to a counter with get + CAS put, retrying on
/// `Conflict`: no update is lost.
pub async fn concurrent_increments(store: Arc<dyn SessionStore>) {
    let name = store.name();
    let k = key("acme", "counter", "default");
    let mut s = session(k.clone(), "counter");
    s.grant.detail.insert("count".into(), 0.into());
    store.put(&s, Expect::Absent).await.unwrap();
    let tasks: Vec<_> = (0..INCREMENT_TASKS)
        .map(|_| {
            let (store, k) = (Arc::clone(&store), k.clone());
            tokio::spawn(async move {
                for _ in 0..10_000 {
                    let mut s = store.get(&k).await.unwrap().expect("the session exists");
                    let count = s.grant.detail["count"].as_u64().expect("count is a number");
                    s.grant.detail.insert("count".into(), (count + 1).into());
                    match store.put(&s, Expect::Version(s.version)).await {
                        Ok(_) => return,
                        Err(e) if e.kind() == ErrorKind::Conflict => tokio::task::yield_now().await,
                        Err(e) => panic!(
                            "[{}] CAS put failed with other than Conflict: {e:?}",
                            store.name()
                        ),
                    }
                }
                panic!(
                    "[{}] an increment lost its CAS 10000 times in a row",
                    store.name()
                );
            })
        })
        .collect();
    for task in tasks {
        join(task).await;
    }
    let count = get(&*store, &k).await.unwrap().grant.detail["count"].as_u64();
    assert_eq!(
        count,
        Some(INCREMENT_TASKS as u64),
        "[{name}] concurrent CAS increments lost updates"
    );
}

/// `delete` returns `true` for a stored session and `false` after.
pub async fn delete(store: Arc<dyn SessionStore>) {
    let name = store.name();
    let k = key("acme", "default", "default");
    store
        .put(&session(k.clone(), "t"), Expect::Absent)
        .await
        .unwrap();
    assert!(
        store.delete(&k).await.unwrap(),
        "[{name}] delete of a stored session must return true"
    );
    assert!(
        get(&*store, &k).await.is_none(),
        "[{name}] get after delete must be None"
    );
    assert!(
        !store.delete(&k).await.unwrap(),
        "[{name}] a second delete must return false"
    );
    assert!(
        store.list(None).await.unwrap().is_empty(),
        "[{name}] list after delete must be empty"
    );
    store
        .put(&session(k.clone(), "again"), Expect::Absent)
        .await
        .unwrap_or_else(|e| {
            panic!("[{name}] put(Expect::Absent) after delete must succeed: {e:?}");
        });
}

/// `list(None)` returns every session sorted by key; `list(Some(thread))` only that thread's.
pub async fn list_sorted_and_filtered(store: Arc<dyn SessionStore>) {
    let name = store.name();
    let keys = [
        key("zeta", "t1", "default"),
        key("acme", "t2", "default"),
        key("acme", "t1", "work"),
        key("acme", "t1", "default"),
        key("beta", "t1", "default"),
        key("acme", "t10", "default"),
    ];
    let mut versions = std::collections::HashMap::new();
    for k in &keys {
        versions.insert(
            k.clone(),
            store
                .put(&session(k.clone(), &token_for(k)), Expect::Absent)
                .await
                .unwrap(),
        );
    }
    let all = store.list(None).await.unwrap();
    let mut sorted = keys.to_vec();
    sorted.sort();
    assert_eq!(
        all.iter().map(|s| s.key.clone()).collect::<Vec<_>>(),
        sorted,
        "[{name}] list(None) must be sorted by key"
    );
    for s in &all {
        assert_eq!(
            s.version, versions[&s.key],
            "[{name}] list must return each session's version"
        );
        assert_eq!(
            s.grant.access_token.expose_secret(),
            token_for(&s.key),
            "[{name}] list returned another session's token"
        );
    }
    let t1: Vec<_> = store
        .list(Some("t1"))
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.key)
        .collect();
    let want: Vec<_> = sorted
        .iter()
        .filter(|k| k.thread == "t1")
        .cloned()
        .collect();
    assert_eq!(
        t1, want,
        "[{name}] list(Some(thread)) must return that thread's sessions, sorted"
    );
    assert!(
        store.list(Some("nobody")).await.unwrap().is_empty(),
        "[{name}] list of an unknown thread must be empty"
    );
}

/// Keys that differ in one part only, or would collide if joined with a separator, are distinct.
pub async fn keys_are_distinct(store: Arc<dyn SessionStore>) {
    let name = store.name();
    let keys = [
        key("acme", "t", "p"),
        key("acme", "t", "q"),
        key("acme", "u", "p"),
        key("acme2", "t", "p"),
        key("a", "b/c", "d"),
        key("a/b", "c", "d"),
        key("a:b", "c", "d"),
        key("a", "b:c", "d"),
    ];
    for k in &keys {
        store
            .put(&session(k.clone(), &token_for(k)), Expect::Absent)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "[{name}] put(Expect::Absent) of {k:?} failed as if another key matched: {e:?}"
                )
            });
    }
    for k in &keys {
        let got = get(&*store, k)
            .await
            .unwrap_or_else(|| panic!("[{name}] {k:?} is missing"));
        assert_eq!(got.key, *k, "[{name}] get returned another key");
        assert_eq!(
            got.grant.access_token.expose_secret(),
            token_for(k),
            "[{name}] {k:?} holds another key's session"
        );
    }
    assert!(store.delete(&keys[0]).await.unwrap());
    for k in &keys[1..] {
        assert!(
            get(&*store, k).await.is_some(),
            "[{name}] deleting {:?} removed {k:?}",
            keys[0]
        );
    }
    assert_eq!(store.list(None).await.unwrap().len(), keys.len() - 1);
}

/// `put_pending`, then `pending` and `pending_for` return every field, for several statuses.
pub async fn pending_round_trip(store: Arc<dyn SessionStore>) {
    let name = store.name();
    let now = keyfob_core::now();
    let full = flow(key("acme", "t", "work"), hash(1), now + 600);
    let mut bare = flow(key("acme", "t", "home"), hash(2), now + 600);
    bare.verifier = None;
    bare.scopes.clear();
    let mut failed = flow(key("acme", "u", "work"), hash(3), now + 600);
    failed.status = FlowStatus::Failed(ErrorKind::Denied, "the user refused access".into());
    let mut done = flow(key("acme", "v", "work"), hash(4), now + 600);
    done.status = FlowStatus::Done;
    for f in [&full, &bare, &failed, &done] {
        store
            .put_pending(f)
            .await
            .unwrap_or_else(|e| panic!("[{name}] put_pending: {e:?}"));
        let got = store.pending(&f.state_hash).await.unwrap();
        assert_same_flow(name, got.as_ref(), f, "pending(state_hash)");
        let by_key = store.pending_for(&f.key).await.unwrap();
        assert_same_flow(name, by_key.as_ref(), f, "pending_for(key)");
    }
}

/// A second `put_pending` for the same session key replaces the first flow; flows of other keys
/// stay.
pub async fn pending_replaced_per_key(store: Arc<dyn SessionStore>) {
    let name = store.name();
    let now = keyfob_core::now();
    let k = key("acme", "t", "default");
    let other = flow(key("acme", "t", "work"), hash(9), now + 600);
    store.put_pending(&other).await.unwrap();
    let old = flow(k.clone(), hash(1), now + 600);
    store.put_pending(&old).await.unwrap();
    let new = flow(k.clone(), hash(2), now + 600);
    store.put_pending(&new).await.unwrap();
    assert!(
        store.pending(&old.state_hash).await.unwrap().is_none(),
        "[{name}] a replaced flow must be gone"
    );
    assert!(
        store
            .claim_pending(&old.state_hash, now)
            .await
            .unwrap()
            .is_none(),
        "[{name}] a replaced flow must not be claimable"
    );
    assert_same_flow(
        name,
        store.pending_for(&k).await.unwrap().as_ref(),
        &new,
        "pending_for after replace",
    );
    assert_same_flow(
        name,
        store.pending(&new.state_hash).await.unwrap().as_ref(),
        &new,
        "pending after replace",
    );
    assert_same_flow(
        name,
        store.pending_for(&other.key).await.unwrap().as_ref(),
        &other,
        "another key's flow",
    );
}

/// A waiting, unexpired flow is claimed once: the claim returns it as `Claimed`, `pending` shows
/// `Claimed`, and a second claim (a replay) returns `None`.
pub async fn claim_once(store: Arc<dyn SessionStore>) {
    let name = store.name();
    let now = keyfob_core::now();
    let f = flow(key("acme", "t", "default"), hash(1), now + 600);
    store.put_pending(&f).await.unwrap();
    let claimed = store.claim_pending(&f.state_hash, now).await.unwrap();
    let mut want = f.clone();
    want.status = FlowStatus::Claimed;
    assert_same_flow(
        name,
        claimed.as_ref(),
        &want,
        "claim_pending of a waiting flow",
    );
    assert_same_flow(
        name,
        store.pending(&f.state_hash).await.unwrap().as_ref(),
        &want,
        "pending after claim",
    );
    assert_same_flow(
        name,
        store.pending_for(&f.key).await.unwrap().as_ref(),
        &want,
        "pending_for after claim",
    );
    assert!(
        store
            .claim_pending(&f.state_hash, now)
            .await
            .unwrap()
            .is_none(),
        "[{name}] a second claim (replay) must be None"
    );
}

/// Claims of unknown, expired (`expires_at <= now`) or no longer waiting flows return `None` and
/// change nothing.
pub async fn claim_refuses(store: Arc<dyn SessionStore>) {
    let name = store.name();
    let now = keyfob_core::now();
    assert!(
        store.claim_pending(&hash(99), now).await.unwrap().is_none(),
        "[{name}] claim of an unknown flow must be None"
    );
    let mut others = not_waiting(now);
    others.push(flow(key("acme", "t", "expired"), hash(1), now - 1));
    for f in &others {
        store.put_pending(f).await.unwrap();
        let claimed = store.claim_pending(&f.state_hash, now).await.unwrap();
        assert!(
            claimed.is_none(),
            "[{name}] claim of {f:?} at {now} must be None"
        );
        assert_same_flow(
            name,
            store.pending(&f.state_hash).await.unwrap().as_ref(),
            f,
            "a refused claim must change nothing",
        );
    }
}

/// Twenty tasks claim one `state` at once: exactly one gets the flow.
pub async fn concurrent_claim(store: Arc<dyn SessionStore>) {
    concurrent_claim_on(&[store]).await;
}

/// [`concurrent_claim`] with the tasks spread over several handles to the same data.
///
/// # Panics
/// When `stores` is empty, or a rule is broken.
pub async fn concurrent_claim_on(stores: &[Arc<dyn SessionStore>]) {
    let name = stores[0].name();
    let now = keyfob_core::now();
    let f = flow(key("acme", "race", "default"), hash(1), now + 600);
    stores[0].put_pending(&f).await.unwrap();
    let barrier = Arc::new(Barrier::new(CLAIM_TASKS));
    let tasks: Vec<_> = (0..CLAIM_TASKS)
        .map(|i| {
            let store = Arc::clone(&stores[i % stores.len()]);
            let (barrier, state_hash) = (Arc::clone(&barrier), f.state_hash.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store.claim_pending(&state_hash, now).await.unwrap()
            })
        })
        .collect();
    let mut claims = 0;
    for task in tasks {
        if let Some(claimed) = join(task).await {
            assert_eq!(
                claimed.status,
                FlowStatus::Claimed,
                "[{name}] a claimed flow must say Claimed"
            );
            claims += 1;
        }
    }
    assert_eq!(
        claims, 1,
        "[{name}] exactly one of {CLAIM_TASKS} concurrent claims must succeed"
    );
    let status = stores[0]
        .pending(&f.state_hash)
        .await
        .unwrap()
        .map(|p| p.status);
    assert_eq!(
        status,
        Some(FlowStatus::Claimed),
        "[{name}] the flow must stay Claimed"
    );
}

/// `bind_pending` records the first browser and keeps it: a second browser's bind returns the
/// flow with the first one's hash, and the binding survives a claim.
pub async fn bind_once(store: Arc<dyn SessionStore>) {
    let name = store.name();
    let now = keyfob_core::now();
    let f = flow(key("acme", "t", "default"), hash(1), now + 600);
    store.put_pending(&f).await.unwrap();
    let mut want = f.clone();
    want.browser = Some(hash(50));
    let bound = store
        .bind_pending(&f.state_hash, &hash(50), now)
        .await
        .unwrap();
    assert_same_flow(
        name,
        bound.as_ref(),
        &want,
        "bind_pending of a waiting flow",
    );
    let second = store
        .bind_pending(&f.state_hash, &hash(51), now)
        .await
        .unwrap();
    assert_same_flow(
        name,
        second.as_ref(),
        &want,
        "a second browser's bind must return the first browser's binding",
    );
    assert_same_flow(
        name,
        store.pending(&f.state_hash).await.unwrap().as_ref(),
        &want,
        "pending after bind",
    );
    let claimed = store.claim_pending(&f.state_hash, now).await.unwrap();
    want.status = FlowStatus::Claimed;
    assert_same_flow(name, claimed.as_ref(), &want, "a claim keeps the binding");
}

/// Binding an unknown, expired or no longer waiting flow returns `None` and changes nothing.
pub async fn bind_refuses(store: Arc<dyn SessionStore>) {
    let name = store.name();
    let now = keyfob_core::now();
    assert!(
        store
            .bind_pending(&hash(99), &hash(50), now)
            .await
            .unwrap()
            .is_none(),
        "[{name}] bind of an unknown flow must be None"
    );
    let others = not_waiting(now);
    for f in &others {
        store.put_pending(f).await.unwrap();
        let bound = store
            .bind_pending(&f.state_hash, &hash(50), now)
            .await
            .unwrap();
        assert!(
            bound.is_none(),
            "[{name}] bind of {f:?} at {now} must be None"
        );
        assert_same_flow(
            name,
            store.pending(&f.state_hash).await.unwrap().as_ref(),
            f,
            "a refused bind must change nothing",
        );
    }
}

/// Twenty browsers open one link at once: every bind returns the same, one browser.
pub async fn concurrent_bind(store: Arc<dyn SessionStore>) {
    let name = store.name();
    let now = keyfob_core::now();
    let f = flow(key("acme", "race", "default"), hash(1), now + 600);
    store.put_pending(&f).await.unwrap();
    let barrier = Arc::new(Barrier::new(CLAIM_TASKS));
    let tasks: Vec<_> = (0..CLAIM_TASKS)
        .map(|i| {
            let store = Arc::clone(&store);
            let (barrier, state_hash) = (Arc::clone(&barrier), f.state_hash.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .bind_pending(&state_hash, &hash(100 + i as u64), now)
                    .await
                    .unwrap()
                    .and_then(|f| f.browser)
            })
        })
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    for task in tasks {
        seen.insert(join(task).await);
    }
    assert_eq!(
        seen.len(),
        1,
        "[{name}] {CLAIM_TASKS} concurrent binds must all see one browser, saw {seen:?}"
    );
    let stored = store.pending(&f.state_hash).await.unwrap().unwrap().browser;
    assert_eq!(
        seen.into_iter().next().flatten(),
        stored,
        "[{name}] the browser every bind saw must be the stored one"
    );
}

/// `finish_pending` with `Done` and with `Failed(kind, message)` is visible through `pending` and
/// `pending_for`, and keeps the other fields; finishing an unknown flow is a no-op.
pub async fn finish_pending(store: Arc<dyn SessionStore>) {
    let name = store.name();
    let now = keyfob_core::now();
    let statuses = [
        FlowStatus::Done,
        FlowStatus::Failed(ErrorKind::Denied, "the user refused access".into()),
    ];
    for (i, status) in statuses.into_iter().enumerate() {
        let f = flow(
            key("acme", "t", &format!("p{i}")),
            hash(i as u64 + 1),
            now + 600,
        );
        store.put_pending(&f).await.unwrap();
        store
            .claim_pending(&f.state_hash, now)
            .await
            .unwrap()
            .expect("a waiting flow can be claimed");
        store
            .finish_pending(&f.state_hash, status.clone())
            .await
            .unwrap();
        let mut want = f.clone();
        want.status = status;
        assert_same_flow(
            name,
            store.pending(&f.state_hash).await.unwrap().as_ref(),
            &want,
            "pending after finish_pending",
        );
        assert_same_flow(
            name,
            store.pending_for(&f.key).await.unwrap().as_ref(),
            &want,
            "pending_for after finish_pending",
        );
        assert!(
            store
                .claim_pending(&f.state_hash, now)
                .await
                .unwrap()
                .is_none(),
            "[{name}] a finished flow must not be claimable"
        );
    }
    store
        .finish_pending(&hash(99), FlowStatus::Done)
        .await
        .unwrap_or_else(|e| {
            panic!("[{name}] finish_pending of an unknown flow must be a no-op: {e:?}");
        });
    assert!(
        store.pending(&hash(99)).await.unwrap().is_none(),
        "[{name}] finish_pending must not create a flow"
    );
}

/// `delete_pending` removes one flow (by hash and by key) and leaves the others; deleting an
/// unknown flow is a no-op.
pub async fn delete_pending(store: Arc<dyn SessionStore>) {
    let name = store.name();
    let now = keyfob_core::now();
    let gone = flow(key("acme", "t", "a"), hash(1), now + 600);
    let kept = flow(key("acme", "t", "b"), hash(2), now + 600);
    store.put_pending(&gone).await.unwrap();
    store.put_pending(&kept).await.unwrap();
    store.delete_pending(&gone.state_hash).await.unwrap();
    assert!(
        store.pending(&gone.state_hash).await.unwrap().is_none(),
        "[{name}] pending after delete_pending must be None"
    );
    assert!(
        store.pending_for(&gone.key).await.unwrap().is_none(),
        "[{name}] pending_for after delete_pending must be None"
    );
    assert!(
        store
            .claim_pending(&gone.state_hash, now)
            .await
            .unwrap()
            .is_none(),
        "[{name}] a deleted flow must not be claimable"
    );
    assert_same_flow(
        name,
        store.pending(&kept.state_hash).await.unwrap().as_ref(),
        &kept,
        "another flow after delete_pending",
    );
    store
        .delete_pending(&gone.state_hash)
        .await
        .unwrap_or_else(|e| {
            panic!("[{name}] delete_pending of an unknown flow must be a no-op: {e:?}");
        });
}

/// `purge_expired` removes exactly the flows with `expires_at <= now`, whatever their status,
/// returns how many, and leaves nothing of them behind.
pub async fn purge_expired(store: Arc<dyn SessionStore>) {
    let name = store.name();
    let now = keyfob_core::now();
    let old = flow(key("acme", "t", "old"), hash(1), now - 100);
    let mut claimed = flow(key("acme", "t", "claimed"), hash(2), now - 1);
    claimed.status = FlowStatus::Claimed;
    let boundary = flow(key("acme", "t", "boundary"), hash(3), now);
    let live = flow(key("acme", "t", "live"), hash(4), now + 1);
    let mut live_done = flow(key("acme", "t", "live-done"), hash(5), now + 600);
    live_done.status = FlowStatus::Done;
    let expired = [&old, &claimed, &boundary];
    let kept = [&live, &live_done];
    for f in expired.iter().chain(&kept) {
        store.put_pending(f).await.unwrap();
    }
    let purged = store.purge_expired(now).await.unwrap();
    assert_eq!(
        purged,
        expired.len(),
        "[{name}] purge_expired must return how many flows it removed"
    );
    for f in expired {
        assert!(
            store.pending(&f.state_hash).await.unwrap().is_none(),
            "[{name}] a purged flow must be gone: {f:?}"
        );
        assert!(
            store.pending_for(&f.key).await.unwrap().is_none(),
            "[{name}] a purged flow must be gone by key: {f:?}"
        );
    }
    for f in kept {
        assert_same_flow(
            name,
            store.pending(&f.state_hash).await.unwrap().as_ref(),
            f,
            "an unexpired flow after purge",
        );
    }
    assert_eq!(
        store.purge_expired(now).await.unwrap(),
        0,
        "[{name}] a second purge must remove nothing"
    );
    let fresh = flow(old.key.clone(), hash(6), now + 600);
    store.put_pending(&fresh).await.unwrap();
    assert_same_flow(
        name,
        store.pending_for(&old.key).await.unwrap().as_ref(),
        &fresh,
        "a new flow for a purged key",
    );
}

fn key(provider: &str, thread: &str, profile: &str) -> SessionKey {
    SessionKey::new(provider, thread, profile)
}

/// A 64-digit hex string, shaped like the SHA-256 of a `state`.
/// Flows no claim or bind may take: expiring exactly `now` (`expires_at <= now` is expired),
/// and unexpired ones that are claimed, done or failed.
fn not_waiting(now: i64) -> Vec<PendingFlow> {
    let mut flows = vec![flow(key("acme", "t", "boundary"), hash(2), now)];
    for (i, status) in [
        FlowStatus::Claimed,
        FlowStatus::Done,
        FlowStatus::Failed(ErrorKind::Denied, "no".into()),
    ]
    .into_iter()
    .enumerate()
    {
        let mut f = flow(
            key("acme", "t", &format!("status-{i}")),
            hash(10 + i as u64),
            now + 600,
        );
        f.status = status;
        flows.push(f);
    }
    flows
}

fn hash(n: u64) -> String {
    format!("{n:064x}")
}

fn token_for(k: &SessionKey) -> String {
    format!("token:{}|{}|{}", k.provider, k.thread, k.profile)
}

/// A session with every optional field set.
fn session(key: SessionKey, access_token: &str) -> Session {
    let mut detail = serde_json::Map::new();
    detail.insert("workspace_id".into(), "ws-42".into());
    detail.insert(
        "nested".into(),
        serde_json::json!({ "n": 1, "list": [true, null, "é"] }),
    );
    Session {
        key,
        handler: "acme-oauth2".into(),
        grant: Grant {
            access_token: SecretString::from(access_token),
            refresh_token: Some(SecretString::from(format!("refresh-{access_token}"))),
            expires_at: Some(1_900_000_000),
            scopes: scope::from_iter(["read", "write:all"]),
            token_type: Some("bearer".into()),
            extra_secrets: vec![("ACME_API_SECRET".into(), SecretString::from("extra-secret"))],
            detail,
            identity: Some("octocat@example.com".into()),
            requested: scope::from_iter(["read", "write:all", "admin"]),
        },
        created_at: 1_700_000_000,
        updated_at: 1_700_000_100,
        refresh_error: Some("invalid_grant".into()),
        version: 0,
    }
}

fn flow(key: SessionKey, state_hash: String, expires_at: i64) -> PendingFlow {
    PendingFlow {
        id: format!("flow-{}", &state_hash[56..]),
        prompt_url: SecretString::from(format!(
            "https://id.acme.test/authorize?state=s{}",
            &state_hash[56..]
        )),
        verifier: Some(SecretString::from(format!("verifier-{state_hash}"))),
        state_hash,
        key,
        handler: "acme-oauth2".into(),
        scopes: scope::from_iter(["read", "write:all"]),
        redirect_uri: "http://127.0.0.1:8976/callback".into(),
        created_at: expires_at - 600,
        expires_at,
        status: FlowStatus::Waiting,
        user_code: Some("WDJB-MJHT".into()),
        next_url: Some(SecretString::from(
            "https://id.acme.test/authorize?code_challenge=c&state=s",
        )),
        browser: None,
    }
}

async fn get(store: &dyn SessionStore, key: &SessionKey) -> Option<Session> {
    store
        .get(key)
        .await
        .unwrap_or_else(|e| panic!("[{}] get {key}: {e:?}", store.name()))
}

/// The task's output; a panic inside the task is re-raised here with its own message.
async fn join<T>(task: JoinHandle<T>) -> T {
    match task.await {
        Ok(v) => v,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("a check task was cancelled: {e}"),
    }
}

fn assert_conflict(name: &str, what: &str, result: keyfob_core::Result<u64>) {
    match result {
        Err(e) if e.kind() == ErrorKind::Conflict => {}
        other => panic!("[{name}] {what} must fail with ErrorKind::Conflict, got {other:?}"),
    }
}

fn secrets(v: &[(String, SecretString)]) -> Vec<(&str, &str)> {
    v.iter()
        .map(|(k, s)| (k.as_str(), s.expose_secret()))
        .collect()
}

/// Every field but the version.
fn assert_same_session(name: &str, got: &Session, want: &Session) {
    let (g, w) = (&got.grant, &want.grant);
    let ctx = format!("[{name}] session {} lost a field", want.key);
    assert_eq!(got.key, want.key, "{ctx}: key");
    assert_eq!(got.handler, want.handler, "{ctx}: handler");
    assert!(
        g.access_token.expose_secret() == w.access_token.expose_secret(),
        "{ctx}: access_token"
    );
    assert!(
        g.refresh_token.as_ref().map(ExposeSecret::expose_secret)
            == w.refresh_token.as_ref().map(ExposeSecret::expose_secret),
        "{ctx}: refresh_token"
    );
    assert_eq!(g.expires_at, w.expires_at, "{ctx}: expires_at");
    assert_eq!(g.scopes, w.scopes, "{ctx}: scopes");
    assert_eq!(g.token_type, w.token_type, "{ctx}: token_type");
    assert!(
        secrets(&g.extra_secrets) == secrets(&w.extra_secrets),
        "{ctx}: extra_secrets"
    );
    assert_eq!(g.detail, w.detail, "{ctx}: detail");
    assert_eq!(g.identity, w.identity, "{ctx}: identity");
    assert_eq!(g.requested, w.requested, "{ctx}: requested");
    assert_eq!(got.created_at, want.created_at, "{ctx}: created_at");
    assert_eq!(got.updated_at, want.updated_at, "{ctx}: updated_at");
    assert_eq!(
        got.refresh_error, want.refresh_error,
        "{ctx}: refresh_error"
    );
}

fn assert_same_flow(name: &str, got: Option<&PendingFlow>, want: &PendingFlow, what: &str) {
    let ctx = format!("[{name}] {what}");
    let got = got.unwrap_or_else(|| panic!("{ctx}: expected {want:?}, got None"));
    assert_eq!(got.id, want.id, "{ctx}: id");
    assert_eq!(got.state_hash, want.state_hash, "{ctx}: state_hash");
    assert_eq!(got.key, want.key, "{ctx}: key");
    assert_eq!(got.handler, want.handler, "{ctx}: handler");
    assert_eq!(got.scopes, want.scopes, "{ctx}: scopes");
    assert_eq!(got.redirect_uri, want.redirect_uri, "{ctx}: redirect_uri");
    assert!(
        got.verifier.as_ref().map(ExposeSecret::expose_secret)
            == want.verifier.as_ref().map(ExposeSecret::expose_secret),
        "{ctx}: verifier"
    );
    assert!(
        got.prompt_url.expose_secret() == want.prompt_url.expose_secret(),
        "{ctx}: prompt_url"
    );
    assert_eq!(got.created_at, want.created_at, "{ctx}: created_at");
    assert_eq!(got.expires_at, want.expires_at, "{ctx}: expires_at");
    assert_eq!(got.status, want.status, "{ctx}: status");
    assert_eq!(got.user_code, want.user_code, "{ctx}: user_code");
    assert!(
        got.next_url.as_ref().map(ExposeSecret::expose_secret)
            == want.next_url.as_ref().map(ExposeSecret::expose_secret),
        "{ctx}: next_url"
    );
    assert_eq!(got.browser, want.browser, "{ctx}: browser");
}
