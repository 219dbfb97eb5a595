//! The SQLite store: the conformance suite against a temp file, plus what only a file can get
//! wrong: secrets on disk, persistence, the wrong key, foreign and corrupted files, several
//! handles on one file, and unwritable directories.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use keyfob_core::crypto::Sealer;
use keyfob_core::store::{Expect, FlowStatus, PendingFlow};
use keyfob_core::{
    ErrorKind, ExposeSecret, Grant, SecretString, Session, SessionKey, SessionStore,
};
use keyfob_store_sqlite::SqliteStore;
use keyfob_testkit::{crash, store_suite};
use tempfile::TempDir;

keyfob_testkit::store_conformance!(async {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("sessions.db"), sealer(1)).unwrap();
    (Arc::new(store), dir)
});

const SENTINELS: [&str; 6] = [
    "sentinel-access-7f3a",
    "sentinel-refresh-7f3a",
    "sentinel-extra-7f3a",
    "sentinel-detail-7f3a",
    "sentinel-verifier-7f3a",
    "sentinel-prompt-7f3a",
];

fn sealer(n: u8) -> Sealer {
    Sealer::new(&[n; 32])
}

fn temp() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sessions.db");
    (dir, path)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Another local user who plants a data directory or a database (or leaves one open) reads what
/// keyfob stores there, or feeds it sessions: such a directory, database or key file is refused
/// before it is read, with the fix in the message, and nothing is written into it.
/// MUTATION: removing the `check_private` calls in `create_private` (SQLite) and
/// `Sealer::from_key_file` fails every case (verified).
#[cfg(unix)]
#[test]
fn planted_or_open_data_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let db = data.join("sessions.db");

    // The directory is writable by others (an attacker can swap the database).
    set_mode(&data, 0o777);
    let msg = open_err(&db, sealer(1)).to_string();
    assert!(
        msg.contains("is open to other users (mode 777); run `chmod 700"),
        "{msg}"
    );
    set_mode(&data, 0o700);

    // The database is readable by others.
    drop(SqliteStore::open(&db, sealer(1)).unwrap());
    set_mode(&db, 0o644);
    let e = open_err(&db, sealer(1));
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("run `chmod 600"), "{e}");
    set_mode(&db, 0o600);
    SqliteStore::open(&db, sealer(1)).expect("private again, it opens");

    // Owned by another user (as root, hand them the files; elsewhere nobody can).
    if rustix_euid() == 0 {
        std::os::unix::fs::chown(&db, Some(65534), Some(65534)).unwrap();
        let msg = open_err(&db, sealer(1)).to_string();
        assert!(msg.contains("belongs to another user (uid 65534"), "{msg}");
        std::os::unix::fs::chown(&db, Some(0), Some(0)).unwrap();
        let key = data.join("key");
        std::fs::write(&key, keyfob_core::crypto::Sealer::generate_key()).unwrap();
        set_mode(&key, 0o600);
        std::os::unix::fs::chown(&key, Some(65534), Some(65534)).unwrap();
        let e = keyfob_core::crypto::Sealer::from_key_file(&key).unwrap_err();
        assert!(e.to_string().contains("belongs to another user"), "{e}");
    }
    let key = data.join("key2");
    std::fs::write(&key, keyfob_core::crypto::Sealer::generate_key()).unwrap();
    set_mode(&key, 0o644);
    let e = keyfob_core::crypto::Sealer::from_key_file(&key).unwrap_err();
    assert!(e.to_string().contains("run `chmod 600"), "{e}");
}

/// The effective uid, read from a file this process creates.
#[cfg(unix)]
fn rustix_euid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    let f = tempfile::NamedTempFile::new().unwrap();
    f.as_file().metadata().unwrap().uid()
}

fn session(key: SessionKey, token: &str) -> Session {
    Session {
        key,
        handler: "acme-oauth2".into(),
        grant: Grant::bearer(SecretString::from(token)),
        created_at: 1,
        updated_at: 2,
        refresh_error: None,
        version: 0,
    }
}

