//! Who the user is at login: the check of an entered key with its provider, the account behind
//! a fresh OAuth2 grant (userinfo), and naming a profile after that account.
//!
//! Invariants:
//! - A key the provider rejects fails the completion before the flow is claimed; a key that
//!   cannot be checked (network, 5xx, a missing permission) is saved with a warning.
//! - A check URL with per-account fields that are not set is not guessed: the key is saved
//!   unchecked, with a hint naming the setting.
//! - A key goes to its prefix's check URL; a key with no known prefix that the main URL refuses
//!   is tried at each prefix URL whose fields are set before it is refused.
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
        let config = spec.with_defaults(&self.provider_config(provider.id));
        if !config.verify_key {
            return Ok((None, None));
        }
        let own = verify.url_for(key.expose_secret());
        let missing = |template: &str| {
            spec.config_fields
                .iter()
                .find(|f| template.contains(&format!("{{{f}}}")) && !config.extra.contains_key(**f))
        };
        if let Some(field) = missing(own) {
            // A per-account URL (`{base_url}/…`): unchecked, with a hint, until it is set.
            return Ok((
                None,
                Some(format!(
                    "the key was saved without a check: set `{field}` in [auth.{}] of \
                     keyfob.toml to have {} keys checked",
                    provider.id, provider.display_name
                )),
            ));
        }
        // A key with no known prefix that its URL refuses is tried at each prefix's URL whose
        // fields are set: keys made before the prefixes existed (Cloudflare's older
        // account-owned tokens) carry no sign of their kind.
        let mut candidates = vec![own];
        if own == verify.url {
            candidates.extend(
                verify
                    .url_by_prefix
                    .iter()
                    .map(|(_, url)| *url)
                    .filter(|url| missing(url).is_none()),
            );
        }
        let mut refusal = String::new();
        for template in &candidates {
            // `verify_url` in config replaces the main URL only.
            let raw = match &config.verify_url {
                Some(url) if *template == verify.url => url.as_str(),
                _ => template,
            };
            let raw = crate::oauth::fill_fields(raw, spec.config_fields, &config, provider.id)?;
            let url = endpoint_url(&raw, &format!("{} verify_url", provider.id))
                .map_err(|e| e.with_provider(provider.id))?;
            match self
                .inner
                .runtime
                .check_key(provider.display_name, verify, &url, key)
                .await
            {
                KeyCheck::Accepted(who) => return Ok((who, None)),
                KeyCheck::Unchecked(warning) => return Ok((None, Some(warning))),
                KeyCheck::Rejected(message) => refusal = message,
            }
        }
        // Every candidate refused the key; the last refusal is the one the user reads.
        Err(Error::new(ErrorKind::InvalidInput, refusal).with_provider(provider.id))
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
