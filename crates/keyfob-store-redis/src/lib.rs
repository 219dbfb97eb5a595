//! keyfob's shared session store: sessions and pending flows in Redis, every secret sealed with
//! the store's key, so that several keyfob instances behind a load balancer act as one.
//!
//! ```text
//! let store = RedisStore::connect("redis://:password@10.0.0.5:6379/0", "keyfob", sealer).await?;
//! let engine = Engine::builder().store(Arc::new(store)).build()?;
//! ```
//!
//! # Key layout
//! Every name starts with the configured prefix `P`. A session key `(provider, thread, profile)`
//! becomes the hash tag `{p/t/f}`, each part escaped (`A-Z a-z 0-9 - _ . ~` kept, every other
//! byte `%XX`), so that distinct keys never share a tag and a Redis Cluster keeps everything of
//! one session in one slot:
//!
//! | key | type | holds |
//! | --- | --- | --- |
//! | `P:{p/t/f}:session` | hash | `v` version, `d` sealed session |
//! | `P:{p/t/f}:version` | string | the last version given to the key |
//! | `P:{p/t/f}:flow` | hash | the key's pending flow: `h` state hash, `st` status, `exp` expiry, `d` sealed flow, `by` claimer |
//! | `P:{p/t/f}:lease:refresh` | string | the engine's refresh lease: its owner's token |
//! | `P:{p/t/f}:events` | channel | a message when the key's flow ends (`publish`) |
//! | `P:state:<hash>` | string | state hash → `p/t/f`, to find a flow from a callback |
//! | `P:expiries` | sorted set | `p/t/f:<hash>` by expiry, walked by `purge_expired` |
//! | `P:keycheck` | string | a sealed constant that recognises the encryption key |
//!
//! A session key has one flow at a time (a new login replaces the old one), so its flow lives in
//! the session's slot and replacing it is one atomic write. The state index and the expiry set
//! are only hints in other slots: they are written before the flow and every use re-checks the
//! flow's own `h` and `exp`, so a stale or missing hint never makes a replaced, deleted or
//! unexpired flow usable or purged.
//!
//! # Scripts
//! Every multi-step change is one Lua script ([`redis::Script`], `EVALSHA`) on keys of one slot,
//! all passed in `KEYS`: the compare-and-swap of a session with its version counter, deleting a
//! session (its counter stays for a grace period), replacing, claiming, finishing, deleting and
//! purging a flow, and taking and releasing a lease (`SET NX PX` with an owner token; extended
//! by its owner; deleted only by its owner). Sealed records carry a random nonce, so a script
//! recognises its own write: a session write, a claim (by a claimer token) or a finish retried
//! after a lost answer returns what the first attempt did instead of failing or applying twice.
//!
//! # Versions
//! A write's version is `max(last + 1, TIME in µs)`, computed in the script. The per-key counter
//! keeps versions rising and outlives a deleted session by 30 days; after that the clock keeps a
//! re-created session's versions above every earlier one. So a stale compare-and-swap never
//! matches a newer session, without keeping a key per session forever.
//!
//! # Expiry
//! - A session whose token expires and cannot be refreshed (no refresh token, or one already
//!   rejected) expires one hour after its token; the hour lets `status` show it as expired and a
//!   new login reuse its scopes. Sessions that can be refreshed never expire.
//! - A pending flow and its state index entry expire one hour after the flow's `expires_at`,
//!   not at it: the engine still reads a flow that finished near its expiry, and
//!   [`SessionStore::purge_expired`] must find and count every flow with `expires_at <= now`,
//!   which it could not if Redis had dropped them already. Flows are refused by their recorded
//!   `expires_at`, never by Redis' TTL, so the grace period never lengthens a `state`'s life.
//!
//! # Secrets
//! Sessions and flows become bytes only through [`keyfob_core::record`], sealed with the
//! [`Sealer`] before they are sent; the associated data binds a session to its key and a flow to
//! its state hash, key and expiry, so a record copied under another key, or an edited `exp`, does
//! not open. Key names, versions, statuses and expiries are plaintext, as in the SQLite store.
//!
//! # Failures
//! One connection carries all commands and reconnects in the background: a
//! [`redis::aio::ConnectionManager`] to a standalone server, or redis-rs's cluster connection
//! (see below). A failed command becomes [`ErrorKind::Store`] with a message naming `host:port`
//! (never the password) and what to check. Calls are retried with backoff (100 ms, 400 ms, within 5 s) when the
//! command was never sent (connection refused, server loading) or when it is safe to repeat: all
//! calls but `delete` and `purge_expired`, whose answers a repeat would change; those report
//! that the change may or may not have been applied.
//!
//! # Waiting across instances
//! `publish` sends to the session's events channel; a background task per store keeps one
//! subscription for all channels of the prefix and wakes the store's waiters. While that
//! subscription is lost, `wait_published` sleeps its full interval and the engine's polling takes
//! over, so a lost message delays a waiter but never loses a result.
//!
//! # Redis Cluster
//! A server that answers `INFO cluster` with `cluster_enabled:1` is taken as the seed of a
//! cluster: commands go to the primary of their slot (the map learnt from the cluster, `MOVED`
//! and `ASK` followed). Every script and pipeline stays in one slot (the hash tags above);
//! commands on several slots (the hints, listing, purging) are sent one by one, concurrently,
//! and `SCAN` walks every primary. Pub/sub messages reach every node, so the subscription
//! holds one connection, to the seed, and moves to another primary (those known at connect)
//! when that node is lost. Client-side caching is refused on a cluster (tracking is per node).
//!
//! # Requirements
//! Redis 6 or later (RESP3 for the subscription), standalone, behind a proxy, or a cluster;
//! `maxmemory-policy` should be `noeviction`, since an evicted session is a lost login. `rediss://` runs on rustls
//! ([`Tls`]). With [`Options::client_cache`], sessions are served from process memory while
//! Redis tracks them (see the `cache` module).

mod cache;
mod conn;
mod events;
mod keys;
mod scripts;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use keyfob_core::crypto::Sealer;
use keyfob_core::record::{
    decode_pending, decode_session, encode_pending, encode_session, status_from_column, status_name,
};
use keyfob_core::store::{Expect, FlowStatus, PendingFlow, SessionStore, conflict};
use keyfob_core::{Error, ErrorKind, Result, Session, SessionKey};
use rand::Rng;
use redis::{RedisError, ServerErrorKind};
use tokio::time::Instant;

use crate::conn::Conn;
use crate::events::Events;
use crate::keys::{Keys, check_prefix, expiry_member, parse_expiry_member, parse_tag, tag};
use crate::scripts::{
    BIND_FLOW, CLAIM_FLOW, DELETE_FLOW, DELETE_SESSION, FINISH_FLOW, PURGE_FLOW, PURGE_FLOW_SOURCE,
    PUT_FLOW, PUT_SESSION, READ_SESSION, READ_SESSION_SOURCE, TRY_LOCK, UNLOCK,
};

