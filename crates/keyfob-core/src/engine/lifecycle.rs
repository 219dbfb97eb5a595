//! Engine verbs around a session's life besides starting and completing browser flows: the
//! device login (RFC 8628) and its polling task, sign-out with revocation (RFC 7009), the key
//! check and the account's identity at login, and refreshing sessions ahead of need so that tool
//! calls never wait on a token request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use secrecy::SecretString;
use serde::Serialize;

use super::{Engine, Prompt, random_token, state_hash};
use crate::config::endpoint_url;
use crate::error::{Error, ErrorKind, Result};
use crate::handler::FlowInput;
use crate::now;
use crate::oauth::OAuth2Handler;
use crate::oauth::lifecycle::{KeyCheck, Poll};
use crate::scope::Scopes;
use crate::session::{Grant, SessionKey};
use crate::spec::{Handler, OAuth2Spec, Provider, Refresh, TokenSpec};
use crate::store::{FlowStatus, PendingFlow};

/// Counters behind [`Engine::stats`].
#[derive(Debug, Default)]
pub(super) struct Counters {
    inline: AtomicU64,
    background: AtomicU64,
    background_failed: AtomicU64,
}

impl Counters {
    /// A caller found its session due and refreshed it on its own path.
    pub(super) fn inline_refresh(&self) {
        self.inline.fetch_add(1, Ordering::Relaxed);
    }
}

/// What the engine did since it was built; for tests, benchmarks and `keyfob serve` logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EngineStats {
    /// Refreshes a caller (`ensure`, `credentials`) had to wait for.
    pub inline_refreshes: u64,
    /// Refreshes done ahead of need by [`Engine::refresh_ahead`].
    pub background_refreshes: u64,
    /// Background refreshes that failed (the session is marked when the failure needs the user).
    pub background_failures: u64,
}

/// How [`Engine::sign_out`] treats the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignOut {
    /// Revoke the tokens at the provider first.
    pub revoke: bool,
    /// Keep the local session when revocation fails (to retry later); by default it is deleted
    /// anyway, and the failure reported.
    pub keep_if_revocation_fails: bool,
}

impl Default for SignOut {
    fn default() -> Self {
        SignOut {
            revoke: true,
            keep_if_revocation_fails: false,
        }
    }
}

/// What happened at the provider when signing out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "detail", rename_all = "snake_case")]
pub enum Revocation {
    /// The provider revoked the tokens.
    Revoked,
    /// The provider offers no revocation (the message says what to do instead).
    Unsupported(String),
    /// Revocation was attempted and failed.
    Failed(String),
    /// Not asked for.
    Skipped,
    /// There was no session.
    NoSession,
}

/// The result of [`Engine::sign_out`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignedOut {
    /// Whether a local session was deleted.
    pub deleted: bool,
    /// What the provider did.
    pub revocation: Revocation,
}

/// Options of [`Engine::refresh_ahead`].
#[derive(Debug, Clone, Copy)]
pub struct RefreshAhead {
    /// Refresh a session this long before its access token expires. Raised, if needed, to the
    /// engine's refresh margin plus one `every`, so that no caller ever finds a session due.
    pub lead: Duration,
    /// Up to this much earlier again, fixed per session, so that sessions logged in together
    /// do not all refresh in the same second.
    pub jitter: Duration,
    /// How often to look.
    pub every: Duration,
}

impl Default for RefreshAhead {
    fn default() -> Self {
        RefreshAhead {
            lead: Duration::from_secs(300),
            jitter: Duration::from_secs(60),
            every: Duration::from_secs(15),
        }
    }
}

/// The background task of [`Engine::refresh_ahead`]; stops when dropped.
#[derive(Debug)]
pub struct RefreshAheadTask {
    handle: tokio::task::JoinHandle<()>,
}

impl RefreshAheadTask {
    /// Stops the task.
    pub fn stop(self) {}
}

impl Drop for RefreshAheadTask {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

impl Engine {
    /// Counters since the engine was built.
    pub fn stats(&self) -> EngineStats {
        let c = &self.inner.stats;
        EngineStats {
            inline_refreshes: c.inline.load(Ordering::Relaxed),
            background_refreshes: c.background.load(Ordering::Relaxed),
            background_failures: c.background_failed.load(Ordering::Relaxed),
        }
    }

