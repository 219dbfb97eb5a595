//! keyfob's embedded session store, the CLI's default: one SQLite file holding sessions and
//! pending flows, every secret sealed with the store's key.
//!
//! # Design
//! - **One connection per store, behind a mutex.** Every call runs on tokio's blocking pool
//!   (`spawn_blocking`) and locks the connection, so tasks of one process queue on the mutex
//!   instead of on SQLite's file locks, and the schema and key checks run once, at
//!   [`SqliteStore::open`]. A connection per operation would repeat those checks and the pragmas
//!   for every call.
//! - **Several processes share the file.** The database runs in WAL mode (readers never block the
//!   writer) with a 5 s busy timeout, and every read-modify-write (CAS put, replacing a flow,
//!   claim, finish) is one `BEGIN IMMEDIATE` transaction, which takes the write lock before it
//!   reads: a second writer waits for the lock instead of failing on a stale snapshot.
//!   `synchronous = FULL`, because a lost write can lose a rotated refresh token.
//! - **Versions come from one counter** in the `meta` table, so a session deleted and created
//!   again never gets a version it had before, and a stale CAS cannot match it.
//! - **Only sealed bytes hold secrets.** Rows keep their key (provider, thread, profile or the
//!   state hash), a version, a flow's status and expiry in plaintext, and the record from
//!   [`keyfob_core::record`] sealed with [`Sealer`]. The associated data binds the blob to its
//!   row (and a flow's blob to its expiry), so a blob copied elsewhere or an edited expiry fails
//!   to open.
//! - **Atomic claims.** A flow's status is a plaintext column so that a claim is a single
//!   `UPDATE … WHERE status = 'waiting' AND expires_at > now`; the status read back always comes
//!   from the column. `finish_pending` re-seals the record with its new status.
//! - **The file identifies itself.** `PRAGMA application_id` marks a keyfob database and
//!   `user_version` its schema; `meta` holds a sealed constant, so opening with the wrong key,
//!   a foreign SQLite database or a file that is not a database fails at open with a message that
//!   says which.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use keyfob_core::crypto::Sealer;
use keyfob_core::record::{
    decode_pending, decode_session, encode_pending, encode_session, status_from_column, status_name,
};
use keyfob_core::store::{Expect, FlowStatus, PendingFlow, SessionStore, conflict};
use keyfob_core::{Error, ErrorKind, Result, Session, SessionKey};
use rusqlite::ffi::ErrorCode;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior, params};

/// `PRAGMA application_id` of a keyfob database: "kfob".
const APPLICATION_ID: i32 = 0x6b66_6f62;
/// `PRAGMA user_version`: the schema this build writes.
const SCHEMA_VERSION: i32 = 1;
/// How long a statement waits for another connection's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The constant sealed into `meta` to recognise the key at open.
const KEY_CHECK: &[u8] = b"keyfob sqlite store key check";

const SCHEMA: &str = "
CREATE TABLE meta (
    name TEXT PRIMARY KEY NOT NULL,
    value ANY NOT NULL
) STRICT;
CREATE TABLE sessions (
    provider TEXT NOT NULL,
    thread TEXT NOT NULL,
    profile TEXT NOT NULL,
    version INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (provider, thread, profile)
) STRICT;
CREATE TABLE pending (
    state_hash TEXT PRIMARY KEY NOT NULL,
    provider TEXT NOT NULL,
    thread TEXT NOT NULL,
    profile TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('waiting', 'claimed', 'done', 'failed')),
    expires_at INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    UNIQUE (provider, thread, profile)
) STRICT;
CREATE INDEX pending_expires_at ON pending (expires_at);
CREATE TABLE leases (
    name TEXT PRIMARY KEY NOT NULL,
    owner TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
) STRICT;
";

const SESSION_ROW: &str = "SELECT version, sealed FROM sessions \
    WHERE provider = ?1 AND thread = ?2 AND profile = ?3";
const SESSION_VERSION: &str = "SELECT version FROM sessions \
    WHERE provider = ?1 AND thread = ?2 AND profile = ?3";
