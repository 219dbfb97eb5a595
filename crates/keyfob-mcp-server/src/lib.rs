//! keyfob's tools over the Model Context Protocol, on the official Rust SDK ([`rmcp`]): every
//! tool a [`Keyfob`] holds (`#[keyfob::tool]` functions, `Tool` impls, TOML manifests, the
//! built-in session tools) is listed with its name, description and argument schema, and called
//! with the credentials it declares.
//!
//! A call whose provider is not connected yet asks the user, the way the MCP specification
//! (2025-11-25) gives for a third-party login:
//! - a client that declared URL elicitation gets an `elicitation/create` request in URL mode
//!   with keyfob's link for that provider (the token page of a token provider, the start of an
//!   OAuth2 flow); once the user finished, `notifications/elicitation/complete` follows and the
//!   call completes with the tool's result;
//! - from protocol 2026-07-28, where a server sends the client no requests, the same
//!   elicitation goes out in an input-required result (its request state is the flow's id);
//!   the client's call made again with the user's answer waits for the login and completes;
//! - any other client gets a tool result that carries the link and says to call again.
//!
//! Invariants:
//! - A link is keyfob's start link: it carries only the flow's single-use `state`, and the
//!   first browser that opens it is the only one that can finish the flow. On a protected
//!   server that browser must also sign in as the user the link was made for
//!   ([`connect::ConnectGate`]), so a forwarded link cannot attach someone else's account.
//! - Form-mode elicitation is never used: secrets are typed on keyfob's page, never through
//!   the MCP client.
//! - A call waits for the user at most [`ToolServer::with_connect_timeout`] (five minutes by
//!   default), for the client's answer to the elicitation and again for the login; then it
//!   answers that the login did not finish.
//! - Over HTTP ([`serve_http`]) only the listed hosts are served (`Host` checked, loopback names
//!   by default), so a web page cannot reach a local server through DNS rebinding.
//! - A protected server ([`auth::ResourceAuth`]) serves each user with their own sessions: the
//!   thread is derived from the access token's issuer and subject, so one user's calls never
//!   use another's credentials.

pub mod auth;
pub mod connect;

use std::sync::Arc;
use std::time::Duration;

use keyfob_core::Prompt;
use keyfob_tools::{Invocation, Keyfob};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, CustomNotification,
    ElicitRequest, ElicitRequestParams, ElicitResult, ElicitationAction, Implementation,
    InputRequest, InputRequiredResult, ListToolsResult, PaginatedRequestParams, ProtocolVersion,
    ServerCapabilities, ServerConfig, ServerNotification, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::Value;

/// The MCP server of a [`Keyfob`]'s tools, for one thread and profile of keyfob's sessions.
#[derive(Debug)]
pub struct ToolServer<P> {
    keyfob: Arc<Keyfob<P>>,
    thread: String,
    profile: String,
    connect_timeout: Duration,
    /// Served behind [`auth::ResourceAuth`]: every call must come with its user.
    protected: bool,
}

impl<P> Clone for ToolServer<P> {
    fn clone(&self) -> Self {
        ToolServer {
            keyfob: self.keyfob.clone(),
            thread: self.thread.clone(),
            profile: self.profile.clone(),
            connect_timeout: self.connect_timeout,
            protected: self.protected,
        }
    }
}

impl<P> ToolServer<P> {
    /// Serves `keyfob`'s tools with the sessions of `thread` and `profile`.
    pub fn new(keyfob: Arc<Keyfob<P>>, thread: &str, profile: &str) -> Self {
        ToolServer {
            keyfob,
            thread: thread.to_owned(),
            profile: profile.to_owned(),
            connect_timeout: Duration::from_secs(300),
            protected: false,
        }
    }

    /// The tools served, and their engine.
    pub fn keyfob(&self) -> &Keyfob<P> {
        &self.keyfob
    }

    /// How long a call waits for the user to finish a login it asked for.
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The tools as MCP lists them.
    pub fn tools(&self) -> Vec<Tool> {
        self.keyfob
            .tools()
            .map(|t| {
                let schema = match t.parameters() {
                    Value::Object(o) => o.clone(),
                    _ => serde_json::Map::new(),
                };
                Tool::new(t.name().to_owned(), t.description().to_owned(), schema)
            })
            .collect()
    }

