//! Client-side caching of sessions, on Redis's server-assisted tracking: a session read from
//! Redis is kept in process memory and served from there until Redis says it changed.
//!
//! The change subscription's connection (RESP3) turns tracking on in broadcast mode for the
//! store's prefix (`CLIENT TRACKING ON BCAST PREFIX <prefix>:`), so Redis sends it an
//! invalidation for every key under the prefix that anyone writes, deletes or lets expire.
//!
//! Invariants:
//! - The cache serves only while that connection is up. When it is lost (or before it is up),
//!   the cache is emptied and bypassed until tracking is on again, so no invalidation can have
//!   been missed while entries are served.
//! - An invalidation that arrives while a read is on its way is never undone by that read: a
//!   read inserts its result only if no invalidation (of any key) and no reconnection happened
//!   since it started ([`Cache::generation`]).
//! - A write through this store drops its key at once, so this process reads its own writes
//!   without waiting for the invalidation.
//! - Sessions within the refresh margin of their expiry are neither cached nor served from the
//!   cache: near expiry, every read goes to Redis, where another instance's refresh shows.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use keyfob_core::Session;

/// The cache of one store.
#[derive(Debug)]
pub(crate) struct Cache {
    margin: Duration,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Tracking is on: entries may be served.
    live: bool,
    /// Raised by every invalidation and every change of `live`.
    generation: u64,
    /// By the session's Redis key.
    entries: HashMap<String, Session>,
}

impl Cache {
    /// A cache that keeps sessions until `margin` before they expire.
    pub(crate) fn new(margin: Duration) -> Cache {
        Cache {
            margin,
            inner: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every change is a whole assignment or one map operation: a panic elsewhere leaves
        // the map consistent.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether `session` may be kept or served now.
    fn fresh(&self, session: &Session) -> bool {
        let margin = i64::try_from(self.margin.as_secs()).unwrap_or(i64::MAX);
        session
            .grant
            .expires_at
            .is_none_or(|at| at.saturating_sub(keyfob_core::now()) > margin)
    }

    /// The cached session of `key`, while tracking is on and it is not near expiry.
    pub(crate) fn get(&self, key: &str) -> Option<Session> {
        let inner = self.lock();
        if !inner.live {
            return None;
        }
        inner.entries.get(key).filter(|s| self.fresh(s)).cloned()
    }

    /// The generation a read starts at; `None` while tracking is off (nothing is cached).
    pub(crate) fn generation(&self) -> Option<u64> {
        let inner = self.lock();
        inner.live.then_some(inner.generation)
    }

    /// Keeps what a read that started at `generation` got, unless anything was invalidated
    /// since.
    pub(crate) fn put(&self, key: String, session: &Session, generation: u64) {
        if !self.fresh(session) {
            return;
        }
        let mut inner = self.lock();
        if inner.live && inner.generation == generation {
            inner.entries.insert(key, session.clone());
        }
    }

    /// Drops `keys` (every entry for `None`: Redis flushed, or the tracking table overflowed).
    pub(crate) fn invalidate(&self, keys: Option<&[&str]>) {
        let mut inner = self.lock();
        inner.generation += 1;
        match keys {
            Some(keys) => {
                for k in keys {
                    inner.entries.remove(*k);
                }
            }
            None => inner.entries.clear(),
        }
    }

    /// Tracking came up (`true`: start empty and serve) or was lost (`false`: empty, bypassed).
    pub(crate) fn set_live(&self, live: bool) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.entries.clear();
        inner.live = live;
    }

    /// Whether tracking is on.
    pub(crate) fn is_live(&self) -> bool {
        self.lock().live
    }
}

#[cfg(test)]
mod tests {
    use keyfob_core::{Grant, SecretString, SessionKey};

    use super::*;

    fn session(expires_in: Option<i64>) -> Session {
        let mut grant = Grant::bearer(SecretString::from("t"));
        grant.expires_at = expires_in.map(|s| keyfob_core::now() + s);
        Session {
            key: SessionKey::default_for("acme"),
            handler: "acme".into(),
            grant,
            created_at: 0,
            updated_at: 0,
            refresh_error: None,
            version: 1,
        }
    }

    #[test]
    fn serves_only_while_live_and_fresh_and_never_after_an_invalidation() {
        let cache = Cache::new(Duration::from_secs(300));
        assert_eq!(
            cache.generation(),
            None,
            "nothing is kept before tracking is on"
        );
        cache.set_live(true);
        let g = cache.generation().unwrap();
        cache.put("k".into(), &session(None), g);
        assert!(cache.get("k").is_some());

        // A read that started before an invalidation does not put back what it read.
        let g = cache.generation().unwrap();
        cache.invalidate(Some(&["k"]));
        cache.put("k".into(), &session(None), g);
        assert!(cache.get("k").is_none());

        // Near expiry: neither kept nor served.
        let g = cache.generation().unwrap();
        cache.put("near".into(), &session(Some(60)), g);
        assert!(cache.get("near").is_none());
        cache.put("far".into(), &session(Some(3600)), g);
        assert!(cache.get("far").is_some());

        // Tracking lost: emptied and bypassed; back: empty.
        cache.set_live(false);
        assert!(cache.get("far").is_none());
        cache.put("far".into(), &session(Some(3600)), g);
        cache.set_live(true);
        assert!(cache.get("far").is_none());

        let g = cache.generation().unwrap();
        cache.put("a".into(), &session(None), g);
        cache.invalidate(None);
        assert!(cache.get("a").is_none(), "a flush drops everything");
    }
}
