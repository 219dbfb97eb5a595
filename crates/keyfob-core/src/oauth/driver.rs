//! [`OAuth2Driver`]: runs one provider's OAuth2 handler on the `oauth2` crate: the authorization URL
//! (PKCE S256, offline access, the spec's extra parameters), the code exchange, refresh, and the
//! mapping of token errors onto [`ErrorKind`]s.
//!
//! Invariants:
//! - A token error keeps the server's RFC 6749 code but never the body; a response that does not
//!   parse is reported by the path that failed.
//! - `invalid_grant` on refresh is `ReauthRequired` (only a new login helps); the private codes
//!   of `normalize.rs` become `Protocol` (unreadable) and `Transport` (unavailable).
//! - A grant's provider detail keeps no secret-looking field at any depth (tokens, secrets,
//!   passwords, Slack's `incoming_webhook`); a refresh answer that omits the refresh token,
//!   scopes or identity keeps the previous ones.

use std::fmt;

use async_trait::async_trait;
use oauth2::{
    AccessToken, AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EndpointNotSet, EndpointSet, ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RefreshToken, RequestTokenError, StandardRevocableToken, StandardTokenResponse,
    TokenResponse, TokenUrl,
    basic::{
        BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
        BasicTokenType,
    },
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::ProviderConfig;
use crate::driver::{FlowDriver, FlowInput, FlowStart, Started};
use crate::error::{Error, ErrorKind, Result, printable};
use crate::oauth::runtime::{TokenHttp, TransportError};
use crate::oauth::{Endpoints, Runtime, UNAVAILABLE, UNREADABLE};
use crate::scope::{self, Scopes};
use crate::session::Grant;
use crate::spec::{ClientAuth, OAuth2Spec, Offline, Pkce, Refresh};
use crate::store::PendingFlow;

/// Whatever a token response carries besides the standard fields.
#[derive(Clone, Deserialize, Serialize)]
pub(crate) struct Extra {
    #[serde(flatten)]
    pub(crate) rest: Map<String, Value>,
}

impl fmt::Debug for Extra {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Extra([redacted])")
    }
}

impl ExtraTokenFields for Extra {}

pub(crate) type TokenResp = StandardTokenResponse<Extra, BasicTokenType>;

type Client = oauth2::Client<
    BasicErrorResponse,
    TokenResp,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// The driver of OAuth2 handlers, for one spec and one provider's config.
pub struct OAuth2Driver {
    pub(super) provider: &'static str,
    pub(super) spec: &'static OAuth2Spec,
    pub(super) config: ProviderConfig,
    pub(super) runtime: std::sync::Arc<Runtime>,
}

impl fmt::Debug for OAuth2Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth2Driver")
            .field("provider", &self.provider)
            .field("spec", &self.spec.name)
            .finish_non_exhaustive()
    }
}

impl OAuth2Driver {
    /// A driver for `spec` of `provider` with its config.
    pub fn new(
        provider: &'static str,
        spec: &'static OAuth2Spec,
        config: ProviderConfig,
        runtime: std::sync::Arc<Runtime>,
    ) -> Self {
        OAuth2Driver {
            provider,
            spec,
            config,
            runtime,
        }
    }

    pub(super) fn err(&self, kind: ErrorKind, message: impl Into<String>) -> Error {
        Error::new(kind, message).with_provider(self.provider)
    }

