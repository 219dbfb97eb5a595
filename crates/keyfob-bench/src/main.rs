//! keyfob's benchmark binary: one JSON object per line and scenario,
//! `{"scenario", "iterations", "median_ns", "p99_ns", …}`, so runs can be compared side by side
//! with other systems. Targets are read off these numbers, never asserted in tests.
//!
//! ```sh
//! cargo run --release -p keyfob-bench -- --json              # every scenario
//! cargo run --release -p keyfob-bench -- --json --quick      # seconds, for a smoke check
//! cargo run --release -p keyfob-bench -- --scenario refresh_c100
//! ```

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use keyfob::store::Expect;
use keyfob::tools::{FnTool, Value};
use keyfob::{
    AuthRequest, Config, Engine, Ensured, Invocation, Keyfob, Session, SessionKey, ToolAuth,
};
use keyfob_testkit::{StubResponse, StubServer};
use serde_json::json;

const SCENARIOS: &[&str] = &[
    "hashmap_baseline",
    "auth_check_cached",
    "invoke_cached",
    "invoke_no_auth",
    "auth_check_cached_redis",
    "invoke_cached_redis",
    "token_flow_http",
    "token_flow_http_c64",
    "refresh_c100",
];

/// Calls per timed batch in the micro scenarios (one `Instant` pair per batch, not per call).
const BATCH: u32 = 64;

struct Opts {
    json: bool,
    quick: bool,
    scenario: Option<String>,
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[idx]
}

fn report(opts: &Opts, scenario: &str, mut samples: Vec<u64>, iterations: u64, extra: Value) {
    samples.sort_unstable();
    let mut line = json!({
        "scenario": scenario,
        "iterations": iterations,
        "median_ns": percentile(&samples, 0.5),
        "p99_ns": percentile(&samples, 0.99),
    });
    if let (Value::Object(l), Value::Object(e)) = (&mut line, extra) {
        l.extend(e);
    }
    if opts.json {
        println!("{line}");
    } else {
        let extra: Vec<String> = line
            .as_object()
            .map(|o| {
                o.iter()
                    .filter(|(k, _)| {
                        !["scenario", "iterations", "median_ns", "p99_ns"].contains(&k.as_str())
                    })
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect()
            })
            .unwrap_or_default();
        println!(
            "{:<22} {:>9} iters  median {:>9} ns  p99 {:>9} ns  {}",
            scenario,
            iterations,
            line["median_ns"],
            line["p99_ns"],
            extra.join(" ")
        );
    }
}

/// Times `batches` batches of [`BATCH`] calls of `f`; returns per-call nanoseconds per batch.
async fn micro<F, Fut>(batches: u32, mut f: F) -> Vec<u64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..batches / 10 + 1 {
        f().await; // warm-up
    }
    let mut samples = Vec::with_capacity(batches as usize);
    for _ in 0..batches {
        let t = Instant::now();
        for _ in 0..BATCH {
            f().await;
        }
        samples.push(t.elapsed().as_nanos() as u64 / u64::from(BATCH));
    }
    samples
}

async fn memory_engine(extra_toml: &str) -> Engine {
    let toml = format!("[store]\nkind = \"memory\"\n{extra_toml}");
    keyfob::open(Config::from_toml(&toml).expect("bench config"))
        .await
        .expect("engine")
}

/// An engine on a Redis store (`store_toml` is its `[store]` table).
async fn store_engine(store_toml: &str) -> Engine {
    keyfob::open(Config::from_toml(store_toml).expect("bench config"))
        .await
        .expect("engine")
}

/// Logs `req` in through the token page, without HTTP.
async fn token_login(engine: &Engine, req: &AuthRequest, token: &str) {
    let p = engine.login(req).await.expect("login");
    let state = state_of(&p.url);
    engine
        .complete_token(
            &req.provider,
            Some(&state),
            vec![("token".into(), token.to_owned().into())],
        )
        .await
        .expect("complete");
}

