//! keyfob's durable shared store: sessions and pending flows in PostgreSQL, every secret sealed
//! with the store's key, for several instances (and restarts) sharing one vault.
//!
//! # Design
//! - **A pool of connections** (up to 16, `deadpool-postgres`) runs the queries, each statement
//!   prepared once per connection. A connection that broke (the server restarted) is replaced at
//!   its next use, so the store recovers by itself once the server is back; meanwhile each call
//!   fails with an error that names the server (never the password).
//! - **The schema installs itself.** [`PostgresStore::connect`] creates the tables in a new
//!   database under a transaction-scoped advisory lock (instances starting together wait for one
//!   another), refuses a database of a newer schema, and recognises the key: `keyfob_meta`
//!   holds a sealed constant that must open with the store's key.
//! - **Versions come from one sequence**, so a session deleted and created again never gets a
//!   version it had before, and a stale compare-and-swap cannot match it. Each kind of `put` is
//!   one statement: an insert that does nothing over an existing row, an update whose `WHERE`
//!   names the expected version, or an upsert.
//! - **Writes of one session's flow take turns** on a transaction-scoped advisory lock keyed by
//!   the session, and a claim is one `UPDATE … WHERE status = 'waiting' AND expires_at > now`;
//!   binding and finishing read the row `FOR UPDATE`.
//! - **Leases use the database's clock**, so instances whose clocks disagree still agree on who
//!   holds a refresh lease.
//! - **Change notices**: [`SessionStore::publish`] is a `NOTIFY` on the channel
//!   `keyfob_changed` with a hash of the session key; one connection per store `LISTEN`s and
//!   wakes that session's waiters. When it is lost, waiters fall back to polling until it is
//!   back.
//! - **Only sealed bytes hold secrets.** Rows keep their key (provider, thread, profile or the
//!   state hash), a version, a flow's status and expiry in plaintext, and the record from
//!   [`keyfob_core::record`] sealed with [`Sealer`], bound to its row by the associated data.
//! - Text columns sort in the "C" collation: listing order is byte order, as in every store.

mod events;
mod tls;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use keyfob_core::crypto::Sealer;
use keyfob_core::record::{
    decode_pending, decode_session, encode_pending, encode_session, status_from_column, status_name,
};
use keyfob_core::store::{Expect, FlowStatus, PendingFlow, SessionStore, conflict};
use keyfob_core::{Error, ErrorKind, Result, Session, SessionKey};
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use crate::events::Events;
use crate::tls::Connector;
pub use crate::tls::Tls;

/// The schema this build writes.
const SCHEMA_VERSION: i64 = 1;
/// The constant sealed into `keyfob_meta` to recognise the key.
const KEY_CHECK: &[u8] = b"keyfob postgres store key check";
/// The advisory lock that serialises schema installs (any number; "kfob").
const SCHEMA_LOCK: i64 = 0x6b66_6f62;
/// The most connections the pool opens.
const POOL_SIZE: usize = 16;
/// How long a connect (or a wait for a pooled connection) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA: &str = r#"
CREATE TABLE keyfob_meta (
    name text COLLATE "C" PRIMARY KEY,
    value bytea NOT NULL
);
CREATE SEQUENCE keyfob_versions;
CREATE TABLE keyfob_sessions (
    provider text COLLATE "C" NOT NULL,
    thread text COLLATE "C" NOT NULL,
    profile text COLLATE "C" NOT NULL,
    version bigint NOT NULL,
    sealed bytea NOT NULL,
    PRIMARY KEY (provider, thread, profile)
);
CREATE TABLE keyfob_pending (
    state_hash text COLLATE "C" PRIMARY KEY,
    provider text COLLATE "C" NOT NULL,
    thread text COLLATE "C" NOT NULL,
    profile text COLLATE "C" NOT NULL,
    status text NOT NULL CHECK (status IN ('waiting', 'claimed', 'done', 'failed')),
    expires_at bigint NOT NULL,
    sealed bytea NOT NULL,
    UNIQUE (provider, thread, profile)
);
CREATE INDEX keyfob_pending_expires_at ON keyfob_pending (expires_at);
CREATE TABLE keyfob_leases (
    name bytea PRIMARY KEY,
    owner text COLLATE "C" NOT NULL,
    expires_ms bigint NOT NULL
);
"#;

const SESSION_ROW: &str = "SELECT version, sealed FROM keyfob_sessions \
    WHERE provider = $1 AND thread = $2 AND profile = $3";
