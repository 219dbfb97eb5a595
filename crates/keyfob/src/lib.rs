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
//! | `all-stores` | every store | no |
//!
//! A provider whose feature is off is reported by name with the feature that enables it.

pub mod providers;
pub mod tools;

use std::sync::Arc;

pub use keyfob_core::{
    AuthRequest, CallbackParams, Completed, Config, Credentials, Engine, EngineBuilder,
    EngineStats, Ensured, Error, ErrorKind, ExposeSecret, Grant, LinkCookies, Opened, Prompt,
    Provider, RefreshAhead, RefreshAheadTask, Result, Revocation, SecretString, Session,
    SessionInfo, SessionKey, SessionState, SessionStore, SetCookie, SignOut, SignedOut,
};
pub use keyfob_core::{config, crypto, now, registry, spec, store};
pub use keyfob_macros::tool;
#[cfg(feature = "store-redis")]
pub use keyfob_store_redis as store_redis;
#[cfg(feature = "store-sqlite")]
pub use keyfob_store_sqlite as store_sqlite;
pub use schemars;
pub use tools::{Invocation, Keyfob, Tool, ToolAuth, ToolManifest};

use keyfob_core::config::StoreKind;

/// An engine builder that knows every provider crate (so disabled ones get a helpful error).
pub fn builder() -> EngineBuilder {
    // Reference every enabled provider's static in every profile, so the linker keeps each
    // provider's object file, and the registration inside it, even under LTO.
    std::hint::black_box(providers::ENABLED);
    Engine::builder().known_providers(providers::KNOWN)
}

/// The store that `config` selects, opened (and, for Redis, connected).
///
/// # Errors
/// [`ErrorKind::Config`] for a store this build lacks or a bad key; [`ErrorKind::Store`] when
/// the store cannot be opened.
pub async fn open_store(config: &Config) -> Result<Arc<dyn SessionStore>> {
    match config.store.kind {
        StoreKind::Memory => Ok(Arc::new(store::MemoryStore::new())),
        #[cfg(feature = "store-sqlite")]
        StoreKind::Sqlite => {
            let home = config.home();
            let path = config
                .store
                .path
                .clone()
                .unwrap_or_else(|| home.join("sessions.db"));
            let sealer = match &config.store.key {
                Some(k) => crypto::Sealer::from_base64(k.expose_secret())?,
                None => crypto::Sealer::from_key_file(
                    &config
                        .store
                        .key_file
                        .clone()
                        .unwrap_or_else(|| home.join("key")),
                )?,
            };
            Ok(Arc::new(store_sqlite::SqliteStore::open(&path, sealer)?))
        }
        #[cfg(not(feature = "store-sqlite"))]
        StoreKind::Sqlite => Err(Error::new(
            ErrorKind::Config,
            "the sqlite store is not compiled into this build; enable the `store-sqlite` feature or set [store] kind = \"memory\"",
        )),
        #[cfg(feature = "store-redis")]
        StoreKind::Redis => {
            let url = config.store.url.as_deref().ok_or_else(|| {
                Error::new(
                    ErrorKind::Config,
                    "[store] kind = \"redis\" needs url = \"redis://[user:password@]host[:port][/db]\" (or KEYFOB_STORE__URL)",
                )
            })?;
            // Every instance must seal with the same key, so no per-machine key file is made.
            let sealer = match (&config.store.key, &config.store.key_file) {
                (Some(k), _) => crypto::Sealer::from_base64(k.expose_secret())?,
                (None, Some(f)) => crypto::Sealer::from_key_file(f)?,
                (None, None) => {
                    return Err(Error::new(
                        ErrorKind::Config,
                        "a redis store is shared, so its key must be too: set [store] key (KEYFOB_STORE__KEY) to the same base64 key on every instance",
                    ));
                }
            };
            let prefix = config.store.prefix.as_deref().unwrap_or("keyfob");
            Ok(Arc::new(
                store_redis::RedisStore::connect(url, prefix, sealer).await?,
            ))
        }
        #[cfg(not(feature = "store-redis"))]
        StoreKind::Redis => Err(Error::new(
            ErrorKind::Config,
            "the redis store is not compiled into this build; enable the `store-redis` feature or set [store] kind = \"sqlite\" or \"memory\"",
        )),
    }
}

/// An engine for `config`, with the store it selects and every compiled-in provider.
///
/// # Errors
/// As [`open_store`], and invalid config.
pub async fn open(config: Config) -> Result<Engine> {
    let store = open_store(&config).await?;
    builder().config(config).store(store).build()
}
