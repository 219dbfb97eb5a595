//! keyfob's stores as the vault of the official Rust MCP SDK, [`rmcp`]: an rmcp client keeps
//! its OAuth credentials and its authorization states in keyfob's SQLite or Redis store, sealed
//! like every keyfob secret, shared by every process of the machine (or of the deployment), and
//! refreshed by one process at a time.
//!
//! ```no_run
//! # async fn run(store: std::sync::Arc<dyn keyfob_core::SessionStore>) -> anyhow::Result<()> {
//! use rmcp::transport::auth::AuthorizationManager;
//! let url = "https://mcp.example.com/mcp";
//! let vault = keyfob_rmcp::Vault::new(store, url, "default", "default")?;
//! let mut manager = AuthorizationManager::new(url).await?;
//! manager.set_credential_store(vault.credentials());
//! manager.set_state_store(vault.states());
//! let logged_in = manager.initialize_from_store().await?;
//! # let _ = logged_in; Ok(()) }
//! ```
//!
//! Invariants:
//! - Tokens, refresh tokens and PKCE verifiers go only into the store's sealed fields; what
//!   this crate logs or returns as an error never holds one.
//! - The credentials of one server live in one session (`rmcp_<name>`, the thread and profile
//!   given), so `keyfob status` and [`keyfob_core::Engine::status`] list them and
//!   [`keyfob_core::Engine::logout`] ends them; rmcp's registration (its client id) is kept
//!   with them.
//! - A refresh holds the store's lease for that session: processes whose token is due refresh
//!   one after the other, each with the refresh token the one before saved, so a rotating
//!   refresh token is never spent twice. (rmcp refreshes once it holds the guard, even when
//!   another process has just done it; each process sends its own refresh.) The lease outlives
//!   rmcp's 30 s HTTP timeout, so a slow authorization server cannot let a second refresh in.
//! - An authorization state can be read until it expires (10 minutes) or is deleted.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use keyfob_core::store::{Expect, FlowStatus, PendingFlow};
use keyfob_core::{ExposeSecret, Grant, SecretString, Session, SessionKey, SessionStore};
use rmcp::transport::auth::{
    AuthError, CredentialRefreshGuard, CredentialStore, OAuthTokenResponse, StateStore,
    StoredAuthorizationState, StoredCredentials,
};
use serde_json::{Map, Value};

/// How long an authorization state is kept for its callback.
const STATE_TTL_SECS: i64 = 600;
/// How long a refresh may hold the lease before another process may take it: longer than
/// rmcp's HTTP timeout (30 s), so a refresh still in flight keeps it.
const LEASE_TTL_MS: u64 = 90_000;
/// The handler name of the sessions this crate writes.
const HANDLER: &str = "rmcp";

/// The keyfob store, seen by rmcp, for one MCP server, thread and profile.
#[derive(Clone, Debug)]
pub struct Vault {
    store: Arc<dyn SessionStore>,
    key: SessionKey,
}

impl Vault {
    /// The vault of `server_url` (an MCP endpoint) in `store`, for `thread` and `profile`.
    /// Its session's provider is `rmcp_` and the name keyfob gives the URL.
    ///
    /// # Errors
    /// [`keyfob_core::ErrorKind::Config`] when `server_url` is not an https URL (or http on
    /// loopback).
    pub fn new(
        store: Arc<dyn SessionStore>,
        server_url: &str,
        thread: &str,
        profile: &str,
    ) -> keyfob_core::Result<Vault> {
        let provider = format!("rmcp_{}", keyfob_core::mcp::name_for(server_url)?);
        Ok(Vault {
            store,
            key: SessionKey::new(provider, thread, profile),
        })
    }

    /// The session key the credentials are stored under.
    pub fn key(&self) -> &SessionKey {
        &self.key
    }

    /// rmcp's [`CredentialStore`] on this vault.
    pub fn credentials(&self) -> Credentials {
        Credentials(self.clone())
    }

    /// rmcp's [`StateStore`] on this vault.
    pub fn states(&self) -> States {
        States(self.clone())
    }
}

/// rmcp's credential store on a [`Vault`].
#[derive(Clone, Debug)]
pub struct Credentials(Vault);

/// rmcp's authorization-state store on a [`Vault`].
#[derive(Clone, Debug)]
pub struct States(Vault);

