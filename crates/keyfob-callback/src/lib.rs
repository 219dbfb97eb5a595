//! keyfob's callback server: where the browser comes back to after an OAuth2 consent screen, and
//! where a user types a key into a local page.
//!
//! Routes, under the configured path prefix:
//! - `GET /health`, and `GET /health?challenge=<nonce>`, which a server started with an
//!   [`Identity`] answers with its proof (see [`identity`]) so that `keyfob login` uses only
//!   this user's own `keyfob serve`
//! - `GET /auth/<provider>/start?state=…`: the login link itself. The first browser to open it
//!   gets the flow's cookie and a redirect to the provider's authorization URL or the token
//!   form, both kept by the engine (never taken from the request); the routes below accept a
//!   `state` only from that browser.
//! - `GET /auth/<provider>/oauth2/callback?code=…&state=…` (or `error=…`)
//! - `GET /auth/<provider>/token?state=…` shows the entry form; `POST /auth/<provider>/token`
//!   stores what was typed. The secret travels only in the POST body, and there is no
//!   caller-supplied redirect target.
//!
//! Every page escapes what it echoes and carries restrictive headers (CSP, no framing, no
//! referrer, no caching). Query strings, paths and bodies are parsed here rather than by
//! extractors, so that no framework rejection message ever echoes a request back; a parameter
//! given twice is refused (RFC 6749 §3.1). Unless a public base URL is configured, a request
//! whose `Host` is a DNS name other than `localhost` is refused, which defeats DNS rebinding. The
//! token form refuses cross-origin posts (see [`same_origin`]). The server binds `127.0.0.1`
//! unless configured otherwise, can serve TLS ([`start_tls`]), and never logs a `state`, code or
//! token. It speaks HTTP/1.1 only, and closes a connection whose client takes longer than
//! `[server] read_timeout_secs` to send a request's headers or a form's body, or sits idle that
//! long between requests. `SECURITY.md` at the repository root lists the defences and the
//! tests that prove them.

pub mod gate;
pub mod identity;
mod pages;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use keyfob_core::engine::LinkCookies;
use keyfob_core::{CallbackParams, Engine, Error, ErrorKind, ExposeSecret, SecretString};

pub use crate::gate::Gate;
pub use crate::identity::Identity;
pub use crate::tls::Tls;

/// The largest request body accepted (the token form).
pub const MAX_BODY: usize = 16 * 1024;

/// What a server adds to the plain callback server.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Answers `/health` challenges with this proof (`keyfob serve`).
    pub identity: Option<Identity>,
    /// Checks who opens each login link (see [`gate`]).
    pub gate: Option<Arc<dyn Gate>>,
}

/// The router, with the engine's path prefix applied.
pub fn router(engine: Engine) -> Router {
    router_with(engine, &Options::default())
}

/// [`router`], with `options`.
pub fn router_with(engine: Engine, options: &Options) -> Router {
    let prefix = engine.config().server.path_prefix.clone();
    let identity = Arc::new(options.identity.clone());
    let gate = options.gate.clone();
    let mut routes = Router::new()
        .route(
            "/health",
            get(move |q: RawQuery| health(identity.clone(), q)),
        )
        .route(
            "/auth/{provider}/start",
            get(move |engine, path, headers, query| start_link(engine, gate, path, headers, query)),
        )
        .route("/auth/{provider}/oauth2/callback", get(oauth2_callback))
        .route("/auth/{provider}/token", get(token_form).post(token_submit))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(engine.clone());
    if let Some(gate) = &options.gate {
        routes = routes.merge(gate.routes().layer(DefaultBodyLimit::max(MAX_BODY)));
    }
    let app = if prefix.is_empty() {
        routes
    } else {
        Router::new().nest(&prefix, routes).fallback(not_found)
    };
    // Outermost, so that every answer (a refusal, a 404 outside the prefix) gets the headers.
    app.layer(axum::middleware::from_fn_with_state(engine, guard))
}

