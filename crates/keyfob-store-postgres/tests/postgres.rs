//! Every test of the PostgreSQL store against a real PostgreSQL server (Debian's, one per test,
//! on a free loopback port): the conformance suite, what the database holds (no plaintext
//! secret), the schema installing itself once and refusing what it cannot use, two stores as two
//! instances (leases, change notices), two engines sharing one database (one refresh for a
//! hundred callers), a writer killed with `kill -9`, and the server dying and coming back.

mod postgres_server {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use keyfob_core::crypto::Sealer;
    use keyfob_core::store::{Expect, FlowStatus, PendingFlow};
    use keyfob_core::{
        AuthRequest, Engine, Ensured, ErrorKind, ExposeSecret, Grant, SecretString, Session,
        SessionKey, SessionStore,
    };
    use keyfob_store_postgres::PostgresStore;
    use keyfob_testkit::fleet::rotated;
    use keyfob_testkit::{PostgresServer, StubServer, crash, fleet};

    mod tls;

    fn sealer(n: u8) -> Sealer {
        Sealer::new(&[n; 32])
    }

    async fn store(server: &PostgresServer) -> PostgresStore {
        PostgresStore::connect(&server.url("postgres"), sealer(1))
            .await
            .unwrap_or_else(|e| panic!("connect to {}: {e:?}", server.addr()))
    }

    keyfob_testkit::store_conformance!(async {
        let server = PostgresServer::start();
        let store: Arc<dyn SessionStore> = Arc::new(store(&server).await);
        (store, server)
    });