/// A store failure as rmcp's error for it (the kind and message say nothing secret).
fn store_error(e: keyfob_core::Error) -> AuthError {
    AuthError::CredentialStoreError(format!("keyfob store: {e}"))
}

/// The token response's fields that keyfob keeps in its own places.
const GRANT_FIELDS: [&str; 5] = [
    "access_token",
    "refresh_token",
    "expires_in",
    "scope",
    "token_type",
];

/// Writes rmcp's credentials as a keyfob session: the tokens in the grant's sealed fields, the
/// response's other fields sealed too (they may hold an ID token), the client id and issuer in
/// plain detail.
fn to_session(key: &SessionKey, c: &StoredCredentials, now: i64) -> Result<Session, AuthError> {
    let mut grant = Grant::bearer(SecretString::from(String::new()));
    grant
        .detail
        .insert("client_id".into(), Value::String(c.client_id.clone()));
    if let Some(issuer) = &c.issuer {
        grant
            .detail
            .insert("issuer".into(), Value::String(issuer.clone()));
    }
    grant.scopes = keyfob_core::scope::from_iter(c.granted_scopes.iter().map(String::as_str));
    if let Some(response) = &c.token_response {
        let Value::Object(mut fields) = serde_json::to_value(response)
            .map_err(|_| AuthError::InternalError("a token response that is not JSON".into()))?
        else {
            return Err(AuthError::InternalError(
                "a token response that is not a JSON object".into(),
            ));
        };
        let text = |v: Option<Value>| v.and_then(|v| v.as_str().map(str::to_owned));
        grant.access_token =
            SecretString::from(text(fields.remove("access_token")).unwrap_or_default());
        grant.refresh_token = text(fields.remove("refresh_token")).map(SecretString::from);
        grant.token_type = text(fields.remove("token_type"));
        let received = c
            .token_received_at
            .and_then(|t| i64::try_from(t).ok())
            .unwrap_or(now);
        grant.expires_at = fields
            .remove("expires_in")
            .and_then(|v| v.as_i64())
            .map(|secs| received + secs);
        grant
            .detail
            .insert("token_received_at".into(), Value::from(received));
        if let Some(scope) = text(fields.remove("scope")) {
            grant.detail.insert("scope".into(), Value::String(scope));
        }
        if !fields.is_empty() {
            grant.extra_secrets.push((
                "token_response".into(),
                SecretString::from(Value::Object(fields).to_string()),
            ));
        }
    } else {
        grant.detail.insert("no_token".into(), Value::Bool(true));
    }
    Ok(Session {
        key: key.clone(),
        handler: HANDLER.into(),
        grant,
        created_at: now,
        updated_at: now,
        refresh_error: None,
        version: 0,
    })
}

/// Reads a keyfob session written by [`to_session`] back as rmcp's credentials.
fn from_session(s: &Session) -> Result<StoredCredentials, AuthError> {
    let detail = &s.grant.detail;
    let text = |k: &str| detail.get(k).and_then(Value::as_str).map(str::to_owned);
    let client_id = text("client_id").ok_or_else(|| {
        AuthError::CredentialStoreError(format!(
            "the session {} was not written by keyfob-rmcp (no client_id); log out of it first",
            s.key
        ))
    })?;
    let scopes: Vec<String> = s.grant.scopes.iter().cloned().collect();
    let received = detail.get("token_received_at").and_then(Value::as_i64);
    let response = if detail.get("no_token").is_some() {
        None
    } else {
        let mut fields = Map::new();
        let extra = s
            .grant
            .extra_secrets
            .iter()
            .find(|(n, _)| n == "token_response")
            .and_then(|(_, e)| serde_json::from_str::<Value>(e.expose_secret()).ok());
        if let Some(Value::Object(extra)) = extra {
            fields.extend(
                extra
                    .into_iter()
                    .filter(|(k, _)| !GRANT_FIELDS.contains(&k.as_str())),
            );
        }
        fields.insert(
            "access_token".into(),
            Value::String(s.grant.access_token.expose_secret().to_owned()),
        );
        fields.insert(
            "token_type".into(),
            Value::String(
                s.grant
                    .token_type
                    .clone()
                    .unwrap_or_else(|| "bearer".into()),
            ),
        );
        if let Some(r) = &s.grant.refresh_token {
            fields.insert(
                "refresh_token".into(),
                Value::String(r.expose_secret().to_owned()),
            );
        }
        if let (Some(exp), Some(received)) = (s.grant.expires_at, received) {
            fields.insert("expires_in".into(), Value::from((exp - received).max(0)));
        }
        if let Some(scope) = text("scope") {
            fields.insert("scope".into(), Value::String(scope));
        }
        // serde's message could quote a value: say only what was expected.
        let response: OAuthTokenResponse =
            serde_json::from_value(Value::Object(fields)).map_err(|_| {
                AuthError::CredentialStoreError(format!(
                    "the stored token response of {} does not parse",
                    s.key
                ))
            })?;
        Some(response)
    };
    Ok(StoredCredentials::new(
        client_id,
        response,
        scopes,
        received.and_then(|r| u64::try_from(r).ok()),
    )
    .with_issuer(text("issuer")))
}

