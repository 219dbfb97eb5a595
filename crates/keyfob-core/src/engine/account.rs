//! Who the user is at login: the check of an entered key with its provider, the account behind
//! a fresh OAuth2 grant (userinfo), and naming a profile after that account.
//!
//! Invariants:
//! - A key the provider rejects fails the completion before the flow is claimed; a key that
//!   cannot be checked (network, 5xx, a missing permission) is saved with a warning.
//! - A check URL with per-account fields that are not set is not guessed: the key is saved
//!   unchecked, with a hint naming the setting.
//! - Naming a profile never overwrites a session: the target profile must be free.

use secrecy::{ExposeSecret, SecretString};

use crate::config::endpoint_url;
use crate::engine::Engine;
use crate::error::{Error, ErrorKind, Result};
use crate::oauth::KeyCheck;
use crate::session::{Grant, SessionKey};
use crate::spec::{Handler, Provider, TokenSpec};

impl Engine {
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
        let template = verify.url_for(key.expose_secret());
        let raw = match &config.verify_url {
            Some(url) => url.clone(),
            None => {
                // A per-account URL (`{base_url}/…`): unchecked, with a hint, until it is set.
                if let Some(field) = spec.config_fields.iter().find(|f| {
                    template.contains(&format!("{{{f}}}")) && !config.extra.contains_key(**f)
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
                crate::oauth::fill_fields(template, spec.config_fields, &config, provider.id)?
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
            Handler::OAuth2(spec) => self.oauth2_driver(provider, spec).identity(grant).await,
            Handler::Token(_) => None,
        }
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
}
