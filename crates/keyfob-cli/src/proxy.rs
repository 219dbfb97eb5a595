//! `keyfob mcp proxy <url|name>`: a bridge from a stdio MCP client (which launches it as its
//! server command) to a protected remote MCP server over streamable HTTP, with keyfob's login.
//!
//! Invariants:
//! - stdout carries only JSON-RPC messages, one per line; everything for people goes to stderr
//!   (the login link included).
//! - The bearer token goes only to the server's URL from the stored record, in the
//!   `Authorization` header; it comes from the engine at each request, so it is refreshed
//!   (single-flight across processes) before it expires.
//! - Every request from the client gets an answer: the server's, or a JSON-RPC error saying
//!   why the server could not be asked.
//! - A 401 is answered by one new login and one retry; a 403 `insufficient_scope` by one login
//!   asking for the granted scopes and the challenge's, and one retry. A second refusal of the
//!   same message becomes its error answer, so a server that keeps refusing gets at most three
//!   authorization requests per message.
//! - A login while the client is connected is also offered to a client that declared URL
//!   elicitation (MCP 2025-11-25): an `elicitation/create` request in URL mode with the link,
//!   then `notifications/elicitation/complete` once the login is done. Its answer (matched by
//!   the ids the proxy is waiting on) is the proxy's and never reaches the server; no browser
//!   is opened then, since the client shows the link. The link is keyfob's start link, bound to the first
//!   browser that opens it, as on stderr.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use std::time::Duration;

use anyhow::Context;
use keyfob::{Engine, ErrorKind, SessionKey};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::Mutex as AsyncMutex;

/// Runs a login asking for these scopes besides the server's (its link on stderr, and handed
/// to the sink when there is one), when the session is missing, its token refused, or a call
/// needs more scopes.
pub(crate) type Login = Box<
    dyn Fn(
            Vec<String>,
            Option<LinkSink>,
        )
            -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send>>
        + Send
        + Sync,
>;

/// Receives a login's link and the message for the person who opens it.
pub(crate) type LinkSink = Arc<dyn Fn(&str, &str) + Send + Sync>;

/// The prefix of the ids of the proxy's own requests to the client.
const OWN_ID: &str = "keyfob-login-";

struct Shared {
    engine: Engine,
    key: SessionKey,
    url: String,
    http: reqwest::Client,
    session: Mutex<Option<String>>,
    protocol: Mutex<Option<String>>,
    out: AsyncMutex<tokio::io::Stdout>,
    login: Login,
    /// Serializes logins: concurrent 401s wait for the same one.
    logging_in: AsyncMutex<()>,
    /// The client declared URL elicitation in `initialize`.
    elicits: AtomicBool,
    /// Numbers the elicitations.
    elicited: AtomicU64,
    /// The proxy's own messages to the client, written in order by one task.
    notices: tokio::sync::mpsc::UnboundedSender<Value>,
    /// The ids of our elicitations the client has not answered yet.
    asked: Mutex<std::collections::HashSet<String>>,
}

