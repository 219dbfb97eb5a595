//! Sessions: the grant a user gave for one (provider, thread, profile), its state, and the
//! credentials a tool receives.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::scope::{self, Scopes};
use crate::spec::Handler;

/// The default thread and profile name.
pub const DEFAULT: &str = "default";

/// Identifies a session: provider, thread and profile.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SessionKey {
    /// Provider id.
    pub provider: String,
    /// The agent thread (conversation) the session belongs to.
    pub thread: String,
    /// The account profile, e.g. `work`.
    pub profile: String,
}

impl SessionKey {
    /// A key; empty thread or profile become `default`.
    pub fn new(
        provider: impl Into<String>,
        thread: impl Into<String>,
        profile: impl Into<String>,
    ) -> Self {
        let or_default = |s: String| if s.is_empty() { DEFAULT.to_owned() } else { s };
        SessionKey {
            provider: provider.into(),
            thread: or_default(thread.into()),
            profile: or_default(profile.into()),
        }
    }

    /// The key for the default thread and profile.
    pub fn default_for(provider: impl Into<String>) -> Self {
        Self::new(provider, DEFAULT, DEFAULT)
    }
}

impl fmt::Display for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (thread {}, profile {})",
            self.provider, self.thread, self.profile
        )
    }
}

/// What a successful flow yields: tokens and what came with them.
#[derive(Clone)]
pub struct Grant {
    /// The credential handed to tools.
    pub access_token: SecretString,
    /// The refresh token, when the provider issued one.
    pub refresh_token: Option<SecretString>,
    /// Unix seconds when the access token expires; `None` when it does not.
    pub expires_at: Option<i64>,
    /// Scopes the server granted (or, when it did not say, the scopes asked for).
    pub scopes: Scopes,
    /// The token type the server named, e.g. `bearer`.
    pub token_type: Option<String>,
    /// Further secrets under their own env keys (a key pair's secret).
    pub extra_secrets: Vec<(String, SecretString)>,
    /// Provider detail from the token response (Notion `workspace_id`, Salesforce
    /// `instance_url`), with every token removed. Stored encrypted like the tokens.
    pub detail: serde_json::Map<String, serde_json::Value>,
    /// Who the credentials belong to, as the provider names the account (a login, an email),
    /// when it says; never a secret.
    pub identity: Option<String>,
    /// The scopes the flow asked for; `scopes` holds what the server granted.
    pub requested: Scopes,
}

impl Grant {
    /// A grant holding only an access token that does not expire.
    pub fn bearer(token: SecretString) -> Self {
        Grant {
            access_token: token,
            refresh_token: None,
            expires_at: None,
            scopes: Scopes::new(),
            token_type: None,
            extra_secrets: Vec::new(),
            detail: serde_json::Map::new(),
            identity: None,
            requested: Scopes::new(),
        }
    }
}

impl fmt::Debug for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Grant")
            .field("access_token", &"[redacted]")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("expires_at", &self.expires_at)
            .field("scopes", &self.scopes)
            .field("token_type", &self.token_type)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

/// A stored session.
#[derive(Clone, Debug)]
pub struct Session {
    /// Its key.
    pub key: SessionKey,
    /// The handler that produced it, e.g. `github-oauth2`.
    pub handler: String,
    /// The tokens.
    pub grant: Grant,
    /// Unix seconds of the first login.
    pub created_at: i64,
    /// Unix seconds of the last write.
    pub updated_at: i64,
    /// Set when a refresh failed for good: the user must log in again.
    pub refresh_error: Option<String>,
    /// The store's version, for compare-and-swap; 0 for a session not yet stored.
    pub version: u64,
}

/// The state of a session with respect to a request, as the reference system names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// No session and no flow.
    None,
    /// A flow is waiting for the user.
    Pending,
    /// The flow completed; the session is about to be used.
    Resolved,
    /// The session can be used as is.
    Valid,
    /// The session does not cover the requested scopes (or its refresh failed for good).
    NeedsAuth,
    /// The access token expires within the refresh margin.
    NeedsRefresh,
}

impl SessionState {
    /// Lowercase name for output.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::None => "none",
            SessionState::Pending => "pending",
            SessionState::Resolved => "resolved",
            SessionState::Valid => "valid",
            SessionState::NeedsAuth => "needs_auth",
            SessionState::NeedsRefresh => "needs_refresh",
        }
    }
}

