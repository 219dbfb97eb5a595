//! The MCP server as a protected resource (MCP authorization, 2025-11-25): RFC 9728 metadata
//! naming its authorization server, 401 challenges that point at it, and access tokens checked
//! before any request reaches a tool.
//!
//! Invariants:
//! - A request reaches the MCP service only with a JWT access token whose signature verifies
//!   against the authorization server's published keys (JWKS), whose `iss` is that server,
//!   whose `aud` names this server's URL, which has not expired, and whose `scope` holds every
//!   required scope. Anything else is a 401 (`invalid_token`) or a 403 (`insufficient_scope`)
//!   with a challenge; the token itself never appears in an answer or a log.
//! - The token is not passed on: tools get credentials from keyfob's sessions, never the MCP
//!   token.
//! - The token's subject (with its issuer) is the user: [`Subject`] is put on the request, and
//!   the tools use that user's own sessions. An MCP session (`Mcp-Session-Id`) belongs to the
//!   user whose request opened it; anyone else's request with its id is a 404.
//! - Keys are fetched again when a token names a key id not yet known, one fetch at a time and
//!   at most every 30 s (attempts count), so forged key ids cannot make it hammer the server.
//! - Only access tokens (`typ` `at+jwt`, RFC 9068) signed with a key published for signing and
//!   for the token's algorithm, already valid (`nbf`) and not expired, get through.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::RwLock;

/// The user an access token speaks for: its issuer and subject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    /// The token's `iss`.
    pub issuer: String,
    /// The token's `sub`.
    pub subject: String,
}

/// How the server checks access tokens, and what its metadata says.
#[derive(Debug)]
pub struct ResourceAuth {
    pub(crate) issuer: String,
    pub(crate) resource: String,
    pub(crate) scopes: Vec<String>,
    jwks_uri: String,
    /// Where the connect page signs a browser in (see [`crate::connect`]).
    pub(crate) endpoints: SignInEndpoints,
    pub(crate) http: reqwest::Client,
    /// When the keys were last fetched (or tried), and the keys.
    keys: RwLock<(Instant, JwkSet)>,
    /// Held while fetching the keys again.
    fetching: tokio::sync::Mutex<()>,
    /// The user of each MCP session (`Mcp-Session-Id`) opened through this server.
    sessions: tokio::sync::Mutex<std::collections::HashMap<String, Subject>>,
}

#[derive(Deserialize)]
struct AsMetadata {
    issuer: String,
    jwks_uri: String,
    #[serde(flatten)]
    endpoints: SignInEndpoints,
}

/// The authorization server's endpoints a browser signs in with.
#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct SignInEndpoints {
    pub(crate) authorization_endpoint: Option<String>,
    pub(crate) token_endpoint: Option<String>,
    pub(crate) registration_endpoint: Option<String>,
    /// RFC 9207: every authorization response names the issuer.
    pub(crate) authorization_response_iss_parameter_supported: Option<bool>,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    scope: String,
}

/// Why a token was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No token at all: 401 without an error code (RFC 6750 §3.1).
    NoToken,
    /// A token that does not verify: 401.
    InvalidToken(String),
    /// A valid token without the scopes needed: 403.
    InsufficientScope,
}