/// One layer for every request: [`check_host`], then [`refuse_declared_oversize`], then the
/// route; every answer, refusals included, leaves with [`security_headers`]. (One layer rather
/// than one per concern: each tower layer costs a boxed service clone per request.)
async fn guard(State(engine): State<Engine>, req: Request, next: Next) -> Response {
    let mut resp = match check_host(&engine, &req).or_else(|| refuse_declared_oversize(&req)) {
        Some(refusal) => refusal,
        None => next.run(req).await,
    };
    security_headers(resp.headers_mut());
    resp
}

/// Refuses requests whose `Host` is a DNS name other than `localhost` (unless a public base URL
/// is configured, where a proxy decides what reaches us). A web page that rebinds its own name
/// to 127.0.0.1 reaches this server as "same origin" under that name; its requests still say
/// that name in `Host`. IP literals and `localhost` cannot be rebound.
fn check_host(engine: &Engine, req: &Request) -> Option<Response> {
    if engine.config().server.public_base_url.is_some() || host_is_local(req.headers()) {
        return None;
    }
    let page = pages::error(
        "Refused",
        "This server answers only to 127.0.0.1, [::1] and localhost.",
    );
    Some((StatusCode::MISDIRECTED_REQUEST, Html(page)).into_response())
}

/// Answers 413 at once to a body declared larger than [`MAX_BODY`], instead of waiting for
/// bytes that may never come (the body limit alone counts only what arrives).
fn refuse_declared_oversize(req: &Request) -> Option<Response> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    declared.filter(|n| *n > MAX_BODY as u64).map(|_| {
        refused(
            StatusCode::PAYLOAD_TOO_LARGE,
            "The request body is larger than 16 KiB.",
        )
    })
}

/// Whether `Host` names this machine: an IP literal or `localhost`, with an optional port.
/// The common spellings are recognised directly; anything else (numeric IPv4 forms, IDNA
/// names, odd ports) is decided by the WHATWG URL parser, as a browser would read it.
fn host_is_local(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        // HTTP/1.0 without Host: no browser sends that.
        return true;
    };
    let name = match host.rsplit_once(':') {
        Some((name, port)) if !port.is_empty() && port.parse::<u16>().is_ok() => name,
        _ => host,
    };
    let literal = name.eq_ignore_ascii_case("localhost")
        || name.parse::<std::net::Ipv4Addr>().is_ok()
        || name
            .strip_prefix('[')
            .and_then(|n| n.strip_suffix(']'))
            .is_some_and(|n| n.parse::<std::net::Ipv6Addr>().is_ok());
    if literal {
        return true;
    }
    let Ok(url) = url::Url::parse(&format!("http://{host}/")) else {
        return false;
    };
    match url.host() {
        Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) => true,
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