impl Session {
    /// The state of this session for a request of `wanted` scopes at `now`.
    pub fn state(&self, wanted: &Scopes, now: i64, margin_secs: i64) -> SessionState {
        // A refresh token rejected for good ends the session's use, however long its access
        // token would still live: the provider revoked it with the grant, most likely.
        if self.refresh_error.is_some() {
            return SessionState::NeedsAuth;
        }
        if !scope::covers(&self.grant.scopes, wanted) {
            return SessionState::NeedsAuth;
        }
        match self.grant.expires_at {
            Some(at) if at.saturating_sub(self.effective_margin(margin_secs)) <= now => {
                SessionState::NeedsRefresh
            }
            _ => SessionState::Valid,
        }
    }

    /// The refresh margin, capped at half the token's lifetime (counted from the last write), so
    /// that a token living shorter than the margin is not refreshed on every use.
    pub fn effective_margin(&self, margin_secs: i64) -> i64 {
        match self.grant.expires_at {
            Some(at) => margin_secs.min(at.saturating_sub(self.updated_at).max(0) / 2),
            None => margin_secs,
        }
    }

    /// Whether the access token has expired.
    pub fn is_expired(&self, now: i64) -> bool {
        self.grant.expires_at.is_some_and(|at| at <= now)
    }
}

/// The credentials a tool receives, as environment variables.
#[derive(Clone)]
pub struct Credentials {
    env: Vec<(String, SecretString)>,
    /// `WORK` for profile `work`: every variable also goes out under `WORK_<name>`.
    prefix: Option<String>,
    /// Unix seconds when the access token expires.
    pub expires_at: Option<i64>,
}

impl Credentials {
    /// Builds the environment for a session: the handler's env keys, and for a profile other than
    /// `default` the same keys prefixed with the profile (`WORK_GITHUB_TOKEN`).
    pub fn for_session(session: &Session, handler: &Handler) -> Self {
        let keys = handler.env_keys();
        let mut base: Vec<(String, SecretString)> =
            vec![(keys[0].to_owned(), session.grant.access_token.clone())];
        for (k, v) in &session.grant.extra_secrets {
            base.push((k.clone(), v.clone()));
        }
        let prefix = (session.key.profile != DEFAULT).then(|| profile_prefix(&session.key.profile));
        let mut env = base.clone();
        if let Some(prefix) = &prefix {
            env.extend(base.into_iter().map(|(k, v)| (format!("{prefix}_{k}"), v)));
        }
        Credentials {
            env,
            prefix,
            expires_at: session.grant.expires_at,
        }
    }

