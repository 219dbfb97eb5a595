//! The store on a real Redis Cluster (three primaries started by the testkit): the conformance
//! suite, sessions spread over every primary with each session's keys in one slot, listing and
//! purging across the nodes, notices between instances seeded by different nodes, a writer
//! killed mid-write, a primary that dies and comes back, and a thousand callers in three
//! processes causing one refresh.

use keyfob_testkit::{RedisCluster, TlsFiles};

use super::*;

keyfob_testkit::store_conformance!(async {
    let cluster = RedisCluster::start();
    let store = RedisStore::connect(&cluster.url(), "kf-suite", sealer(1))
        .await
        .unwrap_or_else(|e| panic!("connect to the cluster: {e}"));
    let store: Arc<dyn SessionStore> = Arc::new(store);
    (store, cluster)
});

/// A plain connection to one node.
async fn node(server: &RedisServer) -> redis::aio::MultiplexedConnection {
    server.raw(None).await
}

/// Sixty sessions, each with an expired flow: every primary holds some, all of one session's
/// keys sit on one node, `list` finds every one (and one thread's alone), and `purge_expired`
/// removes every flow and its hints whichever node holds them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_spread_over_every_primary_and_list_and_purge_reach_them_all() {
    let cluster = RedisCluster::start();
    let store = RedisStore::connect(&cluster.url(), "kf", sealer(1))
        .await
        .unwrap();
    let n = 60;
    for i in 0..n {
        let key = SessionKey::new("acme", format!("t{i}"), "p");
        store
            .put(&session(key.clone(), &format!("token-{i}")), Expect::Absent)
            .await
            .unwrap();
        store.put_pending(&flow(key, &hash(i), -10)).await.unwrap();
    }

    let mut holder: std::collections::BTreeMap<String, usize> = Default::default();
    for (i, server) in cluster.nodes.iter().enumerate() {
        let names: Vec<String> = redis::cmd("KEYS")
            .arg("kf:{*")
            .query_async(&mut node(server).await)
            .await
            .unwrap();
        let sessions = names.iter().filter(|n| n.ends_with(":session")).count();
        eprintln!("node {i}: {} keys, {sessions} sessions", names.len());
        assert!(sessions > 0, "node {i} holds no session: {names:?}");
        for name in names {
            let tag = hash_tag(&name).unwrap().to_owned();
            let first = *holder.entry(tag.clone()).or_insert(i);
            assert_eq!(first, i, "the keys of {tag} are on two nodes");
        }
    }
    assert_eq!(holder.len(), n as usize);

    let all = store.list(None).await.unwrap();
    assert_eq!(all.len(), n as usize);
    let one = store.list(Some("t7")).await.unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].grant.access_token.expose_secret(), "token-7");

    let purged = store.purge_expired(keyfob_core::now()).await.unwrap();
    assert_eq!(purged, n as usize);
    for i in 0..n {
        assert!(store.pending(&hash(i)).await.unwrap().is_none());
    }
    for server in &cluster.nodes {
        let left: Vec<String> = redis::cmd("KEYS")
            .arg("kf:*")
            .query_async(&mut node(server).await)
            .await
            .unwrap();
        assert!(
            left.iter()
                .all(|n| n.ends_with(":session") || n.ends_with(":version") || n == "kf:keycheck"),
            "left after the purge: {left:?}"
        );
    }
}

/// Two instances seeded by different nodes: a publish on one wakes a waiter on the other
/// (Redis Cluster carries pub/sub messages to every node), and each reads the other's writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_seeded_by_different_nodes_share_sessions_and_notices() {
    let cluster = RedisCluster::start();
    let a = RedisStore::connect(&cluster.nodes[0].url(None), "kf", sealer(1))
        .await
        .unwrap();
    let b = RedisStore::connect(&cluster.nodes[2].url(None), "kf", sealer(1))
        .await
        .unwrap();
    assert!(a.is_subscribed() && b.is_subscribed());
    assert_eq!(
        b.location().unwrap(),
        format!("{} (Redis Cluster, prefix kf)", cluster.nodes[2].addr())
    );
    let key = SessionKey::new("acme", "t", "p");
    let mut timings = Vec::new();
    for _ in 0..5 {
        timings.push(wake_latency(&a, &b, &key).await);
        timings.push(wake_latency(&b, &a, &key).await);
    }
    eprintln!("timing: publish -> wait_published across the cluster: {timings:?}");
    assert!(
        timings.iter().all(|t| *t < Duration::from_millis(100)),
        "{timings:?}"
    );
    let v = a
        .put(&session(key.clone(), "from-a"), Expect::Absent)
        .await
        .unwrap();
    let got = b.get(&key).await.unwrap().unwrap();
    assert_eq!(got.grant.access_token.expose_secret(), "from-a");
    b.put(&session(key.clone(), "from-b"), Expect::Version(v))
        .await
        .unwrap();
    let stale = a
        .put(&session(key.clone(), "stale"), Expect::Version(v))
        .await;
    assert_eq!(stale.unwrap_err().kind(), ErrorKind::Conflict);
}

/// The node holding an instance's subscription dies: the subscription moves to another primary,
/// and a change published through another instance still wakes this one's waiter while that
/// node is down. MUTATION: a subscription that only ever tries the seed stays lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_subscription_moves_to_another_primary_when_its_node_dies() {
    let mut cluster = RedisCluster::start();
    let a = RedisStore::connect(&cluster.nodes[0].url(None), "kf", sealer(1))
        .await
        .unwrap();
    let b = RedisStore::connect(&cluster.nodes[1].url(None), "kf", sealer(1))
        .await
        .unwrap();
    assert!(a.is_subscribed());
    cluster.nodes[0].kill();
    let started = Instant::now();
    while a.is_subscribed() && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    while !a.is_subscribed() && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(a.is_subscribed(), "not subscribed again with its node down");
    eprintln!(
        "timing: subscribed on another primary {:?} after its node died",
        started.elapsed()
    );
    let key = SessionKey::new("acme", "t", "p");
    let latency = wake_latency(&b, &a, &key).await;
    eprintln!("timing: wake latency with a primary down: {latency:?}");
    assert!(latency < Duration::from_secs(2), "{latency:?}");
}

