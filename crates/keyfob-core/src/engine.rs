//! The engine: finds a valid session or starts the flow that gets one, completes flows from the
//! callback server, refreshes single-flight, and hands out credentials.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::config::{Config, CustomProvider, ProviderConfig};
use crate::error::{Error, ErrorKind, Result, printable};
use crate::handler::{self, AuthHandler, Field, FlowInput, FlowStart, TokenHandler};
use crate::now;
use crate::oauth::{OAuth2Handler, Runtime};
use crate::registry::Catalog;
use crate::scope::{self, Scopes};
use crate::session::{Credentials, DEFAULT, Grant, Session, SessionKey, SessionState};
use crate::spec::{
    ClientAuth, Handler, OAuth2Spec, Pkce, Provider, Refresh, TokenEntry, TokenSpec,
};
use crate::store::{Expect, FlowStatus, MemoryStore, PendingFlow, SessionStore};

mod lifecycle;
mod link;
pub use lifecycle::{EngineStats, RefreshAhead, RefreshAheadTask, Revocation, SignOut, SignedOut};
pub use link::{COOKIE_PREFIX, LinkCookies, Opened, SetCookie};

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

/// The answer to [`Engine::ensure`].
#[derive(Debug)]
pub enum Ensured {
    /// The credentials, ready.
    Ready(Credentials),
    /// The user must act first.
    Prompt(Prompt),
}

/// What the callback route received.
#[derive(Default, Clone)]
pub struct CallbackParams {
    /// `state`.
    pub state: Option<String>,
    /// `code`.
    pub code: Option<String>,
    /// `error`.
    pub error: Option<String>,
    /// `error_description`.
    pub error_description: Option<String>,
    /// `iss` (RFC 9207): the authorization server that sent the response.
    pub iss: Option<String>,
}

impl fmt::Debug for CallbackParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackParams")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

/// A flow completed by the callback server.
#[derive(Debug, Clone)]
pub struct Completed {
    /// The session written.
    pub key: SessionKey,
    /// The provider's display name.
    pub display_name: &'static str,
    /// Things the user should know about what they entered (a key that does not look like this
    /// provider's keys); never contains the secret.
    pub warnings: Vec<String>,
}

/// What the token-entry page shows.
#[derive(Debug, Clone)]
pub struct TokenPage {
    /// The provider's display name.
    pub display_name: &'static str,
    /// Where to get a key.
    pub docs_url: &'static str,
    /// The fields to ask for.
    pub fields: &'static [Field],
    /// Unix seconds when the page stops accepting input.
    pub expires_at: i64,
}

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

/// Builds an [`Engine`].
#[derive(Debug, Default)]
pub struct EngineBuilder {
    config: Config,
    store: Option<Arc<dyn SessionStore>>,
    known: &'static [&'static str],
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

    /// The engine.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for an invalid config.
    pub fn build(self) -> Result<Engine> {
        self.config.validate()?;
        let mut catalog = Catalog::compiled(self.known);
        for (id, custom) in &self.config.providers {
            catalog.insert(custom_provider(id, custom));
        }
        let runtime = Arc::new(Runtime::new(Duration::from_secs(
            self.config.session.http_timeout_secs.max(1),
        ))?);
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
                stats: lifecycle::Counters::default(),
                config: self.config,
            }),
        })
    }
}

/// The engine. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    catalog: Catalog,
    config: Config,
    store: Arc<dyn SessionStore>,
    runtime: Arc<Runtime>,
    base: RwLock<String>,
    flights: Mutex<HashMap<SessionKey, Arc<tokio::sync::Mutex<()>>>>,
    completed: tokio::sync::Notify,
    last_purge: std::sync::atomic::AtomicI64,
    failures: Mutex<HashMap<SessionKey, Failure>>,
    stats: lifecycle::Counters,
}

/// What a new flow asks for.
struct Ask<'a> {
    /// Scopes the caller needs.
    wanted: &'a Scopes,
    /// Scopes the current session already holds (kept: incremental consent).
    granted: &'a Scopes,
    /// Start a new flow even when one is waiting.
    fresh: bool,
    /// Use the device flow.
    device: bool,
}

/// How long a failed refresh is remembered for callers that queued behind it.
const FAILURE_MEMORY: Duration = Duration::from_secs(5);

/// A refresh that failed, shared with the callers that were waiting for it.
struct Failure {
    version: u64,
    at: std::time::Instant,
    kind: ErrorKind,
    message: String,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("store", &self.inner.store.name())
            .field("providers", &self.inner.catalog.iter().count())
            .finish_non_exhaustive()
    }
}

fn default_base(config: &Config) -> String {
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

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// Turns a `[providers.<id>]` table into a provider. Config is read once per process, so the
/// few bytes leaked here buy the same `&'static` specs that compiled-in providers have.
fn custom_provider(id: &str, c: &CustomProvider) -> &'static Provider {
    let id = leak(id.to_owned());
    let scopes: Vec<&'static str> = c.scopes.iter().map(|s| leak(s.clone())).collect();
    let spec: &'static OAuth2Spec = Box::leak(Box::new(OAuth2Spec {
        name: leak(format!("{}-oauth2", id.replace('_', "-"))),
        env_key: leak(
            c.env_key
                .clone()
                .unwrap_or_else(|| format!("{}_TOKEN", id.to_ascii_uppercase())),
        ),
        authorize_url: leak(c.authorize_url.clone().unwrap_or_default()),
        token_url: leak(c.token_url.clone().unwrap_or_default()),
        revoke_url: c.revoke_url.clone().map(leak),
        device_url: c.device_url.clone().map(leak),
        userinfo_url: c.userinfo_url.clone().map(leak),
        scope_separator: leak(c.scope_separator.clone()),
        recommended_scopes: Box::leak(scopes.into_boxed_slice()),
        client_auth: if c.client_auth == "body" {
            ClientAuth::Body
        } else {
            ClientAuth::Basic
        },
        pkce: if c.pkce { Pkce::S256 } else { Pkce::None },
        refresh: match c.refresh.as_str() {
            "none" => Refresh::None,
            "rotating" => Refresh::Rotating,
            _ => Refresh::Plain,
        },
        ..OAuth2Spec::DEFAULTS
    }));
    let handlers: &'static [Handler] = Box::leak(vec![Handler::OAuth2(spec)].into_boxed_slice());
    Box::leak(Box::new(Provider {
        id,
        display_name: leak(c.display_name.clone().unwrap_or_else(|| id.to_owned())),
        handlers,
    }))
}

fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// Hex SHA-256 of a `state`: what stores key pending flows by.
pub fn state_hash(state: &str) -> String {
    hex::encode(Sha256::digest(state.as_bytes()))
}

impl Engine {
    /// A builder.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// The providers this engine serves.
    pub fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }

    /// The config it runs with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.inner.store
    }

    /// The base URL of the callback server that prompts point at.
    pub fn callback_base(&self) -> String {
        self.inner
            .base
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Points prompts at a callback server that bound `addr` (used when it binds port 0), unless
    /// a public base URL is configured.
    pub fn set_callback_addr(&self, addr: std::net::SocketAddr) {
        if self.inner.config.server.public_base_url.is_none() {
            let mut config = self.inner.config.clone();
            config.server.bind = addr;
            *self.inner.base.write().unwrap_or_else(|e| e.into_inner()) = default_base(&config);
        }
    }

    /// The effective config of a provider (its `[auth.<id>]` table, plus a config-defined
    /// provider's issuer).
    pub fn provider_config(&self, id: &str) -> ProviderConfig {
        let mut pc = self.inner.config.provider(id);
        if pc.issuer.is_none() {
            pc.issuer = self
                .inner
                .config
                .providers
                .get(id)
                .and_then(|c| c.issuer.clone());
        }
        pc
    }

    /// Whether a handler has what it needs to run (an OAuth2 client id).
    pub fn is_configured(&self, provider: &Provider, handler: &Handler) -> bool {
        match handler {
            Handler::Token(_) => true,
            Handler::OAuth2(_) => self
                .provider_config(provider.id)
                .client_id
                .is_some_and(|c| !c.is_empty()),
        }
    }

    fn handler_object(
        &self,
        provider: &'static Provider,
        handler: &'static Handler,
    ) -> Box<dyn AuthHandler> {
        match handler {
            Handler::Token(t) => Box::new(TokenHandler::new(t)),
            Handler::OAuth2(o) => Box::new(OAuth2Handler::new(
                provider.id,
                o,
                self.provider_config(provider.id),
                self.inner.runtime.clone(),
            )),
        }
    }

    fn lookup_stored(&self, session: &Session) -> Result<(&'static Provider, &'static Handler)> {
        self.inner
            .catalog
            .handler(&session.key.provider, Some(&session.handler))
    }

    fn margin(&self) -> i64 {
        i64::try_from(self.inner.config.session.refresh_margin_secs).unwrap_or(i64::MAX / 4)
    }

    /// Returns ready credentials for `req`, refreshing when needed, or a prompt for the user.
    ///
    /// Calling it again while the user has not acted returns the same prompt.
    ///
    /// # Errors
    /// Unknown provider or handler, missing client config, store and transport failures.
    pub async fn ensure(&self, req: &AuthRequest) -> Result<Ensured> {
        let (provider, handler) = self
            .inner
            .catalog
            .handler(&req.provider, req.handler.as_deref())?;
        let key = req.key();
        let wanted: Scopes = if handler.scoped() {
            scope::from_iter(req.scopes.iter().map(String::as_str))
        } else {
            Scopes::new()
        };
        let existing = self.inner.store.get(&key).await?;
        if let Some(session) = &existing {
            let same_handler = req.handler.is_none() || session.handler == handler.name();
            if same_handler {
                // Judge the session by its own handler: a token session carries no scopes.
                let (_, stored) = self.lookup_stored(session)?;
                let wanted = if stored.scoped() {
                    wanted.clone()
                } else {
                    Scopes::new()
                };
                match session.state(&wanted, now(), self.margin()) {
                    SessionState::Valid => {
                        return Ok(Ensured::Ready(self.credentials_of(session)?));
                    }
                    SessionState::NeedsRefresh => {
                        self.inner.stats.inline_refresh();
                        let refreshed = self.refresh_from(session, false).await;
                        match refreshed {
                            Ok(s) => return Ok(Ensured::Ready(self.credentials_of(&s)?)),
                            Err(e) if e.kind() == ErrorKind::ReauthRequired => {
                                tracing::info!(
                                    provider = provider.id,
                                    "refresh impossible; asking the user to log in again"
                                );
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    _ => {}
                }
            }
        } else if let Some(session) = self.session_from_env(provider, handler, &key).await? {
            return Ok(Ensured::Ready(self.credentials_of(&session)?));
        }
        let granted = existing
            .filter(|s| s.handler == handler.name())
            .map(|s| s.grant.scopes)
            .unwrap_or_default();
        let ask = Ask {
            wanted: &wanted,
            granted: &granted,
            fresh: false,
            device: req.device,
        };
        let prompt = self.start_flow(provider, handler, &key, ask).await?;
        Ok(Ensured::Prompt(prompt))
    }

    /// Starts a flow for `req` whatever the session's state (`keyfob login`).
    ///
    /// # Errors
    /// As [`Engine::ensure`].
    pub async fn login(&self, req: &AuthRequest) -> Result<Prompt> {
        let (provider, handler) = self
            .inner
            .catalog
            .handler(&req.provider, req.handler.as_deref())?;
        let key = req.key();
        let wanted: Scopes = if handler.scoped() {
            scope::from_iter(req.scopes.iter().map(String::as_str))
        } else {
            Scopes::new()
        };
        let granted = match self.inner.store.get(&key).await? {
            Some(s) if s.handler == handler.name() => s.grant.scopes,
            _ => Scopes::new(),
        };
        let ask = Ask {
            wanted: &wanted,
            granted: &granted,
            fresh: true,
            device: req.device,
        };
        self.start_flow(provider, handler, &key, ask).await
    }

    /// A session for a token handler's key taken from its env variable, when config allows it.
    /// It is used as is and never stored: the variable stays the source of truth, and a key the
    /// user only exported never lands on disk.
    async fn session_from_env(
        &self,
        provider: &'static Provider,
        handler: &'static Handler,
        key: &SessionKey,
    ) -> Result<Option<Session>> {
        let Handler::Token(spec) = handler else {
            return Ok(None);
        };
        if !self.provider_config(provider.id).allow_env {
            return Ok(None);
        }
        let Some(fields) = env_fields(spec) else {
            return Ok(None);
        };
        let grant = TokenHandler::new(spec)
            .grant_from_fields(fields)
            .map_err(|e| e.with_provider(provider.id))?;
        tracing::debug!(provider = provider.id, "using the key from the environment");
        let now = now();
        Ok(Some(Session {
            key: key.clone(),
            handler: handler.name().to_owned(),
            grant,
            created_at: now,
            updated_at: now,
            refresh_error: None,
            version: 0,
        }))
    }

    /// The first token handler of the key's provider that may, and can, take its key from the
    /// environment.
    async fn any_session_from_env(&self, key: &SessionKey) -> Result<Option<Session>> {
        let provider = self.inner.catalog.provider(&key.provider)?;
        for handler in provider.handlers {
            if let Some(s) = self.session_from_env(provider, handler, key).await? {
                return Ok(Some(s));
            }
        }
        Ok(None)
    }

    async fn start_flow(
        &self,
        provider: &'static Provider,
        handler: &'static Handler,
        key: &SessionKey,
        ask: Ask<'_>,
    ) -> Result<Prompt> {
        let Ask {
            wanted,
            granted,
            fresh,
            device,
        } = ask;
        let store = &self.inner.store;
        let now = now();
        let mut scopes = wanted.clone();
        if let Handler::OAuth2(spec) = handler {
            if self.provider_config(provider.id).use_recommended_scopes {
                scopes.extend(spec.recommended_scopes.iter().map(|s| (*s).to_owned()));
            }
            scopes.extend(granted.iter().cloned());
        }
        if !fresh {
            if let Some(p) = store.pending_for(key).await? {
                if p.status == FlowStatus::Waiting
                    && p.expires_at > now
                    && p.handler == handler.name()
                    && p.user_code.is_some() == device
                    && scope::covers(&p.scopes, &scopes)
                {
                    return Ok(self.prompt_of(provider, handler, &p));
                }
            }
        }
        if let Handler::OAuth2(spec) = handler {
            if device || self.provider_config(provider.id).device_flow {
                return self
                    .start_device(provider, handler, spec, key, scopes)
                    .await;
            }
        }
        let state = SecretString::from(random_token(32));
        let base = self.callback_base();
        let flow = FlowStart {
            redirect_uri: format!("{base}/auth/{}/oauth2/callback", provider.id),
            page_url: format!(
                "{base}/auth/{}/token?state={}",
                provider.id,
                state.expose_secret()
            ),
            state,
            scopes,
        };
        let started = self.handler_object(provider, handler).start(&flow).await?;
        // The user opens keyfob's start link, which binds the flow to their browser and sends it
        // on (engine/link.rs); the authorization URL and the token page are never the prompt.
        let start_url = format!(
            "{base}/auth/{}/start?state={}",
            provider.id,
            flow.state.expose_secret()
        );
        let pending = PendingFlow {
            id: random_token(12),
            state_hash: state_hash(flow.state.expose_secret()),
            key: key.clone(),
            handler: handler.name().to_owned(),
            scopes: flow.scopes,
            redirect_uri: flow.redirect_uri,
            verifier: started.verifier,
            prompt_url: SecretString::from(start_url),
            next_url: Some(SecretString::from(started.url)),
            browser: None,
            created_at: now,
            expires_at: now.saturating_add(
                i64::try_from(self.inner.config.session.flow_timeout_secs).unwrap_or(300),
            ),
            status: FlowStatus::Waiting,
            user_code: None,
        };
        self.maybe_purge(now).await?;
        store.put_pending(&pending).await?;
        tracing::info!(
            provider = provider.id,
            handler = handler.name(),
            "login started"
        );
        Ok(self.prompt_of(provider, handler, &pending))
    }

    /// Purges expired flows at most once a second, so starting a flow stays O(1).
    async fn maybe_purge(&self, now: i64) -> Result<()> {
        let last = self
            .inner
            .last_purge
            .load(std::sync::atomic::Ordering::Relaxed);
        if now > last
            && self
                .inner
                .last_purge
                .compare_exchange(
                    last,
                    now,
                    std::sync::atomic::Ordering::Relaxed,
                    std::sync::atomic::Ordering::Relaxed,
                )
                .is_ok()
        {
            self.inner.store.purge_expired(now).await?;
        }
        Ok(())
    }

    fn prompt_of(
        &self,
        provider: &'static Provider,
        handler: &'static Handler,
        p: &PendingFlow,
    ) -> Prompt {
        let message = match (handler, &p.user_code) {
            (_, Some(code)) => format!(
                "Open {} and enter the code {code} to sign in to {}",
                p.prompt_url.expose_secret(),
                provider.display_name
            ),
            (Handler::OAuth2(_), None) => format!(
                "Open this URL to sign in to {} and grant access",
                provider.display_name
            ),
            (Handler::Token(_), None) => format!(
                "Open this URL to enter your {} credentials",
                provider.display_name
            ),
        };
        Prompt {
            key: p.key.clone(),
            handler: handler.name(),
            url: p.prompt_url.expose_secret().to_owned(),
            message,
            flow_id: p.id.clone(),
            expires_at: p.expires_at,
            user_code: p.user_code.clone(),
        }
    }

    /// Finds the waiting flow that `state` belongs to, refusing unknown, expired, replayed and
    /// cross-provider states, and browsers other than the one that opened its link, without
    /// touching anything.
    async fn flow_for_state(
        &self,
        provider: &str,
        state: Option<&str>,
        cookies: &LinkCookies,
    ) -> Result<(String, PendingFlow)> {
        let (hash, pending) = self.waiting_flow(provider, state).await?;
        Self::check_browser(&pending, cookies)?;
        Ok((hash, pending))
    }

    /// [`Engine::flow_for_state`] without the browser check (for the start link itself).
    async fn waiting_flow(
        &self,
        provider: &str,
        state: Option<&str>,
    ) -> Result<(String, PendingFlow)> {
        let state = state
            .filter(|s| !s.is_empty() && s.len() <= 512)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidInput,
                    "the request has no valid `state`; start the login again",
                )
            })?;
        let hash = state_hash(state);
        let pending = self
            .inner
            .store
            .pending(&hash)
            .await?
            .ok_or_else(unknown_link)?;
        // Only the SHA-256 of a state is stored and looked up, so how long a lookup of a forged
        // state takes tells nothing about any real state.
        if pending.key.provider != provider {
            tracing::warn!(
                provider,
                "a state was sent to another provider's route; refused"
            );
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "this login link belongs to another provider's flow",
            ));
        }
        if pending.status != FlowStatus::Waiting || pending.expires_at <= now() {
            return Err(unknown_link());
        }
        Ok((hash, pending))
    }

    /// Completes an OAuth2 flow from the callback's query.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] or [`ErrorKind::Expired`] for a bad `state` (nothing is
    /// touched); [`ErrorKind::Denied`] when the user refused; exchange errors.
    pub async fn complete_oauth2(
        &self,
        provider: &str,
        params: CallbackParams,
        cookies: &LinkCookies,
    ) -> Result<Completed> {
        let (hash, pending) = self
            .flow_for_state(provider, params.state.as_deref(), cookies)
            .await?;
        // A token flow's state sent here is refused before it is claimed: the link stays usable.
        let p = self.inner.catalog.provider(provider)?;
        if !matches!(p.handler(&pending.handler), Some(Handler::OAuth2(_))) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "this login link is not for an OAuth2 sign-in",
            ));
        }
        // RFC 9207: a response from another authorization server (a mix-up) is refused before
        // the flow is claimed or anything is exchanged.
        self.check_iss(provider, params.iss.as_deref()).await?;
        let input = match (params.error, params.code) {
            (Some(error), _) => {
                let desc = params
                    .error_description
                    .map(|d| format!(": {}", printable(&d)))
                    .unwrap_or_default();
                Err(Error::new(
                    ErrorKind::Denied,
                    format!("authorization was refused ({}{desc})", printable(&error)),
                )
                .with_provider(provider))
            }
            (None, Some(code)) if !code.is_empty() && code.len() <= 4096 => {
                Ok(FlowInput::Code(SecretString::from(code)))
            }
            (None, _) => Err(Error::new(
                ErrorKind::InvalidInput,
                "the callback has neither `code` nor `error`",
            )
            .with_provider(provider)),
        };
        self.finish(&hash, input, None).await
    }

    /// Compares an authorization response's `iss` with the issuer the provider is configured
    /// with (checked against its metadata): a different one is refused, and a missing one too
    /// when the metadata says the server always sends it. Without a configured issuer there is
    /// nothing to compare with, and `iss` is ignored.
    async fn check_iss(&self, provider: &str, iss: Option<&str>) -> Result<()> {
        let Some(issuer) = self.provider_config(provider).issuer else {
            return Ok(());
        };
        let meta = self
            .inner
            .runtime
            .discover(&issuer)
            .await
            .map_err(|e| e.with_provider(provider))?;
        match iss {
            Some(iss) if !crate::oauth::same_issuer(iss, &issuer) => Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "the authorization response comes from the issuer {:?}, but this login \
                     expects {issuer:?}; nothing was exchanged",
                    printable(iss)
                ),
            )
            .with_provider(provider)),
            None if meta.authorization_response_iss_parameter_supported => Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "the authorization response does not name its issuer, which {issuer} says \
                     it always does (RFC 9207); nothing was exchanged"
                ),
            )
            .with_provider(provider)),
            _ => Ok(()),
        }
    }

    /// What the token-entry page for `state` shows.
    ///
    /// # Errors
    /// As for [`Engine::complete_oauth2`]'s `state` checks, and when the flow is not a token flow.
    pub async fn token_page(
        &self,
        provider: &str,
        state: Option<&str>,
        cookies: &LinkCookies,
    ) -> Result<TokenPage> {
        let (_, pending) = self.flow_for_state(provider, state, cookies).await?;
        let p = self.inner.catalog.provider(provider)?;
        match p.handler(&pending.handler) {
            Some(Handler::Token(t)) => Ok(TokenPage {
                display_name: p.display_name,
                docs_url: t.docs_url,
                fields: handler::fields(t.entry),
                expires_at: pending.expires_at,
            }),
            _ => Err(Error::new(
                ErrorKind::InvalidInput,
                "this login link is not for a token page",
            )),
        }
    }

    /// Completes a token flow with the page's fields. Exactly the values that are checked with
    /// the provider are stored; a field the entry does not ask for is refused.
    ///
    /// # Errors
    /// As [`Engine::complete_oauth2`]; [`ErrorKind::InvalidInput`] for empty or unknown fields
    /// (the flow stays open so the user can try again).
    pub async fn complete_token(
        &self,
        provider: &str,
        state: Option<&str>,
        fields: Vec<(String, SecretString)>,
        cookies: &LinkCookies,
    ) -> Result<Completed> {
        let (hash, pending) = self.flow_for_state(provider, state, cookies).await?;
        let p = self.inner.catalog.provider(provider)?;
        let Some(Handler::Token(spec)) = p.handler(&pending.handler) else {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "this login link is not for a token page",
            ));
        };
        // Check the input before claiming the state, so a typo does not burn the link.
        let grant = TokenHandler::new(spec)
            .grant_from_fields(fields)
            .map_err(|e| e.with_provider(provider))?;
        let mut warnings = Vec::new();
        let mut identity = None;
        if let TokenEntry::ApiKey | TokenEntry::KeyPair { .. } = spec.entry {
            // The key checked is the one stored (the grant's), never another posted field.
            let key = &grant.access_token;
            warnings.extend(spec.format_warning(key.expose_secret()));
            // A rejected key fails here, before the state is claimed: the user can try again.
            let (who, warning) = self.check_key(p, spec, key).await?;
            identity = who;
            warnings.extend(warning);
        }
        let mut done = self
            .finish(&hash, Ok(FlowInput::Granted(Box::new(grant))), identity)
            .await?;
        for w in &warnings {
            tracing::warn!(provider, "{w}");
        }
        done.warnings = warnings;
        Ok(done)
    }

    async fn finish(
        &self,
        hash: &str,
        input: Result<FlowInput>,
        identity: Option<String>,
    ) -> Result<Completed> {
        let store = &self.inner.store;
        let claimed = store
            .claim_pending(hash, now())
            .await?
            .ok_or_else(unknown_link)?;
        let result: Result<Completed> = async {
            let (provider, handler) = self
                .inner
                .catalog
                .handler(&claimed.key.provider, Some(&claimed.handler))?;
            let mut grant = match input? {
                FlowInput::Granted(grant) => *grant,
                input => {
                    self.handler_object(provider, handler)
                        .complete(&claimed, input)
                        .await?
                }
            };
            grant.requested = claimed.scopes.clone();
            if identity.is_some() {
                grant.identity = identity;
            } else if grant.identity.is_none() {
                grant.identity = self.identity_of(provider, handler, &grant).await;
            }
            self.save(&claimed.key, handler.name(), grant).await?;
            Ok(Completed {
                key: claimed.key.clone(),
                display_name: provider.display_name,
                warnings: Vec::new(),
            })
        }
        .await;
        let status = match &result {
            Ok(_) => FlowStatus::Done,
            Err(e) => FlowStatus::Failed(e.kind(), e.to_string()),
        };
        store.finish_pending(hash, status).await?;
        self.inner.completed.notify_waiters();
        if let Err(e) = store.publish(&claimed.key).await {
            // Waiters elsewhere still see the outcome by polling.
            tracing::warn!(
                kind = e.kind().as_str(),
                "cannot announce the completed flow"
            );
        }
        match &result {
            Ok(c) => tracing::info!(provider = c.key.provider.as_str(), "session stored"),
            Err(e) => tracing::warn!(
                provider = claimed.key.provider.as_str(),
                kind = e.kind().as_str(),
                "login failed"
            ),
        }
        result
    }

    /// Writes a new grant for `key`, keeping the first-login time.
    async fn save(&self, key: &SessionKey, handler: &str, grant: Grant) -> Result<Session> {
        let store = &self.inner.store;
        let now = now();
        let previous = store.get(key).await?;
        let mut session = Session {
            key: key.clone(),
            handler: handler.to_owned(),
            grant,
            created_at: previous.as_ref().map_or(now, |p| p.created_at),
            updated_at: now,
            refresh_error: None,
            version: 0,
        };
        session.version = store.put(&session, Expect::Any).await?;
        Ok(session)
    }

    /// Waits until the flow of `prompt` completes, then returns the credentials.
    ///
    /// Works across processes sharing a store: completion wakes in-process waiters at once and
    /// is polled for otherwise.
    ///
    /// # Errors
    /// [`ErrorKind::Timeout`] after `timeout` (the flow stays open until it expires); the
    /// flow's own error (denied, exchange failed); [`ErrorKind::Expired`] when it expired or was
    /// replaced by a newer one.
    pub async fn wait(&self, prompt: &Prompt, timeout: Duration) -> Result<Credentials> {
        let deadline = tokio::time::Instant::now() + timeout;
        let store = &self.inner.store;
        loop {
            let notified = self.inner.completed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match store.pending_for(&prompt.key).await? {
                Some(p) if p.id == prompt.flow_id => match p.status {
                    FlowStatus::Done => {
                        store.delete_pending(&p.state_hash).await?;
                        return self.credentials(&prompt.key).await;
                    }
                    FlowStatus::Failed(kind, message) => {
                        store.delete_pending(&p.state_hash).await?;
                        return Err(Error::new(kind, message));
                    }
                    _ if p.expires_at <= now() => {
                        store.delete_pending(&p.state_hash).await?;
                        return Err(Error::new(
                            ErrorKind::Expired,
                            "the login link expired before it was used",
                        )
                        .with_provider(&prompt.key.provider));
                    }
                    _ => {}
                },
                _ => {
                    // Consumed by another waiter, or replaced: a usable session is still an answer.
                    if let Some(s) = store.get(&prompt.key).await? {
                        if s.updated_at
                            >= prompt.expires_at
                                - i64::try_from(self.inner.config.session.flow_timeout_secs)
                                    .unwrap_or(0)
                        {
                            return self.credentials(&prompt.key).await;
                        }
                    }
                    return Err(Error::new(
                        ErrorKind::Expired,
                        "the login flow was replaced by a newer one or expired",
                    )
                    .with_provider(&prompt.key.provider));
                }
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = store.wait_published(&prompt.key, Duration::from_millis(250)) => {}
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(Error::new(ErrorKind::Timeout, "timed out waiting for the user to finish the login").with_provider(&prompt.key.provider));
                }
            }
        }
    }

    /// Abandons the flow of `prompt`: its link stops working at once and its record (with the
    /// PKCE verifier) is deleted. Does nothing when the flow already ended or was replaced.
    ///
    /// # Errors
    /// Store failures.
    pub async fn cancel(&self, prompt: &Prompt) -> Result<()> {
        let store = &self.inner.store;
        if let Some(p) = store.pending_for(&prompt.key).await? {
            if p.id == prompt.flow_id {
                store.delete_pending(&p.state_hash).await?;
            }
        }
        Ok(())
    }

    /// Credentials for a stored session, refreshed first when near expiry (`keyfob token`).
    ///
    /// # Errors
    /// [`ErrorKind::NoSession`] when there is none; [`ErrorKind::ReauthRequired`] when it
    /// cannot be refreshed.
    pub async fn credentials(&self, key: &SessionKey) -> Result<Credentials> {
        let session = match self.inner.store.get(key).await? {
            Some(s) => s,
            None => self
                .any_session_from_env(key)
                .await?
                .ok_or_else(|| no_session(key))?,
        };
        let session = match session.state(&Scopes::new(), now(), self.margin()) {
            SessionState::NeedsRefresh | SessionState::NeedsAuth => {
                self.inner.stats.inline_refresh();
                self.refresh_from(&session, false).await?
            }
            _ => session,
        };
        self.credentials_of(&session)
    }

    fn credentials_of(&self, session: &Session) -> Result<Credentials> {
        let (provider, handler) = self.lookup_stored(session)?;
        let mut creds = Credentials::for_session(session, handler);
        if let Handler::Token(spec) = handler {
            // Settings a key needs to be used (Datadog's site), as the tool's variables.
            let config = self.provider_config(provider.id);
            for (field, env) in spec.config_env {
                if let Some(value) = spec.config_value(&config, field) {
                    creds.set(env, SecretString::from(value.to_owned()));
                }
            }
        }
        Ok(creds)
    }

    fn flight(&self, key: &SessionKey) -> Arc<tokio::sync::Mutex<()>> {
        let mut flights = self.inner.flights.lock().unwrap_or_else(|e| e.into_inner());
        flights.retain(|_, l| Arc::strong_count(l) > 1);
        flights.entry(key.clone()).or_default().clone()
    }

    /// Refreshes the session if it still needs it. Concurrent callers for one key share one
    /// token request: the first refreshes while the rest wait, then re-read what it stored.
    ///
    /// A failed refresh never deletes the session; while its access token is still valid the
    /// session is returned as is (with a warning).
    ///
    /// # Errors
    /// [`ErrorKind::NoSession`]; [`ErrorKind::ReauthRequired`] when the refresh token is
    /// missing or rejected and the access token has expired; transport errors likewise.
    pub async fn refresh(&self, key: &SessionKey) -> Result<Session> {
        let seen = self
            .inner
            .store
            .get(key)
            .await?
            .ok_or_else(|| no_session(key))?;
        self.refresh_from(&seen, false).await
    }

    /// Refreshes `seen` unless someone else has written the session since it was read: then
    /// their write (a refresh, a new login) is the answer, and no second request is made.
    /// `ahead`: refresh although the token is not yet within the refresh margin.
    async fn refresh_from(&self, seen: &Session, ahead: bool) -> Result<Session> {
        let key = &seen.key;
        let lock = self.flight(key);
        let _guard = lock.lock().await;
        let store = &self.inner.store;
        let lease = format!("refresh\0{}\0{}\0{}", key.provider, key.thread, key.profile);
        let owner = random_token(12);
        let ttl_ms = (self.inner.config.session.http_timeout_secs.max(1) + 5) * 1000;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(ttl_ms * 2);
        // Across processes: one lease holder refreshes; the others wait for its write.
        while !store.try_lock(&lease, &owner, ttl_ms).await? {
            if let Some(s) = store.get(key).await? {
                if s.version != seen.version {
                    return Ok(s);
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    "another process holds the refresh lease and has not finished",
                )
                .with_provider(&key.provider));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let result = self.refresh_locked(seen, ahead).await;
        if let Err(e) = store.unlock(&lease, &owner).await {
            tracing::warn!(
                kind = e.kind().as_str(),
                "cannot release the refresh lease; it expires by itself"
            );
        }
        result
    }

    /// The refresh itself, under both the in-process lock and the store's lease.
    async fn refresh_locked(&self, seen: &Session, ahead: bool) -> Result<Session> {
        let key = &seen.key;
        let store = &self.inner.store;
        let session = store.get(key).await?.ok_or_else(|| no_session(key))?;
        let now = now();
        let usable = !session.is_expired(now);
        if (!ahead && session.state(&Scopes::new(), now, self.margin()) == SessionState::Valid)
            || (session.version != seen.version && usable && session.refresh_error.is_none())
        {
            // Refreshed (or re-authorized) by whoever held the lock before us.
            return Ok(session);
        }
        if let Some(failure) = self.recent_failure(key, session.version) {
            // The caller before us just failed on this very session: share its outcome rather
            // than send the same doomed request again.
            return if usable && failure.kind() != ErrorKind::ReauthRequired {
                Ok(session)
            } else {
                Err(failure)
            };
        }
        if let Some(why) = &session.refresh_error {
            // The refresh token was rejected for good. The provider has most likely revoked the
            // access token with the grant, so it is not handed out: only a new login helps.
            return Err(
                Error::new(ErrorKind::ReauthRequired, why.clone()).with_provider(&key.provider)
            );
        }
        let (provider, handler) = self.lookup_stored(&session)?;
        // A session that cannot be refreshed (no refresh token, or a provider without refresh)
        // is used while its token is valid; only a server's refusal ends a session early.
        let refreshable = session.grant.refresh_token.is_some()
            && !matches!(handler, Handler::OAuth2(o) if o.refresh == Refresh::None);
        if !refreshable && usable {
            return Ok(session);
        }
        match self
            .handler_object(provider, handler)
            .refresh(&session.grant)
            .await
        {
            Ok(grant) => {
                let mut next = Session {
                    grant,
                    updated_at: now,
                    refresh_error: None,
                    version: 0,
                    ..session.clone()
                };
                match store.put(&next, Expect::Version(session.version)).await {
                    Ok(v) => {
                        next.version = v;
                        tracing::info!(provider = provider.id, "access token refreshed");
                        Ok(next)
                    }
                    Err(e) if e.kind() == ErrorKind::Conflict => {
                        // Another process refreshed meanwhile; its write wins.
                        store.get(key).await?.ok_or_else(|| no_session(key))
                    }
                    Err(e) => Err(e),
                }
            }
            Err(e) => {
                // Another process may have rotated the refresh token under us: prefer its result.
                if let Some(current) = store.get(key).await? {
                    if current.version != session.version
                        && current.state(&Scopes::new(), now, self.margin()) == SessionState::Valid
                    {
                        return Ok(current);
                    }
                }
                let mut version = session.version;
                if e.kind() == ErrorKind::ReauthRequired {
                    let marked = Session {
                        refresh_error: Some(e.to_string()),
                        ..session.clone()
                    };
                    match store.put(&marked, Expect::Version(session.version)).await {
                        Ok(v) => version = v,
                        Err(ce) if ce.kind() == ErrorKind::Conflict => {}
                        Err(ce) => return Err(ce),
                    }
                }
                self.record_failure(key, version, &e);
                // A transient failure (network, 5xx, a timeout) leaves a still-valid access
                // token usable; a terminal one (the grant was refused) does not.
                if !session.is_expired(now) && e.kind() != ErrorKind::ReauthRequired {
                    tracing::warn!(
                        provider = provider.id,
                        kind = e.kind().as_str(),
                        "refresh failed; the access token is still valid, using it"
                    );
                    return Ok(session);
                }
                Err(e)
            }
        }
    }

    /// The failure of a refresh of `key` at `version` in the last few seconds, if any.
    fn recent_failure(&self, key: &SessionKey, version: u64) -> Option<Error> {
        let failures = self
            .inner
            .failures
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        failures.get(key).and_then(|f| {
            (f.version == version && f.at.elapsed() < FAILURE_MEMORY)
                .then(|| Error::new(f.kind, f.message.clone()))
        })
    }

    fn record_failure(&self, key: &SessionKey, version: u64, e: &Error) {
        let mut failures = self
            .inner
            .failures
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        failures.retain(|_, f| f.at.elapsed() < FAILURE_MEMORY);
        failures.insert(
            key.clone(),
            Failure {
                version,
                at: std::time::Instant::now(),
                kind: e.kind(),
                message: e.to_string(),
            },
        );
    }

    /// Sessions of one thread (or all), without secrets.
    ///
    /// # Errors
    /// Store failures.
    pub async fn status(&self, thread: Option<&str>) -> Result<Vec<SessionInfo>> {
        let now = now();
        let sessions = self.inner.store.list(thread).await?;
        Ok(sessions
            .into_iter()
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

    /// Deletes the session and any pending flow for it; `true` when a session existed.
    ///
    /// # Errors
    /// Store failures.
    pub async fn logout(&self, key: &SessionKey) -> Result<bool> {
        if let Some(p) = self.inner.store.pending_for(key).await? {
            self.inner.store.delete_pending(&p.state_hash).await?;
        }
        let existed = self.inner.store.delete(key).await?;
        if existed {
            tracing::info!(provider = key.provider.as_str(), "session deleted");
        }
        Ok(existed)
    }

    /// Removes expired pending flows; returns how many.
    ///
    /// # Errors
    /// Store failures.
    pub async fn purge_expired(&self) -> Result<usize> {
        self.inner.store.purge_expired(now()).await
    }
}

fn env_fields(spec: &TokenSpec) -> Option<Vec<(String, SecretString)>> {
    use crate::spec::TokenEntry;
    let var = |k: &str| {
        std::env::var(k)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(SecretString::from)
    };
    match spec.entry {
        TokenEntry::ApiKey => Some(vec![("token".into(), var(spec.env_key)?)]),
        TokenEntry::KeyPair { secret_env_key } => Some(vec![
            ("key".into(), var(spec.env_key)?),
            ("secret".into(), var(secret_env_key)?),
        ]),
        TokenEntry::BasicAuth => None,
    }
}

fn unknown_link() -> Error {
    Error::new(
        ErrorKind::Expired,
        "this login link is unknown, expired or already used; start the login again",
    )
}

fn no_session(key: &SessionKey) -> Error {
    let mut hint = format!("keyfob login {}", key.provider);
    if key.profile != DEFAULT {
        hint.push_str(&format!(" --profile {}", key.profile));
    }
    if key.thread != DEFAULT {
        hint.push_str(&format!(" --thread {}", key.thread));
    }
    Error::new(
        ErrorKind::NoSession,
        format!(
            "not logged in (thread {}, profile {}); run `{hint}`",
            key.thread, key.profile
        ),
    )
    .with_provider(&key.provider)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::TokenSpec;

    static TOKEN: TokenSpec = TokenSpec {
        name: "enginetest-token",
        env_key: "ENGINETEST_TOKEN",
        ..TokenSpec::DEFAULTS
    };
    static PROVIDER: Provider = Provider {
        id: "enginetest",
        display_name: "Engine Test",
        handlers: &[Handler::Token(&TOKEN)],
    };
    crate::register_provider!(PROVIDER);

    fn state_of(url: &str) -> String {
        url::Url::parse(url)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "state")
            .unwrap()
            .1
            .into_owned()
    }

    /// Opens the prompt's link as a browser would: its state and the cookie it got.
    async fn open(engine: &Engine, url: &str) -> (String, LinkCookies) {
        let state = state_of(url);
        let opened = engine
            .open_link("enginetest", Some(&state), &LinkCookies::none())
            .await
            .unwrap();
        (state, LinkCookies::with(&opened.cookie.unwrap()))
    }

    fn field(v: &str) -> Vec<(String, SecretString)> {
        vec![("token".into(), SecretString::from(v))]
    }

    #[tokio::test]
    async fn states_follow_the_flow() {
        let engine = Engine::builder().build().unwrap();
        let req = AuthRequest::new("enginetest").thread("t1");
        assert_eq!(engine.state(&req).await.unwrap(), SessionState::None);
        let Ensured::Prompt(p) = engine.ensure(&req).await.unwrap() else {
            panic!("prompt")
        };
        assert_eq!(engine.state(&req).await.unwrap(), SessionState::Pending);
        // Asking again returns the same link; an explicit login replaces it.
        let Ensured::Prompt(again) = engine.ensure(&req).await.unwrap() else {
            panic!("prompt")
        };
        assert_eq!(again.url, p.url);
        let fresh = engine.login(&req).await.unwrap();
        assert_ne!(fresh.url, p.url);
        let old = engine
            .complete_token(
                "enginetest",
                Some(&state_of(&p.url)),
                field("x"),
                &LinkCookies::none(),
            )
            .await;
        assert_eq!(
            old.unwrap_err().kind(),
            ErrorKind::Expired,
            "a replaced link is dead"
        );
        let (state, cookies) = open(&engine, &fresh.url).await;
        engine
            .complete_token("enginetest", Some(&state), field("tok"), &cookies)
            .await
            .unwrap();
        assert_eq!(engine.state(&req).await.unwrap(), SessionState::Resolved);
        let creds = engine.wait(&fresh, Duration::from_secs(1)).await.unwrap();
        assert_eq!(creds.access_token(), "tok");
        assert_eq!(engine.state(&req).await.unwrap(), SessionState::Valid);
        assert!(matches!(
            engine.ensure(&req).await.unwrap(),
            Ensured::Ready(_)
        ));
        // Other threads are other sessions.
        let other = AuthRequest::new("enginetest").thread("t2");
        assert_eq!(engine.state(&other).await.unwrap(), SessionState::None);
        assert_eq!(engine.status(Some("t1")).await.unwrap().len(), 1);
        assert!(engine.logout(&req.key()).await.unwrap());
        assert_eq!(engine.state(&req).await.unwrap(), SessionState::None);
    }

    #[tokio::test]
    async fn waiting_times_out_and_the_link_stays_usable() {
        let engine = Engine::builder().build().unwrap();
        let p = engine.login(&AuthRequest::new("enginetest")).await.unwrap();
        let e = engine
            .wait(&p, Duration::from_millis(50))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout);
        let (state, cookies) = open(&engine, &p.url).await;
        engine
            .complete_token("enginetest", Some(&state), field("late"), &cookies)
            .await
            .unwrap();
        assert_eq!(
            engine
                .wait(&p, Duration::from_secs(1))
                .await
                .unwrap()
                .access_token(),
            "late"
        );
    }

    #[tokio::test]
    async fn waiters_wake_when_the_flow_completes() {
        let engine = Engine::builder().build().unwrap();
        let p = engine.login(&AuthRequest::new("enginetest")).await.unwrap();
        let waiter = {
            let engine = engine.clone();
            let p = p.clone();
            tokio::spawn(async move { engine.wait(&p, Duration::from_secs(5)).await })
        };
        tokio::task::yield_now().await;
        let (state, cookies) = open(&engine, &p.url).await;
        engine
            .complete_token("enginetest", Some(&state), field("woken"), &cookies)
            .await
            .unwrap();
        assert_eq!(waiter.await.unwrap().unwrap().access_token(), "woken");
    }

    /// A link belongs to the first browser that opens it: the state alone, or with another
    /// browser's cookie, completes nothing and leaves the link usable; the same browser may open
    /// it again; a posted field the page does not ask for is refused.
    /// MUTATION: `check_browser` returning `Ok(())` fails the first assertion.
    #[tokio::test]
    async fn a_link_belongs_to_the_browser_that_opened_it() {
        let engine = Engine::builder().build().unwrap();
        let p = engine.login(&AuthRequest::new("enginetest")).await.unwrap();
        assert!(p.url.contains("/auth/enginetest/start?state="), "{}", p.url);
        let state = state_of(&p.url);
        let attempt = |cookies: LinkCookies, fields| {
            let (engine, state) = (engine.clone(), state.clone());
            async move {
                engine
                    .complete_token("enginetest", Some(&state), fields, &cookies)
                    .await
            }
        };
        let unopened = attempt(LinkCookies::none(), field("mallory"))
            .await
            .unwrap_err();
        assert_eq!(unopened.kind(), ErrorKind::InvalidInput);
        let (_, ours) = open(&engine, &p.url).await;
        let again = engine
            .open_link("enginetest", Some(&state), &ours)
            .await
            .unwrap();
        assert!(again.cookie.is_none(), "the same browser keeps its cookie");
        let theirs = engine
            .open_link("enginetest", Some(&state), &LinkCookies::none())
            .await
            .unwrap_err();
        assert!(theirs.message().contains("another browser"), "{theirs}");
        let forged =
            LinkCookies::from_headers([format!("{COOKIE_PREFIX}{}=forged", p.flow_id).as_str()]);
        for cookies in [LinkCookies::none(), forged] {
            let e = attempt(cookies, field("mallory")).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        }
        let mut extra = field("tok");
        extra.push(("token2".into(), SecretString::from("other")));
        let e = attempt(ours.clone(), extra).await.unwrap_err();
        assert!(e.message().contains("does not ask for"), "{e}");
        attempt(ours, field("tok")).await.unwrap();
        let creds = engine.wait(&p, Duration::from_secs(1)).await.unwrap();
        assert_eq!(creds.access_token(), "tok");
    }

    #[test]
    fn default_bind_is_loopback_and_base_follows_config() {
        let engine = Engine::builder().build().unwrap();
        assert_eq!(engine.callback_base(), "http://127.0.0.1:8975");
        let config = Config::from_toml(
            "[server]\npublic_base_url = \"https://auth.example.com/\"\npath_prefix = \"/kf\"",
        )
        .unwrap();
        let engine = Engine::builder().config(config).build().unwrap();
        assert_eq!(engine.callback_base(), "https://auth.example.com/kf");
        engine.set_callback_addr("127.0.0.1:1".parse().unwrap());
        assert_eq!(engine.callback_base(), "https://auth.example.com/kf");
    }
}
