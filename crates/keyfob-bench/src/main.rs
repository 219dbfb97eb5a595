//! keyfob's benchmark binary: one JSON object per line and scenario,
//! `{"scenario", "iterations", "median_ns", "p99_ns", …}`, so runs can be compared side by side
//! with other systems. Targets are read off these numbers, never asserted in tests.
//!
//! ```sh
//! cargo run --release -p keyfob-bench -- --json              # every scenario
//! cargo run --release -p keyfob-bench -- --json --quick      # seconds, for a smoke check
//! cargo run --release -p keyfob-bench -- --scenario refresh_c100
//! ```
//!
//! `mcp_call_proxy` runs the `keyfob` binary built next to this one (`cargo build --release
//! -p keyfob-cli`) and the testkit's node servers (`cargo xtask test` installs them).

mod mcp_proxy;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use keyfob::store::Expect;
use keyfob::tools::{FnTool, Value};
use keyfob::{
    AuthRequest, Config, Engine, Ensured, ExposeSecret, Invocation, Keyfob, Session, SessionKey,
    ToolAuth,
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
    "invoke_cached_redis_uncached",
    "invoke_cached_redis_cluster",
    "invoke_cached_postgres",
    "store_write_sqlite",
    "store_write_redis",
    "store_write_redis_cluster",
    "store_write_postgres",
    "token_flow_http",
    "token_flow_http_c64",
    "refresh_c100",
    "refresh_ahead_1000_calls",
    "memory_per_session",
    "memory_per_finished_flow",
    "wrk_health",
    "wrk_token_page",
    "mcp_call_direct",
    "mcp_call_proxy",
    "mcp_tool_no_auth",
    "mcp_tool_cached",
];

/// Every heap allocation goes through this counter, so the memory scenarios can read the bytes
/// held at any moment. It costs one atomic add per allocation and free in every scenario. Under
/// it, mimalloc, as a server binary would use: glibc's malloc contends between the two worker
/// threads (about 17 % of the time of `token_flow_http_c64` went to malloc and free).
#[global_allocator]
static ALLOC: cap::Cap<mimalloc::MiMalloc> = cap::Cap::new(mimalloc::MiMalloc, usize::MAX);

/// Calls per batch in the micro scenarios (a batch is a unit of their iteration counts; every
/// call is timed on its own).
const BATCH: u32 = 64;

/// Set when a scenario could not measure what it says (a failed wrk run): the process then exits
/// non-zero, after printing every line.
static FAILED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

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

/// The median of each micro scenario run so far, for ratios against a baseline of the same run.
static MEDIANS: std::sync::Mutex<Vec<(String, u64)>> = std::sync::Mutex::new(Vec::new());

/// The median `scenario` had in this run, if it ran.
fn median_of(scenario: &str) -> Option<u64> {
    MEDIANS
        .lock()
        .ok()?
        .iter()
        .find(|(s, _)| s == scenario)
        .map(|(_, m)| *m)
}

fn report(opts: &Opts, scenario: &str, mut samples: Vec<u64>, iterations: u64, extra: Value) {
    samples.sort_unstable();
    if let Ok(mut medians) = MEDIANS.lock() {
        medians.push((scenario.to_owned(), percentile(&samples, 0.5)));
    }
    let stats = json!({
        "median_ns": percentile(&samples, 0.5),
        "p99_ns": percentile(&samples, 0.99),
        "p999_ns": percentile(&samples, 0.999),
    });
    report_stats(opts, scenario, stats, iterations, extra);
}

