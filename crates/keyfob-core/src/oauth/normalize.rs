//! The tolerant token-response normalizer: what real token endpoints answer, rewritten into the
//! RFC 6749 JSON the `oauth2` crate's strict parser accepts.
//!
//! It reads form-encoded bodies, `expires_in` as a string or a float, a missing `token_type`,
//! array or comma-separated scopes, HTTP 200 carrying an error (`error`, or Slack's
//! `"ok": false`) and HTML error pages; a provider's `OAuth2Hooks` run first.
//!
//! Invariants:
//! - An answer that cannot be read becomes the private code `keyfob_unreadable_response`, with a
//!   description of its shape (status, content type, length), never its body.
//! - A 5xx or 429 becomes the private code `keyfob_unavailable`, whatever the body says.
//! - A token is taken only from an HTTP 200 answer.

use oauth2::http::{self, HeaderValue, header};
use serde_json::Value;

use crate::error::printable;
use crate::oauth::{UNAVAILABLE, UNREADABLE};
use crate::scope;
use crate::spec::OAuth2Spec;

/// [`normalize`] as the HTTP response the `oauth2` crate parses: the JSON body, its content type
/// and the status to report.
pub(crate) fn normalized_response(
    status: u16,
    content_type: &str,
    body: &[u8],
    spec: &OAuth2Spec,
) -> oauth2::HttpResponse {
    let (status, json) = normalize(status, content_type, body, spec);
    let mut out = http::Response::new(serde_json::to_vec(&json).expect("JSON value serializes"));
    *out.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_REQUEST);
    out.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    out
}

/// Whether a JSON answer reports an error whatever its HTTP status: an `error` member, or
/// Slack's `"ok": false`.
pub(crate) fn says_error(obj: &serde_json::Map<String, Value>) -> bool {
    obj.get("error").is_some_and(|v| !v.is_null()) || obj.get("ok") == Some(&Value::Bool(false))
}

/// Rewrites a token-endpoint answer into RFC 6749 JSON; returns the status to report.
pub(crate) fn normalize(
    status: u16,
    content_type: &str,
    body: &[u8],
    spec: &OAuth2Spec,
) -> (u16, Value) {
    let ct = content_type.to_ascii_lowercase();
    let parsed: Option<Value> = serde_json::from_slice(body).ok().or_else(|| {
        let text = std::str::from_utf8(body).ok()?.trim();
        let looks_form = ct.starts_with("application/x-www-form-urlencoded")
            || (ct.starts_with("text/plain") || ct.is_empty())
                && text.contains('=')
                && !text.contains('<');
        looks_form.then(|| {
            Value::Object(
                url::form_urlencoded::parse(text.as_bytes())
                    .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                    .collect(),
            )
        })
    });
    if status >= 500 || status == 429 {
        let said = parsed
            .as_ref()
            .and_then(|v| v.get("error")?.as_str())
            .map(|code| format!(", error `{}`", printable(code)))
            .unwrap_or_default();
        return (
            status,
            serde_json::json!({
                "error": UNAVAILABLE,
                "error_description": format!(
                    "the token endpoint is unavailable (HTTP {status}{said}); try again later"
                ),
            }),
        );
    }
    let Some(Value::Object(mut obj)) = parsed else {
        let shown = if ct.is_empty() {
            "no content type".to_owned()
        } else {
            ct.split(';').next().unwrap_or("").to_owned()
        };
        return unreadable(format!(
            "the token endpoint answered HTTP {status} with {shown} ({} bytes) that is neither JSON nor form data",
            body.len()
        ));
    };
    if let Some(hooks) = spec.hooks {
        let mut v = Value::Object(obj);
        hooks.normalize_token_response(&mut v);
        obj = match v {
            Value::Object(o) => o,
            _ => {
                return unreadable(
                    "the provider's token response hook returned a non-object".into(),
                );
            }
        };
    }
    let has_token = obj
        .get("access_token")
        .is_some_and(|v| v.as_str().is_some_and(|s| !s.is_empty()));
    let says_error = says_error(&obj);
    if says_error && !has_token {
        // HTTP 200 carrying an error (GitHub, Slack's `{"ok": false}`) is an error all the same.
        let code = match obj.get("error") {
            Some(Value::String(s)) => s.clone(),
            Some(other) if !other.is_null() => other.to_string(),
            _ => "unknown_error".into(),
        };
        obj.insert("error".into(), Value::String(code));
        if let Some(d) = obj.get("error_description").filter(|d| !d.is_string()) {
            let text = d.to_string();
            obj.insert("error_description".into(), Value::String(text));
        }
        return (if status == 200 { 400 } else { status }, Value::Object(obj));
    }
    if !has_token {
        return unreadable(if status == 200 {
            "the token response has no access_token".into()
        } else {
            format!("the token endpoint failed with HTTP {status}")
        });
    }
    if status != 200 {
        return unreadable(format!(
            "the token endpoint answered HTTP {status} with a token; refusing it"
        ));
    }
    match obj.get("expires_in") {
        Some(Value::String(s)) => match s.trim().parse::<f64>() {
            Ok(n) if n >= 0.0 => {
                obj.insert("expires_in".into(), Value::from(n as u64));
            }
            _ => {
                obj.remove("expires_in");
            }
        },
        Some(Value::Number(n)) if n.as_u64().is_none() => match n.as_f64() {
            Some(f) if f >= 0.0 => {
                obj.insert("expires_in".into(), Value::from(f as u64));
            }
            _ => {
                obj.remove("expires_in");
            }
        },
        Some(Value::Null) => {
            obj.remove("expires_in");
        }
        _ => {}
    }
    if !obj.get("token_type").is_some_and(Value::is_string) {
        obj.insert("token_type".into(), Value::String("bearer".into()));
    }
    match obj.get("scope") {
        Some(Value::Array(items)) => {
            let joined = items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" ");
            obj.insert("scope".into(), Value::String(joined));
        }
        Some(Value::String(s)) => {
            let joined = scope::join(&scope::parse(s), " ");
            obj.insert("scope".into(), Value::String(joined));
        }
        Some(_) => {
            obj.remove("scope");
        }
        None => {}
    }
    if obj.get("refresh_token").is_some_and(|v| !v.is_string()) {
        obj.remove("refresh_token");
    }
    (200, Value::Object(obj))
}

