//! Building an [`Engine`]: the config (validated first), the catalog of compiled-in and
//! config-defined providers, the HTTP runtime, the store, and the callback base URL.
//!
//! Invariants:
//! - An invalid config builds nothing: `build` validates it before anything else.
//! - Without a store given, the engine gets a memory store of its own.
//! - The callback base is `[server] public_base_url` when set, else the bind address (an
//!   unspecified address shown as 127.0.0.1, https when the server serves TLS), with the path
//!   prefix appended.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::config::Config;
use crate::engine::custom_provider::custom_provider;
use crate::engine::refresh_ahead::Counters;
use crate::engine::{Engine, Inner};
use crate::error::Result;
use crate::oauth::{Network, Runtime};
use crate::registry::Catalog;
use crate::store::{MemoryStore, SessionStore};

/// Builds an [`Engine`].
#[derive(Debug, Default)]
pub struct EngineBuilder {
    config: Config,
    store: Option<Arc<dyn SessionStore>>,
    known: &'static [&'static str],
    network: Network,
}

impl EngineBuilder {
    /// Uses this config.
    #[must_use]
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Uses this store (the memory store otherwise).
    #[must_use]
    pub fn store(mut self, store: Arc<dyn SessionStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Names every provider that exists as a crate, enabled or not (the facade passes it).
    #[must_use]
    pub fn known_providers(mut self, known: &'static [&'static str]) -> Self {
        self.known = known;
        self
    }

    /// Sends requests for `host` to `addr` instead of the address DNS gives (as curl's
    /// `--resolve`): a provider reached through a split-horizon network, or a test server
    /// standing in for a provider at its real URL. TLS still checks the certificate for `host`;
    /// `addr`'s port is used unless the URL names one. Code only: no config key reaches it.
    #[must_use]
    pub fn resolve(mut self, host: &str, addr: std::net::SocketAddr) -> Self {
        self.network.resolve.push((host.to_owned(), addr));
        self
    }

    /// Trusts this certificate authority (PEM) for requests to providers, besides the system's
    /// roots: a company's TLS-inspecting proxy, or a test server's own CA.
    #[must_use]
    pub fn root_certificate_pem(mut self, pem: &[u8]) -> Self {
        self.network.root_certificates.push(pem.to_vec());
        self
    }

    /// The engine.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) for an invalid config.
    pub fn build(self) -> Result<Engine> {
        self.config.validate()?;
        let mut catalog = Catalog::compiled(self.known);
        for (id, custom) in &self.config.providers {
            catalog.insert(custom_provider(id, custom));
        }
        let runtime = Arc::new(Runtime::with_network(
            Duration::from_secs(self.config.session.http_timeout_secs.max(1)),
            &self.network,
        )?);
        let base = default_base(&self.config);
        Ok(Engine {
            inner: Arc::new(Inner {
                catalog,
                store: self.store.unwrap_or_else(|| Arc::new(MemoryStore::new())),
                runtime,
                base: RwLock::new(base),
                flights: Mutex::new(HashMap::new()),
                completed: tokio::sync::Notify::new(),
                last_purge: std::sync::atomic::AtomicI64::new(0),
                failures: Mutex::new(HashMap::new()),
                stats: Counters::default(),
                config: self.config,
            }),
        })
    }
}

pub(crate) fn default_base(config: &Config) -> String {
    let prefix = &config.server.path_prefix;
    match &config.server.public_base_url {
        Some(u) => format!("{}{prefix}", u.trim_end_matches('/')),
        None => {
            let mut addr = config.server.bind;
            if addr.ip().is_unspecified() {
                addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            let scheme = if config.server.https() {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{addr}{prefix}")
        }
    }
}