    /// Runs a call: the tool's result, or the user's login first (see the crate's doc).
    async fn call(
        &self,
        request: &CallToolRequestParams,
        context: &RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let name = &request.name;
        let args = Value::Object(request.arguments.clone().unwrap_or_default());
        let thread = self.thread_of(context)?;
        let invocation = self.invoke(name, args.clone(), &thread).await?;
        let prompt = match invocation {
            Invocation::Paused(p) => p,
            done => return Ok(result(done).into()),
        };
        if !elicits_urls(context) {
            return Ok(failed(format!(
                "{} is not connected. Open this link to connect it, then call the tool again: {}",
                prompt.key.provider, prompt.url
            )));
        }
        let answer = if asks_in_results(context) {
            // 2026-07-28: no request to the client; the elicitation goes out in an
            // input-required result, and the client's answer comes back with the call again.
            match answer_in(request, &prompt) {
                Some(action) => action,
                None => return Ok(CallToolResponse::InputRequired(login_input(&prompt))),
            }
        } else {
            match self.ask(&prompt, context).await {
                Ok(action) => action,
                Err(why) => return Ok(failed(why)),
            }
        };
        match self.connect(&prompt, &answer, context).await {
            Ok(()) => Ok(result(self.invoke(name, args, &thread).await?).into()),
            Err(why) => Ok(failed(why)),
        }
    }

    /// The thread of the caller's sessions: the token's user's own on a protected server, the
    /// configured one otherwise. A protected server never falls back to the configured thread.
    fn thread_of(&self, context: &RequestContext<RoleServer>) -> Result<String, ErrorData> {
        let subject = context
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|p| p.extensions.get::<auth::Subject>());
        match subject {
            Some(s) => Ok(user_thread(s)),
            None if self.protected => Err(ErrorData::internal_error(
                "the request carries no user (no checked access token)",
                None,
            )),
            None => Ok(self.thread.clone()),
        }
    }

    async fn invoke(&self, name: &str, args: Value, thread: &str) -> Result<Invocation, ErrorData> {
        self.keyfob
            .invoke(name, args, thread, &self.profile)
            .await
            .map_err(|e| match e.kind() {
                keyfob_core::ErrorKind::InvalidInput => {
                    ErrorData::invalid_params(e.to_string(), None)
                }
                _ => ErrorData::internal_error(e.to_string(), None),
            })
    }

    /// Asks the client to show `prompt`'s link (an `elicitation/create` request, 2025-11-25):
    /// the user's answer.
    async fn ask(
        &self,
        prompt: &Prompt,
        context: &RequestContext<RoleServer>,
    ) -> Result<ElicitationAction, String> {
        let provider = &prompt.key.provider;
        let asked = context.peer.create_elicitation(login_elicitation(prompt));
        tokio::select! {
            answer = tokio::time::timeout(self.connect_timeout, asked) => match answer {
                Ok(Ok(answer)) => Ok(answer.action),
                Ok(Err(e)) => Err(format!(
                    "the client could not show the login link for {provider}: {e}"
                )),
                Err(_) => Err(format!("the client did not answer the login for {provider}")),
            },
            () = context.ct.cancelled() => {
                Err(format!("the call was cancelled before {provider} was connected"))
            }
        }
    }

    /// Once the user accepted to open `prompt`'s link, waits for the flow to finish and, on a
    /// session that takes requests, tells the client it completed. The reason, when the user
    /// did not connect.
    async fn connect(
        &self,
        prompt: &Prompt,
        answer: &ElicitationAction,
        context: &RequestContext<RoleServer>,
    ) -> Result<(), String> {
        let provider = &prompt.key.provider;
        if *answer != ElicitationAction::Accept {
            return Err(format!("the user did not connect {provider}"));
        }
        tokio::select! {
            waited = self.keyfob.wait(prompt, self.connect_timeout) => {
                waited.map_err(|e| format!("the login to {provider} did not finish: {e}"))?;
            }
            () = context.ct.cancelled() => {
                return Err(format!("the call was cancelled before {provider} was connected"));
            }
        }
        if asks_in_results(context) {
            return Ok(());
        }
        let done = CustomNotification::new(
            "notifications/elicitation/complete",
            Some(serde_json::json!({ "elicitationId": prompt.flow_id })),
        );
        if let Err(e) = context
            .peer
            .send_notification(ServerNotification::CustomNotification(done))
            .await
        {
            tracing::debug!(error = %e, "cannot send the elicitation's completion");
        }
        Ok(())
    }
}

/// The key of the login among an input-required result's requests (2026-07-28).
const LOGIN_INPUT: &str = "keyfob-login";

/// The URL elicitation that asks the user to finish `prompt`.
fn login_elicitation(prompt: &Prompt) -> ElicitRequestParams {
    ElicitRequestParams::UrlElicitationParams {
        meta: None,
        message: format!("{} ({}, for keyfob)", prompt.message, prompt.key.provider),
        url: prompt.url.clone(),
        elicitation_id: prompt.flow_id.clone(),
    }
}

