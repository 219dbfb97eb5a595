//! Checking an entered key with the provider's verification request (the spec's [`Verify`]).
//!
//! Invariants:
//! - Only a clear refusal rejects a key: 401, 403 (unless the spec says a 403, or a refusal
//!   whose status field holds a given value, means a missing permission or nothing about the
//!   key), Slack's `"ok": false`, or a 2xx answer whose status field the spec names holds
//!   another value (Cloudflare's `result.status`); anything else, a 2xx answer without that
//!   field included, saves it unchecked, with a warning.
//! - The provider's message is shown without the key in it.

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use url::Url;

use crate::error::printable;
use crate::oauth::Runtime;
use crate::oauth::identity::identity_from;
use crate::oauth::runtime::status_and_body;
use crate::spec::{Forbidden, KeyPlacement, Method, Verify};

/// What checking an entered key found.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyCheck {
    /// The provider accepted the key; the account's name when the answer carried one.
    Accepted(Option<String>),
    /// The provider refused the key (401 or 403), with its message.
    Rejected(String),
    /// The key could not be checked (network, 5xx, rate limit), or it is valid but lacks a
    /// permission the check needs: saved with this warning.
    Unchecked(String),
}

/// The provider's own words from an error answer, without anything that could be the key.
pub(super) fn provider_message(body: &[u8], key: &str) -> String {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let pick = |v: &Value| -> Option<String> {
        ["message", "error_description", "error", "detail", "title"]
            .iter()
            .find_map(|k| match v.get(*k)? {
                Value::String(s) if !s.is_empty() => Some(s.clone()),
                Value::Object(o) => o.get("message").and_then(Value::as_str).map(str::to_owned),
                _ => None,
            })
    };
    let msg = pick(&v)
        .or_else(|| {
            v.get("errors")
                .and_then(|e| e.get(0))
                .and_then(|e| pick(e).or_else(|| e.as_str().map(str::to_owned)))
        })
        .unwrap_or_default();
    redact(&msg, key)
}

/// `text` without the key in it, printable.
fn redact(text: &str, key: &str) -> String {
    if key.len() >= 4 {
        printable(&text.replace(key, "[key]"))
    } else {
        printable(text)
    }
}

impl Runtime {
    /// Checks `key` with the provider's verification request. A 2xx answer accepts it (and may
    /// name the account), 401 rejects it, 403 rejects it or says it lacks a permission (as the
    /// spec's [`Forbidden`] says), anything else leaves it unchecked.
    pub async fn check_key(
        &self,
        display_name: &str,
        verify: &Verify,
        url: &Url,
        key: &SecretString,
    ) -> KeyCheck {
        let secret = key.expose_secret();
        let mut url = url.clone();
        if let KeyPlacement::Query(param) = verify.key {
            url.query_pairs_mut().append_pair(param, secret);
        }
        let mut req = match verify.method {
            Method::Get => self.client.get(url),
            Method::Post => self.client.post(url),
        };
        for (k, v) in verify.headers {
            req = req.header(*k, *v);
        }
        req = match verify.key {
            KeyPlacement::Bearer => req.bearer_auth(secret),
            KeyPlacement::Header { name, prefix } => req.header(name, format!("{prefix}{secret}")),
            KeyPlacement::Query(_) => req,
            KeyPlacement::BasicUser => req.basic_auth(secret, Some("")),
            KeyPlacement::BasicPassword(user) => req.basic_auth(user, Some(secret)),
        };
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                let why = if e.is_timeout() {
                    format!("it did not answer within {} s", self.timeout.as_secs())
                } else {
                    "it cannot be reached".to_owned()
                };
                return KeyCheck::Unchecked(format!(
                    "the key was not checked with {display_name} ({why}); it was saved anyway"
                ));
            }
        };
        let (status, body) = status_and_body(resp).await;
        match status {
            200..=299 => {
                // Slack answers 200 with `{"ok": false, "error": "invalid_auth"}`.
                let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                if v.get("ok") == Some(&Value::Bool(false)) {
                    return KeyCheck::Rejected(format!(
                        "{display_name} rejected this key: {}",
                        provider_message(&body, secret)
                    ));
                }
                if let Some((pointer, want)) = verify.accepted_when {
                    match v.pointer(pointer).and_then(Value::as_str) {
                        Some(got) if got == want => {}
                        Some(got) => {
                            let got = redact(got, secret);
                            return KeyCheck::Rejected(format!(
                                "{display_name} says this key is not usable: `{pointer}` is \
                                 `{got}`, not `{want}`"
                            ));
                        }
                        None => {
                            return KeyCheck::Unchecked(format!(
                                "the key was not checked: {display_name}'s answer has no \
                                 `{pointer}`; it was saved anyway"
                            ));
                        }
                    }
                }
                KeyCheck::Accepted(identity_from(&v))
            }
            401 | 403
                if let Some((pointer, value, permission)) = verify.lacking_when
                    && serde_json::from_slice::<Value>(&body)
                        .ok()
                        .and_then(|v| v.pointer(pointer).map(|got| got == value))
                        == Some(true) =>
            {
                lacks(display_name, permission, status)
            }
            403 if let Forbidden::LacksPermission(permission) = verify.forbidden => {
                lacks(display_name, permission, status)
            }
            403 if let Forbidden::Unchecked(why) = verify.forbidden => {
                KeyCheck::Unchecked(format!(
                    "the key was not checked: {display_name} answered HTTP 403, which can mean {why}; \
                 it was saved anyway"
                ))
            }
            401 | 403 => {
                let said = provider_message(&body, secret);
                KeyCheck::Rejected(if said.is_empty() {
                    format!("{display_name} rejected this key (HTTP {status})")
                } else {
                    format!("{display_name} rejected this key (HTTP {status}): {said}")
                })
            }
            _ => KeyCheck::Unchecked(format!(
                "the key was not checked: {display_name} answered HTTP {status}; it was saved anyway"
            )),
        }
    }
}

/// A valid key without `permission`: saved, with a warning naming it.
fn lacks(display_name: &str, permission: &str, status: u16) -> KeyCheck {
    KeyCheck::Unchecked(format!(
        "{display_name} accepted this key, but it lacks the {permission} permission (HTTP \
         {status}); it was saved, and tools that need that permission will fail"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_messages_never_echo_the_key() {
        let m = provider_message(
            br#"{"message": "Invalid key sk_live_secret"}"#,
            "sk_live_secret",
        );
        assert_eq!(m, "Invalid key [key]");
        let m = provider_message(br#"{"errors": [{"message": "bad token"}]}"#, "k3y!");
        assert_eq!(m, "bad token");
        assert_eq!(provider_message(b"<html>", "x"), "");
    }
}
