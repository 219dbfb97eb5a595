//! The HTTP runtime every OAuth2 request goes through: one `reqwest` client, and the adapter that
//! hands token requests to the `oauth2` crate and normalizes the answers (`normalize.rs`) before
//! the crate parses them.
//!
//! Invariants:
//! - The client follows no redirect (the `oauth2` crate's SSRF advice) and gives up after the
//!   configured `http_timeout_secs`.
//! - A transport error names the host or the endpoint's role and the causes, never a query
//!   string or a body.
//! - A JSON-body provider's token request is sent as JSON (converted from the crate's form), with
//!   the same fields.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use oauth2::http::header;
use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind, Result};
use crate::oauth::discovery::Discovered;
use crate::oauth::normalize::normalized_response;
use crate::spec::{BodyFormat, OAuth2Spec};

/// Where requests to providers go and whom they trust, besides DNS and the system's roots.
#[derive(Debug, Clone, Default)]
pub struct Network {
    /// Host names answered at these addresses instead of through DNS (the address's port is
    /// used unless the URL names one).
    pub resolve: Vec<(String, std::net::SocketAddr)>,
    /// Certificate authorities trusted besides the system's (PEM).
    pub root_certificates: Vec<Vec<u8>>,
}

/// Shared HTTP machinery: one client (no redirects, bounded time) and the discovery cache.
pub struct Runtime {
    pub(super) client: reqwest::Client,
    pub(super) timeout: Duration,
    pub(super) discovery: Mutex<HashMap<String, Discovered>>,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// The transport error handed to the `oauth2` crate.
#[derive(Debug)]
pub(super) struct TransportError(pub(super) String);

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TransportError {}

impl Runtime {
    /// A runtime whose requests time out after `timeout`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when the TLS backend cannot start.
    pub fn new(timeout: Duration) -> Result<Self> {
        Self::with_network(timeout, &Network::default())
    }

    /// A runtime whose requests time out after `timeout`, resolving and trusting as `network`
    /// says.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when the TLS backend cannot start or a certificate does not parse.
    pub fn with_network(timeout: Duration, network: &Network) -> Result<Self> {
        let mut builder = reqwest::Client::builder();
        for (host, addr) in &network.resolve {
            builder = builder.resolve(host, *addr);
        }
        for pem in &network.root_certificates {
            let cert = reqwest::Certificate::from_pem(pem).map_err(|e| {
                Error::new(
                    ErrorKind::Config,
                    "a root certificate does not parse as PEM",
                )
                .with_source(e)
            })?;
            builder = builder.add_root_certificate(cert);
        }
        let client = builder
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .user_agent(concat!(
                "keyfob/",
                env!("CARGO_PKG_VERSION"),
                " (+agent auth)"
            ))
            .build()
            .map_err(|e| {
                Error::new(ErrorKind::Config, "cannot build the HTTP client").with_source(e)
            })?;
        Ok(Runtime {
            client,
            timeout,
            discovery: Mutex::new(HashMap::new()),
        })
    }

    pub(super) fn transport(&self, what: &str, e: &reqwest::Error) -> Error {
        if e.is_timeout() {
            Error::new(
                ErrorKind::Transport,
                format!("{what} did not answer within {} s", self.timeout.as_secs()),
            )
        } else {
            let host = e
                .url()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_default();
            Error::new(
                ErrorKind::Transport,
                format!("cannot reach {what} at {host}"),
            )
            .with_source(TransportError(source_chain(e)))
        }
    }

    /// Sends one token-endpoint request and normalizes the answer.
    pub(super) async fn send(
        &self,
        spec: &OAuth2Spec,
        req: oauth2::HttpRequest,
    ) -> std::result::Result<oauth2::HttpResponse, TransportError> {
        let (mut parts, body) = req.into_parts();
        if spec.body_format == BodyFormat::Json {
            parts.headers.remove(header::CONTENT_TYPE);
        }
        let mut builder = self
            .client
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers);
        builder = match spec.body_format {
            BodyFormat::Form => builder.body(body),
            BodyFormat::Json => {
                let map: Map<String, Value> = url::form_urlencoded::parse(&body)
                    .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                    .collect();
                builder
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(serde_json::to_vec(&map).expect("a map of strings serializes"))
            }
        };
        let resp = builder.send().await.map_err(|e| {
            if e.is_timeout() {
                TransportError(format!(
                    "the token endpoint did not answer within {} s",
                    self.timeout.as_secs()
                ))
            } else {
                TransportError(format!(
                    "cannot reach the token endpoint: {}",
                    source_chain(&e)
                ))
            }
        })?;
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let bytes = read_capped(resp)
            .await
            .map_err(|e| TransportError(format!("the token endpoint's answer: {e}")))?;
        Ok(normalized_response(status, &content_type, &bytes, spec))
    }
}

fn source_chain(e: &(dyn std::error::Error + 'static)) -> String {
    // reqwest's Display names the URL; token URLs carry no secrets, but keep only the causes.
    let mut parts = Vec::new();
    let mut cur = e.source();
    while let Some(s) = cur {
        parts.push(s.to_string());
        cur = s.source();
    }
    if parts.is_empty() {
        "connection failed".into()
    } else {
        parts.join(": ")
    }
}

/// An answer's status and body (empty when the body cannot be read or is over
/// [`MAX_ANSWER`]).
pub(super) async fn status_and_body(resp: reqwest::Response) -> (u16, Vec<u8>) {
    let status = resp.status().as_u16();
    (status, read_capped(resp).await.unwrap_or_default())
}

/// The most keyfob reads of an authorization server's or MCP server's JSON answer (token,
/// metadata, registration): 1 MiB, far above any real one, so a hostile server cannot make it
/// hold gigabytes.
pub(crate) const MAX_ANSWER: usize = 1 << 20;

/// Why an answer's body was not read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Unread {
    /// It is (or says it is) larger than [`MAX_ANSWER`].
    TooLarge,
    /// The connection broke off.
    Broken,
}

impl std::fmt::Display for Unread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Unread::TooLarge => "the answer is larger than 1 MiB",
            Unread::Broken => "the answer broke off",
        })
    }
}

/// Reads a body of at most [`MAX_ANSWER`] bytes, stopping as soon as it is over.
pub(crate) async fn read_capped(mut resp: reqwest::Response) -> Result<Vec<u8>, Unread> {
    if resp.content_length().is_some_and(|n| n > MAX_ANSWER as u64) {
        return Err(Unread::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|_| Unread::Broken)? {
        if body.len() + chunk.len() > MAX_ANSWER {
            return Err(Unread::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The `oauth2` crate's view of `Runtime::send` for one spec.
pub(super) struct TokenHttp<'a> {
    pub(super) runtime: &'a Runtime,
    pub(super) spec: &'static OAuth2Spec,
}

type SendFuture<'c> = std::pin::Pin<
    Box<
        dyn std::future::Future<Output = std::result::Result<oauth2::HttpResponse, TransportError>>
            + Send
            + 'c,
    >,
>;

impl<'c> oauth2::AsyncHttpClient<'c> for TokenHttp<'_> {
    type Error = TransportError;
    type Future = SendFuture<'c>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(self.runtime.send(self.spec, request))
    }
}
