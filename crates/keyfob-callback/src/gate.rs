//! Gates: who may open a login link, on top of "the first browser that opens it".
//!
//! A server that asks several users for logins (keyfob's MCP server, where each MCP user has
//! their own sessions) must also make sure that the browser opening a link is the user the flow
//! is for; otherwise a user could forward their link to someone else, whose account would then
//! land in the first user's sessions. A [`Gate`] given to [`start_with`](crate::start_with)
//! sees every start link before the flow is bound to a browser, and may answer instead (send
//! the browser to sign in, refuse it); its own pages (a sign-in callback) are served by the
//! callback server.
//!
//! Invariants:
//! - While a gate answers a start link, the flow stays unbound, so the right user can still
//!   open it.
//! - The links of a protected MCP server's users (`keyfob_core::mcp::is_user_thread`) open only
//!   where a gate let them through ([`Engine::open_link_after_gate`]); a callback server without
//!   a gate sharing the store (`keyfob serve`) refuses them, in the engine.
//!
//! [`Engine::open_link_after_gate`]: keyfob_core::Engine::open_link_after_gate

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use keyfob_core::SessionKey;

/// A check on who opens a login link (see the module's doc).
#[async_trait::async_trait]
pub trait Gate: Send + Sync + std::fmt::Debug {
    /// Before `link` binds this browser to its flow: `None` lets it open; `Some(answer)` is
    /// sent instead (a redirect to sign in, a refusal) and the flow stays unbound.
    async fn check(&self, link: &StartLink<'_>) -> Option<Response>;

    /// The gate's own pages, served under the callback server's path prefix with its host check
    /// and security headers.
    fn routes(&self) -> Router;
}

/// A start link being opened.
#[derive(Debug)]
pub struct StartLink<'a> {
    /// The session its flow will write (the user it is for is in the thread).
    pub key: &'a SessionKey,
    /// The provider of the route.
    pub provider: &'a str,
    /// The link's `state`.
    pub state: &'a str,
    /// The link's other query parameters.
    pub query: &'a [(String, String)],
    /// The request's headers (its cookies).
    pub headers: &'a HeaderMap,
}

/// A page in the callback server's style: `title` and `message` are escaped.
pub fn page(status: StatusCode, title: &str, message: &str) -> Response {
    (status, Html(crate::pages::error(title, message))).into_response()
}
