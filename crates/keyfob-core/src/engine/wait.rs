//! Waiting for a flow: [`Engine::wait`] until the user finishes a prompt, and [`Engine::cancel`]
//! to abandon it.
//!
//! Invariants:
//! - Waiting works across processes sharing a store: a completion in this process or a store
//!   publication wakes the waiter at once, and it polls every 250 ms otherwise.
//! - The waiter that sees its flow end deletes the flow's record. A flow consumed by another
//!   waiter or replaced still answers with the session when one was written since it started.
//! - A timeout leaves the flow open until it expires; `cancel` kills its link at once.

use std::time::Duration;

use crate::engine::Engine;
use crate::engine::request::Prompt;
use crate::error::{Error, ErrorKind, Result};
use crate::now;
use crate::session::Credentials;
use crate::store::FlowStatus;

impl Engine {
    /// Waits until the flow of `prompt` completes, then returns the credentials.
    ///
    /// Works across processes sharing a store: completion wakes in-process waiters at once and
    /// is polled for otherwise.
    ///
    /// # Errors
    /// [`ErrorKind::Timeout`] after `timeout` (the flow stays open until it expires); the
    /// flow's own error (denied, exchange failed); [`ErrorKind::Expired`] when it expired or was
    /// replaced by a newer one.
    pub async fn wait(&self, prompt: &Prompt, timeout: Duration) -> Result<Credentials> {
        let deadline = tokio::time::Instant::now() + timeout;
        let store = &self.inner.store;
        loop {
            let notified = self.inner.completed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match store.pending_for(&prompt.key).await? {
                Some(p) if p.id == prompt.flow_id => match p.status {
                    FlowStatus::Done => {
                        store.delete_pending(&p.state_hash).await?;
                        return self.credentials(&prompt.key).await;
                    }
                    FlowStatus::Failed(kind, message) => {
                        store.delete_pending(&p.state_hash).await?;
                        return Err(Error::new(kind, message));
                    }
                    _ if p.expires_at <= now() => {
                        store.delete_pending(&p.state_hash).await?;
                        return Err(Error::new(
                            ErrorKind::Expired,
                            "the login link expired before it was used",
                        )
                        .with_provider(&prompt.key.provider));
                    }
                    _ => {}
                },
                _ => {
                    // Consumed by another waiter, or replaced: a usable session is still an answer.
                    if let Some(s) = store.get(&prompt.key).await? {
                        if s.updated_at
                            >= prompt.expires_at
                                - i64::try_from(self.inner.config.session.flow_timeout_secs)
                                    .unwrap_or(0)
                        {
                            return self.credentials(&prompt.key).await;
                        }
                    }
                    return Err(Error::new(
                        ErrorKind::Expired,
                        "the login flow was replaced by a newer one or expired",
                    )
                    .with_provider(&prompt.key.provider));
                }
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = store.wait_published(&prompt.key, Duration::from_millis(250)) => {}
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(Error::new(ErrorKind::Timeout, "timed out waiting for the user to finish the login").with_provider(&prompt.key.provider));
                }
            }
        }
    }

    /// Abandons the flow of `prompt`: its link stops working at once and its record (with the
    /// PKCE verifier) is deleted. Does nothing when the flow already ended or was replaced.
    ///
    /// # Errors
    /// Store failures.
    pub async fn cancel(&self, prompt: &Prompt) -> Result<()> {
        let store = &self.inner.store;
        if let Some(p) = store.pending_for(&prompt.key).await? {
            if p.id == prompt.flow_id {
                store.delete_pending(&p.state_hash).await?;
            }
        }
        Ok(())
    }
}
