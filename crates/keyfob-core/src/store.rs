//! The `SessionStore` trait, pending-flow records, and the in-memory store.
//!
//! Every store passes the same conformance suite (`keyfob_testkit::store_conformance!`).

pub mod notices;

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use async_trait::async_trait;
use secrecy::SecretString;

use crate::error::{Error, ErrorKind, Result};
use crate::scope::Scopes;
use crate::session::{Session, SessionKey};

/// What a write expects to find, for compare-and-swap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// No session may exist yet.
    Absent,
    /// The stored session must have this version.
    Version(u64),
    /// Overwrite whatever is there.
    Any,
}

/// Where a pending flow stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlowStatus {
    /// Waiting for the user; its `state` may be used once.
    Waiting,
    /// A callback claimed the `state` and is completing the flow.
    Claimed,
    /// The session was stored.
    Done,
    /// The flow ended in an error that the waiter should see.
    Failed(ErrorKind, String),
}

/// A flow started but not finished, keyed by the SHA-256 of its `state`.
#[derive(Clone)]
pub struct PendingFlow {
    /// A non-secret id for waiting and logs.
    pub id: String,
    /// Hex SHA-256 of the `state`; the `state` itself is never stored.
    pub state_hash: String,
    /// The session the flow will write.
    pub key: SessionKey,
    /// The handler running the flow.
    pub handler: String,
    /// The scopes asked for.
    pub scopes: Scopes,
    /// The redirect URI sent with the authorization request (the exchange must repeat it).
    pub redirect_uri: String,
    /// The PKCE verifier.
    pub verifier: Option<SecretString>,
    /// The URL shown to the user: keyfob's start link for browser flows (it carries the `state`,
    /// so it is kept secret), the verification URL for device flows.
    pub prompt_url: SecretString,
    /// Where the start link sends the browser that opened it: the provider's authorization URL
    /// (with the `state` and the PKCE challenge) or the token-entry page. `None` for device flows.
    pub next_url: Option<SecretString>,
    /// Hex SHA-256 of the cookie given to the first browser that opened the start link; the
    /// callback and the token form accept only that browser. `None` until the link is opened.
    pub browser: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds after which the `state` is refused and the record purged.
    pub expires_at: i64,
    /// Progress.
    pub status: FlowStatus,
    /// The code the user types, for device flows (not a secret: it is shown on screen).
    pub user_code: Option<String>,
}

impl PendingFlow {
    /// Whether the flow still waits for its user at `now` (seconds): not claimed or finished,
    /// and not expired. Only such a flow may be bound to a browser or claimed.
    pub fn is_waiting(&self, now: i64) -> bool {
        self.status == FlowStatus::Waiting && self.expires_at > now
    }
}

impl fmt::Debug for PendingFlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingFlow")
            .field("id", &self.id)
            .field("key", &self.key)
            .field("handler", &self.handler)
            .field("scopes", &self.scopes)
            .field("expires_at", &self.expires_at)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// Where sessions and pending flows live.
///
/// Implementations must make `put` with [`Expect`] and `claim_pending` atomic: the engine's
/// single-flight refresh and single-use `state` rest on them. Versions are never reused for a
/// key, not even after a delete; a flow is expired when `expires_at <= now`; finishing or
/// deleting an unknown flow does nothing (a newer login may have replaced it).
#[async_trait]
pub trait SessionStore: Send + Sync + fmt::Debug {
    /// A short name for messages (`memory`, `sqlite`).
    fn name(&self) -> &'static str;

    /// Where the sessions are, for people (a file, `host:port/database`); never a password.
    fn location(&self) -> Option<String> {
        None
    }

    /// The session for `key`, with its version.
    async fn get(&self, key: &SessionKey) -> Result<Option<Session>>;

    /// Writes `session` if the stored version matches `expect`, and returns the new version.
    ///
    /// # Errors
    /// [`ErrorKind::Conflict`] when another writer got there first.
    async fn put(&self, session: &Session, expect: Expect) -> Result<u64>;