fn flow(key: SessionKey, state_hash: &str, verifier: &str, prompt_url: &str) -> PendingFlow {
    PendingFlow {
        id: "flow-1".into(),
        state_hash: state_hash.into(),
        key,
        handler: "acme-oauth2".into(),
        scopes: Default::default(),
        redirect_uri: "http://127.0.0.1:1/callback".into(),
        verifier: Some(SecretString::from(verifier)),
        prompt_url: SecretString::from(prompt_url),
        created_at: keyfob_core::now(),
        expires_at: keyfob_core::now() + 600,
        status: FlowStatus::Waiting,
        user_code: None,
        next_url: Some(SecretString::from("https://id.acme.test/authorize?state=s")),
        browser: None,
    }
}

fn open_err(path: &Path, sealer: Sealer) -> keyfob_core::Error {
    SqliteStore::open(path, sealer).expect_err("open must fail")
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Every sentinel secret, in every file of `dir`; names the file and sentinel found.
fn sentinels_in(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        for s in SENTINELS {
            if contains(&bytes, s) {
                found.push(format!("{s} in {}", path.display()));
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_the_disk_in_plaintext() {
    let (dir, path) = temp();
    let store = SqliteStore::open(&path, sealer(1)).unwrap();
    let key = SessionKey::default_for("acme");
    let mut s = session(key.clone(), SENTINELS[0]);
    s.grant.refresh_token = Some(SecretString::from(SENTINELS[1]));
    s.grant
        .extra_secrets
        .push(("ACME_SECRET".into(), SecretString::from(SENTINELS[2])));
    s.grant
        .detail
        .insert("instance".into(), SENTINELS[3].into());
    let v = store.put(&s, Expect::Absent).await.unwrap();
    // Rewrite once, so that older page images of the row sit in the WAL too.
    store.put(&s, Expect::Version(v)).await.unwrap();
    store
        .put_pending(&flow(
            key.clone(),
            &"ab".repeat(32),
            SENTINELS[4],
            SENTINELS[5],
        ))
        .await
        .unwrap();
    store
        .claim_pending(&"ab".repeat(32), keyfob_core::now())
        .await
        .unwrap()
        .unwrap();
    store
        .finish_pending(&"ab".repeat(32), FlowStatus::Done)
        .await
        .unwrap();

    let wal = dir.path().join("sessions.db-wal");
    let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert!(
        wal_len > 0,
        "the test must see a live WAL file, so that it is searched too"
    );
    assert!(
        dir.path().join("sessions.db-shm").exists(),
        "the test must see the shm file"
    );
    assert_eq!(
        sentinels_in(dir.path()),
        Vec::<String>::new(),
        "plaintext secrets on disk while open"
    );

    // The secrets are there, sealed: reading them back works.
    let got = store.get(&key).await.unwrap().unwrap();
    assert_eq!(got.grant.access_token.expose_secret(), SENTINELS[0]);
    drop(store);
    assert_eq!(
        sentinels_in(dir.path()),
        Vec::<String>::new(),
        "plaintext secrets on disk after close"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_persists_across_reopen() {
    let (_dir, path) = temp();
    let key = SessionKey::new("acme", "thread-9", "work");
    let v = {
        let store = SqliteStore::open(&path, sealer(1)).unwrap();
        store
            .put_pending(&flow(key.clone(), &"cd".repeat(32), "v", "u"))
            .await
            .unwrap();
        store
            .put(&session(key.clone(), "kept"), Expect::Absent)
            .await
            .unwrap()
    };
    let store = SqliteStore::open(&path, sealer(1)).unwrap();
    let got = store
        .get(&key)
        .await
        .unwrap()
        .expect("the session survives a reopen");
    assert_eq!(
        (got.version, got.grant.access_token.expose_secret()),
        (v, "kept")
    );
    assert!(
        store.pending(&"cd".repeat(32)).await.unwrap().is_some(),
        "the flow survives a reopen"
    );
    let v2 = store
        .put(&session(key.clone(), "next"), Expect::Version(v))
        .await
        .unwrap();
    assert!(v2 > v, "versions keep rising after a reopen");
    assert_eq!(store.path(), path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_key_fails_at_open() {
    let (_dir, path) = temp();
    let store = SqliteStore::open(&path, sealer(1)).unwrap();
    store
        .put(
            &session(SessionKey::default_for("acme"), "t"),
            Expect::Absent,
        )
        .await
        .unwrap();
    drop(store);
    let e = open_err(&path, sealer(2));
    assert_eq!(e.kind(), ErrorKind::Store);
    let msg = e.to_string();
    assert!(
        msg.contains("the encryption key does not match this database")
            && msg.contains(&*path.to_string_lossy()),
        "{msg}"
    );
    SqliteStore::open(&path, sealer(1)).expect("the right key still opens it");
}

#[test]
fn foreign_database_is_refused_and_left_alone() {
    let (dir, path) = temp();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        let sql = "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); \
                   INSERT INTO users (name) VALUES ('ann');";
        conn.execute_batch(sql).unwrap();
    }
    set_mode(&path, 0o600); // private, so that its contents are what is refused
    let before = std::fs::read(&path).unwrap();
    let e = open_err(&path, sealer(1));
    assert_eq!(e.kind(), ErrorKind::Store);
    let msg = e.to_string();
    assert!(
        msg.contains("is not a keyfob session database") && msg.contains(&*path.to_string_lossy()),
        "{msg}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "a foreign database must not be modified"
    );
    assert!(
        !dir.path().join("sessions.db-wal").exists(),
        "a foreign database must not be switched to WAL"
    );
}

#[test]
fn newer_schema_is_refused() {
    let (_dir, path) = temp();
    drop(SqliteStore::open(&path, sealer(1)).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 2)
        .unwrap();
    let msg = open_err(&path, sealer(1)).to_string();
    assert!(msg.contains("schema version 2"), "{msg}");
}

#[test]
fn corrupted_file_is_refused() {
    let (_dir, path) = temp();
    // Deterministic noise (xorshift), 16 KiB of it.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let noise: Vec<u8> = (0..16 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect();
    std::fs::write(&path, &noise).unwrap();
    set_mode(&path, 0o600); // private, so that its contents are what is refused
    let e = open_err(&path, sealer(1));
    assert_eq!(e.kind(), ErrorKind::Store);
    let msg = e.to_string();
    assert!(
        msg.contains("is corrupted or not a database") && msg.contains(&*path.to_string_lossy()),
        "{msg}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        noise,
        "a file that is not a database must not be modified"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_moved_to_another_row_does_not_open() {
    let (_dir, path) = temp();
    let store = SqliteStore::open(&path, sealer(1)).unwrap();
    let (a, b) = (
        SessionKey::new("acme", "t", "a"),
        SessionKey::new("acme", "t", "b"),
    );
    store
        .put(&session(a.clone(), "token-a"), Expect::Absent)
        .await
        .unwrap();
    store
        .put(&session(b.clone(), "token-b"), Expect::Absent)
        .await
        .unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let copy = "UPDATE sessions SET sealed = (SELECT sealed FROM sessions WHERE profile = 'a') \
                WHERE profile = 'b'";
    conn.execute(copy, []).unwrap();
    let e = store
        .get(&b)
        .await
        .expect_err("a blob sealed for another row must not open");
    assert_eq!(e.kind(), ErrorKind::Store);
    assert!(e.to_string().contains("cannot read session"), "{e}");
    assert!(store.get(&a).await.unwrap().is_some());

    // An expiry pushed back in the plaintext column breaks the flow's seal.
    let hash = "ef".repeat(32);
    store
        .put_pending(&flow(a.clone(), &hash, "v", "u"))
        .await
        .unwrap();
    conn.execute("UPDATE pending SET expires_at = expires_at + 86400", [])
        .unwrap();
    let e = store
        .claim_pending(&hash, keyfob_core::now())
        .await
        .expect_err("an edited expiry must not open");
    assert_eq!(e.kind(), ErrorKind::Store);
    assert_eq!(
        store.pending(&hash).await.unwrap_err().kind(),
        ErrorKind::Store
    );
    assert_eq!(
        conn.query_row("SELECT status FROM pending", [], |r| r.get::<_, String>(0))
            .unwrap(),
        "waiting",
        "a claim that fails to open the record must not leave it claimed"
    );
}

fn two_handles() -> (TempDir, [Arc<dyn SessionStore>; 2]) {
    let (dir, path) = temp();
    let a = SqliteStore::open(&path, sealer(1)).unwrap();
    let b = SqliteStore::open(&path, sealer(1)).unwrap();
    (dir, [Arc::new(a), Arc::new(b)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_handles_on_one_file_race_cas_puts() {
    let (_dir, stores) = two_handles();
    store_suite::concurrent_cas_on(&stores).await;
    let key = SessionKey::default_for("shared");
    let v = stores[0]
        .put(&session(key.clone(), "from-a"), Expect::Absent)
        .await
        .unwrap();
    let seen = stores[1]
        .get(&key)
        .await
        .unwrap()
        .expect("the other handle sees the write");
    assert_eq!(seen.version, v);
    let e = stores[1]
        .put(&session(key.clone(), "from-b"), Expect::Absent)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_handles_on_one_file_race_claims() {
    let (_dir, stores) = two_handles();
    store_suite::concurrent_claim_on(&stores).await;
}

/// Openers racing to create and switch a new file to WAL all succeed (SQLite refuses the switch
/// at once, without waiting, while another connection holds the file). The race is timing
/// dependent, so it runs on several files.
#[test]
fn concurrent_opens_of_a_new_file_agree() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..10 {
        let path = dir.path().join(format!("sessions-{round}.db"));
        let start = Arc::new(std::sync::Barrier::new(6));
        let threads: Vec<_> = (0..6)
            .map(|_| {
                let (path, start) = (path.clone(), Arc::clone(&start));
                std::thread::spawn(move || {
                    start.wait();
                    SqliteStore::open(&path, sealer(1)).map(drop)
                })
            })
            .collect();
        for t in threads {
            t.join()
                .unwrap()
                .expect("every concurrent open of a new file succeeds");
        }
    }
}

/// Set in the environment of the child processes of [`several_processes_share_one_file`].
const WORKER_DB: &str = "KEYFOB_SQLITE_TEST_WORKER_DB";
const WORKER_PROCESSES: usize = 3;
const WORKER_INCREMENTS: u64 = 15;

/// Real processes on one file: each opens it, claims one shared `state` and adds to a counter
/// with CAS puts. Exactly one claim wins and no increment is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_processes_share_one_file() {
    let (_dir, path) = temp();
    let store = SqliteStore::open(&path, sealer(1)).unwrap();
    let key = SessionKey::default_for("counter");
    store
        .put(&session(key.clone(), "0"), Expect::Absent)
        .await
        .unwrap();
    store
        .put_pending(&flow(key.clone(), &"aa".repeat(32), "v", "u"))
        .await
        .unwrap();
    let children: Vec<_> = (0..WORKER_PROCESSES)
        .map(|_| {
            std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "process_worker",
                    "--nocapture",
                    "--test-threads",
                    "1",
                ])
                .env(WORKER_DB, &path)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut claims = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "worker failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("worker done"),
            "the worker did not run:\n{stdout}"
        );
        claims += stdout.matches("worker claimed").count();
    }
    assert_eq!(claims, 1, "exactly one process may claim a state");
    let count: u64 = store
        .get(&key)
        .await
        .unwrap()
        .unwrap()
        .grant
        .access_token
        .expose_secret()
        .parse()
        .unwrap();
    assert_eq!(
        count,
        WORKER_PROCESSES as u64 * WORKER_INCREMENTS,
        "increments were lost between processes"
    );
}

/// The child half of [`several_processes_share_one_file`]; does nothing in a normal run.
#[test]
fn process_worker() {
    let Some(path) = std::env::var_os(WORKER_DB) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = SqliteStore::open(Path::new(&path), sealer(1)).unwrap();
        if store
            .claim_pending(&"aa".repeat(32), keyfob_core::now())
            .await
            .unwrap()
            .is_some()
        {
            println!("worker claimed");
        }
        let key = SessionKey::default_for("counter");
        for _ in 0..WORKER_INCREMENTS {
            loop {
                let mut s = store.get(&key).await.unwrap().unwrap();
                let n: u64 = s.grant.access_token.expose_secret().parse().unwrap();
                s.grant.access_token = SecretString::from((n + 1).to_string());
                match store.put(&s, Expect::Version(s.version)).await {
                    Ok(_) => break,
                    Err(e) => assert_eq!(e.kind(), ErrorKind::Conflict, "{e:?}"),
                }
            }
        }
        println!("worker done");
    });
}

#[cfg(unix)]
#[test]
fn creates_private_files_and_directories() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/sessions.db");
    let store = SqliteStore::open(&path, sealer(1)).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&dir.path().join("a/b")), 0o700);
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", path.display()));
        assert_eq!(
            mode(&side) & 0o077,
            0,
            "{} must not be readable by others",
            side.display()
        );
    }
    drop(store);
}

/// Whether this process can write into a directory it has no write permission on (root can).
#[cfg(unix)]
fn ignores_permissions(dir: &Path) -> bool {
    let probe = dir.join("probe");
    let wrote = std::fs::write(&probe, b"").is_ok();
    let _ = std::fs::remove_file(&probe);
    wrote
}

#[cfg(unix)]
#[test]
fn unwritable_data_dir_is_a_clear_error() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let set_mode =
        |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();

    // A data directory that exists but is read-only, with and without a database in it.
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let existing = data.join("existing.db");
    drop(SqliteStore::open(&existing, sealer(1)).unwrap());
    set_mode(&existing, 0o400);
    set_mode(&data, 0o500);
    if ignores_permissions(&data) {
        eprintln!(
            "note: this process ignores file permissions (root?): \
             the read-only directory cases cannot run"
        );
    } else {
        let e = open_err(&data.join("sessions.db"), sealer(1));
        assert_eq!(e.kind(), ErrorKind::Store);
        let msg = e.to_string();
        assert!(
            msg.contains("cannot create the session database") && msg.contains("permission denied"),
            "{msg}"
        );
        let msg = open_err(&existing, sealer(1)).to_string();
        assert!(
            msg.contains(&*existing.to_string_lossy()) && msg.contains("cannot open"),
            "{msg}"
        );
    }
    set_mode(&data, 0o700);

    // A data directory that cannot be created, whoever runs the test.
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"").unwrap();
    let e = open_err(&file.join("keyfob/sessions.db"), sealer(1));
    assert_eq!(e.kind(), ErrorKind::Store);
    let msg = e.to_string();
    assert!(
        msg.contains("cannot create the data directory") && msg.contains(&*file.to_string_lossy()),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_are_exclusive_across_handles_and_expire() {
    let (_dir, [a, b]) = two_handles();
    assert!(a.try_lock("refresh/x", "owner-a", 60_000).await.unwrap());
    assert!(
        !b.try_lock("refresh/x", "owner-b", 60_000).await.unwrap(),
        "held by a"
    );
    assert!(
        a.try_lock("refresh/x", "owner-a", 60_000).await.unwrap(),
        "the owner extends"
    );
    b.unlock("refresh/x", "owner-b").await.unwrap();
    assert!(
        !b.try_lock("refresh/x", "owner-b", 60_000).await.unwrap(),
        "only the owner unlocks"
    );
    a.unlock("refresh/x", "owner-a").await.unwrap();
    assert!(
        b.try_lock("refresh/x", "owner-b", 1).await.unwrap(),
        "free after unlock"
    );
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert!(
        a.try_lock("refresh/x", "owner-a", 60_000).await.unwrap(),
        "an expired lease is taken over"
    );
}

// --- Faults: a writer killed mid-write, a full disk, a read-only data directory. ---

/// Env var naming the database a crash-writer child process writes to.
const CRASH_DB: &str = "KEYFOB_SQLITE_TEST_CRASH_DB";
/// Env var naming the database a disk-full child process writes to.
const FULL_DB: &str = "KEYFOB_SQLITE_TEST_FULL_DB";
/// Env var naming the directory a read-only child process (run as `nobody`) tries to use.
const READONLY_DIR: &str = "KEYFOB_SQLITE_TEST_READONLY_DIR";

/// `PRAGMA integrity_check` of the file, through a plain connection.
fn integrity(path: &Path) -> String {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

/// Runs this test binary's `test` alone in a child process with `envs`, through `wrapper` (a
/// command and its arguments that end by running the rest, e.g. `setpriv …`), if any.
fn child(test: &str, envs: &[(&str, &Path)], wrapper: &[&str]) -> std::process::Command {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = match wrapper.split_first() {
        Some((program, args)) => {
            let mut c = std::process::Command::new(program);
            c.args(args).arg(&exe);
            c
        }
        None => std::process::Command::new(&exe),
    };
    cmd.args(["--exact", test, "--nocapture", "--test-threads", "1"]);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    cmd
}

/// `kill -9` of a process while it rewrites large sessions, many times, at random moments: on
/// every reopen each session is exactly its old or its new version (it decrypts, decodes and
/// matches one of them in every part), the file passes `PRAGMA integrity_check`, and the store
/// still works. SQLite's WAL with `synchronous = FULL` is what makes a transaction all or
/// nothing; this proves the store puts each session in one transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_writing_leaves_every_session_old_or_new() {
    let (_dir, path) = temp();
    let open = || async {
        SqliteStore::open(&path, sealer(1))
            .unwrap_or_else(|e| panic!("reopen after kill -9: {e:?}"))
    };
    let env = (CRASH_DB, path.as_os_str());
    crash::kill_rounds("crash_writer", env, Duration::from_millis(40), open).await;
    assert_eq!(integrity(&path), "ok");
}

/// The child half of [`kill_9_while_writing_leaves_every_session_old_or_new`]: rewrites every
/// session, alternating versions, until killed. Does nothing in a normal run.
#[test]
fn crash_writer() {
    let Some(path) = std::env::var_os(CRASH_DB) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = SqliteStore::open(Path::new(&path), sealer(1)).unwrap();
        crash::rewrite_until_killed(&store).await;
    });
}

/// A full disk, made real without mounting anything: the child runs under `ulimit -f`
/// (`RLIMIT_FSIZE`, which binds root too) with `SIGXFSZ` ignored, so a write past the limit
/// fails with `EFBIG` like one on a full disk fails with `ENOSPC`. Writing a growing session
/// must end in one clear store error naming the file, no panic; what was stored before stays
/// readable, and the store works again once there is room.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_a_clear_error_and_loses_nothing() {
    let (_dir, path) = temp();
    {
        let store = SqliteStore::open(&path, sealer(1)).unwrap();
        store
            .put(
                &session(SessionKey::default_for("before"), "kept"),
                Expect::Absent,
            )
            .await
            .unwrap();
    }
    // `sh` is POSIX: `ulimit -f` counts 512-byte blocks there (dash) or 1024 (bash): 256 or
    // 512 KiB, either way far below what the child writes.
    let out = child(
        "disk_full_worker",
        &[(FULL_DB, &path)],
        &["sh", "-c", "trap '' XFSZ; ulimit -f 512; exec \"$@\"", "sh"],
    )
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the child failed (a panic?):\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let msg = stdout
        .lines()
        .find_map(|l| l.split_once("disk full error: ").map(|(_, m)| m))
        .unwrap_or_else(|| panic!("no error reported:\n{stdout}"));
    eprintln!("full disk: {msg}");
    assert!(
        msg.contains(&*path.to_string_lossy()),
        "names the file: {msg}"
    );
    assert!(
        msg.starts_with("cannot write session to")
            && msg.contains("the disk is full")
            && msg.contains("free some space"),
        "says what happened: {msg}"
    );
    let store = SqliteStore::open(&path, sealer(1)).unwrap();
    let kept = store.get(&SessionKey::default_for("before")).await.unwrap();
    assert_eq!(
        kept.map(|s| s.grant.access_token.expose_secret().to_owned()),
        Some("kept".to_owned())
    );
    // The last write that succeeded is there whole; the failed one left no trace.
    let last_ok: usize = stdout
        .lines()
        .find_map(|l| l.split_once("last stored size: ").map(|(_, n)| n))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no size reported:\n{stdout}"));
    let grown = store.get(&SessionKey::default_for("grow")).await.unwrap();
    assert_eq!(
        grown.map(|s| s.grant.access_token.expose_secret().len()),
        Some(last_ok).filter(|n| *n > 0),
        "the session written last before the failure"
    );
    store
        .put(
            &session(SessionKey::default_for("big"), &"x".repeat(1 << 20)),
            Expect::Absent,
        )
        .await
        .expect("works once there is room");
    assert_eq!(integrity(&path), "ok");
}

