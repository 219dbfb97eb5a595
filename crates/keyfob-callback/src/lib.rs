//! keyfob's callback server: where the browser comes back to after an OAuth2 consent screen, and
//! where a user types a key into a local page.
//!
//! Routes, under the configured path prefix:
//! - `GET /health`
//! - `GET /auth/<provider>/oauth2/callback?code=…&state=…` (or `error=…`)
//! - `GET /auth/<provider>/token?state=…` shows the entry form; `POST /auth/<provider>/token`
//!   stores what was typed. The secret travels only in the POST body, and there is no
//!   caller-supplied redirect target.
//!
//! Every page escapes what it echoes and carries restrictive headers (CSP, no framing, no
//! referrer, no caching). Query strings and bodies are parsed here rather than by extractors,
//! so that no framework rejection message ever echoes a request back. The server binds
//! `127.0.0.1` unless configured otherwise and never logs a `state`, code or token.

mod pages;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use keyfob_core::{CallbackParams, Engine, Error, ErrorKind, SecretString};

/// The largest request body accepted (the token form).
pub const MAX_BODY: usize = 16 * 1024;

/// The router, with the engine's path prefix applied.
pub fn router(engine: Engine) -> Router {
    let prefix = engine.config().server.path_prefix.clone();
    let routes = Router::new()
        .route("/health", get(health))
        .route("/auth/{provider}/oauth2/callback", get(oauth2_callback))
        .route("/auth/{provider}/token", get(token_form).post(token_submit))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(engine);
    if prefix.is_empty() {
        routes
    } else {
        Router::new()
            .nest(&prefix, routes)
            .fallback(not_found)
            .layer(axum::middleware::map_response(security_headers))
    }
}

async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

async fn health() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        "{\"status\":\"ok\"}",
    )
}

async fn not_found() -> Response {
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

/// Parses a query or form body into pairs, keeping the first value of each name.
fn pairs(raw: &[u8]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (k, v) in url::form_urlencoded::parse(raw) {
        if !out.iter().any(|(seen, _)| *seen == k) {
            out.push((k.into_owned(), v.into_owned()));
        }
    }
    out
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

async fn oauth2_callback(
    State(engine): State<Engine>,
    Path(provider): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    if let Some(r) = unknown_provider(&engine, &provider) {
        return r;
    }
    let mut q = pairs(query.unwrap_or_default().as_bytes());
    let params = CallbackParams {
        state: take(&mut q, "state"),
        code: take(&mut q, "code"),
        error: take(&mut q, "error"),
        error_description: take(&mut q, "error_description"),
    };
    match engine.complete_oauth2(&provider, params).await {
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
    Path(provider): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    if let Some(r) = unknown_provider(&engine, &provider) {
        return r;
    }
    let state = take(&mut pairs(query.unwrap_or_default().as_bytes()), "state");
    match engine.token_page(&provider, state.as_deref()).await {
        Ok(page) => Html(pages::token_form(
            &page,
            token_action(),
            state.as_deref().unwrap_or(""),
            None,
        ))
        .into_response(),
        Err(e) => error_page(&e),
    }
}

/// Refuses a form posted from another site: the `state` is unguessable, but a page that learnt
/// it must still not be able to post a key of its choosing.
fn same_origin(engine: &Engine, headers: &HeaderMap) -> bool {
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "cross-site")
    {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(expected) = url::Url::parse(&engine.callback_base()) else {
        return false;
    };
    origin
        .to_str()
        .is_ok_and(|o| o == expected.origin().ascii_serialization())
}

async fn token_submit(
    State(engine): State<Engine>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = unknown_provider(&engine, &provider) {
        return r;
    }
    if !same_origin(&engine, &headers) {
        return (
            StatusCode::FORBIDDEN,
            Html(pages::error(
                "Refused",
                "Cross-site form submissions are refused.",
            )),
        )
            .into_response();
    }
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Html(pages::error(
                "Refused",
                "Send the form as application/x-www-form-urlencoded.",
            )),
        )
            .into_response();
    }
    let mut form = pairs(&body);
    let state = take(&mut form, "state");
    let fields: Vec<(String, SecretString)> = form
        .into_iter()
        .map(|(k, v)| (k, SecretString::from(v)))
        .collect();
    match engine
        .complete_token(&provider, state.as_deref(), fields)
        .await
    {
        Ok(done) => Html(pages::success(done.display_name, &done.warnings)).into_response(),
        Err(e) if e.kind() == ErrorKind::InvalidInput && state.is_some() => {
            // A typo keeps the link alive: show the form again with the problem.
            match engine.token_page(&provider, state.as_deref()).await {
                Ok(page) => (
                    StatusCode::BAD_REQUEST,
                    Html(pages::token_form(
                        &page,
                        token_action(),
                        state.as_deref().unwrap_or(""),
                        Some(e.message()),
                    )),
                )
                    .into_response(),
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
/// and serves until [`Server::shutdown`]. Expired pending flows are purged every 30 s.
///
/// # Errors
/// [`ErrorKind::Config`] when the address cannot be bound, naming it.
pub async fn start(engine: Engine, addr: SocketAddr) -> keyfob_core::Result<Server> {
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
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = router(engine.clone());
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
    });
    let purger = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        loop {
            tick.tick().await;
            if let Err(e) = engine.purge_expired().await {
                tracing::warn!(kind = e.kind().as_str(), "cannot purge expired flows");
            }
        }
    });
    tracing::info!(%addr, "callback server listening");
    Ok(Server {
        addr,
        shutdown: Some(tx),
        task,
        purger,
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
