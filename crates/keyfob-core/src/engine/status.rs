//! What the engine says about sessions without secrets: [`Engine::status`] (a thread's
//! sessions as [`SessionInfo`]) and [`Engine::state`] (one request's session, pending and
//! resolved flows included).
//!
//! Invariants:
//! - Nothing here returns a secret: `SessionInfo` has no token field, only whether a refresh
//!   token is held.
//! - `state` judges a session by the scopes asked for, and a token handler's by none.

use crate::engine::Engine;
use crate::engine::request::AuthRequest;
use crate::error::Result;
use crate::now;
use crate::scope::{self, Scopes};
use crate::session::SessionState;
use crate::store::FlowStatus;

/// A session as `status` shows it: no secrets.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SessionInfo {
    /// Provider id.
    pub provider: String,
    /// Thread.
    pub thread: String,
    /// Profile.
    pub profile: String,
    /// Handler name.
    pub handler: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Unix seconds; `None` when the token does not expire.
    pub expires_at: Option<i64>,
    /// Whether a refresh token is held.
    pub refreshable: bool,
    /// State now.
    pub state: SessionState,
    /// The last refresh failure that needs the user.
    pub refresh_error: Option<String>,
    /// Unix seconds of the last write.
    pub updated_at: i64,
    /// A refresh failed in a way only a new login fixes: the session works until its access
    /// token expires, then the tools API asks for a login. `status` says "needs
    /// re-authentication".
    pub needs_reauth: bool,
    /// The account, as the provider names it.
    pub identity: Option<String>,
    /// The scopes the login asked for (`scopes` are those granted).
    pub requested_scopes: Vec<String>,
}

impl Engine {
    /// Sessions of one thread (or all), without secrets.
    ///
    /// # Errors
    /// Store failures.
    pub async fn status(&self, thread: Option<&str>) -> Result<Vec<SessionInfo>> {
        let now = now();
        let sessions = self.inner.store.list(thread).await?;
        Ok(sessions
            .into_iter()
            .filter(|s| !crate::mcp::is_record(&s.key))
            .map(|s| SessionInfo {
                state: s.state(&Scopes::new(), now, self.margin()),
                provider: s.key.provider,
                thread: s.key.thread,
                profile: s.key.profile,
                handler: s.handler,
                scopes: s.grant.scopes.into_iter().collect(),
                expires_at: s.grant.expires_at,
                refreshable: s.grant.refresh_token.is_some(),
                needs_reauth: s.refresh_error.is_some(),
                refresh_error: s.refresh_error,
                updated_at: s.updated_at,
                identity: s.grant.identity,
                requested_scopes: s.grant.requested.into_iter().collect(),
            })
            .collect())
    }

    /// The state of the session for `req`, including pending and resolved flows.
    ///
    /// # Errors
    /// Unknown provider, store failures.
    pub async fn state(&self, req: &AuthRequest) -> Result<SessionState> {
        let (_, handler) = self
            .inner
            .catalog
            .handler(&req.provider, req.handler.as_deref())?;
        let key = req.key();
        if let Some(p) = self.inner.store.pending_for(&key).await? {
            match p.status {
                FlowStatus::Waiting | FlowStatus::Claimed if p.expires_at > now() => {
                    return Ok(SessionState::Pending);
                }
                FlowStatus::Done => return Ok(SessionState::Resolved),
                _ => {}
            }
        }
        let wanted = if handler.scoped() {
            scope::from_iter(req.scopes.iter().map(String::as_str))
        } else {
            Scopes::new()
        };
        Ok(match self.inner.store.get(&key).await? {
            None => SessionState::None,
            Some(s) => s.state(&wanted, now(), self.margin()),
        })
    }
}
