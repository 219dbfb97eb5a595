//! Change notices fanned out to a store's waiters in process: what the shared stores (Redis
//! pub/sub, PostgreSQL `LISTEN`) hear from other instances reaches each waiting task here.
//!
//! A store's listener task [`announce`](Notices::announce)s each name it hears (a session's
//! channel or hash) and says whether it is connected ([`set_up`](Notices::set_up)); a waiter
//! [`wait`](Notices::wait)s for its own name.
//!
//! Invariants:
//! - While the listener is down, a waiter just sleeps its whole interval: the caller's polling
//!   takes over, so a notice lost meanwhile only delays it.
//! - Losing the listener wakes every waiter (they look at the store, as after any wake), and so
//!   does falling behind the broadcast (a missed notice may have been theirs).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, watch};

/// How many notices a waiter may fall behind before it is woken anyway.
const CAPACITY: usize = 1024;
/// The name that wakes every waiter (no channel or hash is empty).
const EVERYONE: &str = "";

/// The notices of one store.
#[derive(Debug)]
pub struct Notices {
    changed: broadcast::Sender<Arc<str>>,
    up: watch::Sender<bool>,
}

impl Default for Notices {
    fn default() -> Self {
        Notices {
            changed: broadcast::channel(CAPACITY).0,
            up: watch::channel(false).0,
        }
    }
}

impl Notices {
    /// Wakes the waiters of `name`.
    pub fn announce(&self, name: &str) {
        let _ = self.changed.send(Arc::from(name));
    }

    /// Records whether the listener is connected; losing it wakes every waiter.
    pub fn set_up(&self, up: bool) {
        self.up.send_replace(up);
        if !up {
            self.announce(EVERYONE);
        }
    }

    /// Whether the listener is connected.
    pub fn is_up(&self) -> bool {
        *self.up.borrow()
    }

    /// Waits up to `within` for the listener to connect; `true` when it is.
    pub async fn wait_up(&self, within: Duration) -> bool {
        let mut up = self.up.subscribe();
        matches!(
            tokio::time::timeout(within, up.wait_for(|up| *up)).await,
            Ok(Ok(_))
        )
    }

    /// Returns when `name` is announced, when the listener is lost, or after `max`. While the
    /// listener is down it just sleeps `max`.
    pub async fn wait(&self, name: &str, max: Duration) {
        let mut rx = self.changed.subscribe();
        if !self.is_up() {
            tokio::time::sleep(max).await;
            return;
        }
        let woken = async {
            loop {
                match rx.recv().await {
                    Ok(n) if &*n == name || &*n == EVERYONE => return,
                    Ok(_) => {}
                    // Missed notices may include ours: wake, the caller polls.
                    Err(broadcast::error::RecvError::Lagged(_)) => return,
                    // The sender lives as long as `self`.
                    Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
                }
            }
        };
        let _ = tokio::time::timeout(max, woken).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_wake_for_their_name_or_a_loss_and_sleep_while_down() {
        let n = Arc::new(Notices::default());
        let started = std::time::Instant::now();
        n.wait("a", Duration::from_millis(50)).await;
        assert!(
            started.elapsed() >= Duration::from_millis(50),
            "down: sleeps"
        );
        n.set_up(true);
        assert!(n.wait_up(Duration::from_millis(10)).await);
        let waiter = {
            let n = n.clone();
            tokio::spawn(async move { n.wait("a", Duration::from_secs(10)).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        n.announce("b");
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "another name does not wake it");
        n.announce("a");
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .unwrap()
            .unwrap();
        let waiter = {
            let n = n.clone();
            tokio::spawn(async move { n.wait("a", Duration::from_secs(10)).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        n.set_up(false);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .unwrap()
            .unwrap();
    }
}