/// How long a session that cannot be refreshed outlives its token.
const SESSION_GRACE: Duration = Duration::from_secs(3600);
/// How long a flow's records outlive its `expires_at`.
const FLOW_GRACE: Duration = Duration::from_secs(3600);
/// How long a key's version counter outlives its session.
const VERSION_GRACE: Duration = Duration::from_secs(30 * 24 * 3600);
/// The longest TTL written (a century), so that no arithmetic overflows.
const MAX_TTL_SECS: i64 = 100 * 365 * 24 * 3600;

/// How long connecting may take, per attempt.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a command may wait for its answer.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Reconnection attempts the connection manager makes before a command fails.
const RECONNECT_RETRIES: usize = 2;
/// Pauses before the second and third attempt of a call.
const BACKOFF: [Duration; 2] = [Duration::from_millis(100), Duration::from_millis(400)];
/// No call starts another attempt after this long.
const RETRY_WINDOW: Duration = Duration::from_secs(5);
/// How long `connect` waits for the change subscription before going on without it.
const SUBSCRIBE_WAIT: Duration = Duration::from_secs(2);

/// Keys asked for per `SCAN`, and flows purged per round trip.
const BATCH: usize = 500;
/// Attempts of `finish_pending` when the flow changes between its read and its write.
const FINISH_ATTEMPTS: usize = 5;
/// Attempts of a session write whose proposed version other writers keep overtaking.
const PUT_ATTEMPTS: usize = 8;
/// The constant sealed under [`Keys::key_check`].
const KEY_CHECK: &[u8] = b"keyfob redis store key check";

/// Sessions and pending flows in Redis under one key prefix, sealed at rest, shared by every
/// instance that connects with the same URL, prefix and key. Cheap to clone: clones share the
/// connection and the subscription.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Conn,
    keys: Keys,
    sealer: Sealer,
    /// Sessions kept in process memory while Redis tracks them for us.
    cache: Option<Arc<cache::Cache>>,
    /// `host:port` (or the socket path): what messages name.
    addr: String,
    events: Events,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("addr", &self.inner.addr)
            .field("prefix", &self.inner.keys.prefix())
            .field("subscribed", &self.inner.events.notices().is_up())
            .finish_non_exhaustive()
    }
}

/// Whether repeating a call after an answer was lost gives the same result.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Repeat {
    Safe,
    Unsafe,
}

/// What a failed command tells about retrying it.
#[derive(PartialEq, Eq)]
enum Failure {
    /// The command never ran: any call may try again.
    NotRun,
    /// The command may have run: only a [`Repeat::Safe`] call may try again.
    Unknown,
    /// Trying again would fail the same way.
    Final,
}

impl RedisStore {
    /// Connects to the Redis server at `url` (`redis://[user:password@]host[:port][/db]` or
    /// `redis+unix:///path`) and uses keys under `prefix`.
    ///
    /// Checks the server's answer and the encryption key: the first store on a prefix records a
    /// sealed constant, and every later one must open it. Starts the change subscription and
    /// waits up to 2 s for it; without it (Redis older than 6, pub/sub denied) the store works,
    /// warns, and waiters poll.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for a malformed URL or prefix (the message never repeats the URL);
    /// [`ErrorKind::Store`] when the server cannot be reached or refuses the credentials, and
    /// when `sealer` holds another key than the one the prefix was created with.
    pub async fn connect(url: &str, prefix: &str, sealer: Sealer) -> Result<RedisStore> {
        Self::connect_with(url, prefix, sealer, &Options::default()).await
    }

