//! keyfob gives LLM-agent tools their credentials: a tool asks for a provider and scopes, and
//! keyfob finds a valid session or runs the flow that gets one (OAuth2 with PKCE through a local
//! callback server, or a token-entry page), stores it encrypted, refreshes it before it expires,
//! and hands the tool its environment (`GITHUB_TOKEN=…`).
//!
//! ```no_run
//! # async fn demo() -> keyfob::Result<()> {
//! let (config, _) = keyfob::Config::load(None)?;
//! let engine = keyfob::open(config).await?;
//! match engine.ensure(&keyfob::AuthRequest::new("github").scopes(["repo"])).await? {
//!     keyfob::Ensured::Ready(creds) => { /* run the tool with creds.env() */ }
//!     keyfob::Ensured::Prompt(p) => println!("{}: {}", p.message, p.url),
//! }
//! # Ok(()) }
//! ```
//!
//! # Features
//!
//! | feature | enables | default |
//! |---|---|---|
//! | `<provider id>` (`github`, `notion`, `slack`, …; see the README's table) | that provider's crate | github, notion, slack |
//! | `all-providers`, `oauth2-providers`, `token-providers` | groups of provider crates | no |
//! | `store-sqlite` | the embedded encrypted store | yes |
//! | `store-redis` | the shared Redis store, for several instances | no |
//! | `store-postgres` | the durable shared PostgreSQL store, for several instances | no |
//! | `all-stores` | every store | no |
//! | `rmcp` | `keyfob::rmcp`: the official Rust MCP SDK's credential and state stores on keyfob's stores (Rust 1.88) | no |
//! | `mcp-server` | `keyfob::mcp_server`: a `Keyfob`'s tools served over MCP, logins asked through URL elicitation (Rust 1.88) | no |
//!
//! A provider whose feature is off is reported by name with the feature that enables it.
//!
//! This crate is wiring: the engine is `keyfob-core`, the tools API `keyfob-tools`, and the
//! providers and stores are their own crates, which the features above link.

pub mod providers;

/// The tools API (the `keyfob-tools` crate), with [`Keyfob`] bound to this build's providers.
pub mod tools {
    pub use keyfob_tools::{
        CommandTool, DELETE_SESSION, FnTool, IntoToolOutput, Invocation, LIST_SESSIONS,
        ManifestAuth, NoArgs, Tool, ToolAuth, ToolError, ToolFuture, ToolManifest, Value,
        parse_args, schema_for,
    };

    pub use crate::Keyfob;
}

pub use keyfob_core::{
    AuthRequest, CallbackParams, Completed, Config, Credentials, Engine, EngineBuilder,
    EngineStats, Ensured, Error, ErrorKind, ExposeSecret, Grant, LinkCookies, Opened, Prompt,
    Provider, RefreshAhead, RefreshAheadTask, Result, Revocation, SecretString, Session,
    SessionInfo, SessionKey, SessionState, SessionStore, SetCookie, SignOut, SignedOut,
};
pub use keyfob_core::{config, crypto, mcp, now, registry, spec, store};
pub use keyfob_macros::tool;
#[cfg(feature = "mcp-server")]
pub use keyfob_mcp_server as mcp_server;
#[cfg(feature = "rmcp")]
pub use keyfob_rmcp as rmcp;
#[cfg(feature = "store-postgres")]
pub use keyfob_store_postgres as store_postgres;
#[cfg(feature = "store-redis")]
pub use keyfob_store_redis as store_redis;
#[cfg(feature = "store-sqlite")]
pub use keyfob_store_sqlite as store_sqlite;
pub use keyfob_tools::open_store;
pub use schemars;
pub use tools::{Invocation, Tool, ToolAuth, ToolManifest};

/// The orchestrator ([`keyfob_tools::Keyfob`]) for this build: [`Keyfob::from_config`] builds its
/// engine with [`builder`], so every provider the features enable is served.
pub type Keyfob = keyfob_tools::Keyfob<LinkedProviders>;

/// The providers this build's features link, as the tools crate asks for them.
#[derive(Debug, Clone, Copy, Default)]
pub struct LinkedProviders;

impl keyfob_tools::Providers for LinkedProviders {
    fn builder() -> EngineBuilder {
        builder()
    }
}

/// An engine builder that knows every provider crate (so disabled ones get a helpful error).
pub fn builder() -> EngineBuilder {
    // Reference every enabled provider's static in every profile, so the linker keeps each
    // provider's object file, and the registration inside it, even under LTO.
    std::hint::black_box(providers::ENABLED);
    Engine::builder().known_providers(providers::KNOWN)
}

/// An engine for `config`, with the store it selects and every compiled-in provider.
///
/// # Errors
/// As [`open_store`], and invalid config.
pub async fn open(config: Config) -> Result<Engine> {
    keyfob_tools::open_with(builder(), config).await
}

/// An engine for `config` that serves the protected MCP server `target` (a `[mcp.<name>]` name
/// or its URL), discovered and registered first; returns it with the server's provider id.
///
/// # Errors
/// As [`open`], and discovery's and registration's errors.
pub async fn open_mcp(config: Config, target: &str) -> Result<(Engine, String)> {
    keyfob_tools::open_mcp_with(builder(), config, target).await
}
