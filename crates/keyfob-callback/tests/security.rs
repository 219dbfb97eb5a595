//! The security suite: attacks a running callback server over real HTTP (reqwest, and raw TCP
//! for requests no well-behaved client sends) and checks that each defence holds.
//!
//! Every test names, in a `MUTATION:` comment, the defence whose removal makes it fail; several
//! were verified by removing the defence (see SECURITY.md). Token endpoints are a `StubServer`
//! (fast, records what reached it) except where a real OAuth2 server matters (TLS).
//! Tracing output of every target at TRACE and every panic message of this binary are captured
//! and searched for sentinel secrets.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use keyfob_callback::Tls;
use keyfob_core::store::FlowStatus;
use keyfob_core::{AuthRequest, Config, Engine, Ensured, ExposeSecret, MemoryStore, SessionKey};
use keyfob_testkit::{
    Browser, Idp, IdpClient, IdpOptions, LogBuffer, StubResponse, StubServer, free_port, state_of,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// Name the provider crates so they are linked and registered.
use keyfob_provider_github as _;
use keyfob_provider_notion as _;

/// A display name that is an XSS payload in every HTML context.
const EVIL_NAME: &str = "Evil <script>alert('dn')</script>\"'><img src=x onerror=alert(2)>";
/// Payloads for reflected XSS: element, attribute break-out, and a `javascript:` URL.
const PAYLOADS: &[&str] = &[
    "<script>alert(1)</script>",
    "\"><svg onload=alert(1)>",
    "'><img src=x onerror=alert(1)>",
    "javascript:alert(1)//</title><script>alert(1)</script>",
];
/// The access token every stubbed exchange returns.
const STUB_TOKEN: &str = "at_SENTINEL_stub_access_token_5d1e";

// ---------------------------------------------------------------------------------------------
// Capture: tracing at TRACE for every target, and panics.

struct Capture {
    logs: LogBuffer,
    panics: Arc<Mutex<Vec<String>>>,
}

/// Installs, once per binary, a global TRACE subscriber writing to a buffer and a panic hook
/// recording messages. Global because callsite interest is process-wide: thread-local
/// subscribers miss events when tests run in parallel. Every test's lines land in the buffer.
fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let logs = LogBuffer::default();
        let subscriber = logs
            .subscriber()
            .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
        let panics = Arc::new(Mutex::new(Vec::new()));
        let seen = panics.clone();
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // A failing assertion of this file is reported by the test harness; the hook is
            // for panics anywhere else (handlers, the engine, libraries).
            if !info
                .location()
                .is_some_and(|l| l.file().ends_with("tests/security.rs"))
            {
                seen.lock().unwrap().push(info.to_string());
            }
            default(info);
        }));
        Capture { logs, panics }
    })
}

fn logs() -> String {
    capture().logs.contents()
}

/// No panic anywhere in this binary so far (a handler panic would only drop its connection).
fn assert_no_panic() {
    let panics = capture().panics.lock().unwrap();
    assert!(panics.is_empty(), "panics: {panics:?}");
}

