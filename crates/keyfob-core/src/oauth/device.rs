//! The device authorization grant (RFC 8628) at the provider: the device authorization request,
//! and one poll of the token endpoint with the device code.
//!
//! Invariants:
//! - The device code is a secret (`SecretString`, never in `Debug`); the verification URIs are
//!   shown to the user, so they are checked like endpoints.
//! - The server's polling interval is clamped to 1–60 s and the codes' lifetime to an hour.
//! - A poll's answer goes through the same normalizer as the code exchange.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;

use crate::error::{ErrorKind, Result, printable};
use crate::oauth::{OAuth2Driver, TokenResp, UNAVAILABLE, UNREADABLE};
use crate::scope::{self, Scopes};
use crate::session::Grant;

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

impl OAuth2Driver {
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
        if let Some(resource) = &self.config.resource {
            form.push(("resource", resource.clone()));
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
        let mut form = vec![
            ("grant_type", DEVICE_CODE_GRANT.to_owned()),
            ("device_code", device_code.expose_secret().to_owned()),
        ];
        if let Some(resource) = &self.config.resource {
            form.push(("resource", resource.clone()));
        }
        let req = self.form_request(&endpoints.token, form)?;
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
}