const INSERT_SESSION: &str = "INSERT INTO keyfob_sessions \
    (provider, thread, profile, version, sealed) \
    VALUES ($1, $2, $3, nextval('keyfob_versions'), $4) \
    ON CONFLICT (provider, thread, profile) DO NOTHING RETURNING version";
const REPLACE_SESSION: &str = "UPDATE keyfob_sessions \
    SET version = nextval('keyfob_versions'), sealed = $4 \
    WHERE provider = $1 AND thread = $2 AND profile = $3 AND version = $5 RETURNING version";
const UPSERT_SESSION: &str = "INSERT INTO keyfob_sessions \
    (provider, thread, profile, version, sealed) \
    VALUES ($1, $2, $3, nextval('keyfob_versions'), $4) \
    ON CONFLICT (provider, thread, profile) \
    DO UPDATE SET version = excluded.version, sealed = excluded.sealed RETURNING version";
const DELETE_SESSION: &str =
    "DELETE FROM keyfob_sessions WHERE provider = $1 AND thread = $2 AND profile = $3";
const LIST_SESSIONS: &str = "SELECT provider, thread, profile, version, sealed \
    FROM keyfob_sessions WHERE $1::text IS NULL OR thread = $1 \
    ORDER BY provider, thread, profile";

// The queries of `keyfob_pending` that return rows list the columns in `pending_row` order.
const PENDING_COLUMNS: &str = "state_hash, provider, thread, profile, status, expires_at, sealed";
/// Serialises the writes of one session's flow, until the transaction ends.
const LOCK_KEY: &str = "SELECT pg_advisory_xact_lock($1)";
const DELETE_PENDING_FOR_KEY: &str = "DELETE FROM keyfob_pending \
    WHERE state_hash = $1 OR (provider = $2 AND thread = $3 AND profile = $4)";
const INSERT_PENDING: &str = "INSERT INTO keyfob_pending \
    (state_hash, provider, thread, profile, status, expires_at, sealed) \
    VALUES ($1, $2, $3, $4, $5, $6, $7)";
const FINISH_PENDING: &str =
    "UPDATE keyfob_pending SET status = $2, sealed = $3 WHERE state_hash = $1";
const DELETE_PENDING: &str = "DELETE FROM keyfob_pending WHERE state_hash = $1";
const PURGE_PENDING: &str = "DELETE FROM keyfob_pending WHERE expires_at <= $1";
/// Milliseconds since the epoch, by the database's clock.
const NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";
const RELEASE_LEASE: &str = "DELETE FROM keyfob_leases WHERE name = $1 AND owner = $2";
const NOTIFY: &str = "SELECT pg_notify('keyfob_changed', $1)";