    const SENTINELS: [&str; 4] = [
        "sentinel-access-5c1d",
        "sentinel-refresh-5c1d",
        "sentinel-verifier-5c1d",
        "sentinel-prompt-5c1d",
    ];

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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn secrets_never_reach_postgres_in_plaintext() {
        let server = PostgresServer::start();
        let store = store(&server).await;
        let mut s = session(SessionKey::default_for("acme"), SENTINELS[0]);
        s.grant.refresh_token = Some(SecretString::from(SENTINELS[1]));
        store.put(&s, Expect::Absent).await.unwrap();
        let now = keyfob_core::now();
        let flow = PendingFlow {
            id: "flow-1".into(),
            state_hash: "ab".repeat(32),
            key: SessionKey::default_for("acme"),
            handler: "acme-oauth2".into(),
            scopes: keyfob_core::scope::Scopes::default(),
            redirect_uri: "http://127.0.0.1:1/cb".into(),
            verifier: Some(SecretString::from(SENTINELS[2])),
            prompt_url: SecretString::from(SENTINELS[3]),
            next_url: None,
            browser: None,
            created_at: now,
            expires_at: now + 600,
            status: FlowStatus::Waiting,
            user_code: None,
        };
        store.put_pending(&flow).await.unwrap();
        store.publish(&s.key).await.unwrap();
        // Every column of every table, bytea as text where it is text.
        let dump = server.psql(
            "postgres",
            "SELECT provider, thread, profile, version, encode(sealed, 'escape') \
             FROM keyfob_sessions; \
             SELECT state_hash, status, expires_at, encode(sealed, 'escape') FROM keyfob_pending; \
             SELECT name, encode(value, 'escape') FROM keyfob_meta",
        );
        assert!(dump.contains("acme|default|default"), "{dump}");
        for sentinel in SENTINELS {
            assert!(!dump.contains(sentinel), "{sentinel} in the database");
        }
        assert_eq!(
            store
                .get(&s.key)
                .await
                .unwrap()
                .unwrap()
                .grant
                .access_token
                .expose_secret(),
            SENTINELS[0]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_schema_installs_itself_once_and_refuses_what_it_cannot_use() {
        let server = PostgresServer::start();
        server.create_database("fresh");
        // Five instances starting together on an empty database: one installs, all work.
        let url = server.url("fresh");
        let starts: Vec<_> = (0..5)
            .map(|_| {
                let url = url.clone();
                tokio::spawn(async move { PostgresStore::connect(&url, sealer(1)).await })
            })
            .collect();
        for s in starts {
            s.await.unwrap().unwrap();
        }
        assert_eq!(
            server
                .psql("fresh", "SELECT count(*) FROM keyfob_meta")
                .trim(),
            "2"
        );

        let e = PostgresStore::connect(&url, sealer(2)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Store);
        assert!(
            e.to_string().contains("the encryption key does not match"),
            "{e}"
        );

        server.psql(
            "fresh",
            "UPDATE keyfob_meta SET value = '9'::bytea WHERE name = 'schema_version'",
        );
        let e = PostgresStore::connect(&url, sealer(1)).await.unwrap_err();
        assert!(
            e.to_string()
                .contains("has keyfob schema version 9, but this keyfob reads only version 1"),
            "{e}"
        );

        server.create_database("foreign");
        server.psql(
            "foreign",
            "CREATE TABLE keyfob_meta (name text PRIMARY KEY, value bytea NOT NULL)",
        );
        let e = PostgresStore::connect(&server.url("foreign"), sealer(1))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("that is not keyfob's"), "{e}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn connect_errors_are_clear_and_never_show_the_password() {
        let server = PostgresServer::start();
        let e = PostgresStore::connect("postgres://u:hunter2@[::1", sealer(1))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(!e.to_string().contains("hunter2"), "{e}");

        let wrong = format!(
            "postgres://keyfob:wrong-password-7e1@127.0.0.1:{}/postgres",
            server.port
        );
        let e = PostgresStore::connect(&wrong, sealer(1)).await.unwrap_err();
        let text = format!("{e} {e:?}");
        assert!(
            text.contains(&format!("127.0.0.1:{}/postgres", server.port))
                && text.contains("check the user and password"),
            "{text}"
        );
        assert!(!text.contains("wrong-password-7e1"), "{text}");

        let e = PostgresStore::connect(&server.url("no_such_db"), sealer(1))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("create the database"), "{e}");

        let closed = format!(
            "postgres://keyfob:pw-8d2@127.0.0.1:{}/postgres",
            keyfob_testkit::free_port()
        );
        let started = Instant::now();
        let e = PostgresStore::connect(&closed, sealer(1))
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(15));
        let text = format!("{e} {e:?}");
        assert!(text.contains("cannot reach the session database"), "{text}");
        assert!(!text.contains("pw-8d2"), "{text}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn leases_are_exclusive_expire_and_only_owners_release_them() {
        let server = PostgresServer::start();
        let (a, b) = (store(&server).await, store(&server).await);
        assert!(a.try_lock("refresh", "a", 60_000).await.unwrap());
        assert!(!b.try_lock("refresh", "b", 60_000).await.unwrap());
        assert!(a.try_lock("refresh", "a", 60_000).await.unwrap(), "renewed");
        b.unlock("refresh", "b").await.unwrap();
        assert!(!b.try_lock("refresh", "b", 60_000).await.unwrap());
        a.unlock("refresh", "a").await.unwrap();
        assert!(b.try_lock("refresh", "b", 200).await.unwrap());
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(a.try_lock("refresh", "a", 60_000).await.unwrap(), "expired");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn publish_on_one_instance_wakes_the_other() {
        let server = PostgresServer::start();
        let (a, b) = (store(&server).await, store(&server).await);
        assert!(b.wait_listening(Duration::from_secs(5)).await);
        let key = SessionKey::default_for("acme");
        let other = SessionKey::default_for("other");
        // Another session's notice does not wake the waiter; its own does, at once.
        let started = Instant::now();
        let waiter = {
            let b = b.clone();
            let key = key.clone();
            tokio::spawn(async move { b.wait_published(&key, Duration::from_secs(10)).await })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        a.publish(&other).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!waiter.is_finished(), "woken by another session's notice");
        a.publish(&key).await.unwrap();
        waiter.await.unwrap();
        let waited = started.elapsed();
        eprintln!("timing: woken {waited:?} after the wait began (300 ms of it on purpose)");
        assert!(waited < Duration::from_secs(5), "{waited:?}");
    }

    /// An engine on `store` whose provider `x` refreshes at the stub (see `fleet::engine`).
    fn engine(store: PostgresStore, stub: &StubServer) -> Engine {
        fleet::engine(Arc::new(store), stub.url())
    }

    async fn seed(store: &PostgresStore, expires_in: i64, age: i64) -> Session {
        fleet::seed(store, expires_in, age).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hundred_callers_on_two_engines_cause_one_refresh() {
        let server = PostgresServer::start();
        let stub = StubServer::start(
            rotated("new-access", "new-refresh").with_delay(Duration::from_millis(300)),
        )
        .await
        .unwrap();
        let store = store(&server).await;
        let seeded = seed(&store, 10, 3600).await;
        let engines = [
            engine(store.clone(), &stub),
            engine(self::store(&server).await, &stub),
        ];
        let callers: Vec<_> = (0..100)
            .map(|i| {
                let engine = engines[i % 2].clone();
                tokio::spawn(async move { engine.ensure(&AuthRequest::new("x")).await })
            })
            .collect();
        for caller in callers {
            match caller.await.unwrap() {
                Ok(Ensured::Ready(creds)) => assert_eq!(creds.access_token(), "new-access"),
                other => panic!("every caller gets the new token: {other:?}"),
            }
        }
        let requests = stub.requests();
        assert_eq!(requests.len(), 1, "exactly one token request");
        assert_eq!(
            requests[0].form_value("refresh_token").as_deref(),
            Some("old-refresh")
        );
        let s = store.get(&seeded.key).await.unwrap().unwrap();
        assert!(s.version > seeded.version);
        assert_eq!(
            s.grant
                .refresh_token
                .as_ref()
                .map(|t| t.expose_secret().to_owned()),
            Some("new-refresh".to_owned()),
            "the rotated refresh token is stored"
        );
    }

    /// Where the crash writer finds its database.
    const CRASH_URL: &str = "KEYFOB_TEST_POSTGRES_CRASH_URL";

    /// A child process rewrites large sessions until it is killed with SIGKILL at a random
    /// moment, twenty times; every session is then exactly its old or its new version and the
    /// store still works (each write is one statement, which commits whole or not at all).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn kill_9_while_writing_leaves_every_session_old_or_new() {
        let server = PostgresServer::start();
        let url = server.url("postgres");
        let env = (CRASH_URL, std::ffi::OsStr::new(&url));
        let open = || store(&server);
        let (writer, max_delay) = ("postgres_server::crash_writer", Duration::from_millis(20));
        crash::kill_rounds(writer, env, max_delay, open).await;
    }

    /// The child half of [`kill_9_while_writing_leaves_every_session_old_or_new`]. Does
    /// nothing in a normal run.
    #[test]
    fn crash_writer() {
        let Ok(url) = std::env::var(CRASH_URL) else {
            return;
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let store = PostgresStore::connect(&url, sealer(1)).await.unwrap();
            crash::rewrite_until_killed(&store).await;
        });
    }

    /// PostgreSQL is killed (every process, SIGKILL) under a running engine: `ensure`,
    /// `credentials` and a new login fail with one clear store error naming the server; once it is back (after crash
    /// recovery) the same engine serves the same session again, refreshes it, and the change
    /// listener is back.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_engine_reports_an_outage_and_recovers_after_it() {
        let mut server = PostgresServer::start();
        let stub = StubServer::start(rotated("new-access", "new-refresh"))
            .await
            .unwrap();
        let store = store(&server).await;
        assert!(store.wait_listening(Duration::from_secs(5)).await);
        seed(&store, 3600, 0).await;
        let engine = engine(store.clone(), &stub);
        let req = AuthRequest::new("x");
        assert!(matches!(
            engine.ensure(&req).await.unwrap(),
            Ensured::Ready(_)
        ));

        server.kill();
        fleet::fails_clearly_while_down(&engine, &server.addr()).await;
        server.restart();
        fleet::recovers_after_restart(&engine, &stub, Duration::from_secs(15)).await;
        assert!(
            store.wait_listening(Duration::from_secs(10)).await,
            "the change listener is back"
        );
    }

    /// Where the caller processes find their database.
    const FLEET_URL: &str = "KEYFOB_TEST_POSTGRES_FLEET_URL";

    /// A thousand concurrent callers of one near-expiry session, in three processes (each its
    /// own engine and pool on the database), started together: every one gets the new token,
    /// and the token endpoint sees exactly one refresh.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn thousand_callers_in_three_processes_cause_one_refresh() {
        let server = PostgresServer::start();
        let store = store(&server).await;
        let env = (FLEET_URL, server.url("postgres"));
        fleet::thousand_callers_cause_one_refresh(&store, "postgres_server::fleet_callers", env)
            .await;
    }

    /// The caller processes of [`thousand_callers_in_three_processes_cause_one_refresh`]. Does
    /// nothing in a normal run.
    #[test]
    fn fleet_callers() {
        let Ok(url) = std::env::var(FLEET_URL) else {
            return;
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let store = PostgresStore::connect(&url, sealer(1)).await.unwrap();
            fleet::run_callers(Arc::new(store)).await;
        });
    }
}