    /// [`RedisStore::connect`] with `options`: over TLS (`rediss://`) with its files (a CA to
    /// trust instead of the system's, a client certificate where the server asks for one), and
    /// client-side caching.
    ///
    /// # Errors
    /// As [`RedisStore::connect`]; [`ErrorKind::Config`] when a file cannot be read, when only
    /// one of the client certificate and key is given, or when files are given for a plain
    /// `redis://` URL.
    pub async fn connect_with(
        url: &str,
        prefix: &str,
        sealer: Sealer,
        options: &Options,
    ) -> Result<RedisStore> {
        check_prefix(prefix)?;
        let (client, certs) = options.tls.client(url)?;
        let info = client.get_connection_info().clone();
        let addr = info.addr().to_string();
        let conn = Conn::open(client, certs)
            .await
            .map_err(|e| redis_error(&addr, "connect to", &e, Failure::NotRun, Repeat::Safe))?;
        if conn.is_cluster() && options.client_cache.is_some() {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "redis at {addr} is a Redis Cluster node, and client-side caching \
                     ([store] client_cache) is not supported on a cluster yet: remove it"
                ),
            ));
        }
        let keys = Keys::new(prefix);
        let cache = options
            .client_cache
            .map(|margin| Arc::new(cache::Cache::new(margin)));
        let tracking = cache
            .as_ref()
            .map(|c| (format!("{}:", keys.prefix()), c.clone()));
        let nodes = conn.clone().subscription_nodes(&info).await;
        let events = Events::start(nodes, keys.events_pattern(), tracking);
        let store = RedisStore {
            inner: Arc::new(Inner {
                conn,
                keys,
                sealer,
                cache,
                addr,
                events,
            }),
        };
        store.check_key().await?;
        store.check_eviction().await;
        store.inner.events.notices().wait_up(SUBSCRIBE_WAIT).await;
        tracing::debug!(store = "redis", "connected to redis");
        Ok(store)
    }

    /// The session of `key` as Redis holds it: the record and its key's version counter, in
    /// one command.
    async fn read(&self, key: &SessionKey) -> Result<Option<Session>> {
        let keys = &self.inner.keys;
        let (version, sealed, last): (Option<String>, Option<Vec<u8>>, Option<String>) = self
            .script(
                || format!("read session {key} from"),
                Repeat::Safe,
                &READ_SESSION,
                &[&keys.session(key), &keys.version(key)],
                &[],
            )
            .await?;
        match (version, sealed) {
            (Some(version), Some(sealed)) => {
                self.open_session(key, &version, last.as_deref(), &sealed)
            }
            (None, None) => Ok(None),
            _ => Err(self.corrupt("session")),
        }
    }

    /// Drops `key` from the cache when the returned guard goes, that is once a write of it
    /// ended (whatever its outcome): this process reads its own writes at once.
    fn forget(&self, key: &SessionKey) -> Option<Forget<'_>> {
        self.inner.cache.as_deref().map(|cache| Forget {
            cache,
            name: self.inner.keys.session(key),
        })
    }

    /// Whether sessions are served from process memory now (client-side caching asked for,
    /// and Redis tracking them).
    pub fn is_caching(&self) -> bool {
        self.inner.cache.as_ref().is_some_and(|c| c.is_live())
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        self.inner.keys.prefix()
    }

    /// The server, as `host:port` or a socket path.
    pub fn server(&self) -> &str {
        &self.inner.addr
    }

    /// Whether change notifications from other instances arrive now. While they do not, waiters
    /// poll (every 250 ms in the engine) and the store keeps resubscribing.
    pub fn is_subscribed(&self) -> bool {
        self.inner.events.notices().is_up()
    }

    /// Records the key check under a new prefix, or checks the recorded one.
    async fn check_key(&self) -> Result<()> {
        let inner = &self.inner;
        let name = inner.keys.key_check();
        let sealed = inner.sealer.seal(&aad(&[b"key-check"]), KEY_CHECK);
        let (stored,): (Option<Vec<u8>>,) = self
            .run(
                || "check the encryption key in".to_owned(),
                Repeat::Safe,
                |mut c| {
                    let (name, sealed) = (&name, &sealed);
                    async move {
                        redis::pipe()
                            .cmd("SET")
                            .arg(name)
                            .arg(sealed)
                            .arg("NX")
                            .ignore()
                            .cmd("GET")
                            .arg(name)
                            .query_async(&mut c)
                            .await
                    }
                },
            )
            .await?;
        let opened = stored.and_then(|s| inner.sealer.open(&aad(&[b"key-check"]), &s).ok());
        if opened.as_deref() != Some(KEY_CHECK) {
            return Err(store_error(format!(
                "the encryption key does not match the one the keys under prefix {:?} at redis \
                 {} were written with: use the key the other keyfob instances use, or another \
                 prefix",
                inner.keys.prefix(),
                inner.addr
            )));
        }
        Ok(())
    }

    /// Warns when the server may evict keyfob's keys under memory pressure. Servers that refuse
    /// `CONFIG` (managed services, ACLs) are not checked.
    async fn check_eviction(&self) {
        let mut conn = self.inner.conn.clone();
        let policy: redis::RedisResult<(String, String)> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("maxmemory-policy")
            .query_async(&mut conn)
            .await;
        if let Ok((_, policy)) = policy {
            if policy != "noeviction" {
                tracing::warn!(
                    store = "redis",
                    policy = policy.as_str(),
                    "redis may evict keys under memory pressure, which loses logins; set \
                     maxmemory-policy to noeviction"
                );
            }
        }
    }

    /// Runs `op` on the shared connection, retrying with backoff where that is safe (see the
    /// crate docs), and maps a final failure to a message about `action` ("read session … from").
    async fn run<T, A, F, Fut>(&self, action: A, repeat: Repeat, op: F) -> Result<T>
    where
        A: Fn() -> String,
        F: Fn(Conn) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let start = Instant::now();
        let mut attempt = 0;
        loop {
            let e = match op(self.inner.conn.clone()).await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let failure = classify(&e);
            let again = match failure {
                Failure::NotRun => true,
                Failure::Unknown => repeat == Repeat::Safe,
                Failure::Final => false,
            };
            if again && attempt < BACKOFF.len() && start.elapsed() < RETRY_WINDOW {
                tracing::debug!(store = "redis", reason = %e, "retrying a redis call");
                tokio::time::sleep(BACKOFF[attempt]).await;
                attempt += 1;
                continue;
            }
            return Err(redis_error(
                &self.inner.addr,
                &action(),
                &e,
                failure,
                repeat,
            ));
        }
    }

    /// Runs a script on keys and arguments.
    async fn script<T, A>(
        &self,
        action: A,
        repeat: Repeat,
        script: &redis::Script,
        keys: &[&str],
        args: &[&[u8]],
    ) -> Result<T>
    where
        T: redis::FromRedisValue,
        A: Fn() -> String,
    {
        let mut invocation = script.prepare_invoke();
        for k in keys {
            invocation.key(*k);
        }
        for a in args {
            invocation.arg(*a);
        }
        self.run(action, repeat, |mut c| {
            let invocation = &invocation;
            async move { invocation.invoke_async(&mut c).await }
        })
        .await
    }

    fn corrupt(&self, what: &str) -> Error {
        store_error(format!(
            "a stored {what} under prefix {:?} at redis {} is corrupted",
            self.inner.keys.prefix(),
            self.inner.addr
        ))
    }

    /// Opens a session record. `None` (with a warning) for a record that is not the key's
    /// latest: its version is below the key's version counter, so it was put back from an older
    /// copy (a logged-out session revived, a spent refresh token replayed); and for a record
    /// sealed by keyfob before versions and prefixes were bound into it, which cannot be told
    /// from such a copy. Either way the user logs in again; the next write replaces it.
    fn open_session(
        &self,
        key: &SessionKey,
        version: &str,
        counter: Option<&str>,
        sealed: &[u8],
    ) -> Result<Option<Session>> {
        let wrap = |e: Error| {
            store_error(format!(
                "cannot read session {key} from redis at {}: {}",
                self.inner.addr,
                e.message()
            ))
            .with_source(e)
        };
        let version = version
            .parse::<u64>()
            .map_err(|_| self.corrupt("session version"))?;
        let prefix = self.inner.keys.prefix();
        let plain = match self
            .inner
            .sealer
            .open(&session_aad(prefix, key, version), sealed)
        {
            Ok(plain) => plain,
            Err(e) => {
                if self
                    .inner
                    .sealer
                    .open(&legacy_session_aad(key), sealed)
                    .is_ok()
                {
                    tracing::warn!(
                        session = %key,
                        "a session stored by an older keyfob is ignored; log in again"
                    );
                    return Ok(None);
                }
                return Err(wrap(e));
            }
        };
        let last = counter.and_then(|c| c.parse::<u64>().ok()).unwrap_or(0);
        if version < last {
            tracing::warn!(
                session = %key,
                version,
                counter = last,
                "a session record older than its key's version counter is ignored (restored \
                 from an older copy?)"
            );
            return Ok(None);
        }
        let session = decode_session(&plain, version).map_err(wrap)?;
        if session.key != *key {
            return Err(self.corrupt("session"));
        }
        Ok(Some(session))
    }

    fn seal_flow(&self, flow: &PendingFlow) -> Vec<u8> {
        self.inner.sealer.seal(
            &pending_aad(
                self.inner.keys.prefix(),
                &flow.state_hash,
                &flow.key,
                flow.expires_at,
            ),
            &encode_pending(flow),
        )
    }

    /// Opens a [`FlowRow`]; `None` when there is no flow or, with
    /// `hash`, when the key's flow is another one. Also returns the sealed bytes, for scripts
    /// that must find them unchanged.
    fn open_flow(
        &self,
        key: &SessionKey,
        row: FlowRow,
        hash: Option<&str>,
    ) -> Result<Option<(PendingFlow, Vec<u8>)>> {
        let (h, status, expires_at, sealed) = match row {
            (None, None, None, None) => return Ok(None),
            (Some(h), Some(st), Some(exp), Some(d)) => (h, st, exp, d),
            _ => return Err(self.corrupt("pending flow")),
        };
        if hash.is_some_and(|want| want != h) {
            return Ok(None);
        }
        let wrap = |e: Error| {
            store_error(format!(
                "cannot read a pending flow from redis at {}: {}",
                self.inner.addr,
                e.message()
            ))
            .with_source(e)
        };
        let plain = self
            .inner
            .sealer
            .open(
                &pending_aad(self.inner.keys.prefix(), &h, key, expires_at),
                &sealed,
            )
            .map_err(wrap)?;
        let mut flow = decode_pending(&plain).map_err(wrap)?;
        if flow.state_hash != h || flow.key != *key || flow.expires_at != expires_at {
            return Err(self.corrupt("pending flow"));
        }
        flow.status = status_from_column(&status, flow.status)
            .ok_or_else(|| self.corrupt("pending flow status"))?;
        Ok(Some((flow, sealed)))
    }

    /// The key's flow, read in one round trip.
    async fn read_flow(
        &self,
        key: &SessionKey,
        hash: Option<&str>,
    ) -> Result<Option<(PendingFlow, Vec<u8>)>> {
        let name = self.inner.keys.flow(key);
        let row: FlowRow = self
            .run(
                || "read pending flow from".to_owned(),
                Repeat::Safe,
                |mut c| {
                    let name = &name;
                    async move {
                        redis::cmd("HMGET")
                            .arg(name)
                            .arg(&["h", "st", "exp", "d"])
                            .query_async(&mut c)
                            .await
                    }
                },
            )
            .await?;
        self.open_flow(key, row, hash)
    }

    /// The session key whose flow has `state_hash`, from the state index.
    async fn key_of_state(&self, state_hash: &str) -> Result<Option<SessionKey>> {
        let name = self.inner.keys.state(state_hash);
        let tag: Option<String> = self
            .run(
                || "read pending flow from".to_owned(),
                Repeat::Safe,
                |mut c| {
                    let name = &name;
                    async move { redis::cmd("GET").arg(name).query_async(&mut c).await }
                },
            )
            .await?;
        tag.map(|t| parse_tag(&t).ok_or_else(|| self.corrupt("state index entry")))
            .transpose()
    }

    /// The session keys whose session hashes match `pattern`, each once.
    async fn scan(&self, pattern: &str) -> Result<Vec<String>> {
        let names = self
            .run(
                || "list sessions in".to_owned(),
                Repeat::Safe,
                |mut c| async move { c.scan(pattern, BATCH).await },
            )
            .await?;
        let names: std::collections::BTreeSet<String> = names.into_iter().collect();
        Ok(names.into_iter().collect())
    }

    /// Sends independent commands (see [`Conn::batch`]).
    async fn batch<A: Fn() -> String>(
        &self,
        action: A,
        repeat: Repeat,
        load: Option<&str>,
        cmds: &[redis::Cmd],
    ) -> Result<Vec<redis::Value>> {
        self.run(
            action,
            repeat,
            |mut c| async move { c.batch(load, cmds).await },
        )
        .await
    }
}