#[async_trait]
impl CredentialStore for Credentials {
    async fn load(&self) -> Result<Option<StoredCredentials>, AuthError> {
        let Some(s) = self.0.store.get(&self.0.key).await.map_err(store_error)? else {
            return Ok(None);
        };
        if s.refresh_error.is_some() {
            // Refused for good (a revoked refresh token): the client id stays usable.
            let c = from_session(&s)?;
            return Ok(Some(
                StoredCredentials::new(c.client_id, None, Vec::new(), None).with_issuer(c.issuer),
            ));
        }
        from_session(&s).map(Some)
    }

    async fn save(&self, credentials: StoredCredentials) -> Result<(), AuthError> {
        let now = keyfob_core::now();
        let mut session = to_session(&self.0.key, &credentials, now)?;
        if let Some(old) = self.0.store.get(&self.0.key).await.map_err(store_error)? {
            session.created_at = old.created_at;
        }
        self.0
            .store
            .put(&session, Expect::Any)
            .await
            .map_err(store_error)?;
        // Wakes processes waiting for this session (another one's refresh).
        let _ = self.0.store.publish(&self.0.key).await;
        Ok(())
    }

    async fn clear(&self) -> Result<(), AuthError> {
        self.0
            .store
            .delete(&self.0.key)
            .await
            .map(|_| ())
            .map_err(store_error)
    }

    async fn on_refresh_token_rejected(
        &self,
        credentials: &StoredCredentials,
    ) -> Result<(), AuthError> {
        // Only if the session still holds the refused credentials (no other process has
        // logged in since): keep the client id, drop the tokens.
        let Some(s) = self.0.store.get(&self.0.key).await.map_err(store_error)? else {
            return Ok(());
        };
        let stored = from_session(&s)?;
        let same = |c: &StoredCredentials| {
            c.token_response
                .as_ref()
                .and_then(|t| serde_json::to_value(t).ok())
                .and_then(|v| v.get("refresh_token").cloned())
        };
        if same(&stored) != same(credentials) {
            return Ok(());
        }
        let cleared = StoredCredentials::new(stored.client_id, None, Vec::new(), None)
            .with_issuer(stored.issuer);
        let mut session = to_session(&self.0.key, &cleared, keyfob_core::now())?;
        session.created_at = s.created_at;
        match self.0.store.put(&session, Expect::Version(s.version)).await {
            Ok(_) => Ok(()),
            // Someone wrote it meanwhile: theirs is newer.
            Err(e) if e.kind() == keyfob_core::ErrorKind::Conflict => Ok(()),
            Err(e) => Err(store_error(e)),
        }
    }

    async fn acquire_refresh_guard(&self) -> Result<Option<CredentialRefreshGuard>, AuthError> {
        let key = &self.0.key;
        let lease = format!("refresh\0{}\0{}\0{}", key.provider, key.thread, key.profile);
        let owner = format!(
            "rmcp-{}-{}",
            std::process::id(),
            keyfob_core::crypto::sha256_hex(&format!("{:?}", std::time::SystemTime::now()))
        );
        let deadline = tokio::time::Instant::now() + Duration::from_millis(LEASE_TTL_MS * 2);
        while !self
            .0
            .store
            .try_lock(&lease, &owner, LEASE_TTL_MS)
            .await
            .map_err(store_error)?
        {
            if tokio::time::Instant::now() >= deadline {
                return Err(AuthError::CredentialStoreError(format!(
                    "another process holds the refresh lease of {key} and has not finished"
                )));
            }
            self.0
                .store
                .wait_published(key, Duration::from_millis(50))
                .await;
        }
        Ok(Some(CredentialRefreshGuard::new(Lease {
            store: self.0.store.clone(),
            name: lease,
            owner,
        })))
    }
}