fn unreadable(description: String) -> (u16, Value) {
    (
        400,
        serde_json::json!({ "error": UNREADABLE, "error_description": description }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    static SPEC: OAuth2Spec = OAuth2Spec {
        name: "t-oauth2",
        env_key: "T",
        ..OAuth2Spec::DEFAULTS
    };

    fn n(status: u16, ct: &str, body: &str) -> (u16, Value) {
        normalize(status, ct, body.as_bytes(), &SPEC)
    }

    #[test]
    fn tolerant_parsing() {
        let (s, v) = n(
            200,
            "application/x-www-form-urlencoded",
            "access_token=abc&scope=repo%2Cgist&token_type=bearer",
        );
        assert_eq!(s, 200);
        assert_eq!(v["scope"], "gist repo");
        let (_, v) = n(
            200,
            "application/json",
            r#"{"access_token":"a","expires_in":"3600"}"#,
        );
        assert_eq!(v["expires_in"], 3600);
        assert_eq!(v["token_type"], "bearer");
        let (_, v) = n(
            200,
            "application/json",
            r#"{"access_token":"a","token_type":"Bearer","scope":["a","b"],"expires_in":3599.6}"#,
        );
        assert_eq!(v["scope"], "a b");
        assert_eq!(v["expires_in"], 3599);
    }

    #[test]
    fn errors_in_disguise() {
        let (s, v) = n(
            200,
            "application/json",
            r#"{"error":"bad_verification_code","error_description":"The code passed is incorrect or expired."}"#,
        );
        assert_eq!(
            (s, v["error"].as_str()),
            (400, Some("bad_verification_code"))
        );
        let (s, v) = n(
            200,
            "application/json; charset=utf-8",
            r#"{"ok":false,"error":"invalid_code"}"#,
        );
        assert_eq!((s, v["error"].as_str()), (400, Some("invalid_code")));
        let (s, v) = n(
            500,
            "text/html",
            "<html><body>Internal Server Error sentinel</body></html>",
        );
        assert_eq!((s, v["error"].as_str()), (500, Some(UNAVAILABLE)));
        assert!(!v.to_string().contains("sentinel"));
        let (_, v) = n(200, "application/json", "{\"access_tok");
        assert_eq!(v["error"], UNREADABLE);
        let (_, v) = n(
            503,
            "application/json",
            r#"{"error":"temporarily_unavailable"}"#,
        );
        assert_eq!(v["error"], UNAVAILABLE);
        assert!(
            v["error_description"]
                .as_str()
                .unwrap()
                .contains("temporarily_unavailable")
        );
        let (_, v) = n(429, "text/plain", "slow down");
        assert_eq!(v["error"], UNAVAILABLE);
        let (_, v) = n(502, "application/json", "{}");
        assert!(
            v["error_description"]
                .as_str()
                .unwrap()
                .contains("HTTP 502")
        );
        let (_, v) = n(200, "application/json", r#"{"token_type":"bearer"}"#);
        assert!(
            v["error_description"]
                .as_str()
                .unwrap()
                .contains("no access_token")
        );
    }
}
