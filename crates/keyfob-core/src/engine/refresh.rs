//! Single-flight refresh: concurrent callers for one session share one token request, within the
//! process (an async mutex per session key) and across processes (the store's lease).
//!
//! Invariants:
//! - Under the lock the session is read again; a usable version written since the caller read
//!   it (a refresh, a new login) is the answer, and no request is sent.
//! - A new grant is written with compare-and-swap on the version, a rotated refresh token in that
//!   same write; on a conflict the other writer's session wins.
//! - A failed refresh never deletes the session. A transient failure leaves a still-valid access
//!   token in use; a terminal one (`ReauthRequired`) marks the session, which is then refused
//!   until a new login.
//! - A failure is remembered for 5 s per session version, so callers queued behind it share it
//!   instead of sending the doomed request again.

use std::sync::Arc;
use std::time::Duration;

use crate::engine::{Engine, no_session, random_token};
use crate::error::{Error, ErrorKind, Result};
use crate::now;
use crate::scope::Scopes;
use crate::session::{Session, SessionKey, SessionState};
use crate::spec::{Handler, Refresh};
use crate::store::Expect;

/// How long a failed refresh is remembered for callers that queued behind it.
const FAILURE_MEMORY: Duration = Duration::from_secs(5);

/// A refresh that failed, shared with the callers that were waiting for it.
pub(super) struct Failure {
    version: u64,
    at: std::time::Instant,
    kind: ErrorKind,
    message: String,
}

impl Engine {
    fn flight(&self, key: &SessionKey) -> Arc<tokio::sync::Mutex<()>> {
        let mut flights = self.inner.flights.lock().unwrap_or_else(|e| e.into_inner());
        flights.retain(|_, l| Arc::strong_count(l) > 1);
        flights.entry(key.clone()).or_default().clone()
    }

    /// Refreshes the session if it still needs it. Concurrent callers for one key share one
    /// token request: the first refreshes while the rest wait, then re-read what it stored.
    ///
    /// A failed refresh never deletes the session; while its access token is still valid the
    /// session is returned as is (with a warning).
    ///
    /// # Errors
    /// [`ErrorKind::NoSession`]; [`ErrorKind::ReauthRequired`] when the refresh token is
    /// missing or rejected and the access token has expired; transport errors likewise.
    pub async fn refresh(&self, key: &SessionKey) -> Result<Session> {
        let seen = self
            .inner
            .store
            .get(key)
            .await?
            .ok_or_else(|| no_session(key))?;
        self.refresh_from(&seen, false).await
    }

