//! What happens around a grant besides the code exchange: the device authorization grant
//! (RFC 8628), revocation (RFC 7009), the account's identity (OIDC userinfo and providers' own
//! "who am I" endpoints), and checking an entered key with the provider.
//!
//! These requests are built by hand rather than through the `oauth2` crate's typestate client,
//! because they share the tolerant normalizer (device polling) or are not token requests at all
//! (userinfo, key checks); client authentication follows the spec exactly as for the code
//! exchange: HTTP Basic with form-url-encoded credentials, or both in the body, never both.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use oauth2::http::{self, HeaderValue, header};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::{OAuth2Handler, Runtime, TokenResp, UNAVAILABLE, UNREADABLE};
use crate::error::{ErrorKind, Result, printable};
use crate::scope::{self, Scopes};
use crate::session::Grant;
use crate::spec::{ClientAuth, Forbidden, KeyPlacement, Method, RevokeStyle, Verify};

/// A request body's fields.
type Form = Vec<(&'static str, String)>;

/// The grant type of device-code polling (RFC 8628 §3.4).
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// What a device authorization request answered: what to show the user, what to poll with.
pub struct DeviceStart {
    /// The code the user types at `verification_uri`.
    pub user_code: String,
    /// Where the user goes.
    pub verification_uri: String,
    /// The same with the code filled in, when the server offers it.
    pub verification_uri_complete: Option<String>,
    /// The secret the client polls with.
    pub device_code: SecretString,
    /// Seconds until the codes expire.
    pub expires_in: u64,
    /// Seconds to wait between polls.
    pub interval: u64,
}

impl std::fmt::Debug for DeviceStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceStart")
            .field("verification_uri", &self.verification_uri)
            .field("expires_in", &self.expires_in)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

/// The answer to one device-code poll.
#[derive(Debug)]
pub enum Poll {
    /// The user has not acted yet: poll again after the interval.
    Pending,
    /// Polling too fast: add 5 seconds to the interval (RFC 8628 §3.5).
    SlowDown,
    /// The user approved.
    Granted(Box<Grant>),
}

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

#[derive(Deserialize)]
struct DeviceResponse {
    device_code: String,
    user_code: String,
    #[serde(alias = "verification_url")]
    verification_uri: String,
    verification_uri_complete: Option<String>,
    expires_in: Option<u64>,
    interval: Option<u64>,
}

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

/// The provider's own words from an error answer, without anything that could be the key.
fn provider_message(body: &[u8], key: &str) -> String {
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
    let msg = if key.len() >= 4 {
        msg.replace(key, "[key]")
    } else {
        msg
    };
    printable(&msg)
}

/// An answer's status and body (empty when the body cannot be read).
async fn status_and_body(resp: reqwest::Response) -> (u16, Vec<u8>) {
    let status = resp.status().as_u16();
    (
        status,
        resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default(),
    )
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
                KeyCheck::Accepted(identity_from(&v))
            }
            403 if let Forbidden::LacksPermission(permission) = verify.forbidden => {
                KeyCheck::Unchecked(format!(
                    "{display_name} accepted this key, but it lacks the {permission} permission \
                     (HTTP 403); it was saved, and tools that need that permission will fail"
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

impl OAuth2Handler {
    /// A form with the client's credentials placed as `auth` says (the spec's method, except
    /// for revocation styles that name their own), and the Basic header when that is the
    /// method.
    fn authenticated_form(
        &self,
        mut form: Form,
        auth: ClientAuth,
    ) -> Result<(Form, Option<String>)> {
        let id = self
            .config
            .client_id
            .clone()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                self.err(
                    ErrorKind::Config,
                    format!(
                        "no OAuth2 client id: set client_id in [auth.{}]",
                        self.provider
                    ),
                )
            })?;
        let secret = self
            .config
            .client_secret
            .as_ref()
            .map(|s| s.expose_secret().to_owned());
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        match (auth, secret) {
            (ClientAuth::Basic, Some(secret)) => {
                let basic = STANDARD.encode(format!("{}:{}", enc(&id), enc(&secret)));
                Ok((form, Some(format!("Basic {basic}"))))
            }
            (_, secret) => {
                form.push(("client_id", id));
                if let Some(s) = secret {
                    form.push(("client_secret", s));
                }
                Ok((form, None))
            }
        }
    }

    fn form_request(&self, url: &Url, form: Form) -> Result<oauth2::HttpRequest> {
        self.form_request_as(url, form, self.spec.client_auth)
    }

    /// [`Self::form_request`] with the client authentication method `auth`.
    fn form_request_as(
        &self,
        url: &Url,
        form: Form,
        auth: ClientAuth,
    ) -> Result<oauth2::HttpRequest> {
        let (form, basic) = self.authenticated_form(form, auth)?;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish()
            .into_bytes();
        let mut req = http::Request::builder()
            .method(http::Method::POST)
            .uri(url.as_str())
            .header(header::ACCEPT, "application/json")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(b) = basic {
            let value = HeaderValue::from_str(&b)
                .map_err(|_| self.err(ErrorKind::Config, "the client credentials are not ASCII"))?;
            req = req.header(header::AUTHORIZATION, value);
        }
        req.body(body)
            .map_err(|_| self.err(ErrorKind::Config, "cannot build the request"))
    }

    /// POSTs an authenticated form as is (no token-response normalizing): status and body.
    async fn post_form(&self, url: &Url, form: Form, what: &str) -> Result<(u16, Vec<u8>)> {
        self.post_form_as(url, form, what, self.spec.client_auth)
            .await
    }

    /// [`Self::post_form`] with the client authentication method `auth`.
    async fn post_form_as(
        &self,
        url: &Url,
        form: Form,
        what: &str,
        auth: ClientAuth,
    ) -> Result<(u16, Vec<u8>)> {
        let (parts, body) = self.form_request_as(url, form, auth)?.into_parts();
        let resp = self
            .runtime
            .client
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(body)
            .send()
            .await
            .map_err(|e| self.runtime.transport(what, &e))?;
        Ok(status_and_body(resp).await)
    }

    /// Starts a device authorization (RFC 8628 §3.1).
    ///
    /// # Errors
    /// [`ErrorKind::Unsupported`] when the provider has no device endpoint; transport and
    /// protocol errors of the request.
    pub async fn device_start(&self, scopes: &Scopes) -> Result<DeviceStart> {
        let endpoints = self.endpoints().await?;
        let Some(url) = endpoints.device else {
            return Err(self.err(
                ErrorKind::Unsupported,
                "this provider offers no device login; use the browser flow",
            ));
        };
        let mut form = Vec::new();
        if self.spec.scope_param.is_some() && !scopes.is_empty() {
            form.push(("scope", scope::join(scopes, self.spec.scope_separator)));
        }
        let (status, bytes) = self
            .post_form(&url, form, "the device authorization endpoint")
            .await?;
        if !(200..300).contains(&status) {
            let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let code = v.get("error").and_then(Value::as_str).unwrap_or("");
            let kind = match code {
                "invalid_client" | "unauthorized_client" => ErrorKind::Config,
                "access_denied" => ErrorKind::Denied,
                _ => ErrorKind::Protocol,
            };
            let desc = v
                .get("error_description")
                .and_then(Value::as_str)
                .map(printable)
                .unwrap_or_default();
            return Err(self.err(
                kind,
                format!(
                    "the device authorization endpoint answered HTTP {status}{}{}",
                    if code.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", printable(code))
                    },
                    if desc.is_empty() {
                        String::new()
                    } else {
                        format!(": {desc}")
                    }
                ),
            ));
        }
        let d: DeviceResponse = serde_json::from_slice(&bytes).map_err(|_| {
            self.err(
                ErrorKind::Protocol,
                "the device authorization answer lacks device_code, user_code or verification_uri",
            )
        })?;
        for (what, u) in [
            ("verification_uri", Some(&d.verification_uri)),
            (
                "verification_uri_complete",
                d.verification_uri_complete.as_ref(),
            ),
        ] {
            if let Some(u) = u {
                crate::config::endpoint_url(u, what).map_err(|e| e.with_provider(self.provider))?;
            }
        }
        Ok(DeviceStart {
            user_code: printable(&d.user_code),
            verification_uri: d.verification_uri,
            verification_uri_complete: d.verification_uri_complete,
            device_code: SecretString::from(d.device_code),
            expires_in: d.expires_in.unwrap_or(600).min(3600),
            interval: d.interval.unwrap_or(5).clamp(1, 60),
        })
    }

    /// One poll of the token endpoint with a device code (RFC 8628 §3.4, §3.5).
    ///
    /// # Errors
    /// [`ErrorKind::Expired`] for `expired_token`, [`ErrorKind::Denied`] for `access_denied`,
    /// and the code exchange's errors otherwise.
    pub async fn device_poll(&self, device_code: &SecretString, asked: &Scopes) -> Result<Poll> {
        let endpoints = self.endpoints().await?;
        let req = self.form_request(
            &endpoints.token,
            vec![
                ("grant_type", DEVICE_CODE_GRANT.to_owned()),
                ("device_code", device_code.expose_secret().to_owned()),
            ],
        )?;
        let resp = self
            .runtime
            .send(self.spec, req)
            .await
            .map_err(|t| self.err(ErrorKind::Transport, t.0))?;
        let body: Value = serde_json::from_slice(resp.body()).unwrap_or(Value::Null);
        if resp.status().is_success() {
            let token: TokenResp = serde_json::from_value(body).map_err(|e| {
                self.err(
                    ErrorKind::Protocol,
                    format!("the token response does not parse ({:?})", e.classify()),
                )
            })?;
            let mut grant = self.grant_from(token, asked, None);
            grant.requested = asked.clone();
            return Ok(Poll::Granted(Box::new(grant)));
        }
        let code = body.get("error").and_then(Value::as_str).unwrap_or("");
        let desc = body
            .get("error_description")
            .and_then(Value::as_str)
            .map(printable)
            .unwrap_or_default();
        match code {
            "authorization_pending" => Ok(Poll::Pending),
            "slow_down" => Ok(Poll::SlowDown),
            "expired_token" => Err(self.err(
                ErrorKind::Expired,
                "the device code expired before the user approved; start the login again",
            )),
            "access_denied" => Err(self.err(ErrorKind::Denied, "the user denied the device login")),
            UNREADABLE => Err(self.err(ErrorKind::Protocol, desc)),
            UNAVAILABLE => Err(self.err(ErrorKind::Transport, desc)),
            _ => Err(self.err(
                ErrorKind::Protocol,
                format!(
                    "the token endpoint answered error `{}`{}",
                    printable(code),
                    if desc.is_empty() {
                        String::new()
                    } else {
                        format!(": {desc}")
                    }
                ),
            )),
        }
    }

    /// Revokes the grant's tokens at the provider's revocation endpoint: with RFC 7009 the
    /// refresh token (which ends the grant at most servers), then the access token; with
    /// another [`RevokeStyle`] one request for the access token (GitHub's `DELETE`, Slack's
    /// bearer `POST`).
    ///
    /// # Errors
    /// [`ErrorKind::Unsupported`] without a revocation endpoint; transport errors; a server
    /// that refuses.
    pub async fn revoke(&self, grant: &Grant) -> Result<()> {
        let endpoints = self.endpoints().await?;
        let Some(url) = endpoints.revoke else {
            return Err(self.err(
                ErrorKind::Unsupported,
                "this provider has no revocation endpoint; revoke the app's access in the provider's settings",
            ));
        };
        let auth = match self.spec.revoke_style {
            RevokeStyle::Rfc7009 => self.spec.client_auth,
            RevokeStyle::Rfc7009CredentialsInBody => ClientAuth::Body,
            _ => {
                let (status, bytes) = self.revoke_access_token(&url, grant).await?;
                return self.revoked(status, &bytes, &grant.access_token);
            }
        };
        let mut tokens = Vec::new();
        if let Some(rt) = &grant.refresh_token {
            tokens.push((rt, "refresh_token"));
        }
        tokens.push((&grant.access_token, "access_token"));
        for (token, hint) in tokens {
            let form = vec![
                ("token", token.expose_secret().to_owned()),
                ("token_type_hint", hint.to_owned()),
            ];
            let (status, bytes) = self
                .post_form_as(&url, form, "the revocation endpoint", auth)
                .await?;
            self.revoked(status, &bytes, token)?;
        }
        Ok(())
    }

    /// The access token's revocation in the spec's non-RFC style: GitHub's `DELETE` with Basic
    /// client credentials and `{"access_token": …}`, Slack's bearer `POST`, or Notion's `POST`
    /// of `{"token": …}` with Basic client credentials. Status and body.
    async fn revoke_access_token(&self, url: &Url, grant: &Grant) -> Result<(u16, Vec<u8>)> {
        let client = &self.runtime.client;
        let token = grant.access_token.expose_secret();
        let id = self.config.client_id.clone().unwrap_or_default();
        let secret = self
            .config
            .client_secret
            .as_ref()
            .map(|s| s.expose_secret());
        let req = match self.spec.revoke_style {
            RevokeStyle::BearerPost => client.post(url.as_str()).bearer_auth(token),
            RevokeStyle::JsonBasic(headers) => {
                // The Basic header as the token endpoint builds it (RFC 6749 §2.3.1 encoding).
                let (_, basic) = self.authenticated_form(Vec::new(), ClientAuth::Basic)?;
                let mut req = client
                    .post(url.as_str())
                    .json(&serde_json::json!({ "token": token }));
                if let Some(basic) = basic {
                    req = req.header(header::AUTHORIZATION, basic);
                }
                for (k, v) in headers {
                    req = req.header(*k, *v);
                }
                req
            }
            _ => client
                .delete(url.as_str())
                .basic_auth(id, secret)
                .json(&serde_json::json!({ "access_token": token })),
        };
        let resp = req
            .header(header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| self.runtime.transport("the revocation endpoint", &e))?;
        Ok(status_and_body(resp).await)
    }

    /// Ok for a 2xx answer of the revocation endpoint, unless its JSON says otherwise (Slack
    /// answers 200 `{"ok": false, "error": …}`); else what it said (never the token).
    fn revoked(&self, status: u16, body: &[u8], token: &SecretString) -> Result<()> {
        let said_no = serde_json::from_slice::<Value>(body)
            .is_ok_and(|v| v.as_object().is_some_and(super::says_error));
        if (200..300).contains(&status) && !said_no {
            return Ok(());
        }
        let said = provider_message(body, token.expose_secret());
        Err(self.err(
            if status == 401 {
                ErrorKind::Config
            } else {
                ErrorKind::Protocol
            },
            format!(
                "the revocation endpoint answered HTTP {status}{}",
                if said.is_empty() {
                    String::new()
                } else {
                    format!(": {said}")
                }
            ),
        ))
    }

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