/// A flow hash's `h`, `st`, `exp` and `d`.
type FlowRow = (Option<String>, Option<String>, Option<i64>, Option<Vec<u8>>);

#[async_trait]
impl SessionStore for RedisStore {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn location(&self) -> Option<String> {
        let cluster = if self.inner.conn.is_cluster() {
            "Redis Cluster, "
        } else {
            ""
        };
        Some(format!(
            "{} ({cluster}prefix {})",
            self.inner.addr,
            self.inner.keys.prefix()
        ))
    }

    async fn get(&self, key: &SessionKey) -> Result<Option<Session>> {
        let Some(cache) = &self.inner.cache else {
            return self.read(key).await;
        };
        let name = self.inner.keys.session(key);
        if let Some(s) = cache.get(&name) {
            return Ok(Some(s));
        }
        let generation = cache.generation();
        let read = self.read(key).await?;
        if let (Some(g), Some(s)) = (generation, &read) {
            cache.put(name, s, g);
        }
        Ok(read)
    }

    async fn put(&self, session: &Session, expect: Expect) -> Result<u64> {
        let key = &session.key;
        let _forget = self.forget(key);
        let keys = &self.inner.keys;
        let plain = encode_session(session);
        let (mode, expected, floor) = match expect {
            Expect::Any => ("any", String::new(), 0),
            Expect::Absent => ("absent", String::new(), 0),
            Expect::Version(v) => ("version", v.to_string(), v.saturating_add(1)),
        };
        let ttl = session_ttl_ms(session, keyfob_core::now()).to_string();
        let grace = millis(VERSION_GRACE).to_string();
        // The version is sealed into the record, so the writer proposes it (its clock in µs, or
        // above what it expects to replace); the script takes it only above the key's counter
        // and otherwise answers the counter, to propose again above it.
        let mut proposed = now_micros().max(floor);
        for _ in 0..PUT_ATTEMPTS {
            let sealed = self
                .inner
                .sealer
                .seal(&session_aad(keys.prefix(), key, proposed), &plain);
            let version = proposed.to_string();
            let answer: Option<String> = self
                .script(
                    || format!("write session {key} to"),
                    Repeat::Safe,
                    &PUT_SESSION,
                    &[&keys.session(key), &keys.version(key)],
                    &[
                        mode.as_bytes(),
                        expected.as_bytes(),
                        &sealed,
                        ttl.as_bytes(),
                        grace.as_bytes(),
                        version.as_bytes(),
                    ],
                )
                .await?;
            let answer = answer.ok_or_else(|| conflict(key))?;
            match answer.strip_prefix("low:") {
                Some(last) => {
                    let last: u64 = last.parse().map_err(|_| self.corrupt("version counter"))?;
                    proposed = last.saturating_add(1);
                }
                None => return answer.parse().map_err(|_| self.corrupt("session version")),
            }
        }
        Err(store_error(format!(
            "cannot write session {key} to redis at {}: other writers kept overtaking it",
            self.inner.addr
        )))
    }

    async fn delete(&self, key: &SessionKey) -> Result<bool> {
        let _forget = self.forget(key);
        let keys = &self.inner.keys;
        let grace = millis(VERSION_GRACE).to_string();
        let deleted: i64 = self
            .script(
                || format!("delete session {key} from"),
                Repeat::Unsafe,
                &DELETE_SESSION,
                &[&keys.session(key), &keys.version(key)],
                &[grace.as_bytes()],
            )
            .await?;
        Ok(deleted > 0)
    }