    /// Refreshes `seen` unless someone else has written the session since it was read: then
    /// their write (a refresh, a new login) is the answer, and no second request is made.
    /// `ahead`: refresh although the token is not yet within the refresh margin.
    pub(super) async fn refresh_from(&self, seen: &Session, ahead: bool) -> Result<Session> {
        let key = &seen.key;
        let lock = self.flight(key);
        let _guard = lock.lock().await;
        let store = &self.inner.store;
        let lease = format!("refresh\0{}\0{}\0{}", key.provider, key.thread, key.profile);
        let owner = random_token(12);
        let ttl_ms = (self.inner.config.session.http_timeout_secs.max(1) + 5) * 1000;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(ttl_ms * 2);
        // Across processes: one lease holder refreshes; the others wait for its write.
        while !store.try_lock(&lease, &owner, ttl_ms).await? {
            if let Some(s) = store.get(key).await? {
                if s.version != seen.version {
                    return Ok(s);
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    "another process holds the refresh lease and has not finished",
                )
                .with_provider(&key.provider));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let result = self.refresh_locked(seen, ahead).await;
        if let Err(e) = store.unlock(&lease, &owner).await {
            tracing::warn!(
                kind = e.kind().as_str(),
                "cannot release the refresh lease; it expires by itself"
            );
        }
        result
    }

    /// The refresh itself, under both the in-process lock and the store's lease.
    async fn refresh_locked(&self, seen: &Session, ahead: bool) -> Result<Session> {
        let key = &seen.key;
        let store = &self.inner.store;
        let session = store.get(key).await?.ok_or_else(|| no_session(key))?;
        let now = now();
        let usable = !session.is_expired(now);
        if (!ahead && session.state(&Scopes::new(), now, self.margin()) == SessionState::Valid)
            || (session.version != seen.version && usable && session.refresh_error.is_none())
        {
            // Refreshed (or re-authorized) by whoever held the lock before us.
            return Ok(session);
        }
        if let Some(failure) = self.recent_failure(key, session.version) {
            // The caller before us just failed on this very session: share its outcome rather
            // than send the same doomed request again.
            return if usable && failure.kind() != ErrorKind::ReauthRequired {
                Ok(session)
            } else {
                Err(failure)
            };
        }
        if let Some(why) = &session.refresh_error {
            // The refresh token was rejected for good. The provider has most likely revoked the
            // access token with the grant, so it is not handed out: only a new login helps.
            return Err(
                Error::new(ErrorKind::ReauthRequired, why.clone()).with_provider(&key.provider)
            );
        }
        let (provider, handler) = self.lookup_stored(&session)?;
        // A session that cannot be refreshed (no refresh token, or a provider without refresh)
        // is used while its token is valid; only a server's refusal ends a session early.
        let refreshable = session.grant.refresh_token.is_some()
            && !matches!(handler, Handler::OAuth2(o) if o.refresh == Refresh::None);
        if !refreshable && usable {
            return Ok(session);
        }
        match self.driver(provider, handler).refresh(&session.grant).await {
            Ok(grant) => {
                let mut next = Session {
                    grant,
                    updated_at: now,
                    refresh_error: None,
                    version: 0,
                    ..session.clone()
                };
                match store.put(&next, Expect::Version(session.version)).await {
                    Ok(v) => {
                        next.version = v;
                        tracing::info!(provider = provider.id, "access token refreshed");
                        Ok(next)
                    }
                    Err(e) if e.kind() == ErrorKind::Conflict => {
                        // Another process refreshed meanwhile; its write wins.
                        store.get(key).await?.ok_or_else(|| no_session(key))
                    }
                    Err(e) => Err(e),
                }
            }
            Err(e) => {
                // Another process may have rotated the refresh token under us: prefer its result.
                if let Some(current) = store.get(key).await? {
                    if current.version != session.version
                        && current.state(&Scopes::new(), now, self.margin()) == SessionState::Valid
                    {
                        return Ok(current);
                    }
                }
                let mut version = session.version;
                if e.kind() == ErrorKind::ReauthRequired {
                    let marked = Session {
                        refresh_error: Some(e.to_string()),
                        ..session.clone()
                    };
                    match store.put(&marked, Expect::Version(session.version)).await {
                        Ok(v) => version = v,
                        Err(ce) if ce.kind() == ErrorKind::Conflict => {}
                        Err(ce) => return Err(ce),
                    }
                }
                self.record_failure(key, version, &e);
                // A transient failure (network, 5xx, a timeout) leaves a still-valid access
                // token usable; a terminal one (the grant was refused) does not.
                if !session.is_expired(now) && e.kind() != ErrorKind::ReauthRequired {
                    tracing::warn!(
                        provider = provider.id,
                        kind = e.kind().as_str(),
                        "refresh failed; the access token is still valid, using it"
                    );
                    return Ok(session);
                }
                Err(e)
            }
        }
    }

    /// The failure of a refresh of `key` at `version` in the last few seconds, if any.
    fn recent_failure(&self, key: &SessionKey, version: u64) -> Option<Error> {
        let failures = self
            .inner
            .failures
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        failures.get(key).and_then(|f| {
            (f.version == version && f.at.elapsed() < FAILURE_MEMORY)
                .then(|| Error::new(f.kind, f.message.clone()))
        })
    }

    fn record_failure(&self, key: &SessionKey, version: u64, e: &Error) {
        let mut failures = self
            .inner
            .failures
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        failures.retain(|_, f| f.at.elapsed() < FAILURE_MEMORY);
        failures.insert(
            key.clone(),
            Failure {
                version,
                at: std::time::Instant::now(),
                kind: e.kind(),
                message: e.to_string(),
            },
        );
    }
}