    /// Deletes the session; `true` when there was one.
    async fn delete(&self, key: &SessionKey) -> Result<bool>;

    /// Sessions of one thread, or all of them, sorted by key.
    async fn list(&self, thread: Option<&str>) -> Result<Vec<Session>>;

    /// Stores a pending flow, replacing any earlier flow for the same session key.
    async fn put_pending(&self, flow: &PendingFlow) -> Result<()>;

    /// The pending flow with this state hash, whatever its status.
    async fn pending(&self, state_hash: &str) -> Result<Option<PendingFlow>>;

    /// The pending flow for a session key.
    async fn pending_for(&self, key: &SessionKey) -> Result<Option<PendingFlow>>;

    /// Atomically moves a `Waiting`, unexpired flow to `Claimed` and returns it; `None` when the
    /// flow is unknown, expired or already claimed (a replay).
    async fn claim_pending(&self, state_hash: &str, now: i64) -> Result<Option<PendingFlow>>;

    /// Binds a `Waiting`, unexpired flow to the browser that opened its start link: records
    /// `browser` (a hash) if the flow has no browser yet, atomically, so that of two browsers
    /// opening the link at once exactly one is bound. Returns the flow as stored afterwards (its
    /// `browser` is another's when someone got there first); `None` when the flow is unknown,
    /// expired or no longer waiting.
    async fn bind_pending(
        &self,
        state_hash: &str,
        browser: &str,
        now: i64,
    ) -> Result<Option<PendingFlow>>;

    /// Records how a claimed flow ended.
    async fn finish_pending(&self, state_hash: &str, status: FlowStatus) -> Result<()>;

    /// Removes a pending flow.
    async fn delete_pending(&self, state_hash: &str) -> Result<()>;

    /// Removes every pending flow whose `expires_at` has passed; returns how many.
    async fn purge_expired(&self, now: i64) -> Result<usize>;

    /// Takes the lease `name` for `owner` for `ttl_ms` milliseconds, or extends it if `owner`
    /// holds it; `false` when someone else holds an unexpired lease. Stores shared between
    /// processes implement it so that one refresh happens across all of them; the default (for
    /// stores private to one process, where the engine's in-process lock suffices) always grants.
    async fn try_lock(&self, _name: &str, _owner: &str, _ttl_ms: u64) -> Result<bool> {
        Ok(true)
    }

    /// Releases the lease `name` if `owner` holds it.
    async fn unlock(&self, _name: &str, _owner: &str) -> Result<()> {
        Ok(())
    }

    /// Announces that the session or flow of `key` changed, to waiters in other processes
    /// (Redis pub/sub). The default does nothing: waiters poll.
    async fn publish(&self, _key: &SessionKey) -> Result<()> {
        Ok(())
    }

    /// Returns when [`SessionStore::publish`] is called for `key` by any process, or after
    /// `max`, whichever comes first. The default just sleeps `max` (waiters then poll).
    async fn wait_published(&self, _key: &SessionKey, max: std::time::Duration) {
        tokio::time::sleep(max).await;
    }
}

/// Sessions in process memory: fast, lost on exit. Always compiled in.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<MemoryInner>,
}

#[derive(Default)]
struct MemoryInner {
    // Boxed, so that growing a map moves pointers rather than whole records.
    sessions: HashMap<SessionKey, Box<Session>>,
    pending: HashMap<String, Box<PendingFlow>>,
    /// The state hash of each session key's flow, so that replacing and finding are O(1).
    pending_by_key: HashMap<SessionKey, String>,
    next_version: u64,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryInner> {
        // A panic while holding the lock cannot leave a half-written map entry, so go on.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.lock();
        f.debug_struct("MemoryStore")
            .field("sessions", &inner.sessions.len())
            .field("pending", &inner.pending.len())
            .finish()
    }
}

/// The error every store returns when a compare-and-swap loses.
pub fn conflict(key: &SessionKey) -> Error {
    Error::new(
        ErrorKind::Conflict,
        format!("session {key} was changed by another writer"),
    )
}