    async fn list(&self, thread: Option<&str>) -> Result<Vec<Session>> {
        let keys = &self.inner.keys;
        let names = self.scan(&keys.session_pattern(thread)).await?;
        let mut sessions = Vec::with_capacity(names.len());
        for chunk in names.chunks(BATCH) {
            // Each record with its key's version counter, read together by the script.
            let named: Vec<(&String, SessionKey)> = chunk
                .iter()
                .filter_map(|name| Some((name, keys.parse_session(name)?)))
                .filter(|(_, key)| thread.is_none_or(|t| t == key.thread))
                .collect();
            let reads: Vec<redis::Cmd> = named
                .iter()
                .map(|(name, key)| {
                    let mut cmd = redis::cmd("EVALSHA");
                    cmd.arg(READ_SESSION.get_hash())
                        .arg(2)
                        .arg(name.as_str())
                        .arg(keys.version(key));
                    cmd
                })
                .collect();
            let rows = self
                .batch(
                    || "list sessions in".to_owned(),
                    Repeat::Safe,
                    Some(READ_SESSION_SOURCE),
                    &reads,
                )
                .await?;
            if rows.len() != named.len() {
                return Err(self.corrupt("session list answer"));
            }
            for ((_, key), row) in named.iter().zip(rows) {
                let (version, sealed, last): (Option<String>, Option<Vec<u8>>, Option<String>) =
                    redis::from_redis_value(row).map_err(|_| self.corrupt("session"))?;
                match (version, sealed) {
                    (Some(version), Some(sealed)) => {
                        sessions.extend(self.open_session(
                            key,
                            &version,
                            last.as_deref(),
                            &sealed,
                        )?);
                    }
                    (None, None) => {} // deleted or expired since the scan
                    _ => return Err(self.corrupt("session")),
                }
            }
        }
        sessions.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(sessions)
    }

    async fn put_pending(&self, flow: &PendingFlow) -> Result<()> {
        let keys = &self.inner.keys;
        let key = &flow.key;
        let ttl = flow_ttl_ms(flow.expires_at, keyfob_core::now());
        let (state, expiries, member, tag) = (
            keys.state(&flow.state_hash),
            keys.expiries(),
            expiry_member(key, &flow.state_hash),
            tag(key),
        );
        // The hints first: if the flow write then fails, they lead nowhere.
        let mut set = redis::cmd("SET");
        set.arg(state).arg(tag).arg("PX").arg(ttl);
        let mut zadd = redis::cmd("ZADD");
        zadd.arg(expiries).arg(flow.expires_at).arg(member);
        self.batch(
            || "write pending flow to".to_owned(),
            Repeat::Safe,
            None,
            &[set, zadd],
        )
        .await?;
        let sealed = self.seal_flow(flow);
        let (exp, ttl) = (flow.expires_at.to_string(), ttl.to_string());
        let _: i64 = self
            .script(
                || "write pending flow to".to_owned(),
                Repeat::Safe,
                &PUT_FLOW,
                &[&keys.flow(key)],
                &[
                    flow.state_hash.as_bytes(),
                    status_name(&flow.status).as_bytes(),
                    exp.as_bytes(),
                    &sealed,
                    ttl.as_bytes(),
                ],
            )
            .await?;
        Ok(())
    }

    async fn pending(&self, state_hash: &str) -> Result<Option<PendingFlow>> {
        let Some(key) = self.key_of_state(state_hash).await? else {
            return Ok(None);
        };
        Ok(self
            .read_flow(&key, Some(state_hash))
            .await?
            .map(|(flow, _)| flow))
    }

    async fn pending_for(&self, key: &SessionKey) -> Result<Option<PendingFlow>> {
        Ok(self.read_flow(key, None).await?.map(|(flow, _)| flow))
    }

    async fn claim_pending(&self, state_hash: &str, now: i64) -> Result<Option<PendingFlow>> {
        let Some(key) = self.key_of_state(state_hash).await? else {
            return Ok(None);
        };
        // Open the record before claiming it, so that one that fails to open is not left claimed.
        let Some((mut flow, sealed)) = self.read_flow(&key, Some(state_hash)).await? else {
            return Ok(None);
        };
        if !flow.is_waiting(now) {
            return Ok(None);
        }
        let claimer = format!("{:032x}", rand::rng().random::<u128>());
        let now = now.to_string();
        let claimed: i64 = self
            .script(
                || "claim pending flow in".to_owned(),
                Repeat::Safe,
                &CLAIM_FLOW,
                &[&self.inner.keys.flow(&key)],
                &[
                    state_hash.as_bytes(),
                    now.as_bytes(),
                    &sealed,
                    claimer.as_bytes(),
                ],
            )
            .await?;
        if claimed != 1 {
            return Ok(None);
        }
        flow.status = FlowStatus::Claimed;
        Ok(Some(flow))
    }

    async fn bind_pending(
        &self,
        state_hash: &str,
        browser: &str,
        now: i64,
    ) -> Result<Option<PendingFlow>> {
        let Some(key) = self.key_of_state(state_hash).await? else {
            return Ok(None);
        };
        for _ in 0..FINISH_ATTEMPTS {
            let Some((mut flow, sealed)) = self.read_flow(&key, Some(state_hash)).await? else {
                return Ok(None);
            };
            if !flow.is_waiting(now) {
                return Ok(None);
            }
            if flow.browser.is_some() {
                return Ok(Some(flow));
            }
            flow.browser = Some(browser.to_owned());
            let resealed = self.seal_flow(&flow);
            // Written only if the record is still the one read, and still waiting: of two
            // browsers, the second reads the first one's binding on its next attempt.
            let written: i64 = self
                .script(
                    || "bind pending flow in".to_owned(),
                    Repeat::Safe,
                    &BIND_FLOW,
                    &[&self.inner.keys.flow(&key)],
                    &[state_hash.as_bytes(), &sealed, &resealed],
                )
                .await?;
            match written {
                1 => return Ok(Some(flow)),
                0 => return Ok(None),
                _ => {}
            }
        }
        Err(store_error(format!(
            "cannot bind a pending flow in redis at {}: it kept changing while being written",
            self.inner.addr
        )))
    }

    async fn finish_pending(&self, state_hash: &str, status: FlowStatus) -> Result<()> {
        let Some(key) = self.key_of_state(state_hash).await? else {
            return Ok(());
        };
        for _ in 0..FINISH_ATTEMPTS {
            // The flow may have been replaced by a newer login meanwhile: nothing to record.
            let Some((mut flow, sealed)) = self.read_flow(&key, Some(state_hash)).await? else {
                return Ok(());
            };
            flow.status = status.clone();
            let resealed = self.seal_flow(&flow);
            let written: i64 = self
                .script(
                    || "finish pending flow in".to_owned(),
                    Repeat::Safe,
                    &FINISH_FLOW,
                    &[&self.inner.keys.flow(&key)],
                    &[
                        state_hash.as_bytes(),
                        &sealed,
                        status_name(&flow.status).as_bytes(),
                        &resealed,
                    ],
                )
                .await?;
            if written >= 0 {
                return Ok(());
            }
        }
        Err(store_error(format!(
            "cannot finish a pending flow in redis at {}: it kept changing while being written",
            self.inner.addr
        )))
    }

