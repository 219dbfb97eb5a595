//! Opening what config selects: the session store ([`open_store`]) and an engine on it
//! ([`open_with`]).
//!
//! Invariants:
//! - A store this build lacks is a `Config` error naming the feature that adds it, never a
//!   silent fallback to another store.
//! - A Redis or PostgreSQL store is shared by several instances, so its key must be configured
//!   (`key` or `key_file`); no per-machine key file is made for it. SQLite takes the configured key, else
//!   a key file (under the home unless configured).

use std::sync::Arc;

use keyfob_core::config::StoreKind;
use keyfob_core::{Config, Engine, EngineBuilder, Error, ErrorKind, Result, SessionStore, store};
// Only the stores behind features read keys.
#[cfg(any(
    feature = "store-sqlite",
    feature = "store-redis",
    feature = "store-postgres"
))]
use keyfob_core::{ExposeSecret, crypto};
#[cfg(feature = "store-postgres")]
use keyfob_store_postgres as store_postgres;
#[cfg(feature = "store-redis")]
use keyfob_store_redis as store_redis;
#[cfg(feature = "store-sqlite")]
use keyfob_store_sqlite as store_sqlite;

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
            let sealer = shared_sealer(config, "redis")?;
            let prefix = config.store.prefix.as_deref().unwrap_or("keyfob");
            let options = store_redis::Options {
                tls: store_redis::Tls {
                    ca: config.store.tls_ca.clone(),
                    cert: config.store.tls_cert.clone(),
                    key: config.store.tls_key.clone(),
                },
                client_cache: config
                    .store
                    .client_cache
                    .then(|| std::time::Duration::from_secs(config.session.refresh_margin_secs)),
            };
            Ok(Arc::new(
                store_redis::RedisStore::connect_with(url, prefix, sealer, &options).await?,
            ))
        }
        #[cfg(not(feature = "store-redis"))]
        StoreKind::Redis => Err(Error::new(
            ErrorKind::Config,
            "the redis store is not compiled into this build; enable the `store-redis` feature or set [store] kind = \"sqlite\" or \"memory\"",
        )),
        #[cfg(feature = "store-postgres")]
        StoreKind::Postgres => {
            let url = config.store.url.as_deref().ok_or_else(|| {
                Error::new(
                    ErrorKind::Config,
                    "[store] kind = \"postgres\" needs url = \"postgres://user:password@host[:port]/database\" (or KEYFOB_STORE__URL)",
                )
            })?;
            let sealer = shared_sealer(config, "postgres")?;
            let tls = store_postgres::Tls {
                ca: config.store.tls_ca.clone(),
                cert: config.store.tls_cert.clone(),
                key: config.store.tls_key.clone(),
            };
            Ok(Arc::new(
                store_postgres::PostgresStore::connect_with(url, sealer, &tls).await?,
            ))
        }
        #[cfg(not(feature = "store-postgres"))]
        StoreKind::Postgres => Err(Error::new(
            ErrorKind::Config,
            "the postgres store is not compiled into this build; enable the `store-postgres` feature or set [store] kind = \"sqlite\" or \"memory\"",
        )),
    }
}

/// The key of a store several instances share: configured, the same on every instance (no
/// per-machine key file is made).
#[cfg(any(feature = "store-redis", feature = "store-postgres"))]
fn shared_sealer(config: &Config, kind: &str) -> Result<crypto::Sealer> {
    match (&config.store.key, &config.store.key_file) {
        (Some(k), _) => crypto::Sealer::from_base64(k.expose_secret()),
        (None, Some(f)) => crypto::Sealer::from_key_file(f),
        (None, None) => Err(Error::new(
            ErrorKind::Config,
            format!(
                "a {kind} store is shared, so its key must be too: set [store] key \
                 (KEYFOB_STORE__KEY) to the same base64 key on every instance"
            ),
        )),
    }
}

/// An engine for `config` from `builder`, with the store `config` selects (the facade's
/// `keyfob::open` passes `keyfob::builder()`, which knows every compiled-in provider).
///
/// # Errors
/// As [`open_store`], and invalid config.
pub async fn open_with(builder: EngineBuilder, mut config: Config) -> Result<Engine> {
    let store = open_store(&config).await?;
    // MCP servers logged into before are providers too (from their records, no network).
    keyfob_core::mcp::restore(&mut config, &*store).await?;
    builder.config(config).store(store).build()
}

/// As [`open_with`], with the MCP server `target` (a `[mcp.<name>]` name or a URL) discovered
/// and registered first; returns the engine and the server's provider id (`mcp_<name>`).
///
/// # Errors
/// As [`open_with`], and [`keyfob_core::mcp::prepare`]'s.
pub async fn open_mcp_with(
    builder: EngineBuilder,
    mut config: Config,
    target: &str,
) -> Result<(Engine, String)> {
    let store = open_store(&config).await?;
    keyfob_core::mcp::restore(&mut config, &*store).await?;
    let id = keyfob_core::mcp::prepare(&mut config, &*store, target).await?;
    Ok((builder.config(config).store(store).build()?, id))
}
