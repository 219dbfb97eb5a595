//! Device login (RFC 8628) on the engine's side: a flow recorded like any other, whose prompt
//! carries the user code, and a background task polling the token endpoint until the user
//! approves or denies, or the code expires.
//!
//! Invariants:
//! - The flow's `state` is random and never leaves the process; only its hash keys the record.
//! - Polling stops once the flow is no longer waiting (cancelled, replaced, purged), slows by
//!   5 s on `slow_down`, and retries an unreachable token endpoint; any other error ends the flow.
//! - The outcome goes through the same `finish` as a browser flow, so waiters see no difference.

use std::time::Duration;

use secrecy::SecretString;

use crate::driver::FlowInput;
use crate::engine::request::Prompt;
use crate::engine::{Engine, random_token, state_hash};
use crate::error::{Error, ErrorKind, Result};
use crate::now;
use crate::oauth::{OAuth2Driver, Poll};
use crate::scope::Scopes;
use crate::session::SessionKey;
use crate::spec::{Handler, OAuth2Spec, Provider};
use crate::store::{FlowStatus, PendingFlow};

impl Engine {
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
        let oauth = self.oauth2_driver(provider, spec);
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
        oauth: OAuth2Driver,
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
}