/// Neither the captured logs, nor panic messages, nor `pages` contain any of `secrets`.
fn assert_nothing_leaks(pages: &[String], secrets: &[(&str, &str)]) {
    let logs = logs();
    let panics = capture().panics.lock().unwrap().join("\n");
    for (what, secret) in secrets {
        assert!(secret.len() >= 8, "sentinel {what} too short to search for");
        assert!(!logs.contains(secret), "the {what} reached the logs");
        assert!(
            !panics.contains(secret),
            "the {what} reached a panic message"
        );
        for p in pages {
            assert!(!p.contains(secret), "the {what} is on a page: {p}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Fixture.

struct Srv {
    engine: Engine,
    server: keyfob_callback::Server,
    stub: StubServer,
    http: reqwest::Client,
}

impl Srv {
    fn base(&self) -> String {
        format!("http://{}", self.server.local_addr())
    }
    fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }
    async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.expect("GET")
    }
    /// A same-origin form post, as our own page makes it.
    async fn post_form(&self, provider: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url(&format!("/auth/{provider}/token")))
            .header("origin", self.base())
            .header("sec-fetch-site", "same-origin")
            .form(form)
            .send()
            .await
            .expect("POST")
    }
    /// A prompt whose login link the user's browser (`http`, which keeps cookies) has opened,
    /// so that its requests below carry the flow's cookie. Attackers use other clients.
    async fn prompt(&self, req: &AuthRequest) -> keyfob_core::Prompt {
        let p = self.unopened(req).await;
        let r = self.http.get(&p.url).send().await.expect("GET the link");
        assert_eq!(r.status(), 303, "the login link redirects");
        p
    }
    /// A prompt whose link nobody has opened yet.
    async fn unopened(&self, req: &AuthRequest) -> keyfob_core::Prompt {
        match self.engine.ensure(req).await.expect("ensure") {
            Ensured::Prompt(p) => p,
            Ensured::Ready(_) => panic!("expected a prompt"),
        }
    }
    async fn status_of(&self, key: &SessionKey) -> Option<FlowStatus> {
        self.engine
            .store()
            .pending_for(key)
            .await
            .unwrap()
            .map(|p| p.status)
    }
    async fn session_version(&self, key: &SessionKey) -> Option<u64> {
        self.engine
            .store()
            .get(key)
            .await
            .unwrap()
            .map(|s| s.version)
    }
}

/// A server on 127.0.0.1:0 with: `github` and the config-defined `evilidp` (whose display name
/// is [`EVIL_NAME`]) exchanging codes at a stub token endpoint, and the `notion` token page.
async fn setup(extra: &str) -> Srv {
    capture();
    let stub = StubServer::start(StubResponse::token(STUB_TOKEN))
        .await
        .unwrap();
    let toml = format!(
        r#"
        [providers.evilidp]
        display_name = {name}
        authorize_url = "{u}/authorize"
        token_url = "{u}/token"
        scopes = ["openid"]
        [auth.evilidp]
        client_id = "evil-client"
        client_secret = "evil-secret-SENTINEL-1f3a"
        [auth.github]
        client_id = "gh-client"
        client_secret = "gh-secret-SENTINEL-9c2b"
        authorize_url = "{u}/authorize"
        token_url = "{u}/token"
        use_recommended_scopes = false
        # Keys typed in these tests are checked by nobody: no request leaves 127.0.0.1.
        verify_key = false
        [auth.notion]
        verify_key = false
        {extra}
        "#,
        name = toml_string(EVIL_NAME),
        u = stub.url(),
    );
    let engine = Engine::builder()
        .config(Config::from_toml(&toml).expect("config"))
        .store(Arc::new(MemoryStore::new()))
        .build()
        .expect("engine");
    let server = keyfob_callback::start(engine.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("server");
    // The user's browser: keeps cookies (a login link's), follows no redirect by itself.
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Srv {
        engine,
        server,
        stub,
        http,
    }
}

fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn notion() -> AuthRequest {
    AuthRequest::new("notion").handler("notion-token")
}

/// Sends `request` as is over a new TCP connection and returns the raw response (status line,
/// headers, body), or "" when the server closed the connection without answering.
async fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The server may answer and close before reading everything; that is fine.
    let _ = s.write_all(request).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

fn raw_status(response: &str) -> u16 {
    response
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// The page is free of live markup from any payload (escaped text is fine).
fn assert_inert(page: &str, context: &str) {
    let lower = page.to_ascii_lowercase();
    for needle in [
        "<script>alert",
        "<svg onload",
        "<img src=x",
        "href=\"javascript:",
    ] {
        assert!(
            !lower.contains(needle),
            "{context}: live markup `{needle}` in {page}"
        );
    }
    // The one stylesheet is ours; no other element carries script.
    assert!(
        !lower.contains("<script"),
        "{context}: a script element in {page}"
    );
}

/// The hardening headers. `Referrer-Policy` is `no-referrer`, except `same-origin` on the token
/// form (see `form_response` in the crate).
fn assert_security_headers(h: &reqwest::header::HeaderMap, context: &str) {
    let csp = h
        .get("content-security-policy")
        .unwrap_or_else(|| panic!("{context}: no CSP"))
        .to_str()
        .unwrap();
    for directive in [
        "default-src 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(directive), "{context}: CSP lacks {directive}");
    }
    assert!(!csp.contains("script-src"), "{context}: CSP allows scripts");
    assert_eq!(h["x-frame-options"], "DENY", "{context}");
    assert_eq!(h["x-content-type-options"], "nosniff", "{context}");
    assert_eq!(h["cache-control"], "no-store", "{context}");
    let rp = h["referrer-policy"].to_str().unwrap();
    assert!(
        rp == "no-referrer" || rp == "same-origin",
        "{context}: {rp}"
    );
}

// ---------------------------------------------------------------------------------------------
// Binding and headers.

/// MUTATION: `DEFAULT_BIND` in keyfob-core's config set to `0.0.0.0:8975` fails the first
/// assertion; `start` binding anything but the address it is given fails the second.
#[tokio::test]
async fn binds_loopback_by_default() {
    capture();
    let config = Config::from_toml("").unwrap();
    assert!(
        config.server.bind.ip().is_loopback(),
        "{}",
        config.server.bind
    );
    assert_eq!(config.server.bind.port(), 8975);
    let mut addr = config.server.bind;
    addr.set_port(0);
    let engine = Engine::builder().config(config).build().unwrap();
    let server = keyfob_callback::start(engine.clone(), addr).await.unwrap();
    assert!(server.local_addr().ip().is_loopback());
    assert!(
        engine.callback_base().starts_with("http://127.0.0.1:"),
        "{}",
        engine.callback_base()
    );
    server.shutdown().await;
}

/// MUTATION: dropping any `insert` in `security_headers` fails this test; so does `guard`
/// adding them only to the route's answers (the 421 of `check_host` and the 413 of
/// `refuse_declared_oversize` lose them).
#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let s = setup("").await;
    let p = s.prompt(&notion()).await;
    let state = state_of(&p.url);
    let big = "a".repeat(keyfob_callback::MAX_BODY + 1);
    let mut responses = vec![
        ("health", s.get("/health").await, 200),
        ("404", s.get("/nope").await, 404),
        (
            "unknown provider",
            s.get("/auth/nope/token?state=x").await,
            404,
        ),
        ("no state", s.get("/auth/notion/token").await, 400),
        (
            "duplicate",
            s.get("/auth/notion/token?state=a&state=b").await,
            400,
        ),
        ("callback", s.get("/auth/github/oauth2/callback").await, 400),
        (
            "form",
            s.get(&format!("/auth/notion/token?state={state}")).await,
            200,
        ),
        (
            "405",
            s.http
                .put(s.url("/auth/notion/token"))
                .send()
                .await
                .unwrap(),
            405,
        ),
        (
            "403",
            s.http
                .post(s.url("/auth/notion/token"))
                .header("origin", "https://evil.example")
                .form(&[("state", state.as_str())])
                .send()
                .await
                .unwrap(),
            403,
        ),
        (
            "415",
            s.http
                .post(s.url("/auth/notion/token"))
                .body("state=x")
                .send()
                .await
                .unwrap(),
            415,
        ),
        (
            "413",
            s.http
                .post(s.url("/auth/notion/token"))
                .form(&[("state", state.as_str()), ("token", big.as_str())])
                .send()
                .await
                .unwrap(),
            413,
        ),
        (
            "421",
            s.http
                .get(s.url("/health"))
                .header("host", "rebound.evil.example")
                .send()
                .await
                .unwrap(),
            421,
        ),
    ];
    for (what, r, status) in responses.drain(..) {
        assert_eq!(r.status(), status, "{what}");
        assert_security_headers(r.headers(), what);
        if what == "form" {
            // The form's own POST must carry its Origin (see `form_response`).
            assert_eq!(r.headers()["referrer-policy"], "same-origin");
        } else {
            assert_eq!(r.headers()["referrer-policy"], "no-referrer", "{what}");
        }
    }
    assert_no_panic();
}

// ---------------------------------------------------------------------------------------------
// XSS.

/// MUTATION: making `pages::text` return its input unescaped fails this (the error text of a
/// denial echoes `error_description`); making `pages::attr` identity fails the hidden `state`
/// check below only with a hostile state, which the engine never accepts, so that escape is
/// proven by the display-name test instead.
#[tokio::test]
async fn reflected_input_is_escaped_or_not_echoed() {
    let s = setup("").await;
    let mut pages = Vec::new();
    for payload in PAYLOADS {
        let e = enc(payload);
        // Path segment, state, error, error_description, code, field names and values, headers.
        let gh = s
            .prompt(&AuthRequest::new("github").thread(payload.to_string()))
            .await;
        let gh_state = state_of(&gh.url);
        let tp = s.prompt(&notion().thread(payload.to_string())).await;
        let t_state = state_of(&tp.url);
        let gets = [
            format!("/auth/{e}/token?state={e}"),
            format!("/auth/{e}/oauth2/callback?state={e}&code={e}"),
            format!("/auth/notion/token?state={e}"),
            format!("/auth/github/oauth2/callback?state={e}&error={e}&error_description={e}"),
            format!("/auth/github/oauth2/callback?state={e}&code={e}"),
            format!("/auth/notion/token?state={t_state}&{e}={e}"),
            format!("/{e}"),
        ];
        for path in &gets {
            let r = s
                .http
                .get(s.url(path))
                .header("user-agent", *payload)
                .header("referer", format!("http://127.0.0.1/{e}"))
                .send()
                .await
                .unwrap();
            let page = r.text().await.unwrap();
            assert_inert(&page, path);
            pages.push(page);
        }
        // Token form: a hostile field name and a hostile (control-character) value re-render
        // the form with the problem; the value itself is never shown.
        let value = format!("{payload}\u{7}");
        let r = s
            .post_form(
                "notion",
                &[("state", &t_state), ("token", &value), (payload, payload)],
            )
            .await;
        assert_eq!(r.status(), 400);
        let page = r.text().await.unwrap();
        assert_inert(&page, "token form re-render");
        assert!(!page.contains(payload), "the typed value is not echoed");
        pages.push(page);
        // A provider's denial with a hostile description is shown, escaped.
        let r = s
            .get(&format!(
                "/auth/github/oauth2/callback?state={gh_state}&error=access_denied&error_description={e}"
            ))
            .await;
        assert_eq!(r.status(), 403);
        let page = r.text().await.unwrap();
        assert_inert(&page, "denial");
        assert!(
            page.contains(&html_escape::encode_text(payload).into_owned()),
            "the description is shown escaped: {page}"
        );
        pages.push(page);
    }
    assert_nothing_leaks(&pages, &[("stub token", STUB_TOKEN)]);
    assert_no_panic();
}

/// Stored XSS: a config-defined provider's display name reaches the success page (and the
/// prompt message, which is not HTML).
/// MUTATION: `pages::success` interpolating `display_name` without `text()` fails this.
#[tokio::test]
async fn a_hostile_display_name_from_config_is_escaped() {
    let s = setup("").await;
    let p = s.prompt(&AuthRequest::new("evilidp")).await;
    let state = state_of(&p.url);
    let r = s
        .get(&format!(
            "/auth/evilidp/oauth2/callback?state={state}&code=code-1234567"
        ))
        .await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert_inert(&page, "success page");
    assert!(page.contains("Evil &lt;script&gt;"), "{page}");
    // The hidden-field escape (`pages::attr`) guards the same way on the token form, whose
    // display names are compiled in; the title and heading use `text()`.
    assert_no_panic();
}

// ---------------------------------------------------------------------------------------------
// Redirects.

/// The server never answers with a redirect to a target a request names: the one redirect it
/// makes, from a login link, goes to the URL the engine recorded when the flow started.
/// MUTATION: answering a completed form with `Redirect::to(next)` (the reference's behaviour,
/// which sent the typed secret to any `redirect_uri`) fails this.
#[tokio::test]
async fn never_redirects_to_a_caller_supplied_url() {
    let s = setup("").await;
    let targets = "redirect_uri=https://evil.example/&next=//evil.example&return_to=https:%2F%2Fevil.example&url=https://evil.example&continue=/\\evil.example";
    let gh = s.unopened(&AuthRequest::new("github")).await;
    let gh_state = state_of(&gh.url);
    let start = s
        .get(&format!("/auth/github/start?state={gh_state}&{targets}"))
        .await;
    assert_eq!(start.status(), 303);
    let location = start.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with(&format!("{}/authorize?", s.stub.url())),
        "the link leads to the provider only: {location}"
    );
    let tp = s.prompt(&notion()).await;
    let t_state = state_of(&tp.url);
    let mut responses = vec![
        s.get(&format!("/health?{targets}")).await,
        s.get(&format!("/auth/notion/token?state={t_state}&{targets}"))
            .await,
        s.get(&format!(
            "/auth/github/oauth2/callback?state=forged&code=c1234567&{targets}"
        ))
        .await,
        s.get(&format!(
            "/auth/github/oauth2/callback?state={gh_state}&code=c1234567&{targets}"
        ))
        .await,
        s.get(&format!("/auth/nope/token?{targets}")).await,
        s.get(&format!("//evil.example/%2e%2e?{targets}")).await,
    ];
    // Fields the form does not ask for are refused (the link stays usable), then it completes.
    for extra in [true, false] {
        let mut form = vec![
            ("state", t_state.as_str()),
            ("token", "ntn_redirect_test_1234"),
        ];
        if extra {
            form.extend([
                ("redirect_uri", "https://evil.example/"),
                ("next", "https://evil.example/"),
            ]);
        }
        responses.push(s.post_form("notion", &form).await);
    }
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(
        statuses[3], 200,
        "the real callback completes: {statuses:?}"
    );
    assert_eq!(statuses[6], 400, "unknown fields are refused: {statuses:?}");
    assert_eq!(statuses[7], 200, "the real form completes: {statuses:?}");
    for r in &responses {
        assert!(!r.status().is_redirection(), "{}: {}", r.url(), r.status());
        assert!(r.headers().get("location").is_none(), "{}", r.url());
        assert!(r.headers().get("refresh").is_none(), "{}", r.url());
    }
    for r in responses {
        let page = r.text().await.unwrap();
        assert!(!page.contains("evil.example"), "a target is echoed: {page}");
        assert!(!page.to_ascii_lowercase().contains("http-equiv"), "{page}");
    }
}

// ---------------------------------------------------------------------------------------------
// CSRF on the one state-changing POST.

type Headers<'a> = Vec<(&'a str, String)>;

