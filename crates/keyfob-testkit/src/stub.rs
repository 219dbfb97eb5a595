//! A stub HTTP server with one canned, configurable answer, for fault tests of token endpoints.
//!
//! Every request, whatever its method or path (`POST /token` in practice), is
//! recorded and answered with the current [`StubResponse`]: any status,
//! content type and body (HTML, garbage, truncated JSON...), optionally after a
//! delay to simulate a hanging server.
//!
//! [`StubServer::start_tls`] serves HTTPS instead, with a certificate for given host names signed
//! by a CA of its own: an engine that resolves those names to the stub and trusts that CA sends
//! its requests to a provider's real URLs, and the stub records the host each one named.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use tokio::task::JoinHandle;

/// The answer a [`StubServer`] gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StubResponse {
    /// HTTP status code; a value outside 100..=999 is answered as 500.
    pub status: u16,
    /// The `Content-Type` header; empty for none.
    pub content_type: String,
    /// The body, sent as is.
    pub body: Vec<u8>,
    /// Wait this long before answering (the request is recorded at once).
    pub delay: Option<Duration>,
    /// Further response headers.
    pub headers: Vec<(String, String)>,
}

impl StubResponse {
    /// An answer with this status, content type and body.
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            content_type: content_type.to_owned(),
            body: body.into(),
            delay: None,
            headers: Vec::new(),
        }
    }

    /// A JSON answer.
    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        Self::new(status, "application/json", body.to_string())
    }

    /// A `text/plain` answer.
    pub fn text(status: u16, body: &str) -> Self {
        Self::new(status, "text/plain; charset=utf-8", body)
    }

    /// A `text/html` answer.
    pub fn html(status: u16, body: &str) -> Self {
        Self::new(status, "text/html; charset=utf-8", body)
    }

    /// A successful token response (RFC 6749 §5.1) with this access token,
    /// `token_type` Bearer and `expires_in` 3600.
    pub fn token(access_token: &str) -> Self {
        Self::json(
            200,
            &serde_json::json!({
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": 3600,
            }),
        )
    }

    /// An OAuth2 error response (RFC 6749 §5.2), e.g. `(400, "invalid_grant")`.
    pub fn oauth_error(status: u16, error: &str) -> Self {
        Self::json(status, &serde_json::json!({ "error": error }))
    }

    /// The same answer, given only after `delay`.
    #[must_use]
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// The same answer with one more header.
    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// A request the [`StubServer`] received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The method, e.g. `POST`.
    pub method: String,
    /// The path, e.g. `/token`.
    pub path: String,
    /// The query string without `?`, if any.
    pub query: Option<String>,
    /// The headers in the order received; names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// The first header with this name (case-insensitive), if it is valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as `application/x-www-form-urlencoded`.
    pub fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&self.body)
            .into_owned()
            .collect()
    }

    /// The first value of a form field in the body.
    pub fn form_value(&self, key: &str) -> Option<String> {
        url::form_urlencoded::parse(&self.body)
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    }
}

#[derive(Debug)]
struct Shared {
    response: Mutex<StubResponse>,
    /// Answers used once each, in order, before the canned one.
    queue: Mutex<std::collections::VecDeque<StubResponse>>,
    requests: Mutex<Vec<RecordedRequest>>,
}

/// An HTTP server on 127.0.0.1 that answers every request with a canned
/// [`StubResponse`]; stops when dropped.
#[derive(Debug)]
pub struct StubServer {
    url: String,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl StubServer {
    /// Starts the server on a free port of 127.0.0.1.
    ///
    /// # Errors
    ///
    /// If no port can be bound.
    pub async fn start(response: StubResponse) -> anyhow::Result<StubServer> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("binding 127.0.0.1:0 for the stub server")?;
        let url = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared {
            response: Mutex::new(response),
            queue: Mutex::new(Default::default()),
            requests: Mutex::new(Vec::new()),
        });
        let app = Router::new().fallback(answer).with_state(shared.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("[stub] server error: {e}");
            }
        });
        Ok(StubServer { url, shared, task })
    }

    /// Starts the server on a free port of 127.0.0.1, serving HTTPS with a certificate for
    /// `hosts` signed by a fresh CA. Returns the server and the CA's certificate (PEM), which a
    /// client must trust.
    ///
    /// # Errors
    ///
    /// If no port can be bound or a certificate cannot be made.
    pub async fn start_tls(
        response: StubResponse,
        hosts: &[String],
    ) -> anyhow::Result<(StubServer, String)> {
        let (config, ca_pem) = tls_config(hosts)?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("binding 127.0.0.1:0 for the stub server")?;
        let url = format!("https://{}", listener.local_addr()?);
        let shared = Arc::new(Shared {
            response: Mutex::new(response),
            queue: Mutex::new(Default::default()),
            requests: Mutex::new(Vec::new()),
        });
        let app = Router::new().fallback(answer).with_state(shared.clone());
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, app) = (acceptor.clone(), app.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper_util::service::TowerToHyperService::new(app);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Ok((StubServer { url, shared, task }, ca_pem))
    }

    /// The address it listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.url
            .rsplit('/')
            .next()
            .and_then(|a| a.parse().ok())
            .expect("the stub's URL ends with its address")
    }

    /// The base URL, `http://127.0.0.1:<port>` (no trailing slash).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `<url>/token`, for use as a token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.url)
    }

    /// The requests received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        lock(&self.shared.requests).clear();
    }

    /// Answers later requests with `response`.
    pub fn set_response(&self, response: StubResponse) {
        *lock(&self.shared.response) = response;
    }

    /// Queues answers for the next requests, one each in order; the canned answer follows.
    /// Scripts a conversation such as device-code polling (pending, slow down, granted).
    pub fn push_responses(&self, responses: impl IntoIterator<Item = StubResponse>) {
        lock(&self.shared.queue).extend(responses);
    }
}

impl Drop for StubServer {
    fn drop(&mut self) {
        // Stops accepting; requests in flight (e.g. in a delay) may finish.
        self.task.abort();
    }
}

/// A server config with a certificate for `hosts`, and the PEM of the CA that signed it.
fn tls_config(hosts: &[String]) -> anyhow::Result<(rustls::ServerConfig, String)> {
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "keyfob stub CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca, rcgen::KeyPair::generate()?)?;
    let key = rcgen::KeyPair::generate()?;
    let leaf = rcgen::CertificateParams::new(hosts.to_vec())?.signed_by(&key, &ca)?;
    let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(vec![leaf.der().clone(), ca.der().clone()], key_der)?;
    Ok((config, ca.pem()))
}

/// A poisoned lock only means another test thread panicked; the data is fine.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

async fn answer(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    lock(&shared.requests).push(RecordedRequest {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers: headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    });

    let queued = lock(&shared.queue).pop_front();
    let canned = queued.unwrap_or_else(|| lock(&shared.response).clone());
    if let Some(delay) = canned.delay {
        tokio::time::sleep(delay).await;
    }

    let mut resp = Response::new(Body::from(canned.body));
    *resp.status_mut() =
        StatusCode::from_u16(canned.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    if !canned.content_type.is_empty() {
        if let Ok(ct) = HeaderValue::from_str(&canned.content_type) {
            h.insert(header::CONTENT_TYPE, ct);
        }
    }
    for (name, value) in &canned.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::from_str(value),
        ) {
            h.append(n, v);
        }
    }
    resp
}