    async fn delete_pending(&self, state_hash: &str) -> Result<()> {
        let Some(key) = self.key_of_state(state_hash).await? else {
            return Ok(());
        };
        let keys = &self.inner.keys;
        let _: i64 = self
            .script(
                || "delete pending flow from".to_owned(),
                Repeat::Safe,
                &DELETE_FLOW,
                &[&keys.flow(&key)],
                &[state_hash.as_bytes()],
            )
            .await?;
        let (state, expiries, member) = (
            keys.state(state_hash),
            keys.expiries(),
            expiry_member(&key, state_hash),
        );
        let mut del = redis::cmd("DEL");
        del.arg(state);
        let mut zrem = redis::cmd("ZREM");
        zrem.arg(expiries).arg(member);
        self.batch(
            || "delete pending flow from".to_owned(),
            Repeat::Safe,
            None,
            &[del, zrem],
        )
        .await?;
        Ok(())
    }

    async fn purge_expired(&self, now: i64) -> Result<usize> {
        let keys = &self.inner.keys;
        let expiries = keys.expiries();
        let now_arg = now.to_string();
        let mut purged = 0;
        loop {
            let members: Vec<String> = self
                .run(
                    || "purge expired flows from".to_owned(),
                    Repeat::Safe,
                    |mut c| {
                        let expiries = &expiries;
                        async move {
                            redis::cmd("ZRANGEBYSCORE")
                                .arg(expiries)
                                .arg("-inf")
                                .arg(now)
                                .arg("LIMIT")
                                .arg(0)
                                .arg(BATCH)
                                .query_async(&mut c)
                                .await
                        }
                    },
                )
                .await?;
            if members.is_empty() {
                return Ok(purged);
            }
            let flows: Vec<(SessionKey, String)> = members
                .iter()
                .filter_map(|m| parse_expiry_member(m))
                .collect();
            // Load the script (a restarted server forgot it), then one EVALSHA per flow; each
            // deletes its flow only if it is still there and expired.
            let purges: Vec<redis::Cmd> = flows
                .iter()
                .map(|(key, hash)| {
                    let mut cmd = redis::cmd("EVALSHA");
                    cmd.arg(PURGE_FLOW.get_hash())
                        .arg(1)
                        .arg(keys.flow(key))
                        .arg(hash)
                        .arg(&now_arg);
                    cmd
                })
                .collect();
            let deleted = self
                .batch(
                    || "purge expired flows from".to_owned(),
                    Repeat::Unsafe,
                    Some(PURGE_FLOW_SOURCE),
                    &purges,
                )
                .await?;
            let deleted: Vec<i64> = deleted
                .into_iter()
                .map(redis::from_redis_value)
                .collect::<Result<Vec<i64>, _>>()
                .map_err(|_| self.corrupt("purge answer"))?;
            let gone: Vec<String> = flows
                .iter()
                .zip(&deleted)
                .filter(|(_, n)| **n > 0)
                .map(|((_, hash), _)| keys.state(hash))
                .collect();
            purged += gone.len();
            let mut cleanup = vec![redis::cmd("ZREM")];
            cleanup[0].arg(&expiries).arg(&members);
            if !gone.is_empty() {
                // Names of several slots: split per slot on a cluster.
                cleanup.push(redis::cmd("DEL"));
                cleanup[1].arg(&gone);
            }
            self.batch(
                || "purge expired flows from".to_owned(),
                Repeat::Safe,
                None,
                &cleanup,
            )
            .await?;
        }
    }

    async fn try_lock(&self, name: &str, owner: &str, ttl_ms: u64) -> Result<bool> {
        let ttl = ttl_ms.max(1).to_string();
        let held: i64 = self
            .script(
                || "take a lease in".to_owned(),
                Repeat::Safe,
                &TRY_LOCK,
                &[&self.inner.keys.lease(name)],
                &[owner.as_bytes(), ttl.as_bytes()],
            )
            .await?;
        Ok(held == 1)
    }

    async fn unlock(&self, name: &str, owner: &str) -> Result<()> {
        let _: i64 = self
            .script(
                || "release a lease in".to_owned(),
                Repeat::Safe,
                &UNLOCK,
                &[&self.inner.keys.lease(name)],
                &[owner.as_bytes()],
            )
            .await?;
        Ok(())
    }

    async fn publish(&self, key: &SessionKey) -> Result<()> {
        let channel = self.inner.keys.events(key);
        self.run(
            || format!("announce a change of {key} to"),
            Repeat::Safe,
            |mut c| {
                let channel = &channel;
                async move {
                    redis::cmd("PUBLISH")
                        .arg(channel)
                        .arg("changed")
                        .exec_async(&mut c)
                        .await
                }
            },
        )
        .await
    }

    async fn wait_published(&self, key: &SessionKey, max: Duration) {
        let channel = self.inner.keys.events(key);
        self.inner.events.notices().wait(&channel, max).await;
    }
}

/// The TTL of a session in ms, or 0 for none: only a token that expires and cannot be refreshed
/// takes the session with it (after [`SESSION_GRACE`]).
fn session_ttl_ms(session: &Session, now: i64) -> u64 {
    let grant = &session.grant;
    match grant.expires_at {
        Some(at) if grant.refresh_token.is_none() || session.refresh_error.is_some() => {
            seconds_ms(at.saturating_sub(now)) + millis(SESSION_GRACE)
        }
        _ => 0,
    }
}

/// The TTL of a flow's records in ms: until its expiry plus [`FLOW_GRACE`].
fn flow_ttl_ms(expires_at: i64, now: i64) -> u64 {
    seconds_ms(expires_at.saturating_sub(now)) + millis(FLOW_GRACE)
}