/// Sessions and pending flows in PostgreSQL, sealed at rest. Cheap to clone: clones share the
/// pool and the listener.
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    sealer: Sealer,
    /// `host:port/database`, for messages (never the password).
    place: String,
    events: Events,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("server", &self.inner.place)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to the database of `url` (`postgres://[user[:password]@]host[:port]/database`,
    /// or libpq's `key=value` form), installs the schema in a new database and checks the key.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for a URL that does not parse (its text is not quoted: it may hold
    /// a password); [`ErrorKind::Store`] when the server cannot be reached or refuses the login,
    /// when the database holds a newer keyfob schema, and when `sealer` holds another key than
    /// the one the database was created with.
    pub async fn connect(url: &str, sealer: Sealer) -> Result<PostgresStore> {
        Self::connect_with(url, sealer, &Tls::default()).await
    }

    /// [`PostgresStore::connect`] with TLS files: over TLS when the url says
    /// `sslmode=require` (or libpq's `verify-ca`/`verify-full`), checking the server's
    /// certificate against `tls.ca` (else the system's roots) and its host name, with a client
    /// certificate where given.
    ///
    /// # Errors
    /// As [`PostgresStore::connect`]; [`ErrorKind::Config`] when a file cannot be read or is not
    /// PEM, when only one of the client certificate and key is given, or when files are given
    /// for a url without `sslmode=require`.
    pub async fn connect_with(url: &str, sealer: Sealer, tls: &Tls) -> Result<PostgresStore> {
        let mut config = tls::parse(url)?;
        let connector = tls.connector(&config)?;
        config.connect_timeout(CONNECT_TIMEOUT);
        if config.get_application_name().is_none() {
            config.application_name("keyfob");
        }
        let place = place(&config);
        let recycling = || ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match &connector {
            Connector::Plain => Manager::from_config(config.clone(), NoTls, recycling()),
            Connector::Rustls(tls) => {
                Manager::from_config(config.clone(), tls.clone(), recycling())
            }
        };
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| store_error(format!("cannot set up the PostgreSQL pool: {e}")))?;
        let store = PostgresStore {
            inner: Arc::new(Inner {
                pool,
                sealer,
                events: Events::start(config, connector, place.clone()),
                place,
            }),
        };
        store.migrate().await?;
        tracing::debug!(store = "postgres", "connected to the session database");
        Ok(store)
    }

    /// Installs the schema in a new database, then checks its version and the key.
    async fn migrate(&self) -> Result<()> {
        let db = &self.inner;
        let err = db.err("set up the session tables");
        let mut client = db.client().await?;
        let tx = client.transaction().await.map_err(&err)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
            .await
            .map_err(&err)?;
        let exists: bool = tx
            .query_one("SELECT to_regclass('keyfob_meta') IS NOT NULL", &[])
            .await
            .map_err(&err)?
            .get(0);
        if !exists {
            tx.batch_execute(SCHEMA).await.map_err(&err)?;
            let check = db.sealer.seal(&key_check_aad(), KEY_CHECK);
            tx.execute(
                "INSERT INTO keyfob_meta (name, value) VALUES ('schema_version', $1), \
                 ('key_check', $2)",
                &[&SCHEMA_VERSION.to_string().into_bytes(), &check],
            )
            .await
            .map_err(&err)?;
            tracing::info!(store = "postgres", "created the session tables");
        }
        let meta = tx
            .query("SELECT name, value FROM keyfob_meta", &[])
            .await
            .map_err(&err)?;
        tx.commit().await.map_err(&err)?;
        let value = |name: &str| {
            meta.iter()
                .find(|r| r.get::<_, &str>(0) == name)
                .map(|r| r.get::<_, Vec<u8>>(1))
        };
        let version = value("schema_version")
            .and_then(|v| String::from_utf8(v).ok())
            .and_then(|v| v.parse::<i64>().ok())
            .ok_or_else(|| {
                store_error(format!(
                    "the database {} holds a table keyfob_meta that is not keyfob's: choose \
                     another database",
                    db.place
                ))
            })?;
        if version != SCHEMA_VERSION {
            return Err(store_error(format!(
                "the database {} has keyfob schema version {version}, but this keyfob reads \
                 only version {SCHEMA_VERSION}: use the keyfob that wrote it",
                db.place
            )));
        }
        let check = value("key_check").unwrap_or_default();
        if db.sealer.open(&key_check_aad(), &check).ok().as_deref() != Some(KEY_CHECK) {
            return Err(store_error(format!(
                "the encryption key does not match the database {}: use the key it was created \
                 with ([store] key on every instance)",
                db.place
            )));
        }
        Ok(())
    }

    /// Reads the flow of `state_hash` for update, lets `change` edit it, and writes it sealed
    /// again when `change` says so, in one transaction. The flow as it stands afterwards;
    /// `None` when there is none.
    async fn update_pending<F>(
        &self,
        state_hash: &str,
        what: &'static str,
        change: F,
    ) -> Result<Option<PendingFlow>>
    where
        F: FnOnce(&mut PendingFlow) -> bool + Send,
    {
        let db = &self.inner;
        let err = db.err(what);
        let mut client = db.client().await?;
        let tx = client.transaction().await.map_err(&err)?;
        let sql = format!(
            "SELECT {PENDING_COLUMNS} FROM keyfob_pending WHERE state_hash = $1 FOR UPDATE"
        );
        let row = tx.query_opt(&sql, &[&state_hash]).await.map_err(&err)?;
        let Some(row) = row else { return Ok(None) };
        let mut flow = db.open_pending(&row)?;
        if change(&mut flow) {
            tx.execute(
                FINISH_PENDING,
                &[
                    &state_hash,
                    &status_name(&flow.status),
                    &db.seal_pending(&flow),
                ],
            )
            .await
            .map_err(&err)?;
            tx.commit().await.map_err(&err)?;
        }
        Ok(Some(flow))
    }
}

