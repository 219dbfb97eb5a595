//! Completing flows from the callback server: the OAuth2 callback, the token-entry page and its
//! form, and `finish`, the one place where a claimed flow becomes a stored session.
//!
//! Invariants:
//! - Every check of the request itself (the state is known, waiting and unexpired; the route's
//!   provider and handler kind; the browser's cookie; the issuer; the entered fields and key)
//!   runs before the flow is claimed, so a forged or misdirected request changes nothing and the
//!   link stays usable.
//! - A flow is claimed at most once (`claim_pending`), which makes a `state` single-use.
//! - A claimed flow's outcome (`Done`, or `Failed` with its kind and message) is recorded for its
//!   waiter, who is woken in this process and, through the store, in others.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

use crate::driver::{self, Field, FlowInput, TokenDriver};
use crate::engine::link::LinkCookies;
use crate::engine::{Engine, state_hash};
use crate::error::{Error, ErrorKind, Result, printable};
use crate::now;
use crate::session::{Grant, Session, SessionKey};
use crate::spec::{Handler, TokenEntry};
use crate::store::{Expect, FlowStatus, PendingFlow};

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

impl Engine {
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
    pub(super) async fn waiting_flow(
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
        if !pending.is_waiting(now()) {
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
        let config = self.provider_config(provider);
        if let Some(issuer) = &config.exact_issuer {
            // An MCP login: the issuer its metadata was validated against, compared as a
            // string (2026-07-28: no normalisation at all).
            return match iss {
                Some(iss) if iss != issuer => Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "the authorization response comes from the issuer {:?}, but this login \
                         expects exactly {issuer:?}; nothing was exchanged",
                        printable(iss)
                    ),
                )
                .with_provider(provider)),
                None if config.iss_always => Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "the authorization response does not name its issuer, which {issuer} \
                         says it always does (RFC 9207); nothing was exchanged"
                    ),
                )
                .with_provider(provider)),
                _ => Ok(()),
            };
        }
        let Some(issuer) = config.issuer else {
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
                fields: driver::fields(t.entry),
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
        let grant = TokenDriver::new(spec)
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

    pub(super) async fn finish(
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
                    self.driver(provider, handler)
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
}

pub(super) fn unknown_link() -> Error {
    Error::new(
        ErrorKind::Expired,
        "this login link is unknown, expired or already used; start the login again",
    )
}