/// `secs` (clamped to 0 ..= a century) in ms.
fn seconds_ms(secs: i64) -> u64 {
    u64::try_from(secs.clamp(0, MAX_TTL_SECS)).unwrap_or(0) * 1000
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The format tag in every sealed record's associated data.
const AAD_DOMAIN: &[u8] = b"keyfob-redis-v1";
/// The format tag of session and flow records sealed with their prefix (and, for sessions,
/// their version) in the associated data.
const RECORD_DOMAIN: &[u8] = b"keyfob-redis-v2";

/// A session record's associated data: the key prefix, the session key and the record's
/// version, so that a record copied under another prefix or key, or put back over a newer one
/// (whose version the counter has passed), does not open or is refused.
fn session_aad(prefix: &str, key: &SessionKey, version: u64) -> Vec<u8> {
    keyfob_core::crypto::aad(
        RECORD_DOMAIN,
        &[
            b"session",
            prefix.as_bytes(),
            key.provider.as_bytes(),
            key.thread.as_bytes(),
            key.profile.as_bytes(),
            &version.to_be_bytes(),
        ],
    )
}

/// What sessions were sealed with before the prefix and version were bound in (read only, to
/// tell such a record from a forged one).
fn legacy_session_aad(key: &SessionKey) -> Vec<u8> {
    keyfob_core::crypto::session_aad(AAD_DOMAIN, key)
}

/// A pending flow's associated data: the prefix, its state hash, key and expiry.
fn pending_aad(prefix: &str, state_hash: &str, key: &SessionKey, expires_at: i64) -> Vec<u8> {
    keyfob_core::crypto::aad(
        RECORD_DOMAIN,
        &[
            b"pending",
            prefix.as_bytes(),
            state_hash.as_bytes(),
            key.provider.as_bytes(),
            key.thread.as_bytes(),
            key.profile.as_bytes(),
            &expires_at.to_be_bytes(),
        ],
    )
}

/// Microseconds since the epoch: a writer's first version proposal.
fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

fn aad(parts: &[&[u8]]) -> Vec<u8> {
    keyfob_core::crypto::aad(AAD_DOMAIN, parts)
}

fn store_error(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Store, message)
}

/// A malformed URL, described without repeating it (it may hold a password).
/// Drops a session from the cache when dropped.
struct Forget<'a> {
    cache: &'a cache::Cache,
    name: String,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.cache.invalidate(Some(&[self.name.as_str()]));
    }
}

/// How to connect beyond the URL.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// TLS files, for `rediss://`.
    pub tls: Tls,
    /// Keep sessions in process memory while Redis tracks them (server-assisted client-side
    /// caching, Redis 6+), up to this margin before they expire (the engine's refresh margin);
    /// `None` reads Redis every time. See the `cache` module's invariants.
    pub client_cache: Option<Duration>,
}

/// The TLS files of a `rediss://` connection (`[store] tls_ca`, `tls_cert`, `tls_key`); none
/// means the system's roots and no client certificate.
#[derive(Clone, Debug, Default)]
pub struct Tls {
    /// A CA certificate (PEM) to trust instead of the system's roots.
    pub ca: Option<std::path::PathBuf>,
    /// A client certificate (PEM), for servers that ask for one.
    pub cert: Option<std::path::PathBuf>,
    /// Its private key (PEM).
    pub key: Option<std::path::PathBuf>,
}

impl Tls {
    /// The client for `url` with these files, and the files again for a cluster's nodes.
    fn client(&self, url: &str) -> Result<(redis::Client, Option<redis::TlsCertificates>)> {
        if self.ca.is_none() && self.cert.is_none() && self.key.is_none() {
            let client = redis::Client::open(url).map_err(|e| url_error(url, &e))?;
            return Ok((client, None));
        }
        if !url.starts_with("rediss://") {
            return Err(Error::new(
                ErrorKind::Config,
                "[store] tls_ca, tls_cert and tls_key are for a TLS connection: write the url as \
                 rediss://",
            ));
        }
        let read = |path: &std::path::Path, what: &str| {
            std::fs::read(path).map_err(|e| {
                Error::new(
                    ErrorKind::Config,
                    format!("cannot read the {what} {}: {e}", path.display()),
                )
            })
        };
        let client_tls = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => Some(redis::ClientTlsConfig {
                client_cert: read(cert, "client certificate ([store] tls_cert)")?,
                client_key: read(key, "client key ([store] tls_key)")?,
            }),
            (None, None) => None,
            _ => {
                return Err(Error::new(
                    ErrorKind::Config,
                    "[store] tls_cert and tls_key go together: set both, or neither",
                ));
            }
        };
        let root_cert = match &self.ca {
            Some(ca) => Some(read(ca, "CA certificate ([store] tls_ca)")?),
            None => None,
        };
        let certs = redis::TlsCertificates {
            client_tls,
            root_cert,
        };
        let client = redis::Client::build_with_tls(url, certs.clone()).map_err(|e| {
            if e.kind() == redis::ErrorKind::InvalidClientConfig {
                Error::new(
                    ErrorKind::Config,
                    "the TLS files of [store] are not valid PEM certificates and keys",
                )
            } else {
                url_error(url, &e)
            }
        })?;
        Ok((client, Some(certs)))
    }
}

fn url_error(url: &str, e: &RedisError) -> Error {
    let _ = url;
    // redis-rs describes URL problems without quoting the URL ("Missing hostname").
    let what: String = {
        let text = e.to_string();
        let text = text.split(" - ").next().unwrap_or_default();
        let mut chars = text.chars();
        chars
            .next()
            .map(|c| c.to_lowercase().chain(chars).collect())
            .unwrap_or_default()
    };
    Error::new(
        ErrorKind::Config,
        format!(
            "the redis store url is not valid: {what} (expected \
             redis://[user:password@]host[:port][/db], rediss://… for TLS, or redis+unix:///path)"
        ),
    )
}

/// The first server error of a failed pipeline (which reports them all), or `e` itself.
fn first_error(e: &RedisError) -> RedisError {
    e.clone()
        .into_server_errors()
        .and_then(|errors| errors.first().map(|(_, s)| RedisError::from(s.clone())))
        .unwrap_or_else(|| e.clone())
}

fn classify(e: &RedisError) -> Failure {
    let e = &first_error(e);
    if e.is_connection_refusal() {
        return Failure::NotRun;
    }
    match e.kind() {
        redis::ErrorKind::Server(
            ServerErrorKind::BusyLoading
            | ServerErrorKind::TryAgain
            | ServerErrorKind::MasterDown
            | ServerErrorKind::ClusterDown,
        ) => Failure::NotRun,
        _ if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() => Failure::Unknown,
        _ => Failure::Final,
    }
}

/// "cannot {action} redis at {addr}: {reason}", with the Redis error as the source.
fn redis_error(
    addr: &str,
    action: &str,
    e: &RedisError,
    failure: Failure,
    repeat: Repeat,
) -> Error {
    let mut message = format!("cannot {action} redis at {addr}: {}", reason(e));
    if failure == Failure::Unknown && repeat == Repeat::Unsafe {
        message.push_str("; the change may or may not have been applied");
    }
    store_error(message).with_source(e.clone())
}