fn state_of(url: &str) -> String {
    let q = url.split_once("state=").map(|(_, s)| s).unwrap_or_default();
    q.split('&').next().unwrap_or_default().to_owned()
}

async fn hashmap_baseline(opts: &Opts, batches: u32) {
    // The same data `auth_check_cached` returns, behind a bare map: the floor.
    let engine = memory_engine("").await;
    let req = AuthRequest::new("notion").handler("notion-token");
    token_login(&engine, &req, "ntn_bench").await;
    let session: Session = engine.store().get(&req.key()).await.unwrap().unwrap();
    let mut map = HashMap::new();
    map.insert(session.key.clone(), session);
    let key = req.key();
    let samples = micro(batches, || {
        let s = map.get(&key).cloned();
        std::hint::black_box(s);
        async {}
    })
    .await;
    report(
        opts,
        "hashmap_baseline",
        samples,
        u64::from(batches * BATCH),
        json!({}),
    );
}

async fn auth_check_cached(opts: &Opts, batches: u32, redis: Option<&str>) {
    let engine = match redis {
        Some(store) => store_engine(store).await,
        None => memory_engine("").await,
    };
    let req = AuthRequest::new("notion").handler("notion-token");
    token_login(&engine, &req, "ntn_bench").await;
    let samples = micro(batches, || {
        let engine = &engine;
        let req = &req;
        async move {
            match engine.ensure(req).await.unwrap() {
                Ensured::Ready(c) => {
                    std::hint::black_box(c);
                }
                Ensured::Prompt(_) => panic!("session must be valid"),
            }
        }
    })
    .await;
    let name = if redis.is_some() {
        "auth_check_cached_redis"
    } else {
        "auth_check_cached"
    };
    report(opts, name, samples, u64::from(batches * BATCH), json!({}));
}

fn noop(auth: Option<ToolAuth>, name: &str) -> FnTool {
    FnTool::new(
        name,
        "does nothing",
        json!({"type": "object"}),
        auth,
        |_, creds| {
            Box::pin(async move {
                std::hint::black_box(creds);
                Ok(Value::Null)
            })
        },
    )
}