/// A cluster that speaks only TLS, reached as an ACL user with the test CA: every node the
/// cluster names is connected to over TLS (no node has a plain port), thirty sessions spread
/// over them are written, read and listed; a plain `redis://` URL fails clearly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_cluster_is_reached_over_tls_on_every_node() {
    let certs = TlsFiles::generate();
    let acl = ["--user", "keyfob", "on", ">acl-pw", "~*", "&*", "+@all"];
    let cluster = RedisCluster::start_tls(&certs, &acl);
    let url = cluster.nodes[0].tls_url(Some(("keyfob", "acl-pw")));
    let options = Options {
        tls: client_tls(&certs, false),
        ..Options::default()
    };
    let store = RedisStore::connect_with(&url, "kf", sealer(1), &options)
        .await
        .unwrap_or_else(|e| panic!("connect to the TLS cluster: {e}"));
    assert!(store.location().unwrap().contains("Redis Cluster"));
    assert!(store.is_subscribed());
    for i in 0..30 {
        let key = SessionKey::new("acme", format!("t{i}"), "p");
        store
            .put(&session(key.clone(), &format!("token-{i}")), Expect::Absent)
            .await
            .unwrap();
        let got = store.get(&key).await.unwrap().unwrap();
        assert_eq!(got.grant.access_token.expose_secret(), format!("token-{i}"));
    }
    assert_eq!(store.list(None).await.unwrap().len(), 30);
    let plain = format!("redis://keyfob:acl-pw@{}", cluster.nodes[0].addr());
    let e = RedisStore::connect(&plain, "kf", sealer(1))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Store, "{e}");
    assert!(!e.to_string().contains("acl-pw"), "{e}");
}

/// Client-side caching tracks keys per node, so it is refused on a cluster, saying what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_cache_on_a_cluster_is_refused_clearly() {
    let cluster = RedisCluster::start();
    let options = Options {
        client_cache: Some(Duration::from_secs(300)),
        ..Options::default()
    };
    let e = RedisStore::connect_with(&cluster.url(), "kf", sealer(1), &options)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    assert!(
        e.to_string().contains("client_cache") && e.to_string().contains("Redis Cluster"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_writing_on_a_cluster_leaves_every_session_old_or_new() {
    let cluster = RedisCluster::start();
    kill_9_rounds(&cluster.url()).await;
}

/// A primary dies (kill -9) under a running store: the keys it served fail with a clear store
/// error while the others still answer until the cluster marks itself down; once it is back
/// (its append-only file kept every write) the same store serves every session unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_killed_fails_its_keys_clearly_then_the_cluster_recovers() {
    let mut cluster = RedisCluster::start_with(&["--appendonly", "yes", "--appendfsync", "always"]);
    let store = RedisStore::connect(&cluster.url(), "kf", sealer(1))
        .await
        .unwrap();
    let keys: Vec<SessionKey> = (0..30)
        .map(|i| SessionKey::new("acme", format!("t{i}"), "p"))
        .collect();
    for (i, key) in keys.iter().enumerate() {
        store
            .put(&session(key.clone(), &format!("token-{i}")), Expect::Absent)
            .await
            .unwrap();
    }

    cluster.nodes[1].kill();
    let started = Instant::now();
    let mut reads = tokio::task::JoinSet::new();
    for key in keys.clone() {
        let store = store.clone();
        reads.spawn(async move { store.get(&key).await });
    }
    let mut failed = Vec::new();
    while let Some(read) = reads.join_next().await {
        if let Err(e) = read.unwrap() {
            failed.push(e);
        }
    }
    eprintln!(
        "timing: 30 reads with a primary down: {} failed, all answered after {:?}",
        failed.len(),
        started.elapsed()
    );
    assert!(!failed.is_empty(), "no key lived on the killed primary");
    for e in &failed {
        assert_eq!(e.kind(), ErrorKind::Store, "{e}");
        assert!(
            e.to_string().starts_with("cannot read session") && e.to_string().contains("redis at"),
            "{e}"
        );
    }

    cluster.nodes[1].restart();
    cluster.wait_ok();
    let started = Instant::now();
    for (i, key) in keys.iter().enumerate() {
        let got = loop {
            match store.get(key).await {
                Ok(got) => break got,
                Err(e) if started.elapsed() < Duration::from_secs(20) => {
                    eprintln!("not yet: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("the cluster did not come back for the store: {e}"),
            }
        };
        let got = got.expect("the session survived");
        assert_eq!(got.grant.access_token.expose_secret(), format!("token-{i}"));
    }
    eprintln!(
        "timing: every session read back {:?} after the cluster was ok",
        started.elapsed()
    );
    let v = store.get(&keys[0]).await.unwrap().unwrap().version;
    store
        .put(&session(keys[0].clone(), "after"), Expect::Version(v))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_callers_in_three_processes_cause_one_refresh_on_a_cluster() {
    let cluster = RedisCluster::start();
    let store = RedisStore::connect(&cluster.url(), "kf", sealer(1))
        .await
        .unwrap();
    let env = (FLEET_URL, format!("{}#cluster", cluster.url()));
    fleet::thousand_callers_cause_one_refresh(&store, "redis_server::fleet_callers", env).await;
}