fn security_headers(h: &mut HeaderMap) {
    // A page may loosen this one (the token form, whose own post must carry its Origin).
    if !h.contains_key(header::REFERRER_POLICY) {
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// `{"status":"ok"}`; with `?challenge=<nonce>` (32 hex digits) and an identity, also its
/// `"proof"`. The challenge is checked before it is used, and never echoed.
async fn health(identity: std::sync::Arc<Option<Identity>>, RawQuery(query): RawQuery) -> Response {
    let challenge = query
        .as_deref()
        .and_then(|q| pairs(q.as_bytes()).ok())
        .and_then(|mut q| take(&mut q, "challenge"))
        .filter(|c| c.len() == 32 && c.bytes().all(|b| b.is_ascii_hexdigit()));
    let body = match (identity.as_ref(), challenge) {
        (Some(id), Some(c)) => format!("{{\"status\":\"ok\",\"proof\":\"{}\"}}", id.answer(&c)),
        _ => "{\"status\":\"ok\"}".to_owned(),
    };
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn not_found() -> Response {
    not_found_page()
}

fn not_found_page() -> Response {
    (
        StatusCode::NOT_FOUND,
        Html(pages::error("Not found", "There is nothing here.")),
    )
        .into_response()
}

fn status_of(e: &Error) -> StatusCode {
    match e.kind() {
        ErrorKind::InvalidInput | ErrorKind::Expired => StatusCode::BAD_REQUEST,
        ErrorKind::Denied => StatusCode::FORBIDDEN,
        ErrorKind::UnknownProvider => StatusCode::NOT_FOUND,
        ErrorKind::Config | ErrorKind::Protocol | ErrorKind::Transport => StatusCode::BAD_GATEWAY,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn error_page(e: &Error) -> Response {
    // What the user can act on is shown (escaped; engine messages carry no secrets by contract).
    // Failures behind the scenes (a provider's token endpoint, config, the store) get a generic
    // page: their detail, hosts and paths go to the log of whoever runs keyfob.
    let (title, text) = match e.kind() {
        ErrorKind::Denied => ("Access was not granted", e.to_string()),
        ErrorKind::Expired | ErrorKind::InvalidInput => {
            ("This login link cannot be used", e.to_string())
        }
        ErrorKind::UnknownProvider => (
            "Unknown provider",
            "No such provider is configured here.".to_owned(),
        ),
        _ => {
            tracing::warn!(kind = e.kind().as_str(), error = %e, "login failed");
            (
                "Login failed",
                "keyfob could not complete the login. The terminal or log of the program that asked you to log in says why."
                    .to_owned(),
            )
        }
    };
    (status_of(e), Html(pages::error(title, &text))).into_response()
}

/// Parses a query or form body into pairs. A name given twice is refused (RFC 6749 §3.1: "request
/// and response parameters MUST NOT be included more than once"), so that no one can smuggle a
/// second `code` or `state` past whoever reads the first. Bad percent-encoding and invalid UTF-8
/// decode to U+FFFD, which no state or field accepts as valid.
fn pairs(raw: &[u8]) -> Result<Vec<(String, String)>, Box<Response>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (k, v) in url::form_urlencoded::parse(raw) {
        if out.iter().any(|(seen, _)| *seen == k) {
            return Err(Box::new(refused(
                StatusCode::BAD_REQUEST,
                "A parameter appears more than once in this request.",
            )));
        }
        out.push((k.into_owned(), v.into_owned()));
    }
    Ok(out)
}

fn refused(status: StatusCode, message: &str) -> Response {
    (status, Html(pages::error("Refused", message))).into_response()
}

/// The provider path segment, or the 404 page (never axum's rejection text, which can quote
/// the path).
fn provider_of(path: Result<Path<String>, PathRejection>) -> Result<String, Box<Response>> {
    match path {
        Ok(Path(p)) => Ok(p),
        Err(_) => Err(Box::new(not_found_page())),
    }
}

fn take(pairs: &mut Vec<(String, String)>, name: &str) -> Option<String> {
    pairs
        .iter()
        .position(|(k, _)| k == name)
        .map(|i| pairs.swap_remove(i).1)
}

/// The 404 page for a provider this server does not serve, if it does not.
fn unknown_provider(engine: &Engine, provider: &str) -> Option<Response> {
    engine.catalog().provider(provider).err().map(|_| {
        let page = pages::error("Unknown provider", "No such provider is configured here.");
        (StatusCode::NOT_FOUND, Html(page)).into_response()
    })
}

/// keyfob's cookies among the request's (see `keyfob_core::engine::LinkCookies`).
fn cookies(headers: &HeaderMap) -> LinkCookies {
    LinkCookies::from_headers(
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    )
}

/// The provider of a known route and the request's `state`, or the page that refuses it (an
/// unknown provider, a parameter given twice).
fn provider_and_state(
    engine: &Engine,
    path: Result<Path<String>, PathRejection>,
    query: Option<String>,
) -> Result<(String, Option<String>), Box<Response>> {
    let provider = provider_of(path)?;
    if let Some(r) = unknown_provider(engine, &provider) {
        return Err(Box::new(r));
    }
    let mut q = pairs(query.unwrap_or_default().as_bytes())?;
    Ok((provider, take(&mut q, "state")))
}

/// The login link: binds the flow to this browser (a cookie) and sends it on with a 303 to the
/// URL the engine recorded when the flow started. No request parameter chooses the target. A
/// gate sees the link first and may answer instead.
async fn start_link(
    State(engine): State<Engine>,
    gate: Option<Arc<dyn Gate>>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let provider = match provider_of(path) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    if let Some(r) = unknown_provider(&engine, &provider) {
        return r;
    }
    let mut query = match pairs(query.unwrap_or_default().as_bytes()) {
        Ok(q) => q,
        Err(r) => return *r,
    };
    let state = take(&mut query, "state");
    let gated = gate.is_some();
    if let Some(gate) = gate {
        let key = match engine.link_key(&provider, state.as_deref()).await {
            Ok(k) => k,
            Err(e) => return error_page(&e),
        };
        let link = gate::StartLink {
            key: &key,
            provider: &provider,
            state: state.as_deref().unwrap_or_default(),
            query: &query,
            headers: &headers,
        };
        if let Some(answer) = gate.check(&link).await {
            return answer;
        }
    }
    let cookies = cookies(&headers);
    let opened = if gated {
        engine
            .open_link_after_gate(&provider, state.as_deref(), &cookies)
            .await
    } else {
        engine
            .open_link(&provider, state.as_deref(), &cookies)
            .await
    };
    let opened = match opened {
        Ok(o) => o,
        Err(e) => return error_page(&e),
    };
    let Ok(location) = HeaderValue::from_str(opened.next_url.expose_secret()) else {
        return error_page(&Error::new(
            ErrorKind::Protocol,
            "the login URL is not a valid header",
        ));
    };
    let mut resp = (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response();
    if let Some(cookie) = &opened.cookie {
        match HeaderValue::from_str(&cookie.header()) {
            Ok(v) => {
                resp.headers_mut().insert(header::SET_COOKIE, v);
            }
            Err(_) => {
                return error_page(&Error::new(
                    ErrorKind::Protocol,
                    "cannot set the login cookie",
                ));
            }
        }
    }
    resp
}

async fn oauth2_callback(
    State(engine): State<Engine>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let provider = match provider_of(path) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    if let Some(r) = unknown_provider(&engine, &provider) {
        return r;
    }
    let mut q = match pairs(query.unwrap_or_default().as_bytes()) {
        Ok(q) => q,
        Err(r) => return *r,
    };
    let params = CallbackParams {
        state: take(&mut q, "state"),
        code: take(&mut q, "code"),
        error: take(&mut q, "error"),
        error_description: take(&mut q, "error_description"),
        iss: take(&mut q, "iss"),
    };
    match engine
        .complete_oauth2(&provider, params, &cookies(&headers))
        .await
    {
        Ok(done) => Html(pages::success(done.display_name, &done.warnings)).into_response(),
        Err(e) => error_page(&e),
    }
}

/// The token form posts back to its own path (relative, so it works behind any proxy prefix).
fn token_action() -> &'static str {
    "token"
}

async fn token_form(
    State(engine): State<Engine>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let (provider, state) = match provider_and_state(&engine, path, query) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    match engine
        .token_page(&provider, state.as_deref(), &cookies(&headers))
        .await
    {
        Ok(page) => form_response(
            StatusCode::OK,
            pages::token_form(&page, token_action(), state.as_deref().unwrap_or(""), None),
        ),
        Err(e) => error_page(&e),
    }
}

/// The token form. `Referrer-Policy: same-origin` (instead of `no-referrer`) because under
/// `no-referrer` browsers send `Origin: null` with the form's own POST (Fetch, "append a request
/// `Origin` header"), which [`same_origin`] cannot tell from a sandboxed attacker frame. Under
/// `same-origin` no referrer leaves for another origin either, and the page loads nothing.
fn form_response(status: StatusCode, html: String) -> Response {
    (
        status,
        [(header::REFERRER_POLICY, "same-origin")],
        Html(html),
    )
        .into_response()
}

/// Refuses a form posted from another origin: the `state` is unguessable, but a page that learnt
/// it must still not be able to post a key of its choosing (planting the attacker's account).
///
/// The policy, in order:
/// 1. `Sec-Fetch-Site` (set by browsers, never by pages) other than `same-origin` is refused:
///    `cross-site`, `same-site` (another port on 127.0.0.1 is the same *site*) and `none`.
/// 2. An `Origin` must be exactly the callback base's origin. `Origin: null` (sandboxed frames,
///    `data:` documents) is refused unless `Sec-Fetch-Site: same-origin` vouches for it (a
///    browser or extension forcing `no-referrer` nulls our own form's Origin).
/// 3. Without `Origin`, a `Referer` must have that origin.
/// 4. With none of them the post is accepted: that is a non-browser client (curl, a script),
///    which holds the state anyway. Every current browser sends `Origin` on cross-origin POSTs.
///
/// DNS rebinding (an attacker's name resolving to 127.0.0.1, so its page is "same origin") is
/// stopped earlier by [`check_host`].
fn same_origin(engine: &Engine, headers: &HeaderMap) -> bool {
    let get = |name: header::HeaderName| headers.get(name).map(|v| v.to_str().unwrap_or("\0"));
    let fetch_site = get(header::HeaderName::from_static("sec-fetch-site"));
    if fetch_site.is_some_and(|v| v != "same-origin") {
        return false;
    }
    // Our origin is worked out only when a header needs comparing with it.
    let ours =
        || url::Url::parse(&engine.callback_base()).map(|base| base.origin().ascii_serialization());
    match (get(header::ORIGIN), get(header::REFERER)) {
        (Some("null"), _) => fetch_site == Some("same-origin"),
        (Some(origin), _) => ours().is_ok_and(|ours| origin == ours),
        (None, Some(referer)) => url::Url::parse(referer)
            .is_ok_and(|r| ours().is_ok_and(|ours| r.origin().ascii_serialization() == ours)),
        (None, None) => true,
    }
}

/// Whether the body is declared `application/x-www-form-urlencoded` (parameters such as
/// `charset` allowed); `text/plain` and `multipart/form-data` (which a cross-site form can also
/// send) and look-alikes such as `application/x-www-form-urlencodedx` are not.
fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| {
            essence
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

async fn token_submit(
    State(engine): State<Engine>,
    path: Result<Path<String>, PathRejection>,
    req: Request,
) -> Response {
    let provider = match provider_of(path) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    if let Some(r) = unknown_provider(&engine, &provider) {
        return r;
    }
    let headers = req.headers();
    let cookies = cookies(headers);
    if !same_origin(&engine, headers) {
        return refused(
            StatusCode::FORBIDDEN,
            "Cross-site form submissions are refused.",
        );
    }
    if !is_form(headers) {
        return refused(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Send the form as application/x-www-form-urlencoded.",
        );
    }
    // The body within the read timeout: a client that declares a length and then drips (or
    // stops) must not hold the handler.
    let body =
        match tokio::time::timeout(read_timeout(&engine), Bytes::from_request(req, &())).await {
            Ok(Ok(b)) => b,
            Err(_) => {
                return refused(
                    StatusCode::REQUEST_TIMEOUT,
                    "The form arrived too slowly. Send it again.",
                );
            }
            Ok(Err(e)) => {
                return refused(
                    e.status(),
                    "The form could not be read (it may be larger than 16 KiB).",
                );
            }
        };
    let mut form = match pairs(&body) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let state = take(&mut form, "state");
    let fields: Vec<(String, SecretString)> = form
        .into_iter()
        .map(|(k, v)| (k, SecretString::from(v)))
        .collect();
    match engine
        .complete_token(&provider, state.as_deref(), fields, &cookies)
        .await
    {
        Ok(done) => Html(pages::success(done.display_name, &done.warnings)).into_response(),
        Err(e) if e.kind() == ErrorKind::InvalidInput && state.is_some() => {
            // A typo keeps the link alive: show the form again with the problem.
            match engine
                .token_page(&provider, state.as_deref(), &cookies)
                .await
            {
                Ok(page) => form_response(
                    StatusCode::BAD_REQUEST,
                    pages::token_form(
                        &page,
                        token_action(),
                        state.as_deref().unwrap_or(""),
                        Some(e.message()),
                    ),
                ),
                Err(_) => error_page(&e),
            }
        }
        Err(e) => error_page(&e),
    }
}

/// A running callback server.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    purger: tokio::task::JoinHandle<()>,
}

/// Binds `addr` (port 0 picks a free port), points the engine's prompts at the bound address,
/// and serves plain HTTP until [`Server::shutdown`]. Expired pending flows are purged every 30 s.
///
/// # Errors
/// [`ErrorKind::Config`] when the address cannot be bound, naming it.
pub async fn start(engine: Engine, addr: SocketAddr) -> keyfob_core::Result<Server> {
    start_with(engine, addr, Options::default()).await
}

/// [`start`], with `options` (an identity for `keyfob serve`, a gate on who opens links).
///
/// # Errors
/// As [`start`].
pub async fn start_with(
    engine: Engine,
    addr: SocketAddr,
    options: Options,
) -> keyfob_core::Result<Server> {
    let server = &engine.config().server;
    if server.https() {
        // `[server] tls = true` or a certificate pair: the engine's links are https already.
        let tls = match (&server.tls_cert, &server.tls_key) {
            (Some(cert), Some(key)) => Tls::Files {
                cert: cert.clone(),
                key: key.clone(),
            },
            _ => Tls::self_signed_in(&engine.config().home()),
        };
        return start_tls_with(engine.clone(), addr, &tls, options).await;
    }
    let (listener, addr) = bind(&engine, addr).await?;
    tracing::info!(%addr, "callback server listening");
    Ok(serve(listener, addr, engine, None, &options))
}

/// Serves the router on `listener` until [`Server::shutdown`].
fn serve<L>(
    listener: L,
    addr: SocketAddr,
    engine: Engine,
    tls: Option<tls::Reloadable>,
    options: &Options,
) -> Server
where
    L: axum::serve::Listener,
{
    let app = router_with(engine.clone(), options);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(accept_loop(listener, app, read_timeout(&engine), rx));
    Server {
        addr,
        shutdown: Some(tx),
        task,
        purger: purger(engine, tls),
    }
}

/// `[server] read_timeout_secs` (at least 1 s).
fn read_timeout(engine: &Engine) -> Duration {
    Duration::from_secs(engine.config().server.read_timeout_secs.max(1))
}

/// Accepts connections until `stop` fires (or its sender is dropped), then lets open requests
/// finish. HTTP/1.1 only: browsers, the token form and OAuth2 redirects need nothing else. A
/// client gets [`read_timeout`] to send a request's headers, whether its connection is new or
/// kept alive after an answer, and is disconnected after that (slow-drip and idle clients would
/// otherwise keep a connection and a task each, for ever).
async fn accept_loop<L>(
    mut listener: L,
    app: Router,
    read_timeout: Duration,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) -> std::io::Result<()>
where
    L: axum::serve::Listener,
{
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(read_timeout);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let io = tokio::select! {
            (io, _) = listener.accept() => io,
            _ = &mut stop => break,
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let conn = graceful.watch(http.serve_connection(hyper_util::rt::TokioIo::new(io), service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection closed");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Like [`start`], over TLS (HTTP/1.1 on rustls).
///
/// The engine's prompts must point at `https://`: [`start`] does all this by itself when
/// `[server] tls = true` (or `tls_cert`/`tls_key`) is configured, which also makes the engine's
/// links https; an https `public_base_url` works too.
/// A self-signed certificate is checked every 12 hours and renewed in place, without a restart,
/// once it is within [`tls::RENEW_BEFORE_DAYS`] of expiry.
///
/// # Errors
/// [`ErrorKind::Config`] when the address cannot be bound, when the engine's callback base is
/// not https, or when the certificate or key cannot be read, generated or used.
pub async fn start_tls(engine: Engine, addr: SocketAddr, tls: &Tls) -> keyfob_core::Result<Server> {
    start_tls_with(engine, addr, tls, Options::default()).await
}

async fn start_tls_with(
    engine: Engine,
    addr: SocketAddr,
    tls: &Tls,
    options: Options,
) -> keyfob_core::Result<Server> {
    let config = tls::Reloadable::load(tls)?;
    let (listener, addr) = bind(&engine, addr).await?;
    let base = engine.callback_base();
    if !base.starts_with("https://") {
        return Err(Error::new(
            ErrorKind::Config,
            format!(
                "TLS needs https login links, but they would start with {}; set [server] \
                 public_base_url = \"https://127.0.0.1:{}\"",
                base.split('/').next().unwrap_or("http:"),
                addr.port()
            ),
        ));
    }
    let listener = tls::TlsListener::new(listener, config.clone());
    tracing::info!(%addr, "callback server listening (TLS)");
    Ok(serve(listener, addr, engine, Some(config), &options))
}

async fn bind(
    engine: &Engine,
    addr: SocketAddr,
) -> keyfob_core::Result<(tokio::net::TcpListener, SocketAddr)> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        Error::new(
            ErrorKind::Config,
            format!("cannot listen on {addr}; set [server] bind in keyfob.toml or pass --bind"),
        )
        .with_source(e)
    })?;
    let addr = listener.local_addr().map_err(|e| {
        Error::new(ErrorKind::Config, "cannot read the bound address").with_source(e)
    })?;
    if !addr.ip().is_loopback() {
        tracing::warn!(%addr, "the callback server listens on a non-loopback address");
    }
    engine.set_callback_addr(addr);
    Ok((listener, addr))
}

/// Purges expired flows every 30 s and, with a self-signed certificate, renews it when due.
fn purger(engine: Engine, tls: Option<tls::Reloadable>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        let mut ticks: u64 = 0;
        loop {
            tick.tick().await;
            if let Err(e) = engine.purge_expired().await {
                tracing::warn!(kind = e.kind().as_str(), "cannot purge expired flows");
            }
            ticks += 1;
            if let Some(tls) = &tls {
                if ticks % (12 * 120) == 0 {
                    if let Err(e) = tls.reload_if_due() {
                        tracing::warn!(error = %e, "cannot renew the TLS certificate");
                    }
                }
            }
        }
    })
}

impl Server {
    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections and waits for open ones to finish.
    pub async fn shutdown(mut self) {
        self.purger.abort();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Serves until the task ends (it ends only on error or shutdown).
    ///
    /// # Errors
    /// The server's I/O error.
    pub async fn wait(mut self) -> std::io::Result<()> {
        match (&mut self.task).await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(host: &str) -> bool {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        host_is_local(&h)
    }

    /// The direct path and the URL parser agree: every spelling of this machine passes, every
    /// DNS name but `localhost` (rebindable) and every malformed port is refused.
    #[test]
    fn host_check_accepts_only_this_machine() {
        for host in [
            "127.0.0.1",
            "127.0.0.1:8080",
            "[::1]",
            "[::1]:443",
            "localhost",
            "LocalHost:1",
            "localhost:",
            "2130706433",
            "0x7f.1:80",
        ] {
            assert!(local(host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:80",
            "127.0.0.1.evil.example",
            "localhost.evil.example",
            "localhost:99999",
            "127.0.0.1:x",
            "[::1",
            "::1",
            "[evil.example]",
            "",
        ] {
            assert!(!local(host), "{host}");
        }
    }
}