/// Prints one scenario's line: `stats` (its percentiles) and `extra` fields.
fn report_stats(opts: &Opts, scenario: &str, stats: Value, iterations: u64, extra: Value) {
    let mut line = json!({
        "scenario": scenario,
        "iterations": iterations,
    });
    if let (Value::Object(l), Value::Object(s)) = (&mut line, stats) {
        l.extend(s);
    }
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

/// Times `batches` × [`BATCH`] calls of `f`, each on its own: per-call nanoseconds, the
/// timer's own cost included (see [`per_call`]).
async fn micro<F, Fut>(batches: u32, mut f: F) -> Vec<u64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..batches / 10 + 1 {
        f().await; // warm-up
    }
    let calls = batches as usize * BATCH as usize;
    let mut samples = Vec::with_capacity(calls);
    for _ in 0..calls {
        let t = Instant::now();
        f().await;
        samples.push(t.elapsed().as_nanos() as u64);
    }
    samples
}

/// What the micro scenarios measured, for their JSON line: each call timed alone, and the
/// median cost of timing nothing (two `Instant` reads), which every sample includes.
fn per_call() -> Value {
    static OVERHEAD: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let overhead = *OVERHEAD.get_or_init(|| {
        let mut v: Vec<u64> = (0..100_000)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(());
                t.elapsed().as_nanos() as u64
            })
            .collect();
        v.sort_unstable();
        percentile(&v, 0.5)
    });
    json!({"measured": "each call timed alone", "timer_overhead_ns": overhead})
}

