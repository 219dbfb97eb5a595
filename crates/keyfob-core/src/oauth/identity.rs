//! The account behind a token: a userinfo-like answer reduced to one display name.
//!
//! Invariants:
//! - Identity is best effort: no endpoint, a refusal, a timeout (10 s) or an answer without a
//!   usual field gives `None`, and the login stands.
//! - The name is printable text (no control or bidi characters, at most 200 of them).

use std::time::Duration;

use oauth2::http::header;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use url::Url;

use crate::error::printable;
use crate::oauth::{OAuth2Driver, Runtime};
use crate::session::Grant;

/// The account's display name from a userinfo-like JSON answer: the first of the usual fields.
pub fn identity_from(v: &Value) -> Option<String> {
    let obj = v.get("data").filter(|d| d.is_object()).unwrap_or(v);
    [
        "email",
        "login",
        "preferred_username",
        "username",
        "user",
        "name",
        "display_name",
        "sub",
        "id",
    ]
    .iter()
    .find_map(|k| match obj.get(*k)? {
        Value::String(s) if !s.trim().is_empty() => Some(printable(s.trim())),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

impl Runtime {
    /// The account behind `access_token` from a userinfo-like endpoint; `None` when it does not
    /// say (the login stands regardless).
    pub async fn userinfo(&self, url: &Url, access_token: &SecretString) -> Option<String> {
        let resp = self
            .client
            .get(url.clone())
            .bearer_auth(access_token.expose_secret())
            .header(header::ACCEPT, "application/json")
            .send()
            .await
            .ok()?;
        if !resp.status().is_success() {
            tracing::debug!(status = resp.status().as_u16(), "userinfo endpoint refused");
            return None;
        }
        let v: Value = resp.json().await.ok()?;
        identity_from(&v)
    }
}

impl OAuth2Driver {
    /// The account behind a fresh grant, from the userinfo endpoint (config, discovery or
    /// spec); `None` when there is none or it does not say.
    pub async fn identity(&self, grant: &Grant) -> Option<String> {
        let endpoints = self.endpoints().await.ok()?;
        let url = endpoints.userinfo?;
        tokio::time::timeout(
            Duration::from_secs(10),
            self.runtime.userinfo(&url, &grant.access_token),
        )
        .await
        .ok()
        .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities() {
        let v = serde_json::json!({"sub": "u1", "email": "a@b.c"});
        assert_eq!(identity_from(&v).as_deref(), Some("a@b.c"));
        let v = serde_json::json!({"ok": true, "user": "octo", "team": "T"});
        assert_eq!(identity_from(&v).as_deref(), Some("octo"));
        let v = serde_json::json!({"data": {"gid": "1", "name": "Ann"}});
        assert_eq!(identity_from(&v).as_deref(), Some("Ann"));
        assert_eq!(
            identity_from(&serde_json::json!({"id": 42})).as_deref(),
            Some("42")
        );
        assert_eq!(identity_from(&serde_json::json!([])), None);
    }
}