    fn client(&self, endpoints: &Endpoints, redirect_uri: Option<&str>) -> Result<Client> {
        let client_id = self.config.client_id.clone().filter(|c| !c.is_empty()).ok_or_else(|| {
            self.err(
                ErrorKind::Config,
                format!(
                    "no OAuth2 client id: set client_id and client_secret in [auth.{p}] of keyfob.toml (or KEYFOB_AUTH__{P}__CLIENT_ID){docs}",
                    p = self.provider,
                    P = self.provider.to_ascii_uppercase(),
                    docs = if self.spec.docs_url.is_empty() { String::new() } else { format!("; register an app at {}", self.spec.docs_url) }
                ),
            )
        })?;
        let mut client = oauth2::Client::new(ClientId::new(client_id))
            .set_auth_uri(AuthUrl::from_url(endpoints.authorize.clone()))
            .set_token_uri(TokenUrl::from_url(endpoints.token.clone()))
            .set_auth_type(match self.spec.client_auth {
                ClientAuth::Basic => AuthType::BasicAuth,
                ClientAuth::Body => AuthType::RequestBody,
            });
        if let Some(secret) = &self.config.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.expose_secret().to_owned()));
        }
        if let Some(uri) = redirect_uri {
            let url = RedirectUrl::new(uri.to_owned()).map_err(|_| {
                self.err(
                    ErrorKind::Config,
                    "the callback server's redirect URI is not a valid URL",
                )
            })?;
            client = client.set_redirect_uri(url);
        }
        Ok(client)
    }

    fn map_token_error(
        &self,
        e: RequestTokenError<TransportError, BasicErrorResponse>,
        refreshing: bool,
    ) -> Error {
        match e {
            RequestTokenError::ServerResponse(r) => {
                let code = r.error().to_string();
                let desc = r
                    .error_description()
                    .map(|d| printable(d))
                    .unwrap_or_default();
                let detail = if desc.is_empty() {
                    String::new()
                } else {
                    format!(": {desc}")
                };
                match code.as_str() {
                    UNREADABLE => self.err(ErrorKind::Protocol, desc),
                    UNAVAILABLE => self.err(ErrorKind::Transport, desc),
                    "invalid_grant" if refreshing => self.err(
                        ErrorKind::ReauthRequired,
                        format!("the refresh token was rejected (invalid_grant{detail}); log in again with `keyfob login {}`", self.provider),
                    ),
                    "invalid_grant" => self.err(ErrorKind::Denied, format!("the authorization code was rejected (invalid_grant{detail})")),
                    "invalid_client" | "unauthorized_client" => self.err(
                        ErrorKind::Config,
                        format!("client authentication failed ({code}{detail}); check client_id and client_secret in [auth.{}]", self.provider),
                    ),
                    "access_denied" => self.err(ErrorKind::Denied, format!("access denied{detail}")),
                    _ => self.err(ErrorKind::Protocol, format!("the token endpoint answered error `{}`{detail}", printable(&code))),
                }
            }
            RequestTokenError::Request(t) => self.err(ErrorKind::Transport, t.0),
            RequestTokenError::Parse(e, _body) => {
                // The body may hold tokens: report only the path that failed.
                self.err(
                    ErrorKind::Protocol,
                    format!("the token response does not parse at `{}`", e.path()),
                )
            }
            RequestTokenError::Other(m) => self.err(ErrorKind::Protocol, printable(&m)),
        }
    }

    pub(super) fn grant_from(
        &self,
        resp: TokenResp,
        asked: &Scopes,
        previous: Option<&Grant>,
    ) -> Grant {
        let now = crate::now();
        let scopes = match resp.scopes() {
            Some(s) if !s.is_empty() => s.iter().map(|s| s.to_string()).collect(),
            _ => previous.map_or_else(|| asked.clone(), |p| p.scopes.clone()),
        };
        let refresh_token = resp
            .refresh_token()
            .map(|t| SecretString::from(t.secret().to_owned()))
            .or_else(|| previous.and_then(|p| p.refresh_token.clone()));
        let mut detail = resp.extra_fields().rest.clone();
        strip_secrets(&mut detail);
        Grant {
            access_token: SecretString::from(resp.access_token().secret().to_owned()),
            refresh_token,
            expires_at: resp
                .expires_in()
                // Saturating: a server may answer any `expires_in` (found by fuzzing).
                .map(|d| now.saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))),
            scopes,
            token_type: Some(token_type_name(resp.token_type())),
            extra_secrets: Vec::new(),
            detail,
            identity: previous.and_then(|p| p.identity.clone()),
            requested: previous.map_or_else(|| asked.clone(), |p| p.requested.clone()),
        }
    }
}

fn token_type_name(t: &BasicTokenType) -> String {
    match t {
        BasicTokenType::Bearer => "bearer".into(),
        BasicTokenType::Mac => "mac".into(),
        BasicTokenType::Extension(s) => s.to_ascii_lowercase(),
    }
}

/// Removes every secret-looking field, at any depth (objects and arrays), from provider
/// detail: tokens, secrets, passwords, and Slack's `incoming_webhook` (its URL is a credential).
fn strip_secrets(map: &mut Map<String, Value>) {
    map.retain(|k, _| {
        let k = k.to_ascii_lowercase();
        !(k.contains("token")
            || k.contains("secret")
            || k.contains("password")
            || k == "incoming_webhook")
    });
    for v in map.values_mut() {
        strip_value(v);
    }
}

fn strip_value(v: &mut Value) {
    match v {
        Value::Object(inner) => strip_secrets(inner),
        Value::Array(items) => items.iter_mut().for_each(strip_value),
        _ => {}
    }
}