impl ResourceAuth {
    /// Reads the authorization server's metadata (OIDC discovery, else RFC 8414) for its keys;
    /// `resource` is this server's URL (the tokens' audience), `scopes` those every request
    /// needs.
    ///
    /// # Errors
    /// When the metadata or the keys cannot be read, or the metadata names another issuer.
    pub async fn discover(
        issuer: &str,
        resource: &str,
        scopes: Vec<String>,
    ) -> Result<ResourceAuth, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let base = issuer.trim_end_matches('/');
        let mut metadata: Option<AsMetadata> = None;
        for url in [
            format!("{base}/.well-known/openid-configuration"),
            format!("{base}/.well-known/oauth-authorization-server"),
        ] {
            let found = async {
                http.get(&url)
                    .send()
                    .await?
                    .error_for_status()?
                    .json()
                    .await
            };
            if let Ok(m) = found.await {
                metadata = Some(m);
                break;
            }
        }
        let metadata =
            metadata.ok_or_else(|| format!("no authorization server metadata at {issuer}"))?;
        if metadata.issuer != issuer {
            return Err(format!(
                "the metadata of {issuer} names the issuer {:?}; refusing it",
                metadata.issuer
            ));
        }
        let auth = ResourceAuth {
            issuer: metadata.issuer,
            resource: resource.to_owned(),
            scopes,
            jwks_uri: metadata.jwks_uri,
            endpoints: metadata.endpoints,
            http,
            keys: RwLock::new((Instant::now(), JwkSet { keys: Vec::new() })),
            fetching: tokio::sync::Mutex::new(()),
            sessions: tokio::sync::Mutex::default(),
        };
        auth.refresh_keys().await?;
        Ok(auth)
    }

    async fn refresh_keys(&self) -> Result<(), String> {
        let set: JwkSet = self
            .http
            .get(&self.jwks_uri)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("cannot read the keys at {}: {e}", self.jwks_uri))?
            .json()
            .await
            .map_err(|_| format!("the keys at {} are not a JWK set", self.jwks_uri))?;
        *self.keys.write().await = (Instant::now(), set);
        Ok(())
    }

    /// The protected resource metadata (RFC 9728).
    pub fn metadata(&self) -> serde_json::Value {
        json!({
            "resource": self.resource,
            "authorization_servers": [self.issuer],
            "scopes_supported": self.scopes,
            "bearer_methods_supported": ["header"],
            "resource_name": "keyfob tools",
        })
    }

    /// Where the metadata is served: the path-inserted well-known URL of the resource.
    pub fn metadata_url(&self) -> String {
        match url::Url::parse(&self.resource) {
            Ok(u) => format!(
                "{}/.well-known/oauth-protected-resource{}",
                u.origin().ascii_serialization(),
                u.path().trim_end_matches('/')
            ),
            Err(_) => String::new(),
        }
    }

    /// Checks an access token: its user, or why it is refused.
    pub async fn check(&self, token: &str) -> Result<Subject, Refusal> {
        let invalid = |why: &str| Refusal::InvalidToken(why.to_owned());
        let head = jsonwebtoken::decode_header(token).map_err(|_| invalid("not a JWT"))?;
        let kid = head
            .kid
            .clone()
            .ok_or_else(|| invalid("the token names no key"))?;
        // RFC 9068: an access token says so; an ID token with the right audience is not one.
        if !head.typ.as_deref().is_some_and(|t| {
            t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
        }) {
            return Err(invalid("the token is not an access token (typ at+jwt)"));
        }
        let mut jwk = self.keys.read().await.1.find(&kid).cloned();
        if jwk.is_none() {
            // One fetch at a time, at most every 30 s, however many tokens name unknown keys.
            let _one = self.fetching.lock().await;
            jwk = self.keys.read().await.1.find(&kid).cloned();
            let stale = self.keys.read().await.0.elapsed() > Duration::from_secs(30);
            if jwk.is_none() && stale {
                self.keys.write().await.0 = Instant::now();
                if self.refresh_keys().await.is_ok() {
                    jwk = self.keys.read().await.1.find(&kid).cloned();
                }
            }
        }
        let jwk = jwk.ok_or_else(|| invalid("the token's key is unknown"))?;
        let signs = jwk
            .common
            .public_key_use
            .as_ref()
            .is_none_or(|u| *u == jsonwebtoken::jwk::PublicKeyUse::Signature);
        let same_alg = jwk
            .common
            .key_algorithm
            .is_none_or(|a| format!("{a:?}") == format!("{:?}", head.alg));
        if !signs || !same_alg {
            return Err(invalid("the token's key is not for this algorithm"));
        }
        let key =
            DecodingKey::from_jwk(&jwk).map_err(|_| invalid("the token's key is unusable"))?;
        if !matches!(
            head.alg,
            Algorithm::ES256
                | Algorithm::ES384
                | Algorithm::RS256
                | Algorithm::PS256
                | Algorithm::EdDSA
        ) {
            return Err(invalid("the token's algorithm is not accepted"));
        }
        let mut validation = Validation::new(head.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.resource]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 5;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|e| {
            invalid(match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => "the token has expired",
                jsonwebtoken::errors::ErrorKind::ImmatureSignature => "the token is not valid yet",
                jsonwebtoken::errors::ErrorKind::InvalidAudience => {
                    "the token is for another server"
                }
                jsonwebtoken::errors::ErrorKind::InvalidIssuer => {
                    "the token is from another issuer"
                }
                _ => "the token does not verify",
            })
        })?;
        let granted: Vec<&str> = data.claims.scope.split_whitespace().collect();
        if !self.scopes.iter().all(|s| granted.contains(&s.as_str())) {
            return Err(Refusal::InsufficientScope);
        }
        Ok(Subject {
            issuer: self.issuer.clone(),
            subject: data.claims.sub,
        })
    }

    /// The refusal as an HTTP answer with its challenge.
    fn refuse(&self, refusal: &Refusal) -> Response {
        let scope = self.scopes.join(" ");
        let (status, challenge, body) = match refusal {
            Refusal::NoToken => (
                StatusCode::UNAUTHORIZED,
                format!(
                    r#"Bearer resource_metadata="{}", scope="{scope}""#,
                    self.metadata_url()
                ),
                json!({"error": "invalid_request", "error_description": "no bearer token"}),
            ),
            Refusal::InvalidToken(why) => (
                StatusCode::UNAUTHORIZED,
                format!(
                    r#"Bearer error="invalid_token", error_description="{why}", resource_metadata="{}", scope="{scope}""#,
                    self.metadata_url()
                ),
                json!({"error": "invalid_token", "error_description": why}),
            ),
            Refusal::InsufficientScope => (
                StatusCode::FORBIDDEN,
                format!(
                    r#"Bearer error="insufficient_scope", resource_metadata="{}", scope="{scope}""#,
                    self.metadata_url()
                ),
                json!({"error": "insufficient_scope"}),
            ),
        };
        let mut resp = (status, axum::Json(body)).into_response();
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        resp
    }
}

