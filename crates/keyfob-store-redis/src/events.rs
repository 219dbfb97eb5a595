//! Change announcements between instances: one pub/sub subscription per store, fanned out to the
//! store's waiters in process.
//!
//! A background task holds a RESP3 connection subscribed (`PSUBSCRIBE`) to the pattern of every
//! session's events channel under the prefix, and forwards each channel name that receives a
//! message to the store's [`Notices`]; a waiter listens there for its own channel. The task pings
//! the connection now and then. When the subscription is lost (Redis restarted, network cut, ping
//! unanswered), the task marks it down, wakes every waiter (they poll the store, as after any
//! wake), and resubscribes with backoff; while it is down, waiting degrades to sleeping the full
//! interval, so the caller's polling takes over. A message published while the subscription is
//! down is lost, which only delays a waiter until its next poll.

use std::sync::Arc;
use std::time::Duration;

use keyfob_core::store::notices::Notices;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, ConnectionInfo, ProtocolVersion, PushInfo, PushKind};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::cache::Cache;

/// How often the subscription connection is pinged.
const PING_EVERY: Duration = Duration::from_secs(5);
/// How long a ping, a connect or the subscribe command may take.
const PATIENCE: Duration = Duration::from_secs(2);
/// The first and the longest pause between resubscription attempts.
const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(2);
/// The store's subscription; its waiters wait on its [`Notices`].
#[derive(Debug)]
pub(crate) struct Events {
    notices: Arc<Notices>,
    task: JoinHandle<()>,
}

impl Events {
    /// Starts the subscriber task for `pattern` on the first server of `nodes` (the next one
    /// after a failure, in turn); with `tracking`, the same connection tracks the keys under its
    /// prefix for that cache.
    pub(crate) fn start(
        nodes: Vec<ConnectionInfo>,
        pattern: String,
        tracking: Option<(String, Arc<Cache>)>,
    ) -> Events {
        let notices = Arc::new(Notices::default());
        // Pushes (subscribed messages) need RESP3; the store's own connection may speak RESP2.
        let nodes = nodes
            .into_iter()
            .map(|info| {
                let redis = info
                    .redis_settings()
                    .clone()
                    .set_protocol(ProtocolVersion::RESP3);
                info.set_redis_settings(redis)
            })
            .collect();
        let task = tokio::spawn(subscriber(nodes, pattern, tracking, notices.clone()));
        Events { notices, task }
    }

    /// The waiters' side.
    pub(crate) fn notices(&self) -> &Notices {
        &self.notices
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Subscribes, forwards messages until the subscription is lost, and starts over on the next
/// node.
async fn subscriber(
    nodes: Vec<ConnectionInfo>,
    pattern: String,
    tracking: Option<(String, Arc<Cache>)>,
    notices: Arc<Notices>,
) {
    let mut pause = RETRY_MIN;
    let mut reported = false;
    let cache = tracking.as_ref().map(|(_, c)| c.clone());
    for info in nodes.iter().cycle() {
        let addr = info.addr();
        match subscribe(info, &pattern, tracking.as_ref().map(|(p, _)| p.as_str())).await {
            Ok((conn, pushes, tracked)) => {
                if reported {
                    tracing::info!(store = "redis", "change notifications are back");
                }
                notices.set_up(true);
                pause = RETRY_MIN;
                let cache = cache.as_deref().filter(|_| tracked);
                if let Some(cache) = cache {
                    cache.set_live(true);
                }
                forward(conn, pushes, &notices, cache).await;
                // Before anything else learns of the loss: the cache serves nothing more.
                if let Some(cache) = cache {
                    cache.set_live(false);
                }
                notices.set_up(false);
                tracing::warn!(
                    store = "redis",
                    "lost the change subscription to redis at {addr}; waiters poll until it is back"
                );
                reported = true;
            }
            Err(e) => {
                if !reported {
                    tracing::warn!(
                        store = "redis",
                        reason = %e,
                        "cannot subscribe to change notifications at {addr}; waiters poll instead \
                         (pub/sub needs Redis 6 or later)"
                    );
                    reported = true;
                }
            }
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(RETRY_MAX);
    }
}

/// A RESP3 connection subscribed to `pattern`, the receiver of its pushes, and whether it
/// tracks the keys under `tracking` (a prefix) for the cache.
async fn subscribe(
    info: &ConnectionInfo,
    pattern: &str,
    tracking: Option<&str>,
) -> redis::RedisResult<(
    MultiplexedConnection,
    mpsc::UnboundedReceiver<PushInfo>,
    bool,
)> {
    let (tx, rx) = mpsc::unbounded_channel();
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(PATIENCE))
        .set_response_timeout(Some(PATIENCE))
        .set_push_sender(tx);
    let client = Client::open(info.clone())?;
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    // Tracking first: invalidations must flow before the cache serves anything.
    let tracked = match tracking {
        Some(prefix) => {
            let on = redis::cmd("CLIENT")
                .arg(&["TRACKING", "ON", "BCAST", "PREFIX", prefix])
                .query_async::<()>(&mut conn)
                .await;
            if let Err(e) = &on {
                tracing::warn!(
                    store = "redis",
                    reason = %e,
                    "cannot turn on client tracking; sessions are read from redis every time"
                );
            }
            on.is_ok()
        }
        None => false,
    };
    conn.psubscribe(pattern).await?;
    Ok((conn, rx, tracked))
}

/// Forwards the channel of every message until the connection drops or stops answering pings.
async fn forward(
    mut conn: MultiplexedConnection,
    mut pushes: mpsc::UnboundedReceiver<PushInfo>,
    notices: &Notices,
    cache: Option<&Cache>,
) {
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        tokio::select! {
            push = pushes.recv() => match push {
                Some(PushInfo { kind: PushKind::PMessage, data }) => {
                    // `pmessage` carries the pattern, the channel and the payload.
                    if let Some(redis::Value::BulkString(name)) = data.get(1) {
                        if let Ok(name) = std::str::from_utf8(name) {
                            notices.announce(name);
                        }
                    }
                }
                Some(PushInfo { kind: PushKind::Invalidate, data }) => {
                    if let Some(cache) = cache {
                        invalidate(cache, &data);
                    }
                }
                Some(PushInfo { kind: PushKind::Disconnection, .. }) | None => return,
                Some(_) => {}
            },
            _ = ping.tick() => {
                let ping_cmd = redis::cmd("PING");
                let pong = ping_cmd.query_async::<String>(&mut conn);
                if !matches!(tokio::time::timeout(PATIENCE, pong).await, Ok(Ok(_))) {
                    return;
                }
            }
        }
    }
}

/// Applies an `invalidate` push: the keys it names, or everything (a null: Redis flushed, or
/// its tracking table overflowed).
fn invalidate(cache: &Cache, data: &[redis::Value]) {
    match data.first() {
        Some(redis::Value::Array(named)) => {
            let keys: Vec<&str> = named
                .iter()
                .filter_map(|k| match k {
                    redis::Value::BulkString(k) => std::str::from_utf8(k).ok(),
                    _ => None,
                })
                .collect();
            if keys.len() == named.len() {
                cache.invalidate(Some(&keys));
            } else {
                // A key that is not UTF-8 (not keyfob's) or not a string: drop everything.
                cache.invalidate(None);
            }
        }
        _ => cache.invalidate(None),
    }
}