/// The policy (see `same_origin` in the crate): `Sec-Fetch-Site` must be `same-origin` when
/// present; `Origin` must be ours (`null` only with `Sec-Fetch-Site: same-origin`); without
/// `Origin`, `Referer` must be ours; with neither, the post is a non-browser client's and is
/// accepted. Browsers always send `Origin` on cross-origin POSTs.
/// MUTATION: `same_origin` returning `true` fails every refusal below; dropping its
/// `Sec-Fetch-Site` rule fails the `same-site` case; dropping the `Referer` arm fails the
/// foreign-Referer case; letting `Origin: null` through unconditionally fails that case;
/// `is_form` going back to `starts_with` fails the look-alike content type; removing the
/// `check_host` call from `guard` fails the DNS-rebinding case.
#[tokio::test]
async fn cross_origin_posts_are_refused_and_change_nothing() {
    let s = setup("").await;
    let req = notion();
    let p = s.prompt(&req).await;
    let state = state_of(&p.url);
    let typed = "ntn_csrf_SENTINEL_attacker_key_77";
    let form = format!("state={state}&token={typed}");
    let other_port = format!("http://127.0.0.1:{}", s.addr().port() ^ 1);
    let forms = "application/x-www-form-urlencoded";
    let cases: Vec<(&str, Headers, u16)> = vec![
        (
            "foreign Origin",
            vec![("origin", "https://evil.example".into())],
            403,
        ),
        (
            "same host, other port",
            vec![("origin", other_port.clone())],
            403,
        ),
        (
            "https twin",
            vec![("origin", s.base().replace("http:", "https:"))],
            403,
        ),
        ("Origin null", vec![("origin", "null".into())], 403),
        (
            "cross-site fetch metadata",
            vec![
                ("sec-fetch-site", "cross-site".into()),
                ("origin", s.base()),
            ],
            403,
        ),
        (
            "same-site (another port on 127.0.0.1)",
            vec![("sec-fetch-site", "same-site".into()), ("origin", s.base())],
            403,
        ),
        (
            "foreign Referer, no Origin",
            vec![("referer", "https://evil.example/x".into())],
            403,
        ),
        (
            "other-port Referer, no Origin",
            vec![("referer", format!("{other_port}/auth/notion/token"))],
            403,
        ),
        (
            "DNS rebinding",
            vec![
                ("host", format!("rebind.evil.example:{}", s.addr().port())),
                (
                    "origin",
                    format!("http://rebind.evil.example:{}", s.addr().port()),
                ),
                ("sec-fetch-site", "same-origin".into()),
            ],
            421,
        ),
    ];
    let mut pages = Vec::new();
    for (what, headers, status) in &cases {
        let mut r = s
            .http
            .post(s.url("/auth/notion/token"))
            .header("content-type", forms)
            .body(form.clone());
        for (k, v) in headers {
            r = r.header(*k, v);
        }
        let r = r.send().await.unwrap();
        assert_eq!(r.status().as_u16(), *status, "{what}");
        pages.push(r.text().await.unwrap());
    }
    // Content types a cross-site <form> can send without a preflight, and a look-alike.
    for ct in [
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencodedx",
        "application/json",
    ] {
        let r = s
            .http
            .post(s.url("/auth/notion/token"))
            .header("origin", s.base())
            .header("content-type", ct)
            .body(form.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 415, "{ct}");
    }
    // Missing and garbled states.
    for body in [
        format!("token={typed}"),
        format!("state=&token={typed}"),
        format!("state=%ZZ%E2%28&token={typed}"),
        format!("state={}&token={typed}", "A".repeat(43)),
    ] {
        let r = s
            .http
            .post(s.url("/auth/notion/token"))
            .header("origin", s.base())
            .header("content-type", forms)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{body}");
    }
    assert_eq!(s.status_of(&req.key()).await, Some(FlowStatus::Waiting));
    assert_eq!(s.session_version(&req.key()).await, None, "nothing stored");
    assert_nothing_leaks(&pages, &[("typed key", typed), ("state", &state)]);

    // Accepted: our own page's post (Origin ours), a browser that nulls the Origin but vouches
    // with fetch metadata, and a non-browser client sending neither Origin nor Referer.
    let accepted: Vec<Vec<(&str, String)>> = vec![
        vec![
            ("origin", s.base()),
            ("sec-fetch-site", "same-origin".into()),
        ],
        vec![
            ("origin", "null".into()),
            ("sec-fetch-site", "same-origin".into()),
        ],
        vec![("referer", format!("{}/auth/notion/token?state=x", s.base()))],
        vec![],
    ];
    for (i, headers) in accepted.iter().enumerate() {
        let req = notion().profile(format!("p{i}"));
        let p = s.prompt(&req).await;
        let state = state_of(&p.url);
        let mut r = s
            .http
            .post(s.url("/auth/notion/token"))
            .header("content-type", forms)
            .body(format!("state={state}&token=ntn_ok_{i}_abcdef"));
        for (k, v) in headers {
            r = r.header(*k, v);
        }
        assert_eq!(r.send().await.unwrap().status(), 200, "{headers:?}");
        assert!(s.session_version(&req.key()).await.is_some());
    }
    assert_no_panic();
}

