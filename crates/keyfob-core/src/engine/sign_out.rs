//! Signing out: revoking a session's tokens at the provider (RFC 7009, or the provider's own
//! style), then deleting the session and any pending flow ([`Engine::logout`]).
//!
//! Invariants:
//! - A failed revocation is reported in [`SignedOut`], never as an error; the local session is
//!   deleted anyway unless [`SignOut::keep_if_revocation_fails`].
//! - A token handler's key cannot be revoked from here: the answer says where to revoke it.

use serde::Serialize;

use crate::engine::Engine;
use crate::error::{ErrorKind, Result};
use crate::session::SessionKey;
use crate::spec::Handler;

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

impl Engine {
    /// Signs out of `key`: revokes the tokens at the provider (RFC 7009, where it has an
    /// endpoint), then deletes the session and any pending flow.
    ///
    /// # Errors
    /// Unknown provider or handler of a stored session, store failures. A failed revocation is
    /// reported in the result, not as an error.
    pub async fn sign_out(&self, key: &SessionKey, opts: SignOut) -> Result<SignedOut> {
        super::not_reserved(key)?;
        let session = self.inner.store.get(key).await?;
        let revocation = match (&session, opts.revoke) {
            (None, _) => Revocation::NoSession,
            (Some(_), false) => Revocation::Skipped,
            (Some(s), true) => {
                let (provider, handler) = self.lookup_stored(s)?;
                match handler {
                    Handler::OAuth2(spec) => {
                        match self.oauth2_driver(provider, spec).revoke(&s.grant).await {
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

    /// Deletes the session and any pending flow for it; `true` when a session existed.
    ///
    /// # Errors
    /// Store failures.
    pub async fn logout(&self, key: &SessionKey) -> Result<bool> {
        super::not_reserved(key)?;
        if let Some(p) = self.inner.store.pending_for(key).await? {
            self.inner.store.delete_pending(&p.state_hash).await?;
        }
        let existed = self.inner.store.delete(key).await?;
        if existed {
            tracing::info!(provider = key.provider.as_str(), "session deleted");
        }
        Ok(existed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
