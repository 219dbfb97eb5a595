//! Handing out credentials: [`Engine::credentials`] for a stored session (refreshed first when
//! due), the environment a session becomes, and keys taken from the environment.
//!
//! Invariants:
//! - A key taken from the environment (`allow_env`) is used as an ephemeral session and never
//!   stored: the variable stays the source of truth.
//! - A token handler's credentials carry the provider's configured settings (Datadog's site) as
//!   variables besides the key.

use secrecy::SecretString;

use crate::driver::TokenDriver;
use crate::engine::{Engine, no_session};
use crate::error::Result;
use crate::now;
use crate::scope::Scopes;
use crate::session::{Credentials, Session, SessionKey, SessionState};
use crate::spec::{Handler, Provider, TokenSpec};

impl Engine {
    /// Credentials for a stored session, refreshed first when near expiry (`keyfob token`).
    ///
    /// # Errors
    /// [`ErrorKind::NoSession`] when there is none; [`ErrorKind::ReauthRequired`] when it
    /// cannot be refreshed.
    ///
    /// [`ErrorKind::NoSession`]: crate::ErrorKind::NoSession
    /// [`ErrorKind::ReauthRequired`]: crate::ErrorKind::ReauthRequired
    pub async fn credentials(&self, key: &SessionKey) -> Result<Credentials> {
        super::not_reserved(key)?;
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

    pub(super) fn credentials_of(&self, session: &Session) -> Result<Credentials> {
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

    /// A session for a token handler's key taken from its env variable, when config allows it.
    /// It is used as is and never stored: the variable stays the source of truth, and a key the
    /// user only exported never lands on disk.
    pub(super) async fn session_from_env(
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
        let grant = TokenDriver::new(spec)
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