    /// The variables, in a stable order.
    ///
    /// # Security
    /// The values are secrets: pass them to the tool's environment, never to a log.
    pub fn env(&self) -> impl Iterator<Item = (&str, &SecretString)> {
        self.env.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The value of one variable.
    pub fn get(&self, key: &str) -> Option<&SecretString> {
        self.env.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The primary credential (the first variable).
    ///
    /// # Security
    /// Returns the secret itself.
    pub fn access_token(&self) -> &str {
        self.env[0].1.expose_secret()
    }

    /// Sets `key` (and, for another profile than `default`, its prefixed twin, as
    /// [`Credentials::for_session`] names them) to `value`.
    pub fn set(&mut self, key: &str, value: SecretString) {
        let twin = self.prefix.as_ref().map(|p| format!("{p}_{key}"));
        for name in std::iter::once(key.to_owned()).chain(twin) {
            match self.env.iter_mut().find(|(k, _)| *k == name) {
                Some((_, v)) => *v = value.clone(),
                None => self.env.push((name, value.clone())),
            }
        }
    }

    /// Merges another provider's credentials into this set (for `exec github,slack`).
    pub fn extend(&mut self, other: Credentials) {
        self.env.extend(other.env);
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field(
                "keys",
                &self.env.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            )
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// `work` → `WORK`; anything but letters and digits becomes `_`.
pub fn profile_prefix(profile: &str) -> String {
    profile
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{OAuth2Spec, TokenEntry, TokenSpec};

    static GH: OAuth2Spec = OAuth2Spec {
        name: "gh-oauth2",
        env_key: "GITHUB_TOKEN",
        ..OAuth2Spec::DEFAULTS
    };
    static KP: TokenSpec = TokenSpec {
        name: "kraken-keypair",
        env_key: "KRAKEN_API_KEY",
        entry: TokenEntry::KeyPair {
            secret_env_key: "KRAKEN_API_SECRET",
        },
        ..TokenSpec::DEFAULTS
    };

    fn session(profile: &str, expires_at: Option<i64>, scopes: &[&str]) -> Session {
        let mut grant = Grant::bearer(SecretString::from("sentinel-token"));
        grant.expires_at = expires_at;
        grant.scopes = scope::from_iter(scopes.iter().copied());
        Session {
            key: SessionKey::new("github", "", profile),
            handler: "gh-oauth2".into(),
            grant,
            created_at: 0,
            updated_at: 0,
            refresh_error: None,
            version: 1,
        }
    }

    #[test]
    fn extreme_expiry_times_do_not_overflow() {
        // A token endpoint may answer any `expires_in`; fuzzing found the overflow
        // (fuzz/regressions/callback_request/grant-expires-in-overflow).
        let wanted = Scopes::new();
        for at in [i64::MAX, i64::MIN, i64::MIN + 1] {
            let mut s = session("default", Some(at), &[]);
            for updated in [i64::MIN, 0, i64::MAX] {
                s.updated_at = updated;
                let _ = s.state(&wanted, 1_800_000_000, i64::MAX);
                let _ = s.effective_margin(300);
            }
        }
        let far = session("default", Some(i64::MAX), &[]);
        assert_eq!(far.state(&wanted, 1_800_000_000, 300), SessionState::Valid);
    }

    #[test]
    fn states() {
        let s = session("default", Some(1_000), &["repo"]);
        let repo = scope::from_iter(["repo"]);
        assert_eq!(s.state(&repo, 0, 300), SessionState::Valid);
        assert_eq!(s.state(&repo, 700, 300), SessionState::NeedsRefresh);
        // A 60 s token is due at half its life, not at once.
        let mut short = session("default", Some(1_060), &[]);
        short.updated_at = 1_000;
        assert_eq!(short.state(&Scopes::new(), 1_010, 300), SessionState::Valid);
        assert_eq!(
            short.state(&Scopes::new(), 1_031, 300),
            SessionState::NeedsRefresh
        );
        assert_eq!(
            s.state(&scope::from_iter(["repo", "gist"]), 0, 300),
            SessionState::NeedsAuth
        );
        assert_eq!(
            session("default", None, &[]).state(&Scopes::new(), i64::MAX, 300),
            SessionState::Valid
        );
    }

    #[test]
    fn env_keys_with_profile() {
        let creds = Credentials::for_session(&session("work", None, &[]), &Handler::OAuth2(&GH));
        let keys: Vec<_> = creds.env().map(|(k, _)| k).collect();
        assert_eq!(keys, ["GITHUB_TOKEN", "WORK_GITHUB_TOKEN"]);
        assert_eq!(creds.access_token(), "sentinel-token");
        let plain = Credentials::for_session(&session("default", None, &[]), &Handler::OAuth2(&GH));
        assert_eq!(plain.env().count(), 1);
        assert!(!format!("{creds:?}").contains("sentinel"));
    }

    #[test]
    fn key_pair_env() {
        let mut s = session("default", None, &[]);
        s.grant
            .extra_secrets
            .push(("KRAKEN_API_SECRET".into(), SecretString::from("s")));
        let creds = Credentials::for_session(&s, &Handler::Token(&KP));
        assert!(creds.get("KRAKEN_API_KEY").is_some() && creds.get("KRAKEN_API_SECRET").is_some());
    }

    #[test]
    fn grant_debug_redacts() {
        let mut s = session("default", None, &[]);
        s.grant.refresh_token = Some(SecretString::from("sentinel-refresh"));
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("sentinel"), "{dbg}");
    }

    #[test]
    fn profile_prefixes() {
        assert_eq!(profile_prefix("work"), "WORK");
        assert_eq!(profile_prefix("my-team.2"), "MY_TEAM_2");
    }
}
