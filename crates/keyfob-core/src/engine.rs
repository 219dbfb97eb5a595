//! The engine: finds a valid session or starts the flow that gets one, completes flows from the
//! callback server, refreshes single-flight, and hands out credentials.
//!
//! This file holds the [`Engine`] handle and what its verbs share: the catalog, config, store,
//! HTTP runtime and refresh state behind one `Arc`, the flow drivers, random tokens and state
//! hashes. Each verb lives in a module named after it: `request` (what callers send and get
//! back), `builder` and `custom_provider` (making an engine), `flow` (`ensure`, `login`),
//! `credentials`, `complete` (the callback server's side), `link` (start links bound to a
//! browser), `wait`, `device`, `account` (key checks and identity), `refresh`, `refresh_ahead`,
//! `status` and `sign_out`.
//!
//! Invariants:
//! - Clones of an `Engine` share everything: all state lives in `Inner`.
//! - Pending flows are keyed and looked up by the SHA-256 of their `state` ([`state_hash`]),
//!   never by the state itself.
//! - A stored session is refreshed and turned into credentials by the handler it records
//!   (`lookup_stored`), and the driver that runs a handler is made per call from its spec and
//!   the provider's config; none is cached.

mod account;
mod builder;
mod complete;
mod credentials;
mod custom_provider;
mod device;
mod flow;
mod link;
mod refresh;
mod refresh_ahead;
mod request;
mod sign_out;
mod status;
mod wait;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::config::{Config, ProviderConfig};
use crate::driver::{FlowDriver, TokenDriver};
pub(crate) use crate::engine::builder::default_base;
use crate::error::{Error, ErrorKind, Result};
use crate::oauth::{OAuth2Driver, Runtime};
use crate::registry::Catalog;
use crate::session::{DEFAULT, Session, SessionKey};
use crate::spec::{Handler, OAuth2Spec, Provider};
use crate::store::SessionStore;

pub use builder::EngineBuilder;
pub use complete::{CallbackParams, Completed, TokenPage};
pub use link::{COOKIE_PREFIX, LinkCookies, Opened, SetCookie};
pub use refresh_ahead::{EngineStats, RefreshAhead, RefreshAheadTask};
pub use request::{AuthRequest, Ensured, Prompt};
pub use sign_out::{Revocation, SignOut, SignedOut};
pub use status::SessionInfo;

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
    failures: Mutex<HashMap<SessionKey, refresh::Failure>>,
    stats: refresh_ahead::Counters,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("store", &self.inner.store.name())
            .field("providers", &self.inner.catalog.iter().count())
            .finish_non_exhaustive()
    }
}

fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// Refuses the keys of keyfob's own records (the MCP client registrations, thread `~mcp`): they
/// hold client secrets, not sessions, and no verb reads or writes them.
pub(crate) fn not_reserved(key: &SessionKey) -> Result<()> {
    if crate::mcp::is_record(key) {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "the thread `{}` is keyfob's own (MCP client registrations); choose another thread",
                crate::mcp::RECORD_THREAD
            ),
        ));
    }
    Ok(())
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

    /// The driver that runs `handler`'s flow with the provider's config.
    fn driver(
        &self,
        provider: &'static Provider,
        handler: &'static Handler,
    ) -> Box<dyn FlowDriver> {
        match handler {
            Handler::Token(t) => Box::new(TokenDriver::new(t)),
            Handler::OAuth2(o) => Box::new(OAuth2Driver::new(
                provider.id,
                o,
                self.provider_config(provider.id),
                self.inner.runtime.clone(),
            )),
        }
    }

    /// The OAuth2 driver of `spec`, for what only OAuth2 handlers do (device login, revocation,
    /// identity).
    fn oauth2_driver(
        &self,
        provider: &'static Provider,
        spec: &'static OAuth2Spec,
    ) -> OAuth2Driver {
        OAuth2Driver::new(
            provider.id,
            spec,
            self.provider_config(provider.id),
            self.inner.runtime.clone(),
        )
    }

    fn lookup_stored(&self, session: &Session) -> Result<(&'static Provider, &'static Handler)> {
        self.inner
            .catalog
            .handler(&session.key.provider, Some(&session.handler))
    }

    fn margin(&self) -> i64 {
        i64::try_from(self.inner.config.session.refresh_margin_secs).unwrap_or(i64::MAX / 4)
    }
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
    use std::time::Duration;

    use secrecy::SecretString;

    use super::*;
    use crate::session::SessionState;
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

    #[test]
    fn secrets_stay_out_of_debug() {
        use secrecy::ExposeSecret;
        let key = SecretString::from("sentinel-kf".to_owned());
        assert!(!format!("{key:?}").contains("sentinel"));
        assert_eq!(key.expose_secret(), "sentinel-kf");
    }
}