const NEXT_VERSION: &str =
    "UPDATE meta SET value = value + 1 WHERE name = 'last_version' RETURNING value";
const UPSERT_SESSION: &str = "INSERT INTO sessions (provider, thread, profile, version, sealed) \
    VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (provider, thread, profile) \
    DO UPDATE SET version = excluded.version, sealed = excluded.sealed";
const DELETE_SESSION: &str =
    "DELETE FROM sessions WHERE provider = ?1 AND thread = ?2 AND profile = ?3";
const LIST_SESSIONS: &str = "SELECT provider, thread, profile, version, sealed FROM sessions \
    WHERE ?1 IS NULL OR thread = ?1 ORDER BY provider, thread, profile";

// The queries of `pending` that return rows list the columns in `PendingRow::read` order.
const DELETE_PENDING_FOR_KEY: &str = "DELETE FROM pending \
    WHERE state_hash = ?1 OR (provider = ?2 AND thread = ?3 AND profile = ?4)";
const INSERT_PENDING: &str = "INSERT INTO pending \
    (state_hash, provider, thread, profile, status, expires_at, sealed) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
const PENDING_BY_HASH: &str = "SELECT \
    state_hash, provider, thread, profile, status, expires_at, sealed \
    FROM pending WHERE state_hash = ?1";
const PENDING_BY_KEY: &str = "SELECT \
    state_hash, provider, thread, profile, status, expires_at, sealed \
    FROM pending WHERE provider = ?1 AND thread = ?2 AND profile = ?3";
const CLAIM_PENDING: &str = "UPDATE pending SET status = 'claimed' \
    WHERE state_hash = ?1 AND status = 'waiting' AND expires_at > ?2 \
    RETURNING state_hash, provider, thread, profile, status, expires_at, sealed";
const FINISH_PENDING: &str = "UPDATE pending SET status = ?2, sealed = ?3 WHERE state_hash = ?1";
const DELETE_PENDING: &str = "DELETE FROM pending WHERE state_hash = ?1";
const PURGE_PENDING: &str = "DELETE FROM pending WHERE expires_at <= ?1";
/// Takes a free or expired lease, or extends one the owner holds; changes one row on success.
const TAKE_LEASE: &str = "INSERT INTO leases (name, owner, expires_ms) VALUES (?1, ?2, ?3 + ?4) \
    ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_ms = excluded.expires_ms \
    WHERE leases.owner = excluded.owner OR leases.expires_ms <= ?3";
const RELEASE_LEASE: &str = "DELETE FROM leases WHERE name = ?1 AND owner = ?2";

/// Sessions and pending flows in one SQLite file, sealed at rest. Cheap to clone: clones share
/// the connection.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    sealer: Sealer,
    conn: Mutex<Connection>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

/// What the file at the store's path holds.
enum Contents {
    /// No tables and no application id: a new or empty file.
    Empty,
    /// A keyfob database of this schema version.
    Keyfob(i32),
    /// Somebody else's database.
    Foreign,
}