/// Runs the bridge until stdin ends; then ends the server's session.
///
/// # Errors
/// A login that fails or is cancelled before the first request; stdout closed.
pub(crate) async fn run(
    engine: Engine,
    key: SessionKey,
    url: String,
    login: Login,
) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("cannot build the HTTP client")?;
    let (notices, mut notices_rx) = tokio::sync::mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        engine,
        key,
        url,
        http,
        session: Mutex::new(None),
        protocol: Mutex::new(None),
        out: AsyncMutex::new(tokio::io::stdout()),
        login,
        logging_in: AsyncMutex::new(()),
        elicits: AtomicBool::new(false),
        elicited: AtomicU64::new(0),
        notices,
        asked: Mutex::default(),
    });
    let writer = {
        let shared = shared.clone();
        tokio::spawn(async move {
            while let Some(msg) = notices_rx.recv().await {
                if shared.write(&msg).await.is_err() {
                    break;
                }
            }
        })
    };
    // Log in before the client speaks, so its first request does not wait on a browser.
    shared.token().await?;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut inflight = tokio::task::JoinSet::new();
    let mut listener = None;
    while let Some(line) = lines.next_line().await.context("reading stdin")? {
        if line.trim().is_empty() {
            continue;
        }
        let msg: Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(_) => {
                shared
                    .write(&json!({"jsonrpc": "2.0", "id": null,
                        "error": {"code": -32700, "message": "parse error: not a JSON-RPC message"}}))
                    .await?;
                continue;
            }
        };
        if msg["method"] == "initialize" {
            let url = &msg["params"]["capabilities"]["elicitation"]["url"];
            shared.elicits.store(url.is_object(), Ordering::Relaxed);
        }
        // The client's answer to one of our elicitations: ours, not the server's.
        let ours = msg.get("method").is_none()
            && msg["id"].as_str().is_some_and(|id| {
                shared
                    .asked
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(id)
            });
        if ours {
            let action = msg["result"]["action"].as_str().unwrap_or("an error");
            if action != "accept" {
                eprintln!("keyfob: the client answered the login link with {action}");
            }
            continue;
        }
        // Requests run side by side (a long tool call does not hold up the next); notifications
        // and responses keep their order.
        if msg.get("method").is_some() && msg.get("id").is_some() {
            let s = shared.clone();
            inflight.spawn(async move { s.forward(msg).await });
        } else {
            let initialized = msg["method"] == "notifications/initialized";
            shared.forward(msg).await?;
            // Now the server may talk on its own: listen, once.
            if initialized && listener.is_none() {
                listener = Some(tokio::spawn(shared.clone().listen()));
            }
        }
        while let Some(done) = inflight.try_join_next() {
            done??;
        }
    }
    while let Some(done) = inflight.join_next().await {
        done??;
    }
    if let Some(l) = listener {
        l.abort();
    }
    shared.close().await;
    writer.abort();
    Ok(())
}