async fn invoke(opts: &Opts, batches: u32, with_auth: bool, redis: Option<&str>) {
    let engine = match redis {
        Some(store) => store_engine(store).await,
        None => memory_engine("").await,
    };
    let req = AuthRequest::new("notion").handler("notion-token");
    token_login(&engine, &req, "ntn_bench").await;
    let mut keyfob = Keyfob::new(engine);
    keyfob
        .register(noop(
            Some(ToolAuth::named("notion").handler("notion-token")),
            "with_auth",
        ))
        .unwrap();
    keyfob.register(noop(None, "no_auth")).unwrap();
    let tool = if with_auth { "with_auth" } else { "no_auth" };
    let samples = micro(batches, || {
        let keyfob = &keyfob;
        async move {
            match keyfob
                .invoke(tool, Value::Null, "default", "default")
                .await
                .unwrap()
            {
                Invocation::Done(v) => {
                    std::hint::black_box(v);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    })
    .await;
    let name = match (with_auth, redis.is_some()) {
        (true, true) => "invoke_cached_redis",
        (true, false) => "invoke_cached",
        _ => "invoke_no_auth",
    };
    report(opts, name, samples, u64::from(batches * BATCH), json!({}));
}

/// One keep-alive HTTP/1.1 connection to the callback server.
struct Conn {
    send: hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>,
    addr: std::net::SocketAddr,
}

impl Conn {
    async fn open(addr: std::net::SocketAddr) -> Conn {
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        tcp.set_nodelay(true).expect("nodelay");
        let (send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
            .await
            .expect("handshake");
        tokio::spawn(conn);
        Conn { send, addr }
    }

    /// POSTs the token page's form and reads the whole answer; panics unless it is 200.
    async fn submit(&mut self, provider: &str, state: &str, token: &str) {
        use http_body_util::BodyExt;
        let body = format!("state={state}&token={token}");
        let req = hyper::Request::post(format!("/auth/{provider}/token"))
            .header(hyper::header::HOST, self.addr.to_string())
            .header(
                hyper::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(http_body_util::Full::new(bytes::Bytes::from(body)))
            .expect("request");
        self.send.ready().await.expect("connection ready");
        let res = self.send.send_request(req).await.expect("response");
        assert_eq!(res.status(), 200);
        res.into_body().collect().await.expect("body");
    }
}

/// Start → HTTP POST to the token page → complete, `flows` times over `concurrency` workers,
/// each with its own keep-alive connection.
async fn token_flow_http(opts: &Opts, flows: u32, concurrency: u32) {
    let engine = memory_engine("").await;
    let server = keyfob_callback::start(engine.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = server.local_addr();
    let per_worker = flows / concurrency;
    let mut conns = Vec::new();
    for _ in 0..concurrency {
        conns.push(Conn::open(addr).await);
    }
    let worker = |w: u32, mut conn: Conn, n: u32, engine: Engine| async move {
        let mut v = Vec::with_capacity(n as usize);
        for i in 0..n {
            let t = Instant::now();
            let req = AuthRequest::new("notion")
                .handler("notion-token")
                .thread(format!("t{w}-{i}"));
            let p = engine.login(&req).await.unwrap();
            conn.submit("notion", &state_of(&p.url), "ntn_flow").await;
            v.push(t.elapsed().as_nanos() as u64);
        }
        (conn, v)
    };
    // Warm-up at the measured concurrency: opens every connection, warms the allocator.
    let warm: Vec<_> = conns
        .drain(..)
        .enumerate()
        .map(|(w, c)| tokio::spawn(worker(u32::MAX - w as u32, c, 8, engine.clone())))
        .collect();
    for t in warm {
        conns.push(t.await.unwrap().0);
    }
    let start = Instant::now();
    let tasks: Vec<_> = conns
        .drain(..)
        .enumerate()
        .map(|(w, c)| tokio::spawn(worker(w as u32, c, per_worker, engine.clone())))
        .collect();
    let mut samples = Vec::new();
    for t in tasks {
        samples.extend(t.await.unwrap().1);
    }
    let elapsed = start.elapsed();
    let n = u64::from(per_worker * concurrency);
    let per_sec = n as f64 / elapsed.as_secs_f64();
    let name = if concurrency == 1 {
        "token_flow_http".to_owned()
    } else {
        format!("token_flow_http_c{concurrency}")
    };
    report(
        opts,
        &name,
        samples,
        n,
        json!({ "flows_per_sec": per_sec.round(), "concurrency": concurrency }),
    );
    server.shutdown().await;
}

/// 100 concurrent callers on one near-expiry session, against a local token endpoint.
async fn refresh_c100(opts: &Opts, rounds: u32) {
    let stub = StubServer::start(StubResponse::json(
        200,
        &json!({"access_token": "fresh", "refresh_token": "rt-next", "expires_in": 3600, "token_type": "bearer"}),
    ))
    .await
    .unwrap();
    let engine = memory_engine(&format!(
        "[auth.github]\nclient_id = \"c\"\nclient_secret = \"s\"\nauthorize_url = \"{}/authorize\"\ntoken_url = \"{}\"\n",
        stub.url(),
        stub.token_url()
    )).await;
    let key = SessionKey::default_for("github");
    let req = AuthRequest::new("github");
    let mut samples = Vec::new();
    let mut max_requests = 0;
    let mut total_requests = 0;
    for _ in 0..rounds {
        // A session whose token expires in 10 s and was written an hour ago: due now.
        let mut grant = keyfob::Grant::bearer("old".to_owned().into());
        grant.refresh_token = Some("rt".to_owned().into());
        grant.expires_at = Some(keyfob::now() + 10);
        let session = Session {
            key: key.clone(),
            handler: "github-oauth2".into(),
            grant,
            created_at: keyfob::now() - 3600,
            updated_at: keyfob::now() - 3600,
            refresh_error: None,
            version: 0,
        };
        engine.store().put(&session, Expect::Any).await.unwrap();
        stub.clear_requests();
        let barrier = Arc::new(tokio::sync::Barrier::new(100));
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let engine = engine.clone();
                let req = req.clone();
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    let t = Instant::now();
                    let Ensured::Ready(c) = engine.ensure(&req).await.unwrap() else {
                        panic!("prompt")
                    };
                    assert_eq!(c.access_token(), "fresh");
                    t.elapsed().as_nanos() as u64
                })
            })
            .collect();
        for t in tasks {
            samples.push(t.await.unwrap());
        }
        let n = stub.requests().len();
        max_requests = max_requests.max(n);
        total_requests += n;
    }
    report(
        opts,
        "refresh_c100",
        samples,
        u64::from(rounds) * 100,
        json!({ "refresh_requests": max_requests, "rounds": rounds, "refresh_requests_total": total_requests }),
    );
}

fn parse() -> Opts {
    let mut opts = Opts {
        json: false,
        quick: false,
        scenario: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--json" => opts.json = true,
            "--quick" => opts.quick = true,
            "--scenario" => opts.scenario = args.next(),
            "-h" | "--help" => {
                println!(
                    "usage: keyfob-bench [--json] [--quick] [--scenario NAME]\nscenarios: {}",
                    SCENARIOS.join(", ")
                );
                std::process::exit(0);
            }
            other => {
                eprintln!("unknown argument `{other}`; try --help");
                std::process::exit(2);
            }
        }
    }
    if let Some(s) = &opts.scenario {
        if !SCENARIOS.contains(&s.as_str()) {
            eprintln!(
                "unknown scenario `{s}`; scenarios: {}",
                SCENARIOS.join(", ")
            );
            std::process::exit(2);
        }
    }
    opts
}

fn main() {
    let opts = parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let micro_batches = if opts.quick { 2_000 } else { 20_000 };
        let flows = if opts.quick { 2_048 } else { 20_480 };
        let rounds = if opts.quick { 5 } else { 50 };
        let want = |s: &str| opts.scenario.as_deref().is_none_or(|x| x == s);
        if want("hashmap_baseline") {
            hashmap_baseline(&opts, micro_batches).await;
        }
        if want("auth_check_cached") {
            auth_check_cached(&opts, micro_batches, None).await;
        }
        if want("invoke_cached") {
            invoke(&opts, micro_batches, true, None).await;
        }
        if want("invoke_no_auth") {
            invoke(&opts, micro_batches, false, None).await;
        }
        if want("auth_check_cached_redis") || want("invoke_cached_redis") {
            // A private redis-server on a free port; skipped (with a note) when not installed.
            match keyfob_testkit::RedisServer::start(&[]) {
                Some(server) => {
                    let store = format!(
                        "[store]\nkind = \"redis\"\nurl = \"{}\"\nkey = \"{}\"\n",
                        server.url(None),
                        keyfob::crypto::Sealer::generate_key()
                    );
                    let batches = micro_batches / 10;
                    if want("auth_check_cached_redis") {
                        auth_check_cached(&opts, batches, Some(&store)).await;
                    }
                    if want("invoke_cached_redis") {
                        invoke(&opts, batches, true, Some(&store)).await;
                    }
                }
                None => eprintln!("redis scenarios skipped: redis-server is not installed"),
            }
        }
        if want("token_flow_http_c64") {
            token_flow_http(&opts, flows, 64).await;
        }
        if want("refresh_c100") {
            refresh_c100(&opts, rounds).await;
        }
    });
    drop(rt);
    if opts
        .scenario
        .as_deref()
        .is_none_or(|x| x == "token_flow_http")
    {
        // One flow at a time needs one thread: client and server share a current-thread
        // runtime, so a request and its answer cost no wake-up of another thread (each is
        // ~20-50 µs in this VM, several per flow). The requests still cross loopback TCP.
        let flows = if opts.quick { 2_048 } else { 20_480 };
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(token_flow_http(&opts, flows / 2, 1));
    }
}
