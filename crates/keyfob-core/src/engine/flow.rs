//! Getting a session: [`Engine::ensure`] (ready credentials, refreshed when due, or a prompt),
//! [`Engine::login`] (a new flow whatever the session's state), and starting the flow itself.
//!
//! Invariants:
//! - A browser flow's prompt is keyfob's start link (`…/auth/<p>/start?state=…`), never the
//!   authorization URL or the token page; those stay in the flow record (`next_url`) until the
//!   link is opened (`link.rs`).
//! - `ensure` hands out the waiting flow's prompt again while that flow still fits (same handler
//!   and kind, scopes covered, not expired); `login` always starts a new flow.
//! - A new OAuth2 flow asks for the requested scopes, those already granted (incremental
//!   consent) and, when configured, the recommended ones.
//! - Expired flows are purged at most once a second, so starting a flow stays O(1).

use secrecy::{ExposeSecret, SecretString};

use crate::driver::FlowStart;
use crate::engine::request::{AuthRequest, Ensured, Prompt};
use crate::engine::{Engine, random_token, state_hash};
use crate::error::{ErrorKind, Result};
use crate::now;
use crate::scope::{self, Scopes};
use crate::session::{SessionKey, SessionState};
use crate::spec::{Handler, Provider};
use crate::store::{FlowStatus, PendingFlow};

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

impl Engine {
    /// Returns ready credentials for `req`, refreshing when needed, or a prompt for the user.
    ///
    /// Calling it again while the user has not acted returns the same prompt.
    ///
    /// # Errors
    /// Unknown provider or handler, missing client config, store and transport failures.
    pub async fn ensure(&self, req: &AuthRequest) -> Result<Ensured> {
        super::not_reserved(&req.key())?;
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
        super::not_reserved(&req.key())?;
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
        let started = self.driver(provider, handler).start(&flow).await?;
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
    pub(super) async fn maybe_purge(&self, now: i64) -> Result<()> {
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

    pub(super) fn prompt_of(
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

    /// Removes expired pending flows; returns how many.
    ///
    /// # Errors
    /// Store failures.
    pub async fn purge_expired(&self) -> Result<usize> {
        self.inner.store.purge_expired(now()).await
    }
}