impl Shared {
    /// A valid access token: the stored one (refreshed when due), else one from a new login.
    async fn token(&self) -> anyhow::Result<String> {
        match self.engine.credentials(&self.key).await {
            Ok(c) => Ok(c.access_token().to_owned()),
            Err(e) if matches!(e.kind(), ErrorKind::NoSession | ErrorKind::ReauthRequired) => {
                self.relogin(None, Vec::new()).await
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Logs in again, asking for `scopes` besides the granted ones (a step-up: 2026-07-28 asks
    /// for the union). Without more scopes, a token other than `refused` that another task got
    /// while this one waited is used instead.
    async fn relogin(&self, refused: Option<&str>, scopes: Vec<String>) -> anyhow::Result<String> {
        let _one = self.logging_in.lock().await;
        if scopes.is_empty() {
            if let Ok(c) = self.engine.credentials(&self.key).await
                && refused.is_none_or(|r| r != c.access_token())
            {
                return Ok(c.access_token().to_owned());
            }
            eprintln!("keyfob: the MCP server {} needs a login.", self.url);
        }
        let elicitation = self.elicits.load(Ordering::Relaxed).then(|| {
            format!(
                "{OWN_ID}{}",
                self.elicited.fetch_add(1, Ordering::Relaxed) + 1
            )
        });
        let sink = elicitation.clone().map(|id| {
            self.asked
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id.clone());
            let notices = self.notices.clone();
            let server = self.url.clone();
            Arc::new(move |url: &str, message: &str| {
                let _ = notices.send(json!({"jsonrpc": "2.0", "id": id,
                    "method": "elicitation/create", "params": {"mode": "url",
                        "elicitationId": id, "url": url,
                        "message": format!("{message} (keyfob, for the MCP server {server})")}}));
            }) as LinkSink
        });
        (self.login)(scopes, sink).await?;
        if let Some(id) = elicitation {
            let _ = self.notices.send(json!({"jsonrpc": "2.0",
                "method": "notifications/elicitation/complete",
                "params": {"elicitationId": id}}));
        }
        Ok(self
            .engine
            .credentials(&self.key)
            .await?
            .access_token()
            .to_owned())
    }

    /// Writes one message to stdout, as one line.
    async fn write(&self, msg: &Value) -> anyhow::Result<()> {
        let mut line = serde_json::to_vec(msg)?;
        line.push(b'\n');
        let mut out = self.out.lock().await;
        out.write_all(&line).await.context("writing stdout")?;
        out.flush().await.context("writing stdout")?;
        Ok(())
    }

    /// Sends `msg` to the server and writes what it answers; an error answer for a request
    /// the server could not take.
    async fn forward(&self, msg: Value) -> anyhow::Result<()> {
        let id = msg
            .get("id")
            .cloned()
            .filter(|_| msg.get("method").is_some());
        match self.exchange(&msg).await {
            Ok(()) => Ok(()),
            Err(why) => {
                eprintln!("keyfob: {why:#}");
                match id {
                    Some(id) => {
                        self.write(&json!({"jsonrpc": "2.0", "id": id,
                            "error": {"code": -32603, "message": format!("keyfob mcp proxy: {why}")}}))
                            .await
                    }
                    None => Ok(()),
                }
            }
        }
    }

    async fn exchange(&self, msg: &Value) -> anyhow::Result<()> {
        let mut token = self.token().await?;
        let (mut relogged, mut stepped_up) = (false, false);
        loop {
            let req = self
                .http
                .post(&self.url)
                .bearer_auth(&token)
                .header("accept", "application/json, text/event-stream")
                .json(msg);
            // On `initialize` itself, the version it offers.
            let req = self.with_session(req, msg["params"]["protocolVersion"].as_str());
            let resp = req.send().await.map_err(|e| {
                anyhow::anyhow!(
                    "the MCP server {} cannot be reached{}",
                    self.url,
                    if e.is_timeout() { " in time" } else { "" }
                )
            })?;
            let status = resp.status();
            if status == reqwest::StatusCode::UNAUTHORIZED && !relogged {
                relogged = true;
                token = self.relogin(Some(&token), Vec::new()).await?;
                continue;
            }
            if status == reqwest::StatusCode::FORBIDDEN && !stepped_up {
                let challenge = keyfob::mcp::bearer(
                    resp.headers()
                        .get_all("www-authenticate")
                        .iter()
                        .filter_map(|v| v.to_str().ok()),
                );
                if let Some(scope) = challenge
                    .filter(|c| c.error.as_deref() == Some("insufficient_scope"))
                    .and_then(|c| c.scope)
                {
                    stepped_up = true;
                    eprintln!("keyfob: the MCP server asks for more scopes ({scope}).");
                    let scopes = scope.split_whitespace().map(str::to_owned).collect();
                    token = self.relogin(None, scopes).await?;
                    continue;
                }
            }
            if let Some(s) = resp
                .headers()
                .get("mcp-session-id")
                .and_then(|v| v.to_str().ok())
            {
                *self.session.lock().unwrap_or_else(|e| e.into_inner()) = Some(s.to_owned());
            }
            if !status.is_success() {
                let body = resp.text().await.unwrap_or_default();
                let detail: String = body.chars().take(300).collect();
                anyhow::bail!(
                    "the MCP server answered HTTP {}{}",
                    status.as_u16(),
                    if detail.trim().is_empty() {
                        String::new()
                    } else {
                        format!(": {}", detail.trim())
                    }
                );
            }
            return if is_sse(&resp) {
                self.stream(resp, msg).await
            } else {
                let body = resp.bytes().await.context("the answer broke off")?;
                if body.iter().all(u8::is_ascii_whitespace) {
                    return Ok(());
                }
                let v: Value =
                    serde_json::from_slice(&body).context("the MCP server's answer is not JSON")?;
                self.deliver(v, msg).await
            };
        }
    }

    /// Relays server-sent events as they arrive: each event's data is one message.
    async fn stream(&self, mut resp: reqwest::Response, msg: &Value) -> anyhow::Result<()> {
        let mut sse = Sse::default();
        while let Some(chunk) = resp.chunk().await.context("the event stream broke off")? {
            for event in sse.push(&chunk)? {
                if event.data.trim().is_empty() {
                    continue;
                }
                let v: Value =
                    serde_json::from_str(&event.data).context("an event's data is not JSON")?;
                self.deliver(v, msg).await?;
            }
        }
        Ok(())
    }

    /// Listens on the server's own stream (streamable HTTP: a `GET` of the endpoint) for what it
    /// sends outside any request (notifications, requests to the client) and relays it. After a
    /// break it reconnects with `Last-Event-ID`, waiting what the server's `retry` asks (1 s
    /// unless told). It stops for good when the server offers no such stream (405 or any other
    /// refusal), after five failed connections in a row, or when stdout is gone; a refused token
    /// also ends it (the next request's 401 brings the new login).
    async fn listen(self: Arc<Self>) {
        let mut last_event: Option<String> = None;
        let mut wait = Duration::from_secs(1);
        let mut failures = 0u32;
        loop {
            let Ok(creds) = self.engine.credentials(&self.key).await else {
                return;
            };
            let mut req = self.with_session(
                self.http
                    .get(&self.url)
                    .bearer_auth(creds.access_token())
                    .header("accept", "text/event-stream"),
                None,
            );
            if let Some(id) = &last_event {
                req = req.header("last-event-id", id);
            }
            match req.send().await {
                Ok(mut resp) if resp.status().is_success() && is_sse(&resp) => {
                    failures = 0;
                    let mut sse = Sse::default();
                    while let Ok(Some(chunk)) = resp.chunk().await {
                        let Ok(events) = sse.push(&chunk) else {
                            eprintln!("keyfob: {}", Oversized);
                            break;
                        };
                        for event in events {
                            // A priming event (id and retry, no data) counts too.
                            if let Some(r) = event.retry {
                                wait = Duration::from_millis(r.clamp(100, 60_000));
                            }
                            if event.id.is_some() {
                                last_event = event.id;
                            }
                            if event.data.trim().is_empty() {
                                continue;
                            }
                            let Ok(v) = serde_json::from_str::<Value>(&event.data) else {
                                eprintln!("keyfob: an event of the server's stream is not JSON");
                                continue;
                            };
                            if self.write(&v).await.is_err() {
                                return;
                            }
                        }
                    }
                }
                Ok(_) => return,
                Err(_) => {
                    failures += 1;
                    if failures >= 5 {
                        eprintln!(
                            "keyfob: the MCP server's event stream cannot be reached; it is no \
                             longer listened to"
                        );
                        return;
                    }
                }
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// Adds the server's session id and the protocol version `initialize` settled on (before
    /// that, `offered`).
    fn with_session(
        &self,
        mut req: reqwest::RequestBuilder,
        offered: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let session = self
            .session
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(s) = session {
            req = req.header("mcp-session-id", s);
        }
        let version = self
            .protocol
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(p) = version.or_else(|| offered.map(str::to_owned)) {
            req = req.header("mcp-protocol-version", p);
        }
        req
    }

    /// Writes a message from the server; remembers the protocol version `initialize` chose.
    async fn deliver(&self, v: Value, msg: &Value) -> anyhow::Result<()> {
        if msg["method"] == "initialize"
            && v.get("id") == msg.get("id")
            && let Some(p) = v["result"]["protocolVersion"].as_str()
        {
            *self.protocol.lock().unwrap_or_else(|e| e.into_inner()) = Some(p.to_owned());
        }
        self.write(&v).await
    }

    /// Ends the server's session (streamable HTTP: `DELETE` with its id), if it has one.
    async fn close(&self) {
        let session = self
            .session
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let Some(session) = session else { return };
        let Ok(creds) = self.engine.credentials(&self.key).await else {
            return;
        };
        let _ = self
            .http
            .delete(&self.url)
            .bearer_auth(creds.access_token())
            .header("mcp-session-id", session)
            .send()
            .await;
    }
}

/// Whether an answer is a stream of server-sent events.
fn is_sse(resp: &reqwest::Response) -> bool {
    resp.headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/event-stream"))
}

/// The most one server-sent event may hold before the stream is given up: far above any real
/// message, so a server that never ends an event cannot make the proxy hold gigabytes.
const MAX_EVENT: usize = 16 << 20;

/// A server-sent event over [`MAX_EVENT`] bytes.
#[derive(Debug)]
struct Oversized;

impl std::fmt::Display for Oversized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the MCP server sent an event larger than {} MiB; the stream is given up",
            MAX_EVENT >> 20
        )
    }
}

impl std::error::Error for Oversized {}

/// One server-sent event: its id, retry and data (empty for a priming event).
#[derive(Debug, PartialEq, Eq)]
struct Event {
    id: Option<String>,
    data: String,
    retry: Option<u64>,
}

/// Splits a stream of server-sent events into events as its chunks arrive. Bytes are kept
/// until an event is complete (so a character split across chunks stays whole), each chunk is
/// scanned once, and an event over [`MAX_EVENT`] ends the stream. Comments are skipped.
#[derive(Default)]
struct Sse {
    buf: Vec<u8>,
    /// How much of `buf` holds no event boundary.
    scanned: usize,
}

impl Sse {
    fn push(&mut self, chunk: &[u8]) -> Result<Vec<Event>, Oversized> {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        // A boundary may straddle the previous chunk's end: look back three bytes.
        while let Some((end, len)) = boundary(&self.buf, self.scanned.saturating_sub(3)) {
            let raw: Vec<u8> = self.buf.drain(..end + len).collect();
            self.scanned = 0;
            if let Some(event) = parse_event(&String::from_utf8_lossy(&raw[..end])) {
                out.push(event);
            }
        }
        self.scanned = self.buf.len();
        if self.buf.len() > MAX_EVENT {
            return Err(Oversized);
        }
        Ok(out)
    }
}

/// Where the first blank line (the end of an event) at or after `from` starts, and its length.
fn boundary(buf: &[u8], from: usize) -> Option<(usize, usize)> {
    (from..buf.len()).find_map(|i| {
        let rest = &buf[i..];
        if rest.starts_with(b"\r\n\r\n") {
            Some((i, 4))
        } else if rest.starts_with(b"\n\n") || rest.starts_with(b"\r\r") {
            Some((i, 2))
        } else {
            None
        }
    })
}

/// An event's fields (`None` for a block of comments only).
fn parse_event(text: &str) -> Option<Event> {
    let (mut id, mut data, mut retry, mut any) = (None, Vec::new(), None, false);
    for line in text.split(['\n', '\r']).filter(|l| !l.is_empty()) {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => id = Some(value.to_owned()),
            "data" => data.push(value),
            "retry" => retry = value.parse().ok(),
            _ => continue,
        }
        any = true;
    }
    any.then(|| Event {
        id,
        data: data.join("\n"),
        retry,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_split_across_chunks_with_their_ids() {
        let mut sse = Sse::default();
        assert_eq!(sse.push(b"id: 7\r\ndata: {\"a\":\"\xc3").unwrap(), []);
        assert_eq!(
            sse.push(b"\xa9\"}\r\n\r\n: comment\n\nretry: 500\ndata: x\ndata: y\n\nid: 8\nretry: 3000\n\n")
                .unwrap(),
            [
                Event {
                    id: Some("7".into()),
                    data: "{\"a\":\"\u{e9}\"}".into(),
                    retry: None
                },
                Event {
                    id: None,
                    data: "x\ny".into(),
                    retry: Some(500)
                },
                Event {
                    id: Some("8".into()),
                    data: String::new(),
                    retry: Some(3000)
                },
            ],
            "a character split across chunks stays whole; a priming event is an event"
        );
        // A boundary split across chunks.
        assert_eq!(sse.push(b"data: z\r\n\r").unwrap(), []);
        assert_eq!(sse.push(b"\n").unwrap()[0].data, "z");
    }

    #[test]
    fn an_event_without_end_is_given_up_past_the_limit() {
        let mut sse = Sse::default();
        let line = vec![b'x'; 1 << 20];
        assert!(sse.push(b"data: ").is_ok());
        for _ in 0..15 {
            assert!(sse.push(&line).is_ok());
        }
        assert!(sse.push(&line).is_err(), "16 MiB and more without an end");
    }
}