    fn oauth2_handler(
        &self,
        provider: &'static Provider,
        spec: &'static OAuth2Spec,
    ) -> OAuth2Handler {
        OAuth2Handler::new(
            provider.id,
            spec,
            self.provider_config(provider.id),
            self.inner.runtime.clone(),
        )
    }

    /// Starts a device login: asks the provider for a user code, records the flow, and polls
    /// the token endpoint in the background (at the server's interval, slower when told to)
    /// until the user approves, denies, or the code expires. [`Engine::wait`] waits for it like
    /// for any flow; the prompt carries the code.
    pub(super) async fn start_device(
        &self,
        provider: &'static Provider,
        handler: &'static Handler,
        spec: &'static OAuth2Spec,
        key: &SessionKey,
        scopes: Scopes,
    ) -> Result<Prompt> {
        let oauth = self.oauth2_handler(provider, spec);
        let device = oauth.device_start(&scopes).await?;
        let now = now();
        // The flow's record is keyed like any other; this state never leaves the process.
        let hash = state_hash(&random_token(32));
        let pending = PendingFlow {
            id: random_token(12),
            state_hash: hash.clone(),
            key: key.clone(),
            handler: handler.name().to_owned(),
            scopes: scopes.clone(),
            redirect_uri: String::new(),
            verifier: None,
            prompt_url: SecretString::from(
                device
                    .verification_uri_complete
                    .clone()
                    .unwrap_or_else(|| device.verification_uri.clone()),
            ),
            created_at: now,
            expires_at: now + i64::try_from(device.expires_in).unwrap_or(600),
            status: FlowStatus::Waiting,
            user_code: Some(device.user_code.clone()),
            next_url: None,
            browser: None,
        };
        self.maybe_purge(now).await?;
        self.inner.store.put_pending(&pending).await?;
        tracing::info!(
            provider = provider.id,
            handler = handler.name(),
            "device login started"
        );
        let engine = self.clone();
        let expires_at = pending.expires_at;
        tokio::spawn(async move {
            engine
                .poll_device(
                    oauth,
                    hash,
                    device.device_code,
                    scopes,
                    device.interval,
                    expires_at,
                )
                .await;
        });
        Ok(self.prompt_of(provider, handler, &pending))
    }

    async fn poll_device(
        &self,
        oauth: OAuth2Handler,
        hash: String,
        device_code: SecretString,
        scopes: Scopes,
        mut interval: u64,
        expires_at: i64,
    ) {
        loop {
            tokio::time::sleep(Duration::from_secs(interval)).await;
            // Stop when the flow was cancelled, replaced or purged.
            match self.inner.store.pending(&hash).await {
                Ok(Some(p)) if p.status == FlowStatus::Waiting => {}
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!(kind = e.kind().as_str(), "device login: store unavailable");
                    continue;
                }
            }
            if now() >= expires_at {
                let e = Error::new(
                    ErrorKind::Expired,
                    "the device code expired before the user approved; start the login again",
                );
                self.end_device(&hash, Err(e)).await;
                return;
            }
            match oauth.device_poll(&device_code, &scopes).await {
                Ok(Poll::Pending) => {}
                Ok(Poll::SlowDown) => interval += 5,
                Ok(Poll::Granted(grant)) => {
                    self.end_device(&hash, Ok(FlowInput::Granted(grant))).await;
                    return;
                }
                Err(e) if e.kind() == ErrorKind::Transport => {
                    tracing::warn!("device login: the token endpoint is unreachable; polling on");
                }
                Err(e) => {
                    self.end_device(&hash, Err(e)).await;
                    return;
                }
            }
        }
    }

    async fn end_device(&self, hash: &str, input: Result<FlowInput>) {
        if let Err(e) = self.finish(hash, input, None).await {
            tracing::info!(
                kind = e.kind().as_str(),
                "device login ended without a session"
            );
        }
    }