/// The middleware in front of the MCP service: a valid token, or its refusal.
pub(crate) async fn require_token(
    State(auth): State<Arc<ResourceAuth>>,
    mut req: Request,
    next: Next,
) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return auth.refuse(&Refusal::NoToken);
    };
    let subject = match auth.check(token).await {
        Ok(subject) => subject,
        Err(refusal) => return auth.refuse(&refusal),
    };
    // An MCP session belongs to the user who opened it: another user's token with its id is
    // answered as for an unknown session (404), so a leaked id gives nothing away.
    let session = req
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(id) = &session {
        let owner = auth.sessions.lock().await.get(id).cloned();
        if owner.as_ref() != Some(&subject) {
            return (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"jsonrpc": "2.0", "id": null,
                    "error": {"code": -32001, "message": "Session not found"}})),
            )
                .into_response();
        }
    }
    let closing = req.method() == axum::http::Method::DELETE;
    req.extensions_mut().insert(subject.clone());
    let resp = next.run(req).await;
    let mut sessions = auth.sessions.lock().await;
    match (&session, resp.headers().get("mcp-session-id")) {
        // A session opened by this request (initialize) is this user's.
        (None, Some(id)) => {
            if let Ok(id) = id.to_str() {
                sessions.insert(id.to_owned(), subject);
            }
        }
        (Some(id), _) if closing && resp.status().is_success() => {
            sessions.remove(id);
        }
        _ => {}
    }
    resp
}