async fn memory_engine(extra_toml: &str) -> Engine {
    // The token flows measure keyfob, not a key check at notion.com.
    let toml =
        format!("[store]\nkind = \"memory\"\n[auth.notion]\nverify_key = false\n{extra_toml}");
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
    let link = keyfob_testkit::open_prompt(engine, &p).await;
    engine
        .complete_token(
            &req.provider,
            Some(&link.state),
            vec![("token".into(), token.to_owned().into())],
            &link.cookies,
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
        per_call(),
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
    report(opts, name, samples, u64::from(batches * BATCH), per_call());
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

/// The tools of the invoke scenarios on `engine`: `no_auth`, and `with_auth`, whose Notion
/// session is logged in.
async fn two_tools(engine: Engine) -> Keyfob {
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
    keyfob
}

/// `invoke_cached` on the store of `store` (its name and `[store]` table), else the memory
/// store.
async fn invoke(opts: &Opts, batches: u32, with_auth: bool, store: Option<(&str, &str)>) {
    let engine = match store {
        Some((_, toml)) => store_engine(toml).await,
        None => memory_engine("").await,
    };
    let keyfob = two_tools(engine).await;
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
    let name = match (with_auth, store) {
        (true, Some((name, _))) => name,
        (true, None) => "invoke_cached",
        _ => "invoke_no_auth",
    };
    let mut extra = per_call();
    if let (Some(memory), Some(_)) = (median_of("invoke_cached"), store) {
        let mut sorted = samples.clone();
        sorted.sort_unstable();
        let ratio = percentile(&sorted, 0.5) as f64 / memory.max(1) as f64;
        extra["median_vs_invoke_cached"] = json!((ratio * 100.0).round() / 100.0);
    }
    report(opts, name, samples, u64::from(batches * BATCH), extra);
}

/// `store_write_<kind>`: one session written (`put`, any version) on the store of `toml`, one
/// at a time: what a login or a refresh costs the store.
async fn store_write(opts: &Opts, name: &str, toml: &str, writes: u32) {
    let engine = store_engine(toml).await;
    let req = AuthRequest::new("notion").handler("notion-token");
    token_login(&engine, &req, "ntn_bench").await;
    let session: Session = engine.store().get(&req.key()).await.unwrap().unwrap();
    let store = engine.store().clone();
    let samples = micro(writes / BATCH, || {
        let store = &store;
        let session = &session;
        async move {
            std::hint::black_box(store.put(session, Expect::Any).await.unwrap());
        }
    })
    .await;
    report(
        opts,
        name,
        samples,
        u64::from(writes / BATCH * BATCH),
        per_call(),
    );
}

/// `mcp_tool_no_auth` and `mcp_tool_cached`: a tool call over streamable HTTP to keyfob's MCP
/// server (`keyfob_mcp_server`, in process, on 127.0.0.1), one at a time, of a tool without
/// auth and of one whose Notion session is stored (memory store): what auth adds to an MCP call.
/// The client is the testkit's (reqwest, one keep-alive connection, JSON or event-stream
/// answers).
async fn mcp_tools(opts: &Opts, calls: usize) {
    let engine = memory_engine("").await;
    let keyfob = two_tools(engine).await;
    let server = keyfob_mcp_server::ToolServer::new(Arc::new(keyfob), "default", "default");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(keyfob_mcp_server::serve_http(
        server,
        listener,
        vec!["127.0.0.1".into()],
        None,
        async move {
            let _ = stopped.await;
        },
    ));
    let mut client = keyfob_testkit::mcp::Client::connect(&url, "unused")
        .await
        .expect("the MCP server answers");
    let mut medians = Vec::new();
    for (tool, scenario) in [
        ("no_auth", "mcp_tool_no_auth"),
        ("with_auth", "mcp_tool_cached"),
    ] {
        let mut samples = Vec::with_capacity(calls);
        for i in 0..calls + calls / 10 {
            let t = Instant::now();
            let out = client.call_tool(tool, json!({})).await.expect("a result");
            std::hint::black_box(out);
            if i >= calls / 10 {
                samples.push(t.elapsed().as_nanos() as u64);
            }
        }
        let mut sorted = samples.clone();
        sorted.sort_unstable();
        medians.push(percentile(&sorted, 0.5));
        let extra = if scenario == "mcp_tool_cached" {
            json!({"baseline": "mcp_tool_no_auth",
                "added_median_ns": medians[1].saturating_sub(medians[0])})
        } else {
            json!({})
        };
        report(opts, scenario, samples, calls as u64, extra);
    }
    let _ = stop.send(());
    let _ = serving.await;
}

/// One keep-alive HTTP/1.1 connection, as a load generator such as wrk drives it: the request
/// is written in one piece and the answer read to the end of its `Content-Length` body, with no
/// client machinery (tasks, channels, header maps) to share the two cores with the server.
struct Conn {
    tcp: tokio::net::TcpStream,
    addr: std::net::SocketAddr,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(addr: std::net::SocketAddr) -> Conn {
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        tcp.set_nodelay(true).expect("nodelay");
        Conn {
            tcp,
            addr,
            buf: Vec::with_capacity(8192),
        }
    }

    /// Opens the login link as the browser does (GET, 303 with the flow's cookie), then POSTs
    /// the token page's form with that cookie; panics unless the link answers 303 and the form
    /// 200.
    async fn submit(&mut self, provider: &str, state: &str, token: &str) {
        let head = format!(
            "GET /auth/{provider}/start?state={state} HTTP/1.1\r\nHost: {}\r\n\r\n",
            self.addr
        );
        let (status, cookie) = self.send(head).await;
        assert_eq!(status, 303);
        let cookie = cookie.expect("the login link sets a cookie");
        let body = format!("state={state}&token={token}");
        let req = format!(
            "POST /auth/{provider}/token HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        assert_eq!(self.send(req).await.0, 200);
    }

    /// POSTs a form to `path` and reads the whole answer; its status.
    async fn post(&mut self, path: &str, body: String) -> u16 {
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        self.send(req).await.0
    }

    /// Writes one request and reads the whole answer: its status and the `name=value` of a
    /// `Set-Cookie` header, if any.
    async fn send(&mut self, req: String) -> (u16, Option<String>) {
        use tokio::io::AsyncWriteExt;
        self.tcp.write_all(req.as_bytes()).await.expect("send");
        self.buf.clear();
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut res = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(head) = res.parse(&self.buf).expect("HTTP answer") {
                let length: usize = res
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .and_then(|h| std::str::from_utf8(h.value).ok()?.parse().ok())
                    .expect("Content-Length");
                let status = res.code.expect("status");
                let cookie = res
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("set-cookie"))
                    .and_then(|h| std::str::from_utf8(h.value).ok())
                    .and_then(|v| v.split(';').next())
                    .map(str::to_owned);
                while self.buf.len() < head + length {
                    self.read_more().await;
                }
                assert_eq!(self.buf.len(), head + length, "one answer per request");
                return (status, cookie);
            }
            self.read_more().await;
        }
    }

    async fn read_more(&mut self) {
        use tokio::io::AsyncReadExt;
        let n = self.tcp.read_buf(&mut self.buf).await.expect("read");
        assert!(n > 0, "the server closed the connection");
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
        json!({
            "flows_per_sec": per_sec.round(),
            "concurrency": concurrency,
            "measured": "each flow: started in-process, then GET of its login link and POST of the token form over HTTP, key check off",
        }),
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

/// 1,000 calls, one every 4 ms, across the expiry of a 3-second access token, with
/// refresh-ahead on: how much slower than a cached call the slowest one was, against the time
/// of one request to the token endpoint, and how many callers had to refresh themselves.
async fn refresh_ahead_1000_calls(opts: &Opts) {
    let stub = StubServer::start(StubResponse::json(
        200,
        &json!({"access_token": "fresh", "refresh_token": "rt-next", "expires_in": 3, "token_type": "bearer"}),
    ))
    .await
    .unwrap();
    let engine = memory_engine(&format!(
        "[session]\nrefresh_margin_secs = 1\n[auth.github]\nclient_id = \"c\"\nclient_secret = \"s\"\n\
         authorize_url = \"{0}/authorize\"\ntoken_url = \"{0}/token\"\n",
        stub.url(),
    ))
    .await;
    let key = SessionKey::default_for("github");
    let mut grant = keyfob::Grant::bearer("old".to_owned().into());
    grant.refresh_token = Some("rt".to_owned().into());
    grant.expires_at = Some(keyfob::now() + 3);
    let session = Session {
        key: key.clone(),
        handler: "github-oauth2".into(),
        grant,
        created_at: keyfob::now(),
        updated_at: keyfob::now(),
        refresh_error: None,
        version: 0,
    };
    engine.store().put(&session, Expect::Any).await.unwrap();
    // The floor: cached calls on the fresh session.
    let mut cached = Vec::with_capacity(2000);
    for _ in 0..2000 {
        let t = Instant::now();
        engine.credentials(&key).await.unwrap();
        cached.push(t.elapsed().as_nanos() as u64);
    }
    cached.sort_unstable();
    let cached_p99 = percentile(&cached, 0.99);
    // The network time of one request to the same token endpoint.
    let addr: std::net::SocketAddr = stub.url().trim_start_matches("http://").parse().unwrap();
    let mut conn = Conn::open(addr).await;
    let mut one = Vec::with_capacity(200);
    for _ in 0..200 {
        let t = Instant::now();
        conn.post("/token", "grant_type=refresh_token&refresh_token=x".into())
            .await;
        one.push(t.elapsed().as_nanos() as u64);
    }
    one.sort_unstable();
    let one_request = percentile(&one, 0.5);
    let task = engine.refresh_ahead(keyfob::RefreshAhead {
        lead: std::time::Duration::from_secs(2),
        jitter: std::time::Duration::ZERO,
        every: std::time::Duration::from_millis(100),
    });
    let mut samples = Vec::with_capacity(1000);
    for _ in 0..1000 {
        let t = Instant::now();
        engine.credentials(&key).await.unwrap();
        samples.push(t.elapsed().as_nanos() as u64);
        tokio::time::sleep(std::time::Duration::from_millis(4)).await;
    }
    drop(task);
    let stats = engine.stats();
    let max = samples.iter().copied().max().unwrap_or(0);
    report(
        opts,
        "refresh_ahead_1000_calls",
        samples,
        1000,
        json!({
            "max_ns": max,
            "cached_p99_ns": cached_p99,
            "one_request_ns": one_request,
            "max_minus_cached_p99_ns": max.saturating_sub(cached_p99),
            "within_one_request": max <= cached_p99 + one_request,
            "inline_refreshes": stats.inline_refreshes,
            "background_refreshes": stats.background_refreshes,
        }),
    );
}

/// Heap bytes held now.
fn heap() -> i64 {
    ALLOC.allocated() as i64
}

/// A token-page flow for caller `i` of `round`, started and completed (not waited for).
async fn finish_flow(engine: &Engine, round: usize, i: usize) -> keyfob::Prompt {
    let req = AuthRequest::new("notion")
        .handler("notion-token")
        .thread(format!("thread-{round}-{}", i % 100))
        .profile(format!("p{i}"));
    let p = engine.login(&req).await.expect("login");
    let link = keyfob_testkit::open_prompt(engine, &p).await;
    engine
        .complete_token(
            "notion",
            Some(&link.state),
            vec![("token".into(), format!("ntn_{i:040}").into())],
            &link.cookies,
        )
        .await
        .expect("complete");
    p
}

/// Bytes per stored session in the memory store: `n` sessions written by token flows (each with
/// its own thread and profile, a 44-character token, its flow read at once), measured with the
/// counting allocator as the heap they add (map growth included) and what deleting them gives
/// back (the map keeps its capacity).
async fn memory_per_session(opts: &Opts, n: usize) {
    let engine = memory_engine("").await;
    let w = finish_flow(&engine, 99, 0).await; // warm-up: lazily built state
    engine
        .wait(&w, std::time::Duration::from_secs(1))
        .await
        .expect("wait");
    let mut keys = Vec::with_capacity(n);
    let mut samples = Vec::with_capacity(n);
    let before = heap();
    for i in 0..n {
        let t = Instant::now();
        let p = finish_flow(&engine, 0, i).await;
        engine
            .wait(&p, std::time::Duration::from_secs(1))
            .await
            .expect("wait");
        samples.push(t.elapsed().as_nanos() as u64);
        keys.push(p.key);
    }
    // The keys kept here for the deletes below are not the store's.
    let kept: i64 = keys
        .iter()
        .map(|k| (k.provider.capacity() + k.thread.capacity() + k.profile.capacity()) as i64)
        .sum::<i64>()
        + (keys.capacity() * std::mem::size_of::<SessionKey>()) as i64;
    let with_sessions = heap();
    for k in &keys {
        engine.logout(k).await.expect("logout");
    }
    let without = heap();
    report(
        opts,
        "memory_per_session",
        samples,
        n as u64,
        json!({
            "sessions": n,
            "bytes_per_session": ((with_sessions - before - kept) as f64 / n as f64).round(),
            "bytes_freed_per_session_deleted": ((with_sessions - without) as f64 / n as f64).round(),
        }),
    );
}

/// Bytes per finished flow in the memory store. The engine keeps a finished flow's record (its
/// outcome, for the waiter) until a waiter reads it or it expires (`flow_timeout_secs`), then
/// drops it; this measures the record right after finishing, after the waiter read it, and
/// after an unread one expired and was purged. Two rounds: what the second adds for good is
/// what a flow leaks (the maps' spare capacity is reused, not grown).
async fn memory_per_finished_flow(opts: &Opts, n: usize) {
    // Flows expire 2 s after they start: long enough for a round of flows, short for a bench.
    let engine = memory_engine("[session]\nflow_timeout_secs = 2\n").await;
    finish_flow(&engine, 99, 0).await;
    let mut samples = Vec::with_capacity(2 * n);
    let mut held_after_finish = 0;
    let mut held_after_wait = 0;
    let mut held_after_purge = 0;
    let mut leak_second_round = 0;
    let mut before_round = [0i64; 2];
    for (round, before) in before_round.iter_mut().enumerate() {
        *before = heap();
        let mut prompts = Vec::with_capacity(n);
        for i in 0..n {
            let t = Instant::now();
            prompts.push(finish_flow(&engine, round, i).await);
            samples.push(t.elapsed().as_nanos() as u64);
        }
        // Finished, not yet read: sessions + flow records (+ the prompts held here).
        let finished = heap();
        for p in &prompts {
            engine
                .wait(p, std::time::Duration::from_secs(1))
                .await
                .expect("wait");
        }
        let waited = heap();
        // Unread flows: finish n more on the same keys, let them expire, purge.
        let mut unread = Vec::with_capacity(n);
        for i in 0..n {
            unread.push(finish_flow(&engine, round, i).await);
        }
        drop(unread);
        let unread_held = heap();
        tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
        engine.purge_expired().await.expect("purge");
        let purged = heap();
        let keys: Vec<SessionKey> = prompts.iter().map(|p| p.key.clone()).collect();
        drop(prompts);
        for k in &keys {
            engine.logout(k).await.expect("logout");
        }
        drop(keys);
        let after = heap();
        if round == 0 {
            held_after_finish = finished - waited;
            held_after_wait = after - *before;
            held_after_purge = unread_held - purged;
        } else {
            leak_second_round = after - *before;
        }
    }
    let per = |b: i64| (b as f64 / n as f64).round();
    // A record's slots in the memory store's two maps (state hash → boxed record, and the key's
    // index), reused by later flows once freed; the boxed record itself is freed with it.
    let slot = std::mem::size_of::<(String, Box<keyfob::store::PendingFlow>)>()
        + std::mem::size_of::<(SessionKey, String)>();
    report(
        opts,
        "memory_per_finished_flow",
        samples,
        2 * n as u64,
        json!({
            "flows_per_round": n,
            "bytes_per_finished_flow": per(held_after_finish),
            "map_slot_bytes_per_flow": slot,
            "bytes_per_unread_flow_freed_by_purge": per(held_after_purge),
            "bytes_per_flow_after_wait_first_round": per(held_after_wait),
            "bytes_per_flow_after_wait": per(leak_second_round),
        }),
    );
}

/// The callback server under `wrk` (Debian's package): `path_and_query` for `secs` seconds,
/// 2 threads, 64 connections. Reports wrk's median and p99 latency, requests per second and
/// every error wrk counts (socket errors and non-2xx answers); skipped when wrk is missing
/// (`scripts/load.sh` installs it).
async fn wrk(opts: &Opts, scenario: &str, secs: u32) {
    if std::process::Command::new("wrk")
        .arg("--version")
        .output()
        .is_err()
    {
        let why = "wrk is not installed (apt-get install -y wrk, or scripts/load.sh)";
        eprintln!("{scenario} skipped: {why}");
        let line = json!({"scenario": scenario, "skipped": why});
        println!("{line}");
        return;
    }
    let engine = memory_engine("").await;
    let server = keyfob_callback::start(engine.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    // The token page of one waiting flow, opened as the user's browser did (its cookie sent by
    // wrk: bench data, not a user's).
    let (url, cookie) = if scenario == "wrk_health" {
        (format!("http://{}/health", server.local_addr()), None)
    } else {
        let p = engine
            .login(&AuthRequest::new("notion").handler("notion-token"))
            .await
            .expect("login");
        let state = state_of(&p.url);
        let opened = engine
            .open_link("notion", Some(&state), &keyfob::LinkCookies::none())
            .await
            .expect("open the login link");
        let cookie = opened.cookie.expect("a first opening sets a cookie");
        (
            opened.next_url.expose_secret().to_owned(),
            Some(format!(
                "Cookie: {}={}",
                cookie.name,
                cookie.value.expose_secret()
            )),
        )
    };
    let mut args = vec![
        "-t2".to_owned(),
        "-c64".to_owned(),
        format!("-d{secs}s"),
        "--latency".to_owned(),
    ];
    if let Some(cookie) = cookie {
        args.extend(["-H".to_owned(), cookie]);
    }
    args.push(url);
    let out = tokio::process::Command::new("wrk")
        .args(&args)
        .output()
        .await
        .expect("run wrk");
    server.shutdown().await;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |prefix: &str| -> Option<String> {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .map(|v| v.trim().to_owned())
    };
    // wrk prints durations as "1.23ms", "456.00us", "1.01s".
    let ns = |v: Option<String>| -> u64 {
        let v = v.unwrap_or_default();
        let (num, unit) = v.split_at(v.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(v.len()));
        let x: f64 = num.parse().unwrap_or(0.0);
        let mult = match unit {
            "us" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            _ => 1.0,
        };
        (x * mult) as u64
    };
    let median = ns(field("50%"));
    let p99 = ns(field("99%"));
    let requests: u64 = text
        .lines()
        .find_map(|l| l.trim().split_once(" requests in "))
        .and_then(|(n, _)| n.trim().parse().ok())
        .unwrap_or(0);
    let per_sec: f64 = field("Requests/sec:")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let non_2xx: u64 = field("Non-2xx or 3xx responses:")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // "Socket errors: connect 0, read 0, write 0, timeout 0"
    let socket_errors: u64 = field("Socket errors:")
        .map(|v| {
            v.split(',')
                .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    let failure = if !out.status.success() {
        Some(format!("wrk exited with {}", out.status))
    } else if requests == 0 || median == 0 {
        Some("wrk's output has no requests or latencies".to_owned())
    } else {
        None
    };
    if let Some(why) = &failure {
        eprintln!(
            "{scenario}: {why}:\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        FAILED.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    // wrk reports percentiles, not samples: its own median and p99 are the line's.
    let stats = json!({"median_ns": median, "p99_ns": p99});
    let mut line = json!({
        "requests_per_sec": per_sec.round(),
        "errors": socket_errors + non_2xx,
        "non_2xx": non_2xx,
        "socket_errors": socket_errors,
        "threads": 2,
        "connections": 64,
        "duration_secs": secs,
        "measured": "wrk's own latency percentiles under full load",
    });
    if let (Some(why), Value::Object(l)) = (failure, &mut line) {
        l.insert("error".into(), Value::String(why));
    }
    report_stats(opts, scenario, stats, requests, line);
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

fn main() -> std::process::ExitCode {
    let opts = parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let micro_batches = if opts.quick { 2_000 } else { 20_000 };
        let flows = if opts.quick { 2_048 } else { 81_920 };
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
        let writes = if opts.quick { 2_048 } else { 20_480 };
        if want("store_write_sqlite") {
            let dir = tempfile::tempdir().expect("a temp dir");
            let store = format!(
                "[store]\nkind = \"sqlite\"\npath = \"{}\"\nkey = \"{}\"\n",
                dir.path().join("sessions.db").display(),
                keyfob::crypto::Sealer::generate_key()
            );
            store_write(&opts, "store_write_sqlite", &store, writes).await;
        }
        let redis_scenarios = [
            "auth_check_cached_redis",
            "invoke_cached_redis",
            "invoke_cached_redis_uncached",
            "store_write_redis",
        ];
        if redis_scenarios.iter().any(|s| want(s)) {
            // A private redis-server on a free port; skipped (with a note) when not installed.
            if keyfob_testkit::RedisServer::installed() {
                let server = keyfob_testkit::RedisServer::start(&[]);
                let store = format!(
                    "[store]\nkind = \"redis\"\nurl = \"{}\"\nkey = \"{}\"\n",
                    server.url(None),
                    keyfob::crypto::Sealer::generate_key()
                );
                let tracked = format!("{store}client_cache = true\n");
                let batches = micro_batches / 10;
                if want("auth_check_cached_redis") {
                    auth_check_cached(&opts, batches, Some(&store)).await;
                }
                if want("invoke_cached_redis") {
                    // Client-side caching: served from memory while Redis tracks the session
                    // (the store waits for the tracking connection when it connects). Its
                    // target is a ratio to the memory store's `invoke_cached` in the same run.
                    if median_of("invoke_cached").is_none() {
                        invoke(&opts, micro_batches, true, None).await;
                    }
                    invoke(
                        &opts,
                        micro_batches,
                        true,
                        Some(("invoke_cached_redis", &tracked)),
                    )
                    .await;
                }
                if want("invoke_cached_redis_uncached") {
                    invoke(
                        &opts,
                        batches,
                        true,
                        Some(("invoke_cached_redis_uncached", &store)),
                    )
                    .await;
                }
                if want("store_write_redis") {
                    store_write(&opts, "store_write_redis", &store, writes).await;
                }
            } else {
                eprintln!("redis scenarios skipped: redis-server is not installed");
            }
        }
        if want("invoke_cached_redis_cluster") || want("store_write_redis_cluster") {
            // Three primaries on this machine (no client-side caching on a cluster).
            if keyfob_testkit::RedisServer::installed() {
                let cluster = keyfob_testkit::RedisCluster::start();
                let store = format!(
                    "[store]\nkind = \"redis\"\nurl = \"{}\"\nkey = \"{}\"\n",
                    cluster.url(),
                    keyfob::crypto::Sealer::generate_key()
                );
                if want("invoke_cached_redis_cluster") {
                    let name = "invoke_cached_redis_cluster";
                    invoke(&opts, micro_batches / 10, true, Some((name, &store))).await;
                }
                if want("store_write_redis_cluster") {
                    store_write(&opts, "store_write_redis_cluster", &store, writes).await;
                }
            } else {
                eprintln!("redis cluster scenarios skipped: redis-server is not installed");
            }
        }
        if want("invoke_cached_postgres") || want("store_write_postgres") {
            // A private PostgreSQL on a free port; skipped (with a note) when not installed.
            if keyfob_testkit::PostgresServer::installed() {
                // Durable as in production (the tests' servers skip fsync).
                let server = keyfob_testkit::PostgresServer::start_with(&["-c", "fsync=on"]);
                let store = format!(
                    "[store]\nkind = \"postgres\"\nurl = \"{}\"\nkey = \"{}\"\n",
                    server.url("postgres"),
                    keyfob::crypto::Sealer::generate_key()
                );
                if want("invoke_cached_postgres") {
                    let name = "invoke_cached_postgres";
                    invoke(&opts, micro_batches / 10, true, Some((name, &store))).await;
                }
                if want("store_write_postgres") {
                    store_write(&opts, "store_write_postgres", &store, writes).await;
                }
            } else {
                eprintln!("postgres scenarios skipped: PostgreSQL is not installed");
            }
        }
        if want("token_flow_http_c64") {
            token_flow_http(&opts, flows, 64).await;
        }
        if want("refresh_c100") {
            refresh_c100(&opts, rounds).await;
        }
        if want("refresh_ahead_1000_calls") {
            refresh_ahead_1000_calls(&opts).await;
        }
        let memory_n = if opts.quick { 2_000 } else { 10_000 };
        if want("memory_per_session") {
            memory_per_session(&opts, memory_n).await;
        }
        if want("memory_per_finished_flow") {
            memory_per_finished_flow(&opts, memory_n).await;
        }
        let wrk_secs = if opts.quick { 2 } else { 10 };
        if want("wrk_health") {
            wrk(&opts, "wrk_health", wrk_secs).await;
        }
        if want("wrk_token_page") {
            wrk(&opts, "wrk_token_page", wrk_secs).await;
        }
        if want("mcp_tool_no_auth") || want("mcp_tool_cached") {
            mcp_tools(&opts, if opts.quick { 500 } else { 5_000 }).await;
        }
        if want("mcp_call_direct") || want("mcp_call_proxy") {
            mcp_proxy::mcp_proxy(&opts, if opts.quick { 200 } else { 2_000 }).await;
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
    if FAILED.load(std::sync::atomic::Ordering::Relaxed) {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}