    /// Checks an entered key with the provider's verification request, unless the spec has
    /// none or config turns it off. Returns the account's name, or a warning when the key could
    /// not be checked.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] with the provider's message when it rejects the key.
    pub(super) async fn check_key(
        &self,
        provider: &'static Provider,
        spec: &'static TokenSpec,
        key: &SecretString,
    ) -> Result<(Option<String>, Option<String>)> {
        let Some(verify) = &spec.verify else {
            return Ok((None, None));
        };
        let mut config = self.provider_config(provider.id);
        if !config.verify_key {
            return Ok((None, None));
        }
        for (field, default) in spec.config_defaults {
            config
                .extra
                .entry((*field).to_owned())
                .or_insert_with(|| (*default).to_owned());
        }
        let raw = match &config.verify_url {
            Some(url) => url.clone(),
            None => {
                // A per-account URL (`{base_url}/…`): unchecked, with a hint, until it is set.
                if let Some(field) = spec.config_fields.iter().find(|f| {
                    verify.url.contains(&format!("{{{f}}}")) && !config.extra.contains_key(**f)
                }) {
                    return Ok((
                        None,
                        Some(format!(
                            "the key was saved without a check: set `{field}` in [auth.{}] of \
                             keyfob.toml to have {} keys checked",
                            provider.id, provider.display_name
                        )),
                    ));
                }
                crate::oauth::fill_fields(verify.url, spec.config_fields, &config, provider.id)?
            }
        };
        let url = endpoint_url(&raw, &format!("{} verify_url", provider.id))
            .map_err(|e| e.with_provider(provider.id))?;
        match self
            .inner
            .runtime
            .check_key(provider.display_name, verify, &url, key)
            .await
        {
            KeyCheck::Accepted(who) => Ok((who, None)),
            KeyCheck::Rejected(message) => {
                Err(Error::new(ErrorKind::InvalidInput, message).with_provider(provider.id))
            }
            KeyCheck::Unchecked(warning) => Ok((None, Some(warning))),
        }
    }

    /// The account behind a fresh OAuth2 grant, where the provider has a userinfo endpoint.
    pub(super) async fn identity_of(
        &self,
        provider: &'static Provider,
        handler: &'static Handler,
        grant: &Grant,
    ) -> Option<String> {
        match handler {
            Handler::OAuth2(spec) => self.oauth2_handler(provider, spec).identity(grant).await,
            Handler::Token(_) => None,
        }
    }

    /// Signs out of `key`: revokes the tokens at the provider (RFC 7009, where it has an
    /// endpoint), then deletes the session and any pending flow.
    ///
    /// # Errors
    /// Unknown provider or handler of a stored session, store failures. A failed revocation is
    /// reported in the result, not as an error.
    pub async fn sign_out(&self, key: &SessionKey, opts: SignOut) -> Result<SignedOut> {
        let session = self.inner.store.get(key).await?;
        let revocation = match (&session, opts.revoke) {
            (None, _) => Revocation::NoSession,
            (Some(_), false) => Revocation::Skipped,
            (Some(s), true) => {
                let (provider, handler) = self.lookup_stored(s)?;
                match handler {
                    Handler::OAuth2(spec) => {
                        match self.oauth2_handler(provider, spec).revoke(&s.grant).await {
                            Ok(()) => Revocation::Revoked,
                            Err(e) if e.kind() == ErrorKind::Unsupported => {
                                Revocation::Unsupported(e.to_string())
                            }
                            Err(e) => Revocation::Failed(e.to_string()),
                        }
                    }
                    Handler::Token(t) => Revocation::Unsupported(if t.docs_url.is_empty() {
                        format!("revoke the key in {}'s settings", provider.display_name)
                    } else {
                        format!(
                            "revoke the key in {}'s settings: {}",
                            provider.display_name, t.docs_url
                        )
                    }),
                }
            }
        };
        if let Revocation::Failed(message) = &revocation {
            tracing::warn!(
                provider = key.provider.as_str(),
                "revocation failed: {message}"
            );
            if opts.keep_if_revocation_fails {
                return Ok(SignedOut {
                    deleted: false,
                    revocation,
                });
            }
        }
        let deleted = self.logout(key).await?;
        Ok(SignedOut {
            deleted,
            revocation,
        })
    }