/// A reader's explanation of a Redis failure, with what to check.
fn reason(e: &RedisError) -> String {
    use redis::ErrorKind as K;
    let e = &first_error(e);
    if e.is_connection_refusal() {
        return "connection refused (is redis-server running there, on that port?)".to_owned();
    }
    if e.is_timeout() {
        return "no answer in time (the server is overloaded or unreachable)".to_owned();
    }
    let reason = match (e.kind(), e.code()) {
        (K::AuthenticationFailed, _) | (_, Some("WRONGPASS")) => {
            "authentication failed (check the user name and password in the store url)"
        }
        (_, Some("NOAUTH")) => {
            "the server requires a password (put it in the store url: redis://:password@host:port)"
        }
        (K::Server(ServerErrorKind::NoPerm), _) => {
            "the server's ACL denies this user a command or a key (it needs the string, hash, \
             sorted set, scripting and pub/sub commands on keys under the prefix)"
        }
        (K::Server(ServerErrorKind::ReadOnly), _) => {
            "the server is a read-only replica (point the store url at the primary)"
        }
        (K::Server(ServerErrorKind::BusyLoading), _) => {
            "redis is still loading its data set (try again in a moment)"
        }
        (
            K::Server(
                ServerErrorKind::MasterDown
                | ServerErrorKind::ClusterDown
                | ServerErrorKind::TryAgain,
            ),
            _,
        ) => "redis cannot serve this key right now (its primary is down; try again shortly)",
        (
            K::Server(ServerErrorKind::Moved | ServerErrorKind::Ask | ServerErrorKind::CrossSlot),
            _,
        ) => {
            "the server is a Redis Cluster node, taken for a standalone server because it \
             refused `INFO cluster` (allow the store's user INFO, which tells a cluster apart)"
        }
        (_, Some("OOM")) => {
            "redis is out of memory (raise maxmemory, or free memory; keyfob's keys must not be \
             evicted)"
        }
        (K::RESP3NotSupported, _) => "the server is older than Redis 6",
        _ if e.is_connection_dropped() || e.is_io_error() => {
            let text = e.to_string();
            // TLS handshakes fail as lost connections; say which setting fixes them.
            let hint = if text.contains("CertificateRequired") {
                "; the server wants a client certificate: set [store] tls_cert and tls_key"
            } else if text.contains("invalid peer certificate") || text.contains("UnknownIssuer") {
                "; the server's certificate is not trusted: set [store] tls_ca to the CA that \
                 signed it"
            } else {
                ""
            };
            return format!("the connection was lost ({text}){hint}");
        }
        _ => return e.to_string(),
    };
    reason.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(kind: std::io::ErrorKind) -> RedisError {
        RedisError::from(std::io::Error::from(kind))
    }

    #[test]
    fn errors_name_the_server_and_what_to_check() {
        let e = redis_error(
            "10.0.0.5:6379",
            "read session github (thread t, profile p) from",
            &io(std::io::ErrorKind::ConnectionRefused),
            Failure::NotRun,
            Repeat::Safe,
        );
        assert_eq!(e.kind(), ErrorKind::Store);
        assert_eq!(
            e.to_string(),
            "cannot read session github (thread t, profile p) from redis at 10.0.0.5:6379: \
             connection refused (is redis-server running there, on that port?)"
        );
        let e = redis_error(
            "10.0.0.5:6379",
            "delete session x from",
            &io(std::io::ErrorKind::ConnectionReset),
            Failure::Unknown,
            Repeat::Unsafe,
        );
        let msg = e.to_string();
        assert!(
            msg.contains("the connection was lost") && msg.ends_with("may not have been applied"),
            "{msg}"
        );
        let auth = RedisError::from((redis::ErrorKind::AuthenticationFailed, "nope"));
        assert!(reason(&auth).contains("check the user name and password"));
    }

    #[test]
    fn failures_are_classified_for_retries() {
        assert!(classify(&io(std::io::ErrorKind::ConnectionRefused)) == Failure::NotRun);
        assert!(classify(&io(std::io::ErrorKind::ConnectionReset)) == Failure::Unknown);
        assert!(classify(&io(std::io::ErrorKind::TimedOut)) == Failure::Unknown);
        let server = RedisError::from((redis::ErrorKind::Client, "bad"));
        assert!(classify(&server) == Failure::Final);
    }

    #[test]
    fn url_errors_never_repeat_the_url() {
        for url in [
            "redis://user:hunter2@",
            "redis://:hunter2@host:99999",
            "rediss://:hunter2@host:6379",
            "http://:hunter2@host",
            "redis://:hunter2@host/notadb",
        ] {
            let e = match redis::Client::open(url) {
                Err(e) => url_error(url, &e),
                Ok(_) => continue,
            };
            assert_eq!(e.kind(), ErrorKind::Config, "{url}");
            let msg = e.to_string();
            assert!(
                !msg.contains("hunter2") && msg.contains("not valid"),
                "{msg}"
            );
        }
    }

    #[test]
    fn ttls_follow_what_can_be_refreshed() {
        let mut s = Session {
            key: SessionKey::default_for("acme"),
            handler: "acme-oauth2".into(),
            grant: keyfob_core::Grant::bearer("t".to_owned().into()),
            created_at: 0,
            updated_at: 0,
            refresh_error: None,
            version: 0,
        };
        let hour = millis(SESSION_GRACE);
        assert_eq!(session_ttl_ms(&s, 100), 0, "no expiry: no TTL");
        s.grant.expires_at = Some(160);
        assert_eq!(session_ttl_ms(&s, 100), 60_000 + hour);
        assert_eq!(
            session_ttl_ms(&s, 1000),
            hour,
            "already expired: the grace only"
        );
        s.grant.refresh_token = Some("r".to_owned().into());
        assert_eq!(session_ttl_ms(&s, 100), 0, "refreshable: no TTL");
        s.refresh_error = Some("invalid_grant".into());
        assert_eq!(
            session_ttl_ms(&s, 100),
            60_000 + hour,
            "refresh token rejected"
        );
        s.grant.expires_at = Some(i64::MAX);
        assert!(session_ttl_ms(&s, i64::MIN) > 0, "no overflow");
        assert_eq!(flow_ttl_ms(100, 1000), millis(FLOW_GRACE));
        assert_eq!(flow_ttl_ms(1600, 1000), 600_000 + millis(FLOW_GRACE));
    }

    #[test]
    fn aad_parts_cannot_shift() {
        assert_ne!(aad(&[b"a\0b", b"c"]), aad(&[b"a", b"b\0c"]));
        assert_ne!(aad(&[b"ab", b""]), aad(&[b"a", b"b"]));
        let k = |p: &str, t: &str| SessionKey::new(p, t, "default");
        assert_ne!(
            session_aad("kf", &k("a/b", "c"), 1),
            session_aad("kf", &k("a", "b/c"), 1)
        );
        // The prefix and the version are bound in.
        assert_ne!(
            session_aad("kf", &k("a", "b"), 1),
            session_aad("kf2", &k("a", "b"), 1)
        );
        assert_ne!(
            session_aad("kf", &k("a", "b"), 1),
            session_aad("kf", &k("a", "b"), 2)
        );
        assert_ne!(
            pending_aad("kf", "h", &k("a", "b"), 1),
            pending_aad("kf", "h", &k("a", "b"), 2)
        );
        assert_ne!(
            pending_aad("kf", "h", &k("a", "b"), 1),
            pending_aad("kf2", "h", &k("a", "b"), 1)
        );
    }
}