/// The store's refresh lease, released when rmcp drops the guard.
struct Lease {
    store: Arc<dyn SessionStore>,
    name: String,
    owner: String,
}

impl Drop for Lease {
    fn drop(&mut self) {
        let (store, name, owner) = (
            self.store.clone(),
            std::mem::take(&mut self.name),
            std::mem::take(&mut self.owner),
        );
        // Unlocking is async; without a runtime the lease expires by itself.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = store.unlock(&name, &owner).await;
            });
        }
    }
}

#[async_trait]
impl StateStore for States {
    async fn save(
        &self,
        csrf_token: &str,
        state: StoredAuthorizationState,
    ) -> Result<(), AuthError> {
        let now = keyfob_core::now();
        // The whole state (its PKCE verifier) in the flow's sealed verifier field; the flow is
        // found by the hash of the CSRF token, as keyfob finds its own flows by their state.
        let sealed = serde_json::to_string(&state).map_err(|_| {
            AuthError::InternalError("an authorization state that is not JSON".into())
        })?;
        let hash = keyfob_core::engine::state_hash(csrf_token);
        let flow = PendingFlow {
            id: hash.clone(),
            state_hash: hash,
            key: self.0.key.clone(),
            handler: HANDLER.into(),
            scopes: keyfob_core::scope::from_iter(
                state.requested_scopes.iter().map(String::as_str),
            ),
            redirect_uri: String::new(),
            verifier: Some(SecretString::from(sealed)),
            prompt_url: SecretString::from(String::new()),
            next_url: None,
            browser: None,
            created_at: now,
            expires_at: now + STATE_TTL_SECS,
            status: FlowStatus::Waiting,
            user_code: None,
        };
        self.0.store.put_pending(&flow).await.map_err(store_error)
    }

    async fn load(&self, csrf_token: &str) -> Result<Option<StoredAuthorizationState>, AuthError> {
        let hash = keyfob_core::engine::state_hash(csrf_token);
        let Some(flow) = self.0.store.pending(&hash).await.map_err(store_error)? else {
            return Ok(None);
        };
        if flow.handler != HANDLER
            || flow.key != self.0.key
            || flow.expires_at <= keyfob_core::now()
        {
            return Ok(None);
        }
        let Some(sealed) = flow.verifier else {
            return Ok(None);
        };
        serde_json::from_str(sealed.expose_secret())
            .map(Some)
            .map_err(|_| {
                AuthError::CredentialStoreError(
                    "a stored authorization state does not parse".into(),
                )
            })
    }

    async fn delete(&self, csrf_token: &str) -> Result<(), AuthError> {
        let hash = keyfob_core::engine::state_hash(csrf_token);
        self.0
            .store
            .delete_pending(&hash)
            .await
            .map_err(store_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_round_trip_through_a_session() {
        let response: OAuthTokenResponse = serde_json::from_value(serde_json::json!({
            "access_token": "at-1", "token_type": "bearer", "expires_in": 3600,
            "refresh_token": "rt-1", "scope": "mcp:tools", "id_token": "eyJ.x.y"
        }))
        .unwrap();
        let c = StoredCredentials::new(
            "client-1".into(),
            Some(response),
            vec!["mcp:tools".into()],
            Some(1_000),
        )
        .with_issuer(Some("https://as.example".into()));
        let key = SessionKey::new("rmcp_x", "default", "default");
        let s = to_session(&key, &c, 2_000).unwrap();
        assert_eq!(s.grant.access_token.expose_secret(), "at-1");
        assert_eq!(s.grant.expires_at, Some(4_600));
        assert!(!format!("{s:?}").contains("at-1"), "no token in Debug");
        let back = from_session(&s).unwrap();
        assert_eq!(
            serde_json::to_value(&back).unwrap(),
            serde_json::to_value(&c).unwrap()
        );

        let bare = StoredCredentials::new("client-1".into(), None, Vec::new(), None);
        let back = from_session(&to_session(&key, &bare, 2_000).unwrap()).unwrap();
        assert!(back.token_response.is_none());
        assert_eq!(back.client_id, "client-1");
    }
}
