//! Revocation at the provider: RFC 7009 (the refresh token first, which ends the grant at most
//! servers, then the access token), or the provider's own style (GitHub's `DELETE`, Slack's
//! bearer `POST`, Notion's JSON).
//!
//! Invariants:
//! - A 2xx answer whose JSON says otherwise (Slack's `"ok": false`) is a failure.
//! - What the server said is reported without the token.

use oauth2::http::header;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use url::Url;

use crate::error::{ErrorKind, Result};
use crate::oauth::OAuth2Driver;
use crate::oauth::key_check::provider_message;
use crate::oauth::normalize::says_error;
use crate::oauth::runtime::status_and_body;
use crate::session::Grant;
use crate::spec::{ClientAuth, RevokeStyle};

impl OAuth2Driver {
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
            .is_ok_and(|v| v.as_object().is_some_and(says_error));
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
}
