//! Refreshing ahead of need: a background task that refreshes sessions shortly before their
//! access tokens expire, through the single-flight path of `refresh.rs`, and the counters behind
//! [`Engine::stats`].
//!
//! Invariants:
//! - The lead is at least the refresh margin plus one period, so no caller finds a session due
//!   while the task runs.
//! - A session's jitter is fixed (a hash of its key), so successive passes agree on when it is
//!   due.
//! - Sessions without a refresh token, already marked for a new login, or of a provider without
//!   refresh are skipped.
//! - Dropping the [`RefreshAheadTask`] stops the task.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

use crate::engine::Engine;
use crate::error::Result;
use crate::now;
use crate::session::SessionKey;
use crate::spec::{Handler, Refresh};

/// Counters behind [`Engine::stats`].
#[derive(Debug, Default)]
pub(super) struct Counters {
    inline: AtomicU64,
    background: AtomicU64,
    background_failed: AtomicU64,
}

impl Counters {
    /// A caller found its session due and refreshed it on its own path.
    pub(super) fn inline_refresh(&self) {
        self.inline.fetch_add(1, Ordering::Relaxed);
    }
}

/// What the engine did since it was built; for tests, benchmarks and `keyfob serve` logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EngineStats {
    /// Refreshes a caller (`ensure`, `credentials`) had to wait for.
    pub inline_refreshes: u64,
    /// Refreshes done ahead of need by [`Engine::refresh_ahead`].
    pub background_refreshes: u64,
    /// Background refreshes that failed (the session is marked when the failure needs the user).
    pub background_failures: u64,
}

/// Options of [`Engine::refresh_ahead`].
#[derive(Debug, Clone, Copy)]
pub struct RefreshAhead {
    /// Refresh a session this long before its access token expires. Raised, if needed, to the
    /// engine's refresh margin plus one `every`, so that no caller ever finds a session due.
    pub lead: Duration,
    /// Up to this much earlier again, fixed per session, so that sessions logged in together
    /// do not all refresh in the same second.
    pub jitter: Duration,
    /// How often to look.
    pub every: Duration,
}

impl Default for RefreshAhead {
    fn default() -> Self {
        RefreshAhead {
            lead: Duration::from_secs(300),
            jitter: Duration::from_secs(60),
            every: Duration::from_secs(15),
        }
    }
}

/// The background task of [`Engine::refresh_ahead`]; stops when dropped.
#[derive(Debug)]
pub struct RefreshAheadTask {
    handle: tokio::task::JoinHandle<()>,
}

impl RefreshAheadTask {
    /// Stops the task.
    pub fn stop(self) {}
}

impl Drop for RefreshAheadTask {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

impl Engine {
    /// Counters since the engine was built.
    pub fn stats(&self) -> EngineStats {
        let c = &self.inner.stats;
        EngineStats {
            inline_refreshes: c.inline.load(Ordering::Relaxed),
            background_refreshes: c.background.load(Ordering::Relaxed),
            background_failures: c.background_failed.load(Ordering::Relaxed),
        }
    }

    /// One pass of refresh-ahead: refreshes every session whose access token expires within
    /// `lead` (plus its jitter) and can be refreshed; returns how many were refreshed.
    ///
    /// # Errors
    /// Store failures listing the sessions; a failing refresh is counted and logged, and marks
    /// the session when the user must log in again.
    pub async fn refresh_due(&self, lead: Duration, jitter: Duration) -> Result<usize> {
        let sessions = self.inner.store.list(None).await?;
        let now = now();
        let mut refreshed = 0;
        for s in sessions {
            let Some(expires_at) = s.grant.expires_at else {
                continue;
            };
            if s.grant.refresh_token.is_none() || s.refresh_error.is_some() {
                continue;
            }
            let Ok((_, Handler::OAuth2(spec))) = self.lookup_stored(&s) else {
                continue;
            };
            if spec.refresh == Refresh::None {
                continue;
            }
            let early = jitter_for(&s.key, jitter);
            let due_at = expires_at
                .saturating_sub(i64::try_from((lead + early).as_secs()).unwrap_or(i64::MAX));
            if now < due_at {
                continue;
            }
            match self.refresh_from(&s, true).await {
                Ok(after) if after.refresh_error.is_none() && after.version != s.version => {
                    self.inner.stats.background.fetch_add(1, Ordering::Relaxed);
                    refreshed += 1;
                }
                Ok(_) => {
                    self.inner
                        .stats
                        .background_failed
                        .fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    self.inner
                        .stats
                        .background_failed
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        provider = s.key.provider.as_str(),
                        kind = e.kind().as_str(),
                        "refresh ahead failed"
                    );
                }
            }
        }
        Ok(refreshed)
    }

    /// Starts refreshing sessions ahead of need in the background, every `opts.every`, until
    /// the returned task is dropped. Sessions whose refresh token is rejected are marked, so
    /// that `status` and the tools API ask for a new login instead of failing at call time.
    pub fn refresh_ahead(&self, opts: RefreshAhead) -> RefreshAheadTask {
        let margin = Duration::from_secs(self.inner.config.session.refresh_margin_secs);
        let lead = opts.lead.max(margin + opts.every + Duration::from_secs(1));
        let engine = self.clone();
        let handle = tokio::spawn(async move {
            loop {
                if let Err(e) = engine.refresh_due(lead, opts.jitter).await {
                    tracing::warn!(
                        kind = e.kind().as_str(),
                        "refresh ahead: cannot list sessions"
                    );
                }
                tokio::time::sleep(opts.every).await;
            }
        });
        RefreshAheadTask { handle }
    }
}

/// A fixed share of `jitter` for `key`, so that passes agree on when a session is due.
fn jitter_for(key: &SessionKey, jitter: Duration) -> Duration {
    use std::hash::{Hash, Hasher};
    let secs = jitter.as_secs();
    if secs == 0 {
        return Duration::ZERO;
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    Duration::from_secs(h.finish() % (secs + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_is_stable_and_bounded() {
        let k = SessionKey::default_for("github");
        let j = jitter_for(&k, Duration::from_secs(60));
        assert_eq!(j, jitter_for(&k, Duration::from_secs(60)));
        assert!(j <= Duration::from_secs(60));
        assert_eq!(jitter_for(&k, Duration::ZERO), Duration::ZERO);
    }
}