/// The child half of [`a_full_disk_is_a_clear_error_and_loses_nothing`].
#[test]
fn disk_full_worker() {
    let Some(path) = std::env::var_os(FULL_DB) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = SqliteStore::open(Path::new(&path), sealer(1)).unwrap();
        let (mut size, mut last_ok) = (16 * 1024, 0);
        while size <= 16 << 20 {
            let s = session(SessionKey::default_for("grow"), &"g".repeat(size));
            if let Err(e) = store.put(&s, Expect::Any).await {
                assert_eq!(e.kind(), ErrorKind::Store, "{e:?}");
                println!("\ndisk full error: {e}");
                println!("last stored size: {last_ok}");
                // Reading still works.
                assert!(
                    store
                        .get(&SessionKey::default_for("before"))
                        .await
                        .unwrap()
                        .is_some()
                );
                return;
            }
            last_ok = size;
            size *= 2;
        }
        panic!("no write failed under the file size limit");
    });
}

/// A read-only data directory is one clear error naming the path and what to check, whoever
/// runs the tests. Root ignores permission bits (so [`unwritable_data_dir_is_a_clear_error`]
/// cannot make a directory read-only for it), so under root the checks run in a child process
/// whose uid and gid are `nobody`'s (`setpriv` from util-linux, no mount needed), where the
/// kernel enforces the bits again. A store path that is a directory fails for root as well.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_data_dir_is_a_clear_error_even_for_root() {
    use std::os::unix::fs::PermissionsExt;
    let set_mode =
        |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // `nobody` must be able to reach the data directory.
    set_mode(dir.path(), 0o755);
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    {
        let store = SqliteStore::open(&data.join("existing.db"), sealer(1)).unwrap();
        store
            .put(
                &session(SessionKey::default_for("acme"), "kept"),
                Expect::Absent,
            )
            .await
            .unwrap();
    }
    set_mode(&data.join("existing.db"), 0o644);
    set_mode(&data, 0o555);
    let as_nobody: &[&str] = &[
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--",
    ];
    let wrapper = if ignores_permissions(&data) {
        as_nobody
    } else {
        &[]
    };
    let out = child("read_only_worker", &[(READONLY_DIR, &data)], wrapper)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the child failed (wrapper {wrapper:?}):\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("read-only worker done"), "{stdout}");
    for line in stdout.lines().filter(|l| l.contains("database")) {
        eprintln!(
            "as {}: {line}",
            if wrapper.is_empty() {
                "this user"
            } else {
                "nobody"
            }
        );
    }
    set_mode(&data, 0o700);

    // A store path that is a directory: no permission can help, root or not.
    let e = open_err(&data, sealer(1));
    assert_eq!(e.kind(), ErrorKind::Store);
    let msg = e.to_string();
    eprintln!("directory as database: {msg}");
    assert!(
        msg.contains(&*data.to_string_lossy()) && msg.contains("cannot open"),
        "{msg}"
    );
    // What was stored before is intact.
    set_mode(&data.join("existing.db"), 0o600);
    let store = SqliteStore::open(&data.join("existing.db"), sealer(1)).unwrap();
    assert!(
        store
            .get(&SessionKey::default_for("acme"))
            .await
            .unwrap()
            .is_some()
    );
}