#[async_trait]
impl SessionStore for MemoryStore {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn get(&self, key: &SessionKey) -> Result<Option<Session>> {
        Ok(self.lock().sessions.get(key).map(|s| Session::clone(s)))
    }

    async fn put(&self, session: &Session, expect: Expect) -> Result<u64> {
        let mut inner = self.lock();
        let current = inner.sessions.get(&session.key).map(|s| s.version);
        let ok = match expect {
            Expect::Any => true,
            Expect::Absent => current.is_none(),
            Expect::Version(v) => current == Some(v),
        };
        if !ok {
            return Err(conflict(&session.key));
        }
        inner.next_version += 1;
        let version = inner.next_version;
        let mut stored = Box::new(session.clone());
        stored.version = version;
        inner.sessions.insert(session.key.clone(), stored);
        Ok(version)
    }

    async fn delete(&self, key: &SessionKey) -> Result<bool> {
        Ok(self.lock().sessions.remove(key).is_some())
    }

    async fn list(&self, thread: Option<&str>) -> Result<Vec<Session>> {
        let inner = self.lock();
        let mut v: Vec<_> = inner
            .sessions
            .values()
            .filter(|s| thread.is_none_or(|t| s.key.thread == t))
            .map(|s| Session::clone(s))
            .collect();
        v.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(v)
    }

    async fn put_pending(&self, flow: &PendingFlow) -> Result<()> {
        let mut inner = self.lock();
        if let Some(old) = inner
            .pending_by_key
            .insert(flow.key.clone(), flow.state_hash.clone())
        {
            inner.pending.remove(&old);
        }
        inner
            .pending
            .insert(flow.state_hash.clone(), Box::new(flow.clone()));
        Ok(())
    }

    async fn pending(&self, state_hash: &str) -> Result<Option<PendingFlow>> {
        Ok(self
            .lock()
            .pending
            .get(state_hash)
            .map(|p| PendingFlow::clone(p)))
    }

    async fn pending_for(&self, key: &SessionKey) -> Result<Option<PendingFlow>> {
        let inner = self.lock();
        Ok(inner
            .pending_by_key
            .get(key)
            .and_then(|h| inner.pending.get(h))
            .map(|p| PendingFlow::clone(p)))
    }

    async fn claim_pending(&self, state_hash: &str, now: i64) -> Result<Option<PendingFlow>> {
        let mut inner = self.lock();
        match inner.pending.get_mut(state_hash) {
            Some(p) if p.is_waiting(now) => {
                p.status = FlowStatus::Claimed;
                Ok(Some(PendingFlow::clone(p)))
            }
            _ => Ok(None),
        }
    }

    async fn bind_pending(
        &self,
        state_hash: &str,
        browser: &str,
        now: i64,
    ) -> Result<Option<PendingFlow>> {
        let mut inner = self.lock();
        match inner.pending.get_mut(state_hash) {
            Some(p) if p.is_waiting(now) => {
                if p.browser.is_none() {
                    p.browser = Some(browser.to_owned());
                }
                Ok(Some(PendingFlow::clone(p)))
            }
            _ => Ok(None),
        }
    }

    async fn finish_pending(&self, state_hash: &str, status: FlowStatus) -> Result<()> {
        if let Some(p) = self.lock().pending.get_mut(state_hash) {
            p.status = status;
        }
        Ok(())
    }

    async fn delete_pending(&self, state_hash: &str) -> Result<()> {
        let mut inner = self.lock();
        if let Some(p) = inner.pending.remove(state_hash) {
            inner.pending_by_key.remove(&p.key);
        }
        Ok(())
    }

    async fn purge_expired(&self, now: i64) -> Result<usize> {
        let mut inner = self.lock();
        let expired: Vec<(String, SessionKey)> = inner
            .pending
            .iter()
            .filter(|(_, p)| p.expires_at <= now)
            .map(|(h, p)| (h.clone(), p.key.clone()))
            .collect();
        for (hash, key) in &expired {
            inner.pending.remove(hash);
            inner.pending_by_key.remove(key);
        }
        Ok(expired.len())
    }
}