// ---------------------------------------------------------------------------------------------
// State.

/// MUTATION: the provider comparison in keyfob-core's `Engine::flow_for_state` removed fails
/// the cross-provider cases; its expiry/status check removed fails the expired and replayed
/// cases; `complete_token` not checking the handler kind fails the wrong-kind case.
#[tokio::test]
async fn forged_replayed_expired_and_cross_provider_states_change_nothing() {
    let s = setup("").await;
    let gh_req = AuthRequest::new("github");
    let gh = s.prompt(&gh_req).await;
    let gh_state = state_of(&gh.url);
    let ev_req = AuthRequest::new("evilidp");
    let ev = s.prompt(&ev_req).await;
    let ev_state = state_of(&ev.url);
    let tp_req = notion();
    let tp = s.prompt(&tp_req).await;
    let t_state = state_of(&tp.url);
    let forged = "Zm9yZ2VkLXN0YXRlLXRoYXQtbG9va3MtcmVhbC0xMjM0NQ";

    let gets = [
        format!("/auth/github/oauth2/callback?state={forged}&code=code-forged-1"),
        "/auth/github/oauth2/callback?code=code-nostate-1".to_owned(),
        // A state minted for evilidp, used on github's route, and the other way round.
        format!("/auth/github/oauth2/callback?state={ev_state}&code=code-cross-1"),
        format!("/auth/evilidp/oauth2/callback?state={gh_state}&code=code-cross-2"),
        format!("/auth/evilidp/oauth2/callback?state={gh_state}&error=access_denied"),
        // A token flow's state on an OAuth2 route, and an OAuth2 state on token pages.
        format!("/auth/evilidp/oauth2/callback?state={t_state}&code=code-cross-3"),
        format!("/auth/notion/token?state={gh_state}"),
        format!("/auth/github/token?state={gh_state}"),
    ];
    let mut pages = Vec::new();
    for path in &gets {
        let r = s.get(path).await;
        assert!(r.status().is_client_error(), "{path}: {}", r.status());
        pages.push(r.text().await.unwrap());
    }
    for (provider, state) in [("notion", gh_state.as_str()), ("github", t_state.as_str())] {
        let r = s
            .post_form(provider, &[("state", state), ("token", "ntn_cross_123456")])
            .await;
        assert!(
            r.status().is_client_error(),
            "POST {provider}: {}",
            r.status()
        );
        pages.push(r.text().await.unwrap());
    }
    assert!(
        s.stub.requests().is_empty(),
        "nothing reached the token endpoint"
    );
    for key in [gh_req.key(), ev_req.key(), tp_req.key()] {
        assert_eq!(
            s.status_of(&key).await,
            Some(FlowStatus::Waiting),
            "{key:?}"
        );
        assert_eq!(s.session_version(&key).await, None);
    }

    // Expired: the same link, past its expiry.
    let mut pending = s
        .engine
        .store()
        .pending_for(&ev_req.key())
        .await
        .unwrap()
        .unwrap();
    pending.expires_at = keyfob_core::now() - 1;
    s.engine.store().put_pending(&pending).await.unwrap();
    let r = s
        .get(&format!(
            "/auth/evilidp/oauth2/callback?state={ev_state}&code=code-late-1"
        ))
        .await;
    assert_eq!(r.status(), 400);
    assert!(s.stub.requests().is_empty());

    // The real flow completes once; a replay changes nothing.
    let ok = format!("/auth/github/oauth2/callback?state={gh_state}&code=code-real-1");
    assert_eq!(s.get(&ok).await.status(), 200);
    let v = s.session_version(&gh_req.key()).await.expect("stored");
    let replay = s.get(&ok).await;
    assert_eq!(replay.status(), 400);
    assert_eq!(s.session_version(&gh_req.key()).await, Some(v));
    assert_eq!(s.stub.requests().len(), 1, "one exchange");
    assert_nothing_leaks(
        &pages,
        &[
            ("github state", &gh_state),
            ("evilidp state", &ev_state),
            ("token state", &t_state),
        ],
    );
    assert_no_panic();
}

