//! keyfob's engine: provider specs and their registry, sessions, the OAuth2 and token flows, the
//! `SessionStore` trait with the in-memory store, encryption at rest, and configuration.
//!
//! No HTTP framework, no SQL and no provider lives here: provider crates depend on this crate,
//! stores implement [`SessionStore`], and the callback server drives [`Engine`].

pub mod config;
pub mod crypto;
pub mod driver;
pub mod engine;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod mcp;
pub mod oauth;
pub mod record;
pub mod registry;
pub mod scope;
pub mod session;
pub mod spec;
pub mod store;

pub use config::Config;
pub use driver::FlowDriver;
pub use engine::{
    AuthRequest, CallbackParams, Completed, Engine, EngineBuilder, EngineStats, Ensured,
    LinkCookies, Opened, Prompt, RefreshAhead, RefreshAheadTask, Revocation, SessionInfo,
    SetCookie, SignOut, SignedOut, TokenPage,
};
pub use error::{Error, ErrorKind, Result};
pub use secrecy::{ExposeSecret, SecretString};
pub use session::{Credentials, Grant, Session, SessionKey, SessionState};
pub use spec::{
    BodyFormat, ClientAuth, Handler, HandlerKind, OAuth2Hooks, OAuth2Spec, Pkce, Provider, Refresh,
    TokenEntry, TokenSpec,
};
pub use store::{MemoryStore, SessionStore};

#[doc(hidden)]
pub use inventory as __inventory;

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