/// The child half of [`read_only_data_dir_is_a_clear_error_even_for_root`].
#[test]
fn read_only_worker() {
    let Some(data) = std::env::var_os(READONLY_DIR) else {
        return;
    };
    let data = PathBuf::from(data);
    assert!(
        !ignores_permissions(&data),
        "the directory is writable: run as another user"
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let new = data.join("sessions.db");
        let e = SqliteStore::open(&new, sealer(1)).expect_err("a new database cannot be made");
        println!("new database: {e}");
        assert_eq!(e.kind(), ErrorKind::Store);
        let msg = e.to_string();
        assert!(
            msg.contains(&*new.to_string_lossy())
                && msg.contains("cannot create the session database")
                && msg.contains("permission denied")
                && msg.contains("check the owner and permissions"),
            "{msg}"
        );
        let existing = data.join("existing.db");
        match SqliteStore::open(&existing, sealer(1)) {
            // Run as another user, the database is not theirs: refused before it is read.
            Err(e) if e.to_string().contains("belongs to another user") => {
                println!("existing database: {e}");
                assert_eq!(e.kind(), ErrorKind::Config);
                assert!(e.to_string().contains(&*data.to_string_lossy()), "{e}");
            }
            Err(e) => {
                println!("existing database: {e}");
                assert_eq!(e.kind(), ErrorKind::Store);
                assert!(e.to_string().contains(&*existing.to_string_lossy()), "{e}");
            }
            Ok(store) => {
                let e = store
                    .put(
                        &session(SessionKey::default_for("acme"), "new"),
                        Expect::Any,
                    )
                    .await
                    .expect_err("a read-only database cannot be written");
                println!("existing database, write: {e}");
                assert_eq!(e.kind(), ErrorKind::Store);
                assert!(e.to_string().contains(&*existing.to_string_lossy()), "{e}");
            }
        }
        println!("read-only worker done");
    });
}
