//! What callers ask the engine and what it answers: an [`AuthRequest`] (provider, handler,
//! scopes, thread, profile), and [`Ensured`]: credentials, or the [`Prompt`] a user must act on.
//!
//! Invariants:
//! - A request's session is exactly (provider, thread, profile) ([`AuthRequest::key`]); the
//!   handler and scopes never change which session is read or written.
//! - A `Prompt`'s URL carries the flow's single-use `state`, so its `Debug` shows neither the URL
//!   nor the message (which names the URL of a device flow).

use std::fmt;

use crate::session::{Credentials, DEFAULT, SessionKey};

/// What a tool asks for: a provider, optionally a handler, scopes, and whose session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthRequest {
    /// Provider id.
    pub provider: String,
    /// Handler name; the provider's default when `None`.
    pub handler: Option<String>,
    /// Scopes the tool needs.
    pub scopes: Vec<String>,
    /// Thread id (`default`).
    pub thread: String,
    /// Profile (`default`).
    pub profile: String,
    /// Use the device authorization grant (a code typed on another device) instead of a
    /// browser redirect; OAuth2 handlers whose provider offers it only.
    pub device: bool,
}

impl AuthRequest {
    /// A request for `provider`'s default handler, default thread and profile, no scopes.
    pub fn new(provider: impl Into<String>) -> Self {
        AuthRequest {
            provider: provider.into(),
            handler: None,
            scopes: Vec::new(),
            thread: DEFAULT.into(),
            profile: DEFAULT.into(),
            device: false,
        }
    }

    /// Chooses a handler.
    #[must_use]
    pub fn handler(mut self, handler: impl Into<String>) -> Self {
        self.handler = Some(handler.into());
        self
    }

    /// Adds scopes.
    #[must_use]
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// Sets the thread.
    #[must_use]
    pub fn thread(mut self, thread: impl Into<String>) -> Self {
        self.thread = thread.into();
        self
    }

    /// Sets the profile.
    #[must_use]
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = profile.into();
        self
    }

    /// Asks for the device flow (RFC 8628): the prompt carries a user code.
    #[must_use]
    pub fn device(mut self, device: bool) -> Self {
        self.device = device;
        self
    }

    /// The session key this request reads and writes.
    pub fn key(&self) -> SessionKey {
        SessionKey::new(&self.provider, &self.thread, &self.profile)
    }
}

/// What the user must do to finish a flow.
#[derive(Clone)]
pub struct Prompt {
    /// The session the flow will write.
    pub key: SessionKey,
    /// The handler running it.
    pub handler: &'static str,
    /// The URL to open. It carries the flow's single-use `state`: show it to the user only.
    pub url: String,
    /// A sentence to show with it.
    pub message: String,
    /// A non-secret id to wait on.
    pub flow_id: String,
    /// Unix seconds after which the URL stops working.
    pub expires_at: i64,
    /// The code to type at the URL, for device flows.
    pub user_code: Option<String>,
}

impl fmt::Debug for Prompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prompt")
            .field("key", &self.key)
            .field("handler", &self.handler)
            .field("flow_id", &self.flow_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The answer to [`Engine::ensure`](crate::Engine::ensure).
#[derive(Debug)]
pub enum Ensured {
    /// The credentials, ready.
    Ready(Credentials),
    /// The user must act first.
    Prompt(Prompt),
}