impl Inner {
    /// A pooled connection.
    async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|e| {
            let reason = match &e {
                deadpool_postgres::PoolError::Backend(e) => reason(e),
                deadpool_postgres::PoolError::Timeout(_) => {
                    "no answer in time (is the server up and reachable?)".to_owned()
                }
                other => other.to_string(),
            };
            store_error(format!(
                "cannot reach the session database {}: {reason}",
                self.place
            ))
        })
    }

    /// Runs one statement on a pooled connection: its rows.
    async fn query(
        &self,
        what: &'static str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await.map_err(self.err(what))?;
        client
            .query(&statement, params)
            .await
            .map_err(self.err(what))
    }

    /// Runs one statement on a pooled connection: how many rows it changed.
    async fn execute(
        &self,
        what: &'static str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await.map_err(self.err(what))?;
        client
            .execute(&statement, params)
            .await
            .map_err(self.err(what))
    }

    /// Maps an error of `action` ("write session to") to a message naming the database.
    fn err(&self, action: &'static str) -> impl Fn(tokio_postgres::Error) -> Error + '_ {
        move |e| {
            store_error(format!("cannot {action} {}: {}", self.place, reason(&e))).with_source(e)
        }
    }

    fn corrupt(&self, what: &str) -> Error {
        store_error(format!("a stored {what} in {} is corrupted", self.place))
    }

    fn open_session(&self, key: &SessionKey, version: i64, sealed: &[u8]) -> Result<Session> {
        let wrap = |e: Error| {
            store_error(format!(
                "cannot read session {key} from {}: {}",
                self.place,
                e.message()
            ))
            .with_source(e)
        };
        let plain = self.sealer.open(&session_aad(key), sealed).map_err(wrap)?;
        let version = u64::try_from(version).map_err(|_| self.corrupt("session version"))?;
        let session = decode_session(&plain, version).map_err(wrap)?;
        if session.key != *key {
            return Err(self.corrupt("session"));
        }
        Ok(session)
    }

    fn seal_pending(&self, flow: &PendingFlow) -> Vec<u8> {
        self.sealer.seal(
            &pending_aad(&flow.state_hash, &flow.key, flow.expires_at),
            &encode_pending(flow),
        )
    }

    /// A flow from a row in `PENDING_COLUMNS` order.
    fn open_pending(&self, row: &Row) -> Result<PendingFlow> {
        let wrap = |e: Error| {
            store_error(format!(
                "cannot read a pending flow from {}: {}",
                self.place,
                e.message()
            ))
            .with_source(e)
        };
        let state_hash: String = row.get(0);
        let key = SessionKey {
            provider: row.get(1),
            thread: row.get(2),
            profile: row.get(3),
        };
        let status: String = row.get(4);
        let expires_at: i64 = row.get(5);
        let sealed: Vec<u8> = row.get(6);
        let aad = pending_aad(&state_hash, &key, expires_at);
        let mut flow =
            decode_pending(&self.sealer.open(&aad, &sealed).map_err(wrap)?).map_err(wrap)?;
        if flow.state_hash != state_hash || flow.key != key || flow.expires_at != expires_at {
            return Err(self.corrupt("pending flow"));
        }
        flow.status = status_from_column(&status, flow.status)
            .ok_or_else(|| self.corrupt("pending flow status"))?;
        Ok(flow)
    }

    /// The session's flow, if any.
    async fn pending_where(
        &self,
        condition: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<PendingFlow>> {
        let sql = format!("SELECT {PENDING_COLUMNS} FROM keyfob_pending WHERE {condition}");
        let rows = self.query("read pending flow from", &sql, params).await?;
        rows.first().map(|r| self.open_pending(r)).transpose()
    }
}

#[async_trait]
impl SessionStore for PostgresStore {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn location(&self) -> Option<String> {
        Some(self.inner.place.clone())
    }

    async fn get(&self, key: &SessionKey) -> Result<Option<Session>> {
        let db = &self.inner;
        let rows = db
            .query(
                "read session from",
                SESSION_ROW,
                &[&key.provider, &key.thread, &key.profile],
            )
            .await?;
        rows.first()
            .map(|r| db.open_session(key, r.get(0), r.get(1)))
            .transpose()
    }

    async fn put(&self, session: &Session, expect: Expect) -> Result<u64> {
        let db = &self.inner;
        let key = &session.key;
        let sealed = db.sealer.seal(&session_aad(key), &encode_session(session));
        let (k1, k2, k3) = (&key.provider, &key.thread, &key.profile);
        let rows = match expect {
            Expect::Absent => {
                db.query("write session to", INSERT_SESSION, &[k1, k2, k3, &sealed])
                    .await?
            }
            Expect::Version(v) => {
                let Ok(v) = i64::try_from(v) else {
                    return Err(conflict(key));
                };
                db.query(
                    "write session to",
                    REPLACE_SESSION,
                    &[k1, k2, k3, &sealed, &v],
                )
                .await?
            }
            Expect::Any => {
                db.query("write session to", UPSERT_SESSION, &[k1, k2, k3, &sealed])
                    .await?
            }
        };
        let version: i64 = rows.first().ok_or_else(|| conflict(key))?.get(0);
        u64::try_from(version).map_err(|_| db.corrupt("version counter"))
    }

    async fn delete(&self, key: &SessionKey) -> Result<bool> {
        let changed = self
            .inner
            .execute(
                "delete session from",
                DELETE_SESSION,
                &[&key.provider, &key.thread, &key.profile],
            )
            .await?;
        Ok(changed > 0)
    }

    async fn list(&self, thread: Option<&str>) -> Result<Vec<Session>> {
        let db = &self.inner;
        let rows = db
            .query("list sessions in", LIST_SESSIONS, &[&thread])
            .await?;
        rows.iter()
            .map(|r| {
                let key = SessionKey {
                    provider: r.get(0),
                    thread: r.get(1),
                    profile: r.get(2),
                };
                db.open_session(&key, r.get(3), r.get(4))
            })
            .collect()
    }

    async fn put_pending(&self, flow: &PendingFlow) -> Result<()> {
        let db = &self.inner;
        let err = db.err("write pending flow to");
        let sealed = db.seal_pending(flow);
        let key = &flow.key;
        let mut client = db.client().await?;
        let tx = client.transaction().await.map_err(&err)?;
        tx.execute(LOCK_KEY, &[&key_lock(key)])
            .await
            .map_err(&err)?;
        tx.execute(
            DELETE_PENDING_FOR_KEY,
            &[&flow.state_hash, &key.provider, &key.thread, &key.profile],
        )
        .await
        .map_err(&err)?;
        tx.execute(
            INSERT_PENDING,
            &[
                &flow.state_hash,
                &key.provider,
                &key.thread,
                &key.profile,
                &status_name(&flow.status),
                &flow.expires_at,
                &sealed,
            ],
        )
        .await
        .map_err(&err)?;
        tx.commit().await.map_err(&err)
    }

    async fn pending(&self, state_hash: &str) -> Result<Option<PendingFlow>> {
        self.inner
            .pending_where("state_hash = $1", &[&state_hash])
            .await
    }

    async fn pending_for(&self, key: &SessionKey) -> Result<Option<PendingFlow>> {
        self.inner
            .pending_where(
                "provider = $1 AND thread = $2 AND profile = $3",
                &[&key.provider, &key.thread, &key.profile],
            )
            .await
    }

    async fn claim_pending(&self, state_hash: &str, now: i64) -> Result<Option<PendingFlow>> {
        let db = &self.inner;
        let err = db.err("claim pending flow in");
        // One transaction, so that a record that fails to open is not left claimed.
        let mut client = db.client().await?;
        let tx = client.transaction().await.map_err(&err)?;
        let sql = format!(
            "UPDATE keyfob_pending SET status = 'claimed' \
             WHERE state_hash = $1 AND status = 'waiting' AND expires_at > $2 \
             RETURNING {PENDING_COLUMNS}"
        );
        let Some(row) = tx
            .query_opt(&sql, &[&state_hash, &now])
            .await
            .map_err(&err)?
        else {
            return Ok(None);
        };
        let flow = db.open_pending(&row)?;
        tx.commit().await.map_err(&err)?;
        Ok(Some(flow))
    }

    async fn bind_pending(
        &self,
        state_hash: &str,
        browser: &str,
        now: i64,
    ) -> Result<Option<PendingFlow>> {
        let open = move |f: &PendingFlow| f.is_waiting(now);
        // Of two browsers opening the link at once, the second reads the first one's binding.
        let flow = self
            .update_pending(state_hash, "bind pending flow in", move |f| {
                let bind = open(f) && f.browser.is_none();
                if bind {
                    f.browser = Some(browser.to_owned());
                }
                bind
            })
            .await?;
        Ok(flow.filter(open))
    }

    async fn finish_pending(&self, state_hash: &str, status: FlowStatus) -> Result<()> {
        // The flow may have been replaced by a newer login meanwhile: nothing to record.
        self.update_pending(state_hash, "finish pending flow in", move |f| {
            f.status = status;
            true
        })
        .await
        .map(|_| ())
    }

    async fn delete_pending(&self, state_hash: &str) -> Result<()> {
        self.inner
            .execute("delete pending flow from", DELETE_PENDING, &[&state_hash])
            .await
            .map(drop)
    }

    async fn purge_expired(&self, now: i64) -> Result<usize> {
        let n = self
            .inner
            .execute("purge expired flows from", PURGE_PENDING, &[&now])
            .await?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    async fn try_lock(&self, name: &str, owner: &str, ttl_ms: u64) -> Result<bool> {
        let ttl = i64::try_from(ttl_ms).unwrap_or(i64::MAX / 4);
        let sql = format!(
            "INSERT INTO keyfob_leases (name, owner, expires_ms) VALUES ($1, $2, {NOW_MS} + $3) \
             ON CONFLICT (name) DO UPDATE \
             SET owner = excluded.owner, expires_ms = excluded.expires_ms \
             WHERE keyfob_leases.owner = excluded.owner OR keyfob_leases.expires_ms <= {NOW_MS}"
        );
        let changed = self
            .inner
            .execute(
                "take a refresh lease in",
                &sql,
                &[&name.as_bytes(), &owner, &ttl],
            )
            .await?;
        Ok(changed == 1)
    }

    async fn unlock(&self, name: &str, owner: &str) -> Result<()> {
        self.inner
            .execute(
                "release a refresh lease in",
                RELEASE_LEASE,
                &[&name.as_bytes(), &owner],
            )
            .await
            .map(drop)
    }

    async fn publish(&self, key: &SessionKey) -> Result<()> {
        self.inner
            .query("announce a change in", NOTIFY, &[&events::channel_of(key)])
            .await
            .map(drop)
    }

    async fn wait_published(&self, key: &SessionKey, max: Duration) {
        self.inner
            .events
            .notices()
            .wait(&events::channel_of(key), max)
            .await;
    }
}

impl PostgresStore {
    /// Whether the change listener is connected (waiters are woken at once rather than
    /// polling).
    pub fn listening(&self) -> bool {
        self.inner.events.notices().is_up()
    }

    /// Waits up to `within` for the change listener to connect; `true` when it is.
    pub async fn wait_listening(&self, within: Duration) -> bool {
        self.inner.events.notices().wait_up(within).await
    }
}

/// The advisory lock key of a session's flow writes: 64 bits of a hash of the key.
fn key_lock(key: &SessionKey) -> i64 {
    let digest = keyfob_core::crypto::sha256_hex(&format!(
        "keyfob-pending\0{}\0{}\0{}",
        key.provider, key.thread, key.profile
    ));
    u64::from_str_radix(&digest[..16], 16).map_or(0, |n| n as i64)
}

/// `host:port/database` of `config`, for messages.
fn place(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("{host}:{port}/{db}")
}

/// A reader's explanation of a PostgreSQL failure: the server's message and code, or the
/// connection's trouble.
fn reason(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let hint = match db.code().code() {
            "28000" if db.message().contains("certificate") => {
                " (the server wants a client certificate: set [store] tls_cert and tls_key)"
            }
            "28P01" | "28000" => " (check the user and password in [store] url)",
            "3D000" => " (create the database, or name another one in [store] url)",
            "42501" => " (grant the user the rights to create tables in this database)",
            _ => "",
        };
        return format!("{} [{}]{hint}", db.message(), db.code().code());
    }
    if e.is_closed() {
        return "the connection was closed (the server restarted or went away)".to_owned();
    }
    let text = e.to_string();
    let tls = tls::hint(&format!("{e:?}"));
    if !tls.is_empty() {
        return format!("{text}{tls}");
    }
    if text.contains("Connection refused") || text.contains("error connecting") {
        return format!("{text} (is the server up and reachable?)");
    }
    text
}

/// The format tag in every sealed record's associated data.
const AAD_DOMAIN: &[u8] = b"keyfob-postgres-v1";

fn session_aad(key: &SessionKey) -> Vec<u8> {
    keyfob_core::crypto::session_aad(AAD_DOMAIN, key)
}

fn pending_aad(state_hash: &str, key: &SessionKey, expires_at: i64) -> Vec<u8> {
    keyfob_core::crypto::pending_aad(AAD_DOMAIN, state_hash, key, expires_at)
}

fn key_check_aad() -> Vec<u8> {
    keyfob_core::crypto::aad(AAD_DOMAIN, &[b"key-check"])
}

fn store_error(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Store, message)
}