/// Another local user who learns a flow's `state` (from a process's command line, a log, the
/// authorization URL) gets nothing from it: the token form, the token page and the OAuth2
/// callback accept the state only from the browser that opened the login link, and the link
/// itself opens in one browser only. The victim's login goes on untouched.
/// MUTATION: `Engine::check_browser` returning `Ok(())` fails every refusal below (verified);
/// `open_link` binding a second browser fails the "opened in another browser" case.
#[tokio::test]
async fn a_state_learned_elsewhere_completes_nothing() {
    let s = setup("").await;
    // The attacker's own browser: no cookie of the victim's.
    let mallory = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = |state: &str, token: &str| {
        mallory
            .post(s.url("/auth/notion/token"))
            .header("origin", s.base())
            .header("sec-fetch-site", "same-origin")
            .form(&[("state", state), ("token", token)])
            .send()
    };

    // A token flow the victim opened: the attacker posts their own key with its state.
    let tp_req = notion();
    let tp = s.prompt(&tp_req).await;
    let t_state = state_of(&tp.url);
    let r = form(&t_state, "ntn_mallorys_account_key").await.unwrap();
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert!(page.contains("another browser"), "{page}");
    let r = mallory
        .get(s.url(&format!("/auth/notion/token?state={t_state}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "the token page is the victim's");
    let r = mallory.get(&tp.url).send().await.unwrap();
    assert_eq!(r.status(), 400, "the link opens in one browser only");
    assert!(r.text().await.unwrap().contains("another browser"));
    assert_eq!(s.status_of(&tp_req.key()).await, Some(FlowStatus::Waiting));
    assert_eq!(s.session_version(&tp_req.key()).await, None);

    // An OAuth2 flow: the attacker brings their own code with the victim's state.
    let gh_req = AuthRequest::new("github");
    let gh = s.prompt(&gh_req).await;
    let gh_state = state_of(&gh.url);
    let r = mallory
        .get(s.url(&format!(
            "/auth/github/oauth2/callback?state={gh_state}&code=code-of-mallory-1"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(s.stub.requests().is_empty(), "no code was exchanged");
    assert_eq!(s.status_of(&gh_req.key()).await, Some(FlowStatus::Waiting));

    // A link nobody opened yet cannot be completed with its state alone either.
    let ev_req = AuthRequest::new("evilidp");
    let ev = s.unopened(&ev_req).await;
    let ev_state = state_of(&ev.url);
    let r = mallory
        .get(s.url(&format!(
            "/auth/evilidp/oauth2/callback?state={ev_state}&code=code-of-mallory-2"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(s.stub.requests().is_empty());

    // The victim's own browser finishes both logins.
    let r = s
        .post_form(
            "notion",
            &[("state", &t_state), ("token", "ntn_victims_own_key")],
        )
        .await;
    assert_eq!(r.status(), 200);
    let creds = s.engine.wait(&tp, Duration::from_secs(5)).await.unwrap();
    assert_eq!(creds.access_token(), "ntn_victims_own_key");
    let r = s
        .get(&format!(
            "/auth/github/oauth2/callback?state={gh_state}&code=code-of-victim-1"
        ))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(s.stub.requests().len(), 1);
    assert_no_panic();
}

/// A token flow's state sent to the same provider's OAuth2 callback (Notion has both) is refused
/// before the flow is claimed: the link stays usable and its form completes.
/// MUTATION: dropping the handler-kind check in `Engine::complete_oauth2` burns the link and
/// fails this (verified).
#[tokio::test]
async fn a_token_state_on_the_oauth2_route_leaves_the_link_usable() {
    let s = setup("").await;
    let req = notion();
    let p = s.prompt(&req).await;
    let state = state_of(&p.url);
    let r = s
        .get(&format!(
            "/auth/notion/oauth2/callback?state={state}&code=code-wrong-kind-1"
        ))
        .await;
    assert_eq!(r.status(), 400);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("not for an OAuth2 sign-in")
    );
    assert_eq!(s.status_of(&req.key()).await, Some(FlowStatus::Waiting));
    let r = s
        .post_form(
            "notion",
            &[("state", &state), ("token", "ntn_after_wrong_kind")],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(s.stub.requests().is_empty());
    assert_no_panic();
}

/// An attacker who has a code of their own (or a victim's) cannot deliver it into another
/// session's flow: without that flow's state nothing happens, and with a state the exchange
/// carries that flow's own PKCE verifier and redirect URI, so a code minted for another flow
/// is refused by any PKCE-enforcing server (the real one is exercised in `tls_*` below and in
/// callback.rs).
/// MUTATION: keyfob-core looking a flow up by anything but the state's hash (e.g. "the newest
/// flow of this provider") fails the first part; sending the verifier of the wrong flow fails
/// the second.
#[tokio::test]
async fn a_code_cannot_be_injected_into_another_sessions_flow() {
    let s = setup("").await;
    let victim = AuthRequest::new("github").thread("victim");
    let other = AuthRequest::new("github").thread("other");
    let v = s.prompt(&victim).await;
    let o = s.prompt(&other).await;
    let v_state = state_of(&v.url);
    let injected = "code_INJECTED_by_attacker_4242";
    // No state, a forged one, and a duplicated code behind the real state.
    for path in [
        format!("/auth/github/oauth2/callback?code={injected}"),
        format!("/auth/github/oauth2/callback?code={injected}&state=xx{v_state}"),
        format!("/auth/github/oauth2/callback?state={v_state}&code=real&code={injected}"),
        format!("/auth/github/oauth2/callback?state={v_state}&state=other&code={injected}"),
    ] {
        assert_eq!(s.get(&path).await.status(), 400, "{path}");
    }
    assert!(s.stub.requests().is_empty());
    assert_eq!(s.status_of(&victim.key()).await, Some(FlowStatus::Waiting));
    // With the victim's state, the exchange is bound to the victim's flow.
    let verifier = s
        .engine
        .store()
        .pending_for(&victim.key())
        .await
        .unwrap()
        .unwrap()
        .verifier
        .expect("github uses PKCE");
    let r = s
        .get(&format!(
            "/auth/github/oauth2/callback?state={v_state}&code={injected}"
        ))
        .await;
    assert_eq!(r.status(), 200);
    let sent = &s.stub.requests()[0];
    assert_eq!(sent.form_value("code").as_deref(), Some(injected));
    assert_eq!(
        sent.form_value("code_verifier").as_deref(),
        Some(verifier.expose_secret()),
        "the victim flow's own verifier"
    );
    assert_eq!(
        sent.form_value("redirect_uri").as_deref(),
        Some(format!("{}/auth/github/oauth2/callback", s.base()).as_str())
    );
    // The other flow is untouched.
    assert_eq!(s.status_of(&other.key()).await, Some(FlowStatus::Waiting));
    assert_eq!(s.session_version(&other.key()).await, None);
    let _ = o;
    assert_no_panic();
}

// ---------------------------------------------------------------------------------------------
// Malformed and oversized requests; path tricks.

/// MUTATION: removing `DefaultBodyLimit::max(MAX_BODY)` fails the oversized body (axum's own
/// default is 2 MiB); `pairs` keeping the first of duplicate names fails the duplicate cases;
/// `provider_of` replaced by a plain `Path<String>` extractor puts axum's rejection text
/// ("Invalid URL: …") on the invalid-UTF-8 path instead of our page.
#[tokio::test]
async fn malformed_and_oversized_requests_get_4xx_and_the_server_keeps_serving() {
    let s = setup("").await;
    let addr = s.addr();
    let host = format!("Host: {addr}\r\nConnection: close\r\n");
    let p = s.prompt(&notion()).await;
    let state = state_of(&p.url);
    let big_body = format!("state={state}&token={}", "a".repeat(2 * 1024 * 1024));
    let long_url = format!("/auth/notion/token?state={}", "A".repeat(1024 * 1024));
    let big_header = format!("X-Big: {}\r\n", "b".repeat(1024 * 1024));
    let dup_form = format!("state={state}&state=x&token=abcdefgh");
    let bad_form: &[u8] = b"state=\xff\xfe&token=\xc3\x28ab";
    let many_headers: String = (0..500).map(|i| format!("X-H{i}: v\r\n")).collect();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "body over the limit",
            format!(
                "POST /auth/notion/token HTTP/1.1\r\n{host}Origin: http://{addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{big_body}",
                big_body.len()
            )
            .into_bytes(),
        ),
        (
            "declared length over the limit",
            format!("POST /auth/notion/token HTTP/1.1\r\n{host}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 99999999999\r\n\r\nstate=x").into_bytes(),
        ),
        ("URL of 1 MiB", format!("GET {long_url} HTTP/1.1\r\n{host}\r\n").into_bytes()),
        ("header of 1 MiB", format!("GET /health HTTP/1.1\r\n{host}{big_header}\r\n").into_bytes()),
        ("500 headers", format!("GET /health HTTP/1.1\r\n{host}{many_headers}\r\n").into_bytes()),
        ("bad percent-encoding in the query", format!("GET /auth/notion/token?state=%ZZ%&x=%E2%28%A1 HTTP/1.1\r\n{host}\r\n").into_bytes()),
        ("bad percent-encoding in the path", format!("GET /auth/%ZZ/token HTTP/1.1\r\n{host}\r\n").into_bytes()),
        ("invalid UTF-8 in the path", format!("GET /auth/%C3%28%FF/token HTTP/1.1\r\n{host}\r\n").into_bytes()),
        ("invalid UTF-8 in the callback path", format!("GET /auth/%FF%FE/oauth2/callback?state=x HTTP/1.1\r\n{host}\r\n").into_bytes()),
        ("raw invalid UTF-8 bytes", [b"GET /auth/\xff\xfe/token?state=\xc3\x28 HTTP/1.1\r\n".as_slice(), host.as_bytes(), b"\r\n"].concat()),
        ("invalid UTF-8 in the form", [format!("POST /auth/notion/token HTTP/1.1\r\n{host}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n", bad_form.len()).as_bytes(), bad_form].concat()),
        ("duplicate state in the query", format!("GET /auth/notion/token?state={state}&state=x HTTP/1.1\r\n{host}\r\n").into_bytes()),
        ("duplicate state in the form", format!("POST /auth/notion/token HTTP/1.1\r\n{host}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{dup_form}", dup_form.len()).into_bytes()),
        ("JSON body", format!("POST /auth/notion/token HTTP/1.1\r\n{host}Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}").into_bytes()),
        ("no content type", format!("POST /auth/notion/token HTTP/1.1\r\n{host}Content-Length: 7\r\n\r\nstate=x").into_bytes()),
        ("garbage request line", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n".to_vec()),
        ("bad method", format!("FOO /health HTTP/1.1\r\n{host}\r\n").into_bytes()),
        ("absolute-form target", format!("GET http://evil.example/auth/notion/token?state=x HTTP/1.1\r\n{host}\r\n").into_bytes()),
        ("bad Host", b"GET /health HTTP/1.1\r\nHost: <script>\r\nConnection: close\r\n\r\n".to_vec()),
        ("chunked junk", format!("POST /auth/notion/token HTTP/1.1\r\n{host}Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").into_bytes()),
    ];
    for (what, request) in &cases {
        let t0 = std::time::Instant::now();
        let response = raw(addr, request).await;
        eprintln!(
            "DEBUG case {what} {:?} {}",
            t0.elapsed(),
            response.lines().next().unwrap_or("")
        );
        let status = raw_status(&response);
        // hyper answers some itself (431, 400) or closes; never 2xx/5xx, never a panic.
        assert!(
            response.is_empty() || (400..500).contains(&status),
            "{what}: {}",
            response.lines().next().unwrap_or("")
        );
        assert!(!response.contains("Invalid URL"), "{what}: framework text");
        assert!(!response.contains(&state), "{what}: the state is echoed");
        assert_eq!(
            s.get("/health").await.status(),
            200,
            "still serving after {what}"
        );
    }
    // A body declared far over the limit is answered at once, not waited for.
    // MUTATION: removing the `refuse_declared_oversize` call from `guard` leaves it unanswered.
    let r = raw(addr, &cases[1].1).await;
    assert_eq!(raw_status(&r), 413, "{r}");
    // The link survived all of it.
    assert_eq!(
        s.status_of(&notion().key()).await,
        Some(FlowStatus::Waiting)
    );
    assert_eq!(
        s.post_form(
            "notion",
            &[("state", &state), ("token", "ntn_after_abuse_1")]
        )
        .await
        .status(),
        200
    );
    assert_no_panic();
}

/// Path tricks on `/auth/<provider>/…` reach no provider's handler: every one is a 404.
/// MUTATION: `unknown_provider` dropped from `token_form` fails this (the engine answers 400
/// for an unknown provider's state); normalising `..` before routing (tower-http's
/// `NormalizePath`) fails the raw `/auth/../health` case.
/// Reads until the server closes the connection; panics if it has not within 10 s.
async fn until_closed(sock: &mut tokio::net::TcpStream) -> String {
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), sock.read_to_end(&mut out))
        .await
        .expect("the server closes the connection")
        .ok();
    String::from_utf8_lossy(&out).into_owned()
}

/// Slow-drip and idle clients (slowloris) each hold a connection and a task until the read
/// timeout (`[server] read_timeout_secs`, 1 s here) closes it; the link they held survives.
/// MUTATION: dropping `header_read_timeout` (or the timer) in `accept_loop` leaves the stalled
/// and the idle connections open (`until_closed` panics); dropping the `timeout` around the
/// body in `token_submit` leaves the dripping form unanswered.
#[tokio::test]
async fn stalled_slow_and_idle_connections_are_closed_and_change_nothing() {
    let s = setup("[server]\nread_timeout_secs = 1").await;
    let p = s.prompt(&notion()).await;
    let state = state_of(&p.url);
    let addr = s.addr();
    let connect = || tokio::net::TcpStream::connect(addr);
    // Headers begun and never finished.
    let mut stalled = connect().await.unwrap();
    let head = format!("GET /auth/notion/token?state={state} HTTP/1.1\r\nHost: {addr}\r\n");
    stalled.write_all(head.as_bytes()).await.unwrap();
    // One answered request, then silence on the kept-alive connection.
    let mut idle = connect().await.unwrap();
    idle.write_all(format!("GET /health HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    // A form that declares 100 bytes and sends 20 of them.
    let mut dripping = connect().await.unwrap();
    let form = format!(
        "POST /auth/notion/token HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nstate={}",
        &state[..14]
    );
    dripping.write_all(form.as_bytes()).await.unwrap();
    let (stalled, idle, dripping) = tokio::join!(
        until_closed(&mut stalled),
        until_closed(&mut idle),
        until_closed(&mut dripping)
    );
    assert_eq!(
        raw_status(&stalled),
        0,
        "no answer to half a request: {stalled}"
    );
    assert_eq!(raw_status(&idle), 200, "{idle}");
    assert_eq!(idle.matches("HTTP/1.1").count(), 1, "{idle}");
    assert_eq!(raw_status(&dripping), 408, "{dripping}");
    assert!(dripping.contains("too slowly"), "{dripping}");
    // The link survived all three, and works.
    assert_eq!(
        s.status_of(&notion().key()).await,
        Some(FlowStatus::Waiting)
    );
    let r = s
        .post_form(
            "notion",
            &[("state", &state), ("token", "ntn_after_slowloris")],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_no_panic();
}

#[tokio::test]
async fn path_tricks_on_the_provider_segment_reach_nothing() {
    let s = setup("").await;
    let p = s.prompt(&notion()).await;
    let state = state_of(&p.url);
    let long = "a".repeat(10_000);
    for path in [
        "/auth/../health".to_owned(),
        format!("/auth/%2e%2e/token?state={state}"),
        format!("/auth/%2E%2E%2Fnotion/token?state={state}"),
        format!("/auth/notion%2Ftoken/token?state={state}"),
        format!("/auth/notion%2F..%2Fnotion/token?state={state}"),
        format!("/auth/%EF%BD%8Eotion/token?state={state}"),
        format!("/auth/NOTION/token?state={state}"),
        format!("/auth/notion%00/token?state={state}"),
        format!("/auth/notion%20/token?state={state}"),
        format!("/auth/{long}/token?state={state}"),
        format!("/auth/{long}/oauth2/callback?state={state}"),
        format!("/auth//token?state={state}"),
        format!("//auth/notion/token?state={state}"),
        format!("/auth/notion/token/?state={state}"),
        format!("/auth/notion/token/..?state={state}"),
        format!("/auth/notion/../notion/token?state={state}"),
        format!("/auth/notion/token%3Fstate={state}"),
    ] {
        let r = s.get(&path).await;
        let status = r.status();
        let page = r.text().await.unwrap();
        // reqwest normalises `..` segments itself; the raw variants are sent below.
        if status == 200 {
            assert!(
                path.starts_with("/auth/notion/../notion") || path == "/auth/../health",
                "{} reached a handler",
                &path[..path.len().min(80)]
            );
            continue;
        }
        assert_eq!(status, 404, "{}", &path[..path.len().min(80)]);
        assert!(!page.contains(&long), "the path is echoed");
        assert!(!page.contains(&state), "the state is echoed");
    }
    for path in ["/auth/../health", "/auth/notion/../notion/token"] {
        let r = raw(
            s.addr(),
            format!(
                "GET {path}?state={state} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                s.addr()
            )
            .as_bytes(),
        )
        .await;
        assert_eq!(
            raw_status(&r),
            404,
            "{path} is not normalised by the server"
        );
    }
    assert_eq!(
        s.status_of(&notion().key()).await,
        Some(FlowStatus::Waiting)
    );
    assert_no_panic();
}

// ---------------------------------------------------------------------------------------------
// Secrets.

/// Every secret of real flows — typed key, code, state, PKCE verifier, access token, client
/// secret — is searched for in TRACE output of every target, panic messages, and every page.
/// MUTATION: `tracing::trace!(query = ?query, "callback")` in `oauth2_callback` fails this
/// (verified); so would `?form` in `token_submit`, or `error_page` showing the source chain of a
/// transport error that quotes the request.
#[tokio::test]
async fn no_secret_reaches_logs_pages_or_panics() {
    let s = setup("").await;
    let mut pages = Vec::new();
    // OAuth2: a success, then a failing exchange (the stub rejects the code).
    let req = AuthRequest::new("github");
    let p = s.prompt(&req).await;
    let state = state_of(&p.url);
    let verifier = s
        .engine
        .store()
        .pending_for(&req.key())
        .await
        .unwrap()
        .unwrap()
        .verifier
        .unwrap();
    let code = "code_SENTINEL_8f7e6d5c4b3a";
    let r = s
        .get(&format!(
            "/auth/github/oauth2/callback?state={state}&code={code}"
        ))
        .await;
    assert_eq!(r.status(), 200);
    pages.push(r.text().await.unwrap());
    s.stub
        .set_response(StubResponse::oauth_error(400, "invalid_grant"));
    let req2 = AuthRequest::new("github").thread("t2");
    let p2 = s.prompt(&req2).await;
    let state2 = state_of(&p2.url);
    let code2 = "code_SENTINEL_rejected_0a1b2c";
    let r = s
        .get(&format!(
            "/auth/github/oauth2/callback?state={state2}&code={code2}"
        ))
        .await;
    assert!(r.status().is_client_error() || r.status().is_server_error());
    pages.push(r.text().await.unwrap());
    // Token page: a rejected entry, a refused cross-site post, then the real one.
    let tp = s.prompt(&notion()).await;
    let tstate = state_of(&tp.url);
    let typed = "ntn_SENTINEL_typed_key_31337";
    for r in [
        s.post_form(
            "notion",
            &[("state", &tstate), ("token", &format!("{typed}\u{1}"))],
        )
        .await,
        s.http
            .post(s.url("/auth/notion/token"))
            .header("origin", "https://evil.example")
            .form(&[("state", tstate.as_str()), ("token", typed)])
            .send()
            .await
            .unwrap(),
        s.post_form("notion", &[("state", &tstate), ("token", typed)])
            .await,
    ] {
        pages.push(r.text().await.unwrap());
    }
    s.engine.wait(&tp, Duration::from_secs(5)).await.unwrap();
    let logs = logs();
    assert!(logs.contains("session stored"), "the capture works");
    assert!(logs.contains("TRACE"), "TRACE level is captured");
    // The re-rendered form carries its own state in the hidden field, by design; states are
    // searched for in the logs and panics only.
    assert_nothing_leaks(
        &[],
        &[
            ("state", &state),
            ("second state", &state2),
            ("token-page state", &tstate),
        ],
    );
    assert_nothing_leaks(
        &pages,
        &[
            ("code", code),
            ("rejected code", code2),
            ("verifier", verifier.expose_secret()),
            ("access token", STUB_TOKEN),
            ("typed key", typed),
            ("client secret", "gh-secret-SENTINEL-9c2b"),
        ],
    );
    assert_no_panic();
}

// ---------------------------------------------------------------------------------------------
// TLS.

fn trusting(cert_pem: &[u8]) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem).unwrap())
        .https_only(true)
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The token page and a real OAuth2 flow (oidc-provider redirecting to an https callback)
/// over TLS with the generated certificate; plain HTTP to the TLS port gets no page.
/// MUTATION: serving the plain listener in `start_tls` fails the https requests; dropping the
/// `https://` check fails `tls_refuses_an_http_callback_base`.
#[tokio::test]
async fn tls_serves_the_token_page_and_the_oauth2_callback() {
    capture();
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("https://127.0.0.1:{port}");
    let idp = Idp::start(IdpOptions {
        clients: vec![IdpClient::basic(
            "kf-tls",
            "tls-secret",
            &[&format!("{base}/auth/testidp/oauth2/callback")],
        )],
        access_token_ttl_secs: 3600,
        extra_scopes: vec![],
        mcp_resource: None,
    })
    .await
    .expect("the test IdP starts (run `npm ci --prefix crates/keyfob-testkit/idp`)");
    let toml = format!(
        "[server]\npublic_base_url = \"{base}\"\n[providers.testidp]\nissuer = \"{}\"\nscopes = [\"openid\"]\n[auth.testidp]\nclient_id = \"kf-tls\"\nclient_secret = \"tls-secret\"\n",
        idp.issuer()
    );
    let engine = Engine::builder()
        .config(Config::from_toml(&toml).unwrap())
        .store(Arc::new(MemoryStore::new()))
        .build()
        .unwrap();
    let tls = Tls::self_signed_in(home.path());
    let server = keyfob_callback::start_tls(
        engine.clone(),
        format!("127.0.0.1:{port}").parse().unwrap(),
        &tls,
    )
    .await
    .expect("TLS server");
    let cert = std::fs::read(home.path().join("tls/cert.pem")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(home.path().join("tls/key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the key is private");
    }
    let https = trusting(&cert);

    // The token page, over https, with an https Origin.
    let p = match engine.ensure(&notion()).await.unwrap() {
        Ensured::Prompt(p) => p,
        Ensured::Ready(_) => unreachable!(),
    };
    assert!(p.url.starts_with(&base), "{}", p.url);
    let next = Browser::with_http(https.clone())
        .open_link(&p.url)
        .await
        .expect("the https login link opens");
    let page = https.get(&next).send().await.expect("https GET");
    assert_eq!(page.status(), 200);
    assert_security_headers(page.headers(), "https form");
    let r = https
        .post(format!("{base}/auth/notion/token"))
        .header("origin", &base)
        .form(&[
            ("state", state_of(&p.url).as_str()),
            ("token", "ntn_over_tls_1234"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    engine.wait(&p, Duration::from_secs(5)).await.unwrap();

    // OAuth2 through a real server that enforces the https redirect URI and PKCE.
    let req = AuthRequest::new("testidp");
    let p = match engine.ensure(&req).await.unwrap() {
        Ensured::Prompt(p) => p,
        Ensured::Ready(_) => unreachable!(),
    };
    // The link over https (this client trusts the certificate); the IdP over plain http.
    let authorize = Browser::with_http(https.clone())
        .open_link(&p.url)
        .await
        .expect("the https login link opens");
    let callback = Browser::new()
        .approve(&authorize)
        .await
        .expect("IdP approves");
    assert!(
        callback.starts_with(&format!("{base}/auth/testidp/oauth2/callback?")),
        "{callback}"
    );
    let r = https.get(&callback).send().await.expect("https callback");
    assert_eq!(r.status(), 200);
    let creds = engine.wait(&p, Duration::from_secs(5)).await.unwrap();
    assert!(creds.get("TESTIDP_TOKEN").is_some());

    // Plain HTTP to the TLS port: no page, and the server keeps serving.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/health"))
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
    // A client that does not trust the certificate is refused by its own TLS stack.
    assert!(
        reqwest::Client::new()
            .get(format!("{base}/health"))
            .send()
            .await
            .is_err()
    );
    assert_eq!(
        https
            .get(format!("{base}/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    server.shutdown().await;
    assert_no_panic();
}

fn write_cert(dir: &std::path::Path, days_left: i64) -> Vec<u8> {
    std::fs::create_dir_all(dir).unwrap();
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(300);
    params.not_after = now + time::Duration::days(days_left);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    cert.pem().into_bytes()
}

async fn tls_engine(port: u16) -> Engine {
    let toml = format!("[server]\npublic_base_url = \"https://127.0.0.1:{port}\"\n");
    Engine::builder()
        .config(Config::from_toml(&toml).unwrap())
        .build()
        .unwrap()
}

/// MUTATION: `ensure_self_signed` keeping any parseable certificate (no expiry check) fails the
/// first part; renewing unconditionally fails the second.
#[tokio::test]
async fn tls_renews_a_near_expiry_certificate_and_keeps_a_fresh_one() {
    capture();
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("tls");
    let old = write_cert(&dir, 10);
    let port = free_port();
    let server = keyfob_callback::start_tls(
        tls_engine(port).await,
        format!("127.0.0.1:{port}").parse().unwrap(),
        &Tls::SelfSigned { dir: dir.clone() },
    )
    .await
    .unwrap();
    let new = std::fs::read(dir.join("cert.pem")).unwrap();
    assert_ne!(new, old, "renewed");
    let left = keyfob_callback::tls::not_after(&dir.join("cert.pem")).unwrap() - keyfob_core::now();
    assert!(left > 300 * 86400, "a year's validity: {left} s");
    let url = format!("https://127.0.0.1:{port}/health");
    assert_eq!(trusting(&new).get(&url).send().await.unwrap().status(), 200);
    assert!(
        trusting(&old).get(&url).send().await.is_err(),
        "the old certificate is gone"
    );
    server.shutdown().await;

    // 60 days left: kept as is.
    let kept = write_cert(&dir, 60);
    let s = keyfob_callback::tls::ensure_self_signed(&dir).unwrap();
    assert!(!s.renewed);
    assert_eq!(std::fs::read(dir.join("cert.pem")).unwrap(), kept);
}

/// A given certificate and key are served; missing or mismatched files and an http callback
/// base are clear config errors, not panics.
#[tokio::test]
async fn tls_with_given_files_and_clear_errors() {
    capture();
    let dir = tempfile::tempdir().unwrap();
    let given = write_cert(dir.path(), 200);
    let port = free_port();
    let files = Tls::Files {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
    };
    let server = keyfob_callback::start_tls(
        tls_engine(port).await,
        format!("127.0.0.1:{port}").parse().unwrap(),
        &files,
    )
    .await
    .unwrap();
    let url = format!("https://127.0.0.1:{port}/health");
    assert_eq!(
        trusting(&given).get(&url).send().await.unwrap().status(),
        200
    );
    server.shutdown().await;

    let missing = Tls::Files {
        cert: dir.path().join("nope.pem"),
        key: dir.path().join("key.pem"),
    };
    let other = tempfile::tempdir().unwrap();
    write_cert(other.path(), 200);
    let mismatched = Tls::Files {
        cert: dir.path().join("cert.pem"),
        key: other.path().join("key.pem"),
    };
    for (what, tls) in [("missing", &missing), ("mismatched", &mismatched)] {
        let e =
            keyfob_callback::start_tls(tls_engine(0).await, "127.0.0.1:0".parse().unwrap(), tls)
                .await
                .unwrap_err();
        assert_eq!(e.kind(), keyfob_core::ErrorKind::Config, "{what}: {e}");
        let key_pem = std::fs::read_to_string(other.path().join("key.pem")).unwrap();
        let body: String = key_pem.lines().nth(1).unwrap().to_owned();
        assert!(
            !format!("{e:?} {e}").contains(&body),
            "{what}: key material in the error"
        );
    }
    assert_no_panic();
}

/// MUTATION: dropping the `https://` check in `start_tls` fails this (prompts would point at
/// http:// on a port that speaks only TLS).
#[tokio::test]
async fn tls_refuses_an_http_callback_base() {
    capture();
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::builder().build().unwrap();
    let e = keyfob_callback::start_tls(
        engine,
        "127.0.0.1:0".parse().unwrap(),
        &Tls::self_signed_in(dir.path()),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), keyfob_core::ErrorKind::Config);
    assert!(e.to_string().contains("public_base_url"), "{e}");
}