impl SqliteStore {
    /// Opens the database at `path`, creating it (mode 0600, and its missing parent directories
    /// with mode 0700) when needed.
    ///
    /// Blocking: it touches the disk and may wait up to 5 s for another process's lock.
    ///
    /// # Errors
    /// [`ErrorKind::Store`] when the file cannot be created or opened, when `sealer` holds
    /// another key than the one the database was created with, when the file is another
    /// program's SQLite database or a newer keyfob's, and when it is corrupted or not a database.
    pub fn open(path: &Path, sealer: Sealer) -> Result<SqliteStore> {
        create_private(path)?;
        let on_open = |e| db_error(path, "open the session database", e);
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags).map_err(on_open)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(on_open)?;
        // Look before changing anything: a foreign database must be left as it was.
        check_contents(path, contents(&conn).map_err(on_open)?)?;
        let mode = enable_wal(&conn).map_err(on_open)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(
                store = "sqlite",
                journal_mode = mode.as_str(),
                "cannot use WAL mode; writers will block readers"
            );
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(on_open)?;
        initialize(&mut conn, path, &sealer)?;
        let check: Option<Vec<u8>> = conn
            .query_row("SELECT value FROM meta WHERE name = 'key_check'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(on_open)?;
        let check = check.ok_or_else(|| {
            store_error(format!(
                "{} is corrupted: its key check is missing",
                path.display()
            ))
        })?;
        if sealer.open(&key_check_aad(), &check).ok().as_deref() != Some(KEY_CHECK) {
            return Err(store_error(format!(
                "the encryption key does not match this database ({}): use the key it was created \
                 with, or move the database away to start over",
                path.display()
            )));
        }
        tracing::debug!(store = "sqlite", "opened the session database");
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                sealer,
                conn: Mutex::new(conn),
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` on the connection, on the blocking pool.
    async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner, &mut Connection) -> Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        let task = tokio::task::spawn_blocking(move || f(&inner, &mut inner.lock()));
        match task.await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(store_error(
                "the sqlite store was stopped: the runtime is shutting down",
            )),
        }
    }

    /// Reads the flow of `state_hash`, lets `change` edit it, and writes it sealed again when
    /// `change` says so, all in one immediate transaction. The flow as it stands afterwards;
    /// `None` when there is none.
    async fn update_pending<F>(
        &self,
        state_hash: &str,
        what: &'static str,
        change: F,
    ) -> Result<Option<PendingFlow>>
    where
        F: FnOnce(&mut PendingFlow) -> bool + Send + 'static,
    {
        let state_hash = state_hash.to_owned();
        self.run(move |db, conn| {
            let err = db.err(what);
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(&err)?;
            let row = tx
                .query_row(PENDING_BY_HASH, params![state_hash], PendingRow::read)
                .optional()
                .map_err(&err)?;
            let Some(row) = row else { return Ok(None) };
            let mut flow = db.open_pending(row)?;
            if change(&mut flow) {
                tx.execute(
                    FINISH_PENDING,
                    params![
                        state_hash,
                        status_name(&flow.status),
                        db.seal_pending(&flow)
                    ],
                )
                .map_err(&err)?;
                tx.commit().map_err(&err)?;
            }
            Ok(Some(flow))
        })
        .await
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic inside a call drops its transaction, which rolls back: the connection is sound.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Maps a SQLite error of `action` ("write session to") to a message naming the file.
    fn err(&self, action: &'static str) -> impl Fn(rusqlite::Error) -> Error + '_ {
        move |e| db_error(&self.path, action, e)
    }

    fn corrupt(&self, what: &str) -> Error {
        store_error(format!(
            "a stored {what} in {} is corrupted",
            self.path.display()
        ))
    }

    fn open_session(&self, key: &SessionKey, version: i64, sealed: &[u8]) -> Result<Session> {
        let wrap = |e: Error| {
            store_error(format!(
                "cannot read session {key} from {}: {}",
                self.path.display(),
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

    fn open_pending(&self, row: PendingRow) -> Result<PendingFlow> {
        let wrap = |e: Error| {
            store_error(format!(
                "cannot read a pending flow from {}: {}",
                self.path.display(),
                e.message()
            ))
            .with_source(e)
        };
        let aad = pending_aad(&row.state_hash, &row.key, row.expires_at);
        let mut flow =
            decode_pending(&self.sealer.open(&aad, &row.sealed).map_err(wrap)?).map_err(wrap)?;
        if flow.state_hash != row.state_hash
            || flow.key != row.key
            || flow.expires_at != row.expires_at
        {
            return Err(self.corrupt("pending flow"));
        }
        flow.status = status_from_column(&row.status, flow.status)
            .ok_or_else(|| self.corrupt("pending flow status"))?;
        Ok(flow)
    }
}

/// A `pending` row, in the column order of every `pending` query.
struct PendingRow {
    state_hash: String,
    key: SessionKey,
    status: String,
    expires_at: i64,
    sealed: Vec<u8>,
}

impl PendingRow {
    fn read(r: &Row<'_>) -> rusqlite::Result<PendingRow> {
        Ok(PendingRow {
            state_hash: r.get(0)?,
            key: SessionKey {
                provider: r.get(1)?,
                thread: r.get(2)?,
                profile: r.get(3)?,
            },
            status: r.get(4)?,
            expires_at: r.get(5)?,
            sealed: r.get(6)?,
        })
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn location(&self) -> Option<String> {
        Some(self.inner.path.display().to_string())
    }

    async fn get(&self, key: &SessionKey) -> Result<Option<Session>> {
        let key = key.clone();
        self.run(move |db, conn| {
            let row: Option<(i64, Vec<u8>)> = conn
                .query_row(
                    SESSION_ROW,
                    params![key.provider, key.thread, key.profile],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(db.err("read session from"))?;
            row.map(|(version, sealed)| db.open_session(&key, version, &sealed))
                .transpose()
        })
        .await
    }

    async fn put(&self, session: &Session, expect: Expect) -> Result<u64> {
        let key = session.key.clone();
        let sealed = self
            .inner
            .sealer
            .seal(&session_aad(&key), &encode_session(session));
        self.run(move |db, conn| {
            let err = db.err("write session to");
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(&err)?;
            let current: Option<i64> = tx
                .query_row(
                    SESSION_VERSION,
                    params![key.provider, key.thread, key.profile],
                    |r| r.get(0),
                )
                .optional()
                .map_err(&err)?;
            let matches = match expect {
                Expect::Any => true,
                Expect::Absent => current.is_none(),
                Expect::Version(v) => current.is_some_and(|c| u64::try_from(c) == Ok(v)),
            };
            if !matches {
                return Err(conflict(&key));
            }
            let version: i64 = tx.query_row(NEXT_VERSION, [], |r| r.get(0)).map_err(&err)?;
            tx.execute(
                UPSERT_SESSION,
                params![key.provider, key.thread, key.profile, version, sealed],
            )
            .map_err(&err)?;
            tx.commit().map_err(&err)?;
            u64::try_from(version).map_err(|_| db.corrupt("version counter"))
        })
        .await
    }

    async fn delete(&self, key: &SessionKey) -> Result<bool> {
        let key = key.clone();
        self.run(move |db, conn| {
            conn.execute(
                DELETE_SESSION,
                params![key.provider, key.thread, key.profile],
            )
            .map(|n| n > 0)
            .map_err(db.err("delete session from"))
        })
        .await
    }

    async fn list(&self, thread: Option<&str>) -> Result<Vec<Session>> {
        let thread = thread.map(str::to_owned);
        self.run(move |db, conn| {
            let err = db.err("list sessions in");
            let mut stmt = conn.prepare(LIST_SESSIONS).map_err(&err)?;
            let rows = stmt
                .query_map(params![thread], |r| {
                    let key = SessionKey {
                        provider: r.get(0)?,
                        thread: r.get(1)?,
                        profile: r.get(2)?,
                    };
                    Ok((key, r.get::<_, i64>(3)?, r.get::<_, Vec<u8>>(4)?))
                })
                .map_err(&err)?;
            rows.map(|row| {
                let (key, version, sealed) = row.map_err(&err)?;
                db.open_session(&key, version, &sealed)
            })
            .collect()
        })
        .await
    }

    async fn put_pending(&self, flow: &PendingFlow) -> Result<()> {
        let sealed = self.inner.seal_pending(flow);
        let (state_hash, key, expires_at) =
            (flow.state_hash.clone(), flow.key.clone(), flow.expires_at);
        let status = status_name(&flow.status);
        self.run(move |db, conn| {
            let err = db.err("write pending flow to");
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(&err)?;
            tx.execute(
                DELETE_PENDING_FOR_KEY,
                params![state_hash, key.provider, key.thread, key.profile],
            )
            .map_err(&err)?;
            tx.execute(
                INSERT_PENDING,
                params![
                    state_hash,
                    key.provider,
                    key.thread,
                    key.profile,
                    status,
                    expires_at,
                    sealed
                ],
            )
            .map_err(&err)?;
            tx.commit().map_err(&err)
        })
        .await
    }

    async fn pending(&self, state_hash: &str) -> Result<Option<PendingFlow>> {
        let state_hash = state_hash.to_owned();
        self.run(move |db, conn| {
            conn.query_row(PENDING_BY_HASH, params![state_hash], PendingRow::read)
                .optional()
                .map_err(db.err("read pending flow from"))?
                .map(|row| db.open_pending(row))
                .transpose()
        })
        .await
    }

    async fn pending_for(&self, key: &SessionKey) -> Result<Option<PendingFlow>> {
        let key = key.clone();
        self.run(move |db, conn| {
            conn.query_row(
                PENDING_BY_KEY,
                params![key.provider, key.thread, key.profile],
                PendingRow::read,
            )
            .optional()
            .map_err(db.err("read pending flow from"))?
            .map(|row| db.open_pending(row))
            .transpose()
        })
        .await
    }

    async fn claim_pending(&self, state_hash: &str, now: i64) -> Result<Option<PendingFlow>> {
        let state_hash = state_hash.to_owned();
        self.run(move |db, conn| {
            let err = db.err("claim pending flow in");
            // One transaction so that a record that fails to open is not left claimed.
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(&err)?;
            let row = tx
                .query_row(CLAIM_PENDING, params![state_hash, now], PendingRow::read)
                .optional()
                .map_err(&err)?;
            let Some(row) = row else { return Ok(None) };
            let flow = db.open_pending(row)?;
            tx.commit().map_err(&err)?;
            Ok(Some(flow))
        })
        .await
    }

    async fn bind_pending(
        &self,
        state_hash: &str,
        browser: &str,
        now: i64,
    ) -> Result<Option<PendingFlow>> {
        let open = move |f: &PendingFlow| f.is_waiting(now);
        let browser = browser.to_owned();
        // Of two browsers opening the link at once, one reads the other's binding.
        let flow = self
            .update_pending(state_hash, "bind pending flow in", move |f| {
                let bind = open(f) && f.browser.is_none();
                if bind {
                    f.browser = Some(browser);
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
        let state_hash = state_hash.to_owned();
        self.run(move |db, conn| {
            conn.execute(DELETE_PENDING, params![state_hash])
                .map(drop)
                .map_err(db.err("delete pending flow from"))
        })
        .await
    }

    async fn purge_expired(&self, now: i64) -> Result<usize> {
        self.run(move |db, conn| {
            conn.execute(PURGE_PENDING, params![now])
                .map_err(db.err("purge expired flows from"))
        })
        .await
    }

    async fn try_lock(&self, name: &str, owner: &str, ttl_ms: u64) -> Result<bool> {
        let (name, owner) = (name.to_owned(), owner.to_owned());
        let ttl = i64::try_from(ttl_ms).unwrap_or(i64::MAX / 4);
        self.run(move |db, conn| {
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4));
            conn.execute(TAKE_LEASE, params![name, owner, now_ms, ttl])
                .map(|changed| changed == 1)
                .map_err(db.err("take a refresh lease in"))
        })
        .await
    }

    async fn unlock(&self, name: &str, owner: &str) -> Result<()> {
        let (name, owner) = (name.to_owned(), owner.to_owned());
        self.run(move |db, conn| {
            conn.execute(RELEASE_LEASE, params![name, owner])
                .map(drop)
                .map_err(db.err("release a refresh lease in"))
        })
        .await
    }
}

/// What the open file holds, read without changing it.
fn contents(conn: &Connection) -> rusqlite::Result<Contents> {
    let (app_id, user_version, objects): (i32, i32, i64) = conn.query_row(
        "SELECT (SELECT application_id FROM pragma_application_id),
                (SELECT user_version FROM pragma_user_version),
                (SELECT count(*) FROM sqlite_schema)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok(match app_id {
        APPLICATION_ID => Contents::Keyfob(user_version),
        0 if user_version == 0 && objects == 0 => Contents::Empty,
        _ => Contents::Foreign,
    })
}

/// Switches the file to WAL mode (a property of the file, kept across opens) and returns the
/// journal mode in force.
///
/// The switch needs the file to itself and SQLite reports `SQLITE_BUSY` at once, without
/// waiting, when another connection is opening it at the same moment: retry until the busy
/// timeout, by which time the other opener has usually switched the file already.
fn enable_wal(conn: &Connection) -> rusqlite::Result<String> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.pragma_update_and_check(None, "journal_mode", "wal", |r| r.get(0)) {
            Err(e)
                if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy)
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            other => return other,
        }
    }
}

/// Refuses what this build cannot use.
fn check_contents(path: &Path, contents: Contents) -> Result<()> {
    match contents {
        Contents::Empty => Ok(()),
        Contents::Keyfob(v) if v == SCHEMA_VERSION => Ok(()),
        Contents::Keyfob(v) => Err(store_error(format!(
            "{} has keyfob schema version {v}, but this keyfob reads only version \
             {SCHEMA_VERSION}: use the keyfob that wrote it",
            path.display()
        ))),
        Contents::Foreign => Err(store_error(format!(
            "{} is not a keyfob session database (it holds another program's tables): choose \
             another store path",
            path.display()
        ))),
    }
}

/// Creates the schema and the key check in a new database; a no-op when another connection got
/// there first.
fn initialize(conn: &mut Connection, path: &Path, sealer: &Sealer) -> Result<()> {
    let err = |e| db_error(path, "initialize the session database", e);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err)?;
    // Look again under the write lock: another process may have initialized the file meanwhile.
    match contents(&tx).map_err(err)? {
        Contents::Empty => {}
        other => return check_contents(path, other),
    }
    tx.execute_batch(SCHEMA).map_err(err)?;
    tx.execute(
        "INSERT INTO meta (name, value) VALUES ('key_check', ?1), ('last_version', 0)",
        params![sealer.seal(&key_check_aad(), KEY_CHECK)],
    )
    .map_err(err)?;
    tx.pragma_update(None, "application_id", APPLICATION_ID)
        .map_err(err)?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(err)?;
    tx.commit().map_err(err)?;
    tracing::info!(store = "sqlite", "created a new session database");
    Ok(())
}

/// Creates the parent directories (0700) and the file (0600) unless they exist.
fn create_private(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(|e| {
            store_error(format!(
                "cannot create the data directory {}: {}",
                dir.display(),
                io_reason(&e)
            ))
            .with_source(e)
        })?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    match opts.open(path) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(store_error(format!(
                "cannot create the session database {}: {}",
                path.display(),
                io_reason(&e)
            ))
            .with_source(e));
        }
    }
    // A database (or directory) another user planted, or can read or replace, is refused.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        keyfob_core::crypto::check_private(dir)?;
    }
    keyfob_core::crypto::check_private(path)
}

/// The format tag in every sealed record's associated data.
const AAD_DOMAIN: &[u8] = b"keyfob-sqlite-v1";

fn session_aad(key: &SessionKey) -> Vec<u8> {
    keyfob_core::crypto::session_aad(AAD_DOMAIN, key)
}

fn pending_aad(state_hash: &str, key: &SessionKey, expires_at: i64) -> Vec<u8> {
    keyfob_core::crypto::pending_aad(AAD_DOMAIN, state_hash, key, expires_at)
}

fn aad(parts: &[&[u8]]) -> Vec<u8> {
    keyfob_core::crypto::aad(AAD_DOMAIN, parts)
}

fn key_check_aad() -> Vec<u8> {
    aad(&[b"key-check"])
}

fn store_error(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Store, message)
}

/// "cannot {action} {path}: {reason}", with the SQLite error as the source.
fn db_error(path: &Path, action: &str, e: rusqlite::Error) -> Error {
    store_error(format!(
        "cannot {action} {}: {}",
        path.display(),
        sqlite_reason(&e)
    ))
    .with_source(e)
}

/// A reader's explanation of a SQLite failure.
fn sqlite_reason(e: &rusqlite::Error) -> String {
    let reason = match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            "database is locked by another connection (another keyfob process may be busy)"
        }
        Some(ErrorCode::ReadOnly) => {
            "the database is read-only (check the permissions of the file and its directory)"
        }
        Some(ErrorCode::CannotOpen) => {
            "cannot open the file (check that its directory exists and is writable)"
        }
        Some(ErrorCode::PermissionDenied) => {
            "permission denied (check the owner and permissions of the file and its directory)"
        }
        Some(ErrorCode::DiskFull) => "the disk is full: free some space and try again",
        // A failed write or resize is almost always a full disk (`ENOSPC` after a partial write
        // is `SQLITE_FULL`, but `EFBIG` from a file size limit or quota, and `ENOSPC` on the
        // first byte, are these extended codes).
        Some(ErrorCode::SystemIoFailure) if is_write_failure(e) => {
            "the disk is full or the file has reached a size limit (disk i/o error while \
             writing): free some space and try again"
        }
        Some(ErrorCode::SystemIoFailure) => "disk i/o error (check the disk and its file system)",
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
            "the file is corrupted or not a database"
        }
        _ => return e.to_string(),
    };
    reason.to_owned()
}

/// Whether `e` is SQLite's "a write, an extension or a shared-memory resize failed".
fn is_write_failure(e: &rusqlite::Error) -> bool {
    use rusqlite::ffi;
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _) if [
            ffi::SQLITE_IOERR_WRITE,
            ffi::SQLITE_IOERR_TRUNCATE,
            ffi::SQLITE_IOERR_SHMSIZE,
        ]
        .contains(&f.extended_code)
    )
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => {
            "permission denied (check the owner and permissions of the file and its directory)"
                .to_owned()
        }
        std::io::ErrorKind::ReadOnlyFilesystem => {
            "the file system is read-only (choose a store path on a writable one)".to_owned()
        }
        std::io::ErrorKind::StorageFull => {
            "the disk is full: free some space and try again".to_owned()
        }
        std::io::ErrorKind::NotADirectory => "a part of the path is not a directory".to_owned(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: i32) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None)
    }

    #[test]
    fn sqlite_errors_read_well() {
        let path = Path::new("/data/keyfob/sessions.db");
        let cases = [
            (
                rusqlite::ffi::SQLITE_BUSY,
                "cannot write session to /data/keyfob/sessions.db: database is locked",
            ),
            (
                rusqlite::ffi::SQLITE_READONLY,
                "cannot write session to /data/keyfob/sessions.db: the database is read-only",
            ),
            (
                rusqlite::ffi::SQLITE_FULL,
                "cannot write session to /data/keyfob/sessions.db: the disk is full",
            ),
            (
                rusqlite::ffi::SQLITE_IOERR_WRITE,
                "cannot write session to /data/keyfob/sessions.db: the disk is full or the file \
                 has reached a size limit",
            ),
            (
                rusqlite::ffi::SQLITE_NOTADB,
                "cannot write session to /data/keyfob/sessions.db: the file is corrupted",
            ),
        ];
        for (code, want) in cases {
            let e = db_error(path, "write session to", failure(code));
            assert_eq!(e.kind(), ErrorKind::Store);
            assert!(e.to_string().starts_with(want), "{e}");
            assert!(std::error::Error::source(&e).is_some());
        }
    }

    #[test]
    fn io_errors_read_well() {
        let e = std::io::Error::from(std::io::ErrorKind::StorageFull);
        assert!(io_reason(&e).starts_with("the disk is full: free some space"));
        let e = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert!(io_reason(&e).starts_with("permission denied (check the owner"));
    }

    #[test]
    fn aad_parts_cannot_shift() {
        assert_ne!(aad(&[b"a\0b", b"c"]), aad(&[b"a", b"b\0c"]));
        assert_ne!(aad(&[b"ab", b""]), aad(&[b"a", b"b"]));
        let k = |p: &str, t: &str| SessionKey::new(p, t, "default");
        assert_ne!(session_aad(&k("a/b", "c")), session_aad(&k("a", "b/c")));
        assert_ne!(
            pending_aad("h", &k("a", "b"), 1),
            pending_aad("h", &k("a", "b"), 2)
        );
    }
}