    /// Moves the session of `key` to the profile named by its account (`octocat@example.com` →
    /// profile `octocat@example.com`), so that several accounts of one provider sit side by side
    /// under recognisable names. Returns the new key; the old one is deleted.
    ///
    /// # Errors
    /// [`ErrorKind::NoSession`]; [`ErrorKind::InvalidInput`] when the session has no identity
    /// or the target profile is taken; store failures.
    pub async fn label_profile_from_identity(&self, key: &SessionKey) -> Result<SessionKey> {
        let store = &self.inner.store;
        let session = store
            .get(key)
            .await?
            .ok_or_else(|| super::no_session(key))?;
        let Some(identity) = session.grant.identity.clone() else {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "the provider did not say which account this is; choose a profile with --profile",
            )
            .with_provider(&key.provider));
        };
        let profile: String = identity
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "@._-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .take(64)
            .collect();
        let target = SessionKey::new(&key.provider, &key.thread, profile);
        if target == *key {
            return Ok(target);
        }
        let moved = crate::session::Session {
            key: target.clone(),
            version: 0,
            ..session
        };
        match store.put(&moved, crate::store::Expect::Absent).await {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Conflict => {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!("profile `{}` already holds a session", target.profile),
                )
                .with_provider(&key.provider));
            }
            Err(e) => return Err(e),
        }
        store.delete(key).await?;
        Ok(target)
    }

    /// One pass of refresh-ahead: refreshes every session whose access token expires within
    /// `lead` (plus its jitter) and can be refreshed; returns how many were refreshed.
    ///
    /// # Errors
    /// Store failures listing the sessions; a failing refresh is counted and logged, and marks
    /// the session when the user must log in again.
    pub async fn refresh_due(&self, lead: Duration, jitter: Duration) -> Result<usize> {
        let sessions = self.inner.store.list(None).await?;
        let now = now();
        let mut refreshed = 0;
        for s in sessions {
            let Some(expires_at) = s.grant.expires_at else {
                continue;
            };
            if s.grant.refresh_token.is_none() || s.refresh_error.is_some() {
                continue;
            }
            let Ok((_, Handler::OAuth2(spec))) = self.lookup_stored(&s) else {
                continue;
            };
            if spec.refresh == Refresh::None {
                continue;
            }
            let early = jitter_for(&s.key, jitter);
            let due_at = expires_at
                .saturating_sub(i64::try_from((lead + early).as_secs()).unwrap_or(i64::MAX));
            if now < due_at {
                continue;
            }
            match self.refresh_from(&s, true).await {
                Ok(after) if after.refresh_error.is_none() && after.version != s.version => {
                    self.inner.stats.background.fetch_add(1, Ordering::Relaxed);
                    refreshed += 1;
                }
                Ok(_) => {
                    self.inner
                        .stats
                        .background_failed
                        .fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    self.inner
                        .stats
                        .background_failed
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        provider = s.key.provider.as_str(),
                        kind = e.kind().as_str(),
                        "refresh ahead failed"
                    );
                }
            }
        }
        Ok(refreshed)
    }

    /// Starts refreshing sessions ahead of need in the background, every `opts.every`, until
    /// the returned task is dropped. Sessions whose refresh token is rejected are marked, so
    /// that `status` and the tools API ask for a new login instead of failing at call time.
    pub fn refresh_ahead(&self, opts: RefreshAhead) -> RefreshAheadTask {
        let margin = Duration::from_secs(self.inner.config.session.refresh_margin_secs);
        let lead = opts.lead.max(margin + opts.every + Duration::from_secs(1));
        let engine = self.clone();
        let handle = tokio::spawn(async move {
            loop {
                if let Err(e) = engine.refresh_due(lead, opts.jitter).await {
                    tracing::warn!(
                        kind = e.kind().as_str(),
                        "refresh ahead: cannot list sessions"
                    );
                }
                tokio::time::sleep(opts.every).await;
            }
        });
        RefreshAheadTask { handle }
    }
}

/// A fixed share of `jitter` for `key`, so that passes agree on when a session is due.
fn jitter_for(key: &SessionKey, jitter: Duration) -> Duration {
    use std::hash::{Hash, Hasher};
    let secs = jitter.as_secs();
    if secs == 0 {
        return Duration::ZERO;
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    Duration::from_secs(h.finish() % (secs + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_is_stable_and_bounded() {
        let k = SessionKey::default_for("github");
        let j = jitter_for(&k, Duration::from_secs(60));
        assert_eq!(j, jitter_for(&k, Duration::from_secs(60)));
        assert!(j <= Duration::from_secs(60));
        assert_eq!(jitter_for(&k, Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn revocation_serializes_for_json_output() {
        let v = serde_json::to_value(Revocation::Failed("HTTP 500".into())).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"outcome": "failed", "detail": "HTTP 500"})
        );
        let v = serde_json::to_value(Revocation::Revoked).unwrap();
        assert_eq!(v, serde_json::json!({"outcome": "revoked"}));
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        use secrecy::ExposeSecret;
        let key = SecretString::from("sentinel-kf".to_owned());
        assert!(!format!("{key:?}").contains("sentinel"));
        assert_eq!(key.expose_secret(), "sentinel-kf");
    }
}