#[async_trait]
impl FlowDriver for OAuth2Driver {
    async fn start(&self, flow: &FlowStart) -> Result<Started> {
        let endpoints = self.endpoints().await?;
        let client = self.client(&endpoints, Some(&flow.redirect_uri))?;
        let state = flow.state.expose_secret().to_owned();
        let mut req = client.authorize_url(move || CsrfToken::new(state));
        if let Some(param) = self.spec.scope_param {
            let mut scopes = flow.scopes.clone();
            if let Offline::Scope(s) = self.spec.offline {
                scopes.insert(s.to_owned());
            }
            if !scopes.is_empty() {
                req = req.add_extra_param(param, scope::join(&scopes, self.spec.scope_separator));
            }
        }
        let offline = match self.spec.offline {
            Offline::Params(params) => params,
            _ => &[],
        };
        for (k, v) in self.spec.authorize_params.iter().chain(offline) {
            req = req.add_extra_param(*k, *v);
        }
        if let Some(resource) = &self.config.resource {
            req = req.add_extra_param("resource", resource);
        }
        let verifier = match self.spec.pkce {
            Pkce::S256 => {
                let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
                req = req.set_pkce_challenge(challenge);
                Some(SecretString::from(verifier.secret().to_owned()))
            }
            Pkce::None => None,
        };
        let (url, _) = req.url();
        Ok(Started {
            url: url.to_string(),
            verifier,
        })
    }

    async fn complete(&self, pending: &PendingFlow, input: FlowInput) -> Result<Grant> {
        let FlowInput::Code(code) = input else {
            return Err(self.err(
                ErrorKind::InvalidInput,
                "an OAuth2 flow completes with an authorization code",
            ));
        };
        let endpoints = self.endpoints().await?;
        let client = self.client(&endpoints, Some(&pending.redirect_uri))?;
        let mut req = client.exchange_code(AuthorizationCode::new(code.expose_secret().to_owned()));
        if let Some(v) = &pending.verifier {
            req = req.set_pkce_verifier(PkceCodeVerifier::new(v.expose_secret().to_owned()));
        }
        if let Some(resource) = &self.config.resource {
            req = req.add_extra_param("resource", resource);
        }
        let http = TokenHttp {
            runtime: &self.runtime,
            spec: self.spec,
        };
        tracing::debug!(provider = self.provider, "exchanging authorization code");
        let resp = req
            .request_async(&http)
            .await
            .map_err(|e| self.map_token_error(e, false))?;
        Ok(self.grant_from(resp, &pending.scopes, None))
    }

    async fn refresh(&self, grant: &Grant) -> Result<Grant> {
        if self.spec.refresh == Refresh::None {
            return Err(self.err(
                ErrorKind::ReauthRequired,
                "this provider's tokens cannot be refreshed; log in again",
            ));
        }
        let Some(rt) = &grant.refresh_token else {
            return Err(self.err(
                ErrorKind::ReauthRequired,
                format!(
                    "the session has no refresh token; log in again with `keyfob login {}`",
                    self.provider
                ),
            ));
        };
        let endpoints = self.endpoints().await?;
        let client = self.client(&endpoints, None)?;
        let rt = RefreshToken::new(rt.expose_secret().to_owned());
        let http = TokenHttp {
            runtime: &self.runtime,
            spec: self.spec,
        };
        tracing::debug!(provider = self.provider, "refreshing access token");
        let mut req = client.exchange_refresh_token(&rt);
        if let Some(resource) = &self.config.resource {
            req = req.add_extra_param("resource", resource);
        }
        let resp = req
            .request_async(&http)
            .await
            .map_err(|e| self.map_token_error(e, true))?;
        let _: &AccessToken = resp.access_token();
        Ok(self.grant_from(resp, &grant.scopes, Some(grant)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_loses_nested_tokens() {
        let mut m: Map<String, Value> = serde_json::from_str(
            r#"{"team":{"id":"T1"},"authed_user":{"id":"U1","access_token":"xoxp-sentinel"},"id_token":"x",
                "incoming_webhook":{"url":"https://hooks.example/sentinel"},"list":[{"client_secret":"sentinel"}]}"#,
        )
        .unwrap();
        strip_secrets(&mut m);
        let s = Value::Object(m).to_string();
        assert!(
            !s.contains("sentinel") && !s.contains("id_token") && s.contains("U1"),
            "{s}"
        );
    }
}