/// An input-required result asking for `prompt`'s login; the request state is the flow's id
/// (not secret: it only says which login the answer is about).
fn login_input(prompt: &Prompt) -> InputRequiredResult {
    let asked = InputRequest::Elicitation(ElicitRequest::new(login_elicitation(prompt)));
    InputRequiredResult::new(
        Some([(LOGIN_INPUT.to_owned(), asked)].into()),
        Some(prompt.flow_id.clone()),
    )
}

/// The user's answer to `prompt`'s login, when the call comes again with it (2026-07-28); an
/// answer about another login (an expired flow replaced since) is none.
fn answer_in(request: &CallToolRequestParams, prompt: &Prompt) -> Option<ElicitationAction> {
    if request.request_state.as_deref() != Some(prompt.flow_id.as_str()) {
        return None;
    }
    let answer = request.input_responses.as_ref()?.get(LOGIN_INPUT)?;
    Some(
        serde_json::from_value::<ElicitResult>(answer.clone())
            .map_or(ElicitationAction::Decline, |r| r.action),
    )
}

/// Whether the call's protocol forbids requests to the client (2026-07-28 and later), so the
/// login is asked in the result.
fn asks_in_results(context: &RequestContext<RoleServer>) -> bool {
    context
        .protocol_version()
        .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28)
}

fn failed(why: String) -> CallToolResponse {
    CallToolResult::error(vec![ContentBlock::text(why)]).into()
}

pub use keyfob_core::mcp::USER_THREAD_PREFIX;

/// The thread of a protected server's user: `mcp-user-` and 32 hex digits (128 bits) of the
/// SHA-256 of the issuer and subject (a subject may hold any character; the hash keeps users
/// apart).
pub fn user_thread(s: &auth::Subject) -> String {
    let digest = keyfob_core::crypto::sha256_hex(&format!("{}\0{}", s.issuer, s.subject));
    format!("{USER_THREAD_PREFIX}{}", &digest[..32])
}

/// Whether the client declared URL-mode elicitation (in `initialize`, or in the request's
/// metadata from 2026-07-28).
fn elicits_urls(context: &RequestContext<RoleServer>) -> bool {
    context
        .client_capabilities()
        .is_some_and(|c| c.elicitation.as_ref().is_some_and(|e| e.url.is_some()))
}

/// A finished invocation as a tool result: the value as JSON text (and as structured content
/// when it is an object), or the tool's error.
fn result(invocation: Invocation) -> CallToolResult {
    match invocation {
        Invocation::Done(Value::String(text)) => {
            CallToolResult::success(vec![ContentBlock::text(text)])
        }
        Invocation::Done(value) => {
            CallToolResult::success(vec![ContentBlock::text(value.to_string())])
        }
        Invocation::Failed(e) => CallToolResult::error(vec![ContentBlock::text(e.to_string())]),
        Invocation::Paused(p) => CallToolResult::error(vec![ContentBlock::text(format!(
            "{} is still not connected: {}",
            p.key.provider, p.url
        ))]),
    }
}

impl<P: 'static> ServerHandler for ToolServer<P> {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("keyfob", env!("CARGO_PKG_VERSION")))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.call(&request, &context).await
    }
}

/// Serves `server` over streamable HTTP at `/mcp` on `listener` until `shutdown` resolves.
/// `allowed_hosts` are the `Host` values (names, or `name:port`) served; any other is refused
/// (403), which stops DNS-rebinding attacks on a local server. With `auth`, every request needs
/// a valid access token, and the resource metadata is served at its well-known URL.
///
/// # Errors
/// When the listener fails.
pub async fn serve_http<P: Send + Sync + 'static>(
    server: ToolServer<P>,
    listener: tokio::net::TcpListener,
    allowed_hosts: Vec<String>,
    auth: Option<Arc<auth::ResourceAuth>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
    use rmcp::transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService,
    };
    let mut server = server;
    server.protected = auth.is_some();
    let config = StreamableHttpServerConfig::default().with_allowed_hosts(allowed_hosts);
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let mut app = axum::Router::new().nest_service("/mcp", service);
    if let Some(auth) = auth {
        app = app.layer(axum::middleware::from_fn_with_state(
            auth.clone(),
            auth::require_token,
        ));
        let metadata = axum::Json(auth.metadata());
        let path = url::Url::parse(&auth.metadata_url())
            .map(|u| u.path().to_owned())
            .unwrap_or_default();
        let prm =
            axum::Router::new().route(&path, axum::routing::get(move || async move { metadata }));
        app = app.merge(prm);
    }
    // Answers go out in several small writes (headers, events): without TCP_NODELAY, Nagle's
    // algorithm and the client's delayed ACK add about 40 ms to every call.
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
