//! The store over TLS (`sslmode=require`) to a PostgreSQL with `ssl=on` and generated
//! certificates: the conformance suite, change notices, a client certificate where a database
//! asks for one, and a clear message for each misconfiguration, none quoting the password.

use keyfob_store_postgres::Tls;
use keyfob_testkit::TlsFiles;

use super::*;

/// `server`'s URL for `database` over TLS, with libpq's `mode`.
fn tls_url(server: &PostgresServer, database: &str, mode: &str) -> String {
    format!("{}?sslmode={mode}", server.url(database))
}

fn trusting(files: &TlsFiles) -> Tls {
    Tls {
        ca: Some(files.path("ca.pem")),
        ..Tls::default()
    }
}

keyfob_testkit::store_conformance!(async {
    let files = TlsFiles::generate();
    // Plain connections refused: the suite runs over TLS or not at all.
    let server = PostgresServer::start_tls(&files, &["hostnossl all all 127.0.0.1/32 reject"]);
    let store = PostgresStore::connect_with(
        &tls_url(&server, "postgres", "require"),
        sealer(1),
        &trusting(&files),
    )
    .await
    .unwrap_or_else(|e| panic!("connect over TLS: {e}"));
    let store: Arc<dyn SessionStore> = Arc::new(store);
    (store, (server, files))
});

/// What TLS checks, and what each mistake says: the server's certificate against `tls_ca`
/// (libpq's `verify-full` accepted), notices over TLS, a database that asks for a client
/// certificate refusing a store without one and taking one with it, `sslmode=require` to a
/// server without TLS, and the settings that cannot work together.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_checks_certificates_and_every_mistake_says_what_to_fix() {
    let files = TlsFiles::generate();
    let server = PostgresServer::start_tls(
        &files,
        &[
            "hostssl certdb all 127.0.0.1/32 scram-sha-256 clientcert=verify-ca",
            "host certdb all 127.0.0.1/32 reject",
        ],
    );
    server.create_database("certdb");
    let password = server
        .url("postgres")
        .split(':')
        .nth(2)
        .and_then(|p| p.split('@').next())
        .unwrap()
        .to_owned();
    let never_shown = |e: &keyfob_core::Error| {
        let text = format!("{e} {e:?}");
        assert!(!text.contains(&password), "{text}");
        text
    };

    // Trusted by its CA, under libpq's strictest name too; notices flow over TLS.
    let url = tls_url(&server, "postgres", "verify-full");
    let a = PostgresStore::connect_with(&url, sealer(1), &trusting(&files))
        .await
        .unwrap();
    let b = PostgresStore::connect_with(&url, sealer(1), &trusting(&files))
        .await
        .unwrap();
    assert!(b.wait_listening(Duration::from_secs(5)).await);
    let key = SessionKey::default_for("acme");
    let waiter = {
        let (b, key) = (b.clone(), key.clone());
        tokio::spawn(async move { b.wait_published(&key, Duration::from_secs(10)).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    a.publish(&key).await.unwrap();
    waiter.await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    a.put(&session(key.clone(), "over-tls"), Expect::Absent)
        .await
        .unwrap();
    let got = b.get(&key).await.unwrap().unwrap();
    assert_eq!(got.grant.access_token.expose_secret(), "over-tls");

    // The system's roots do not know the test CA.
    let e = PostgresStore::connect(&url, sealer(1)).await.unwrap_err();
    let text = never_shown(&e);
    eprintln!("message: {e}");
    assert_eq!(e.kind(), ErrorKind::Store, "{text}");
    assert!(text.contains("set [store] tls_ca"), "{text}");

    // A database that asks for a client certificate.
    let certdb = tls_url(&server, "certdb", "require");
    let e = PostgresStore::connect_with(&certdb, sealer(1), &trusting(&files))
        .await
        .unwrap_err();
    let text = never_shown(&e);
    eprintln!("message: {e}");
    assert!(text.contains("set [store] tls_cert and tls_key"), "{text}");
    let with_cert = Tls {
        cert: Some(files.path("client.pem")),
        key: Some(files.path("client-key.pem")),
        ..trusting(&files)
    };
    let store = PostgresStore::connect_with(&certdb, sealer(1), &with_cert)
        .await
        .unwrap();
    store
        .put(&session(key.clone(), "with-cert"), Expect::Absent)
        .await
        .unwrap();

    // TLS asked of a server without it.
    let plain = PostgresServer::start();
    let e = PostgresStore::connect_with(
        &tls_url(&plain, "postgres", "require"),
        sealer(1),
        &trusting(&files),
    )
    .await
    .unwrap_err();
    let text = never_shown(&e);
    eprintln!("message: {e}");
    assert!(text.contains("the server has TLS off"), "{text}");

    // Settings that cannot work: each a configuration error naming the fix.
    let missing = files.path("missing.pem");
    let not_pem = files.path("server.pem").with_extension("txt");
    std::fs::write(&not_pem, "not a certificate").unwrap();
    for (url, tls, want) in [
        (
            server.url("postgres"),
            trusting(&files),
            "add sslmode=require",
        ),
        (
            tls_url(&server, "postgres", "require"),
            Tls {
                cert: Some(files.path("client.pem")),
                ..trusting(&files)
            },
            "go together",
        ),
        (
            tls_url(&server, "postgres", "require"),
            Tls {
                ca: Some(missing),
                ..Tls::default()
            },
            "cannot read the CA certificate ([store] tls_ca)",
        ),
        (
            tls_url(&server, "postgres", "require"),
            Tls {
                ca: Some(not_pem),
                ..Tls::default()
            },
            "no PEM CA certificate",
        ),
    ] {
        let e = PostgresStore::connect_with(&url, sealer(1), &tls)
            .await
            .unwrap_err();
        let text = never_shown(&e);
        assert_eq!(e.kind(), ErrorKind::Config, "{text}");
        assert!(text.contains(want), "{want}: {text}");
    }
}
