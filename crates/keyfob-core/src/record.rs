//! The one audited place where sessions and pending flows become bytes (and back).
//!
//! Secret types never implement `Serialize`; stores call these functions and must seal the
//! result with [`Sealer`](crate::crypto::Sealer) before it leaves the process.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::session::{Grant, Session, SessionKey};
use crate::store::{FlowStatus, PendingFlow};

#[derive(Serialize, Deserialize)]
struct SessionRecord {
    key: SessionKey,
    handler: String,
    access_token: String,
    refresh_token: Option<String>,
    expires_at: Option<i64>,
    scopes: Vec<String>,
    token_type: Option<String>,
    extra_secrets: Vec<(String, String)>,
    detail: serde_json::Map<String, serde_json::Value>,
    created_at: i64,
    updated_at: i64,
    refresh_error: Option<String>,
    #[serde(default)]
    identity: Option<String>,
    #[serde(default)]
    requested: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct PendingRecord {
    id: String,
    state_hash: String,
    key: SessionKey,
    handler: String,
    scopes: Vec<String>,
    redirect_uri: String,
    verifier: Option<String>,
    prompt_url: String,
    created_at: i64,
    expires_at: i64,
    status: String,
    error_kind: Option<String>,
    error: Option<String>,
    #[serde(default)]
    user_code: Option<String>,
    #[serde(default)]
    next_url: Option<String>,
    #[serde(default)]
    browser: Option<String>,
}

/// The bytes of a session, secrets included: seal them before storing.
///
/// # Security
/// The output holds the tokens in plaintext.
pub fn encode_session(s: &Session) -> Vec<u8> {
    let g = &s.grant;
    let rec = SessionRecord {
        key: s.key.clone(),
        handler: s.handler.clone(),
        access_token: g.access_token.expose_secret().to_owned(),
        refresh_token: g
            .refresh_token
            .as_ref()
            .map(|t| t.expose_secret().to_owned()),
        expires_at: g.expires_at,
        scopes: g.scopes.iter().cloned().collect(),
        token_type: g.token_type.clone(),
        extra_secrets: g
            .extra_secrets
            .iter()
            .map(|(k, v)| (k.clone(), v.expose_secret().to_owned()))
            .collect(),
        detail: g.detail.clone(),
        created_at: s.created_at,
        updated_at: s.updated_at,
        refresh_error: s.refresh_error.clone(),
        identity: g.identity.clone(),
        requested: g.requested.iter().cloned().collect(),
    };
    serde_json::to_vec(&rec).expect("a session record always serializes")
}

/// A session from [`encode_session`] bytes, with the store's `version`.
///
/// # Errors
/// [`ErrorKind::Store`] when the bytes are not a session record.
pub fn decode_session(bytes: &[u8], version: u64) -> Result<Session> {
    let r: SessionRecord = serde_json::from_slice(bytes).map_err(|_| corrupt("session"))?;
    Ok(Session {
        key: r.key,
        handler: r.handler,
        grant: Grant {
            access_token: SecretString::from(r.access_token),
            refresh_token: r.refresh_token.map(SecretString::from),
            expires_at: r.expires_at,
            scopes: r.scopes.into_iter().collect(),
            token_type: r.token_type,
            extra_secrets: r
                .extra_secrets
                .into_iter()
                .map(|(k, v)| (k, SecretString::from(v)))
                .collect(),
            detail: r.detail,
            identity: r.identity,
            requested: r.requested.into_iter().collect(),
        },
        created_at: r.created_at,
        updated_at: r.updated_at,
        refresh_error: r.refresh_error,
        version,
    })
}

/// The bytes of a pending flow (it holds the PKCE verifier): seal them before storing.
///
/// # Security
/// The output holds the verifier and the prompt URL in plaintext.
pub fn encode_pending(p: &PendingFlow) -> Vec<u8> {
    let (status, error_kind, error) = match &p.status {
        FlowStatus::Waiting => ("waiting", None, None),
        FlowStatus::Claimed => ("claimed", None, None),
        FlowStatus::Done => ("done", None, None),
        FlowStatus::Failed(k, m) => ("failed", Some(k.as_str().to_owned()), Some(m.clone())),
    };
    let rec = PendingRecord {
        id: p.id.clone(),
        state_hash: p.state_hash.clone(),
        key: p.key.clone(),
        handler: p.handler.clone(),
        scopes: p.scopes.iter().cloned().collect(),
        redirect_uri: p.redirect_uri.clone(),
        verifier: p.verifier.as_ref().map(|v| v.expose_secret().to_owned()),
        prompt_url: p.prompt_url.expose_secret().to_owned(),
        created_at: p.created_at,
        expires_at: p.expires_at,
        status: status.to_owned(),
        error_kind,
        error,
        user_code: p.user_code.clone(),
        next_url: p.next_url.as_ref().map(|u| u.expose_secret().to_owned()),
        browser: p.browser.clone(),
    };
    serde_json::to_vec(&rec).expect("a pending record always serializes")
}

/// A pending flow from [`encode_pending`] bytes.
///
/// # Errors
/// [`ErrorKind::Store`] when the bytes are not a pending record.
pub fn decode_pending(bytes: &[u8]) -> Result<PendingFlow> {
    let r: PendingRecord = serde_json::from_slice(bytes).map_err(|_| corrupt("pending flow"))?;
    let status = match r.status.as_str() {
        "waiting" => FlowStatus::Waiting,
        "claimed" => FlowStatus::Claimed,
        "done" => FlowStatus::Done,
        _ => FlowStatus::Failed(
            ErrorKind::parse(r.error_kind.as_deref().unwrap_or("protocol")),
            r.error.unwrap_or_default(),
        ),
    };
    Ok(PendingFlow {
        id: r.id,
        state_hash: r.state_hash,
        key: r.key,
        handler: r.handler,
        scopes: r.scopes.into_iter().collect(),
        redirect_uri: r.redirect_uri,
        verifier: r.verifier.map(SecretString::from),
        prompt_url: SecretString::from(r.prompt_url),
        created_at: r.created_at,
        expires_at: r.expires_at,
        status,
        user_code: r.user_code,
        next_url: r.next_url.map(SecretString::from),
        browser: r.browser,
    })
}

/// The status column a store may keep in plaintext for atomic claims.
pub fn status_name(status: &FlowStatus) -> &'static str {
    match status {
        FlowStatus::Waiting => "waiting",
        FlowStatus::Claimed => "claimed",
        FlowStatus::Done => "done",
        FlowStatus::Failed(..) => "failed",
    }
}

/// A flow's status as a store's plaintext column says (the truth: a claim changes the column
/// without sealing the record again), given the status sealed in its record; `None` for a
/// column that names no status, or "failed" over a record that holds no failure.
pub fn status_from_column(column: &str, sealed: FlowStatus) -> Option<FlowStatus> {
    match (column, sealed) {
        ("waiting", _) => Some(FlowStatus::Waiting),
        ("claimed", _) => Some(FlowStatus::Claimed),
        ("done", _) => Some(FlowStatus::Done),
        ("failed", failed @ FlowStatus::Failed(..)) => Some(failed),
        _ => None,
    }
}

fn corrupt(what: &str) -> Error {
    Error::new(
        ErrorKind::Store,
        format!("a stored {what} record is corrupted"),
    )
}
