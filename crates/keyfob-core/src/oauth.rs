//! The generic OAuth2 handler, on the `oauth2` crate: authorization code with PKCE S256,
//! code exchange and refresh, with a tolerant token-response normalizer in front of the crate's
//! strict parser.
//!
//! Requests go through `Runtime::send`, which turns a JSON-body provider's form into JSON and
//! rewrites what real servers answer (form-encoded bodies, `expires_in` as a string, no
//! `token_type`, array or comma scopes, HTTP 200 carrying an error, HTML error pages) into the
//! RFC 6749 shape the `oauth2` crate parses. Anything that cannot be read becomes an error
//! response with the private code `keyfob_unreadable_response`, never the raw body.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use oauth2::http::{self, HeaderValue, header};
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
use url::Url;

use crate::config::{ProviderConfig, endpoint_url, is_internal};
use crate::error::{Error, ErrorKind, Result, printable};
use crate::handler::{AuthHandler, FlowInput, FlowStart, Started};
use crate::scope::{self, Scopes};
use crate::session::Grant;
use crate::spec::{BodyFormat, ClientAuth, OAuth2Spec, Offline, Pkce, Refresh};
use crate::store::PendingFlow;

pub mod lifecycle;

/// The private error code for responses that could not be read.
const UNREADABLE: &str = "keyfob_unreadable_response";
/// The synthetic error code of a token endpoint that answered 5xx or 429: unavailable for now,
/// reported as [`ErrorKind::Transport`] (worth a retry later), not as a protocol breach.
const UNAVAILABLE: &str = "keyfob_unavailable";

/// Shared HTTP machinery: one client (no redirects, bounded time) and the discovery cache.
pub struct Runtime {
    client: reqwest::Client,
    timeout: Duration,
    discovery: Mutex<HashMap<String, Discovered>>,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// An authorization server's metadata: OpenID Connect discovery
/// (`<issuer>/.well-known/openid-configuration`) and RFC 8414
/// (`/.well-known/oauth-authorization-server<issuer path>`), merged. Each document's `issuer`
/// must be the configured one.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Discovered {
    /// The issuer both documents name (checked against the configured one).
    pub(crate) issuer: Option<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    device_authorization_endpoint: Option<String>,
    userinfo_endpoint: Option<String>,
    /// RFC 9207: the server names itself in every authorization response (`iss`).
    #[serde(default)]
    pub(crate) authorization_response_iss_parameter_supported: bool,
}

impl Discovered {
    /// `self`, with what it lacks taken from `other`.
    fn merged(self, other: Discovered) -> Discovered {
        Discovered {
            issuer: self.issuer.or(other.issuer),
            authorization_endpoint: self.authorization_endpoint.or(other.authorization_endpoint),
            token_endpoint: self.token_endpoint.or(other.token_endpoint),
            revocation_endpoint: self.revocation_endpoint.or(other.revocation_endpoint),
            device_authorization_endpoint: self
                .device_authorization_endpoint
                .or(other.device_authorization_endpoint),
            userinfo_endpoint: self.userinfo_endpoint.or(other.userinfo_endpoint),
            authorization_response_iss_parameter_supported: self
                .authorization_response_iss_parameter_supported
                || other.authorization_response_iss_parameter_supported,
        }
    }
}

/// Whether two issuer identifiers are the same (RFC 8414 §3.3 compares them exactly; a
/// trailing slash is not a difference people can see in a config file, so it is forgiven).
pub(crate) fn same_issuer(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// The transport error handed to the `oauth2` crate.
#[derive(Debug)]
struct TransportError(String);

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TransportError {}

impl Runtime {
    /// A runtime whose requests time out after `timeout`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when the TLS backend cannot start.
    pub fn new(timeout: Duration) -> Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .user_agent(concat!(
                "keyfob/",
                env!("CARGO_PKG_VERSION"),
                " (+agent auth)"
            ))
            .build()
            .map_err(|e| {
                Error::new(ErrorKind::Config, "cannot build the HTTP client").with_source(e)
            })?;
        Ok(Runtime {
            client,
            timeout,
            discovery: Mutex::new(HashMap::new()),
        })
    }

    /// The metadata of the authorization server `issuer`, from OpenID Connect discovery and RFC
    /// 8414 (either may be missing; what one lacks, such as the revocation endpoint some servers
    /// list only under RFC 8414, comes from the other), cached per issuer.
    ///
    /// # Errors
    /// [`ErrorKind::Protocol`] when neither document can be read, a document names another
    /// issuer (both values named), or no authorization or token endpoint is listed.
    pub(crate) async fn discover(&self, issuer: &str) -> Result<Discovered> {
        if let Some(d) = self
            .discovery
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(issuer)
        {
            return Ok(d.clone());
        }
        let base = endpoint_url(issuer, "issuer")?;
        let oidc = format!(
            "{}/.well-known/openid-configuration",
            base.as_str().trim_end_matches('/')
        );
        let mut rfc8414 = base.clone();
        rfc8414.set_path(&format!(
            "/.well-known/oauth-authorization-server{}",
            base.path().trim_end_matches('/')
        ));
        rfc8414.set_query(None);
        let rfc8414 = rfc8414.to_string();
        let mut found: Vec<Discovered> = Vec::new();
        let mut failures: Vec<String> = Vec::new();
        for url in [&oidc, &rfc8414] {
            // RFC 8414 is asked for only when OpenID discovery failed or lacks an endpoint
            // keyfob uses (one request less for most issuers).
            let complete = found.first().is_some_and(|d| {
                d.revocation_endpoint.is_some() && d.device_authorization_endpoint.is_some()
            });
            if complete {
                break;
            }
            match self.metadata(url).await {
                Ok(d) => {
                    if let Some(named) = d.issuer.as_deref() {
                        if !same_issuer(named, issuer) {
                            return Err(Error::new(
                                ErrorKind::Protocol,
                                format!(
                                    "the metadata at {url} names the issuer {:?}, but the \
                                     configured issuer is {issuer:?}; refusing to use it",
                                    crate::error::printable(named)
                                ),
                            ));
                        }
                    }
                    found.push(d);
                }
                Err(why) => failures.push(why),
            }
        }
        let Some(first) = found.first().cloned() else {
            return Err(Error::new(
                ErrorKind::Protocol,
                format!(
                    "no authorization server metadata for {issuer}: {}",
                    failures.join("; ")
                ),
            ));
        };
        let d = found.into_iter().skip(1).fold(first, Discovered::merged);
        if d.authorization_endpoint.is_none() || d.token_endpoint.is_none() {
            return Err(Error::new(
                ErrorKind::Protocol,
                format!("the metadata of {issuer} lists no authorization or token endpoint"),
            ));
        }
        self.discovery
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(issuer.to_owned(), d.clone());
        Ok(d)
    }

    /// One metadata document, or why it could not be read (a sentence naming `url`).
    async fn metadata(&self, url: &str) -> std::result::Result<Discovered, String> {
        let resp = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| self.transport("the authorization server", &e).to_string())?;
        if !resp.status().is_success() {
            return Err(format!("{url} answered HTTP {}", resp.status().as_u16()));
        }
        resp.json()
            .await
            .map_err(|_| format!("{url} did not return authorization server metadata"))
    }

    fn transport(&self, what: &str, e: &reqwest::Error) -> Error {
        if e.is_timeout() {
            Error::new(
                ErrorKind::Transport,
                format!("{what} did not answer within {} s", self.timeout.as_secs()),
            )
        } else {
            let host = e
                .url()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_default();
            Error::new(
                ErrorKind::Transport,
                format!("cannot reach {what} at {host}"),
            )
            .with_source(TransportError(source_chain(e)))
        }
    }

    /// Sends one token-endpoint request and normalizes the answer.
    async fn send(
        &self,
        spec: &OAuth2Spec,
        req: oauth2::HttpRequest,
    ) -> std::result::Result<oauth2::HttpResponse, TransportError> {
        let (mut parts, body) = req.into_parts();
        if spec.body_format == BodyFormat::Json {
            parts.headers.remove(header::CONTENT_TYPE);
        }
        let mut builder = self
            .client
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers);
        builder = match spec.body_format {
            BodyFormat::Form => builder.body(body),
            BodyFormat::Json => {
                let map: Map<String, Value> = url::form_urlencoded::parse(&body)
                    .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                    .collect();
                builder
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(serde_json::to_vec(&map).expect("a map of strings serializes"))
            }
        };
        let resp = builder.send().await.map_err(|e| {
            if e.is_timeout() {
                TransportError(format!(
                    "the token endpoint did not answer within {} s",
                    self.timeout.as_secs()
                ))
            } else {
                TransportError(format!(
                    "cannot reach the token endpoint: {}",
                    source_chain(&e)
                ))
            }
        })?;
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let bytes = resp.bytes().await.map_err(|e| {
            TransportError(format!(
                "the token response broke off: {}",
                source_chain(&e)
            ))
        })?;
        Ok(normalized_response(status, &content_type, &bytes, spec))
    }
}

fn source_chain(e: &(dyn std::error::Error + 'static)) -> String {
    // reqwest's Display names the URL; token URLs carry no secrets, but keep only the causes.
    let mut parts = Vec::new();
    let mut cur = e.source();
    while let Some(s) = cur {
        parts.push(s.to_string());
        cur = s.source();
    }
    if parts.is_empty() {
        "connection failed".into()
    } else {
        parts.join(": ")
    }
}

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

/// `template` with each `{field}` of `fields` replaced by that `[auth.<provider>]` value, which
/// must be an http(s) URL without credentials and, unless `allow_internal_endpoints`, not a
/// loopback, private or link-local address.
///
/// # Errors
/// [`ErrorKind::Config`] for a missing field, an unsafe URL, or a placeholder not in `fields`.
pub(crate) fn fill_fields(
    template: &str,
    fields: &[&str],
    config: &ProviderConfig,
    provider: &str,
) -> Result<String> {
    let err = |m: String| Error::new(ErrorKind::Config, m).with_provider(provider);
    let mut out = template.to_owned();
    let mut host_filled = false;
    for field in fields {
        let needle = format!("{{{field}}}");
        if out.contains(&needle) {
            let value = config
                .extra
                .get(*field)
                .ok_or_else(|| err(format!("set `{field}` in [auth.{provider}] of keyfob.toml")))?;
            let what = format!("auth.{provider}.{field}");
            if !out.starts_with(&needle) {
                // Inside the host: a DNS name, nothing that could end the host or start a path.
                let name_ok = !value.is_empty()
                    && value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
                    && !value.starts_with(['.', '-'])
                    && !value.ends_with(['.', '-']);
                if !name_ok {
                    return Err(err(format!(
                        "{what} must be a DNS name such as `datadoghq.eu`, not {:?}",
                        crate::error::printable(value)
                    )));
                }
                out = out.replace(&needle, value);
                host_filled = true;
                continue;
            }
            let base = endpoint_url(value, &what)?;
            if is_internal(&base) && !config.allow_internal_endpoints {
                return Err(err(format!(
                    "{what} points at a loopback, private or link-local address; set \
                     allow_internal_endpoints = true in [auth.{provider}] if that is intended"
                )));
            }
            out = out.replace(&needle, base.as_str().trim_end_matches('/'));
        }
    }
    if out.contains('{') {
        return Err(err(
            "an endpoint template has an undeclared placeholder".into()
        ));
    }
    // A name put into a host can make it internal (`api.{site}` with `localhost`); spec and
    // config URLs without such a field are judged where they are set.
    if !host_filled {
        return Ok(out);
    }
    let filled = endpoint_url(&out, &format!("{provider} endpoint"))?;
    if is_internal(&filled) && !config.allow_internal_endpoints {
        return Err(err(format!(
            "{out} is a loopback, private or link-local address; set allow_internal_endpoints = \
             true in [auth.{provider}] if that is intended"
        )));
    }
    Ok(out)
}

/// The `oauth2` crate's view of `Runtime::send` for one spec.
struct TokenHttp<'a> {
    runtime: &'a Runtime,
    spec: &'static OAuth2Spec,
}

type SendFuture<'c> = std::pin::Pin<
    Box<
        dyn std::future::Future<Output = std::result::Result<oauth2::HttpResponse, TransportError>>
            + Send
            + 'c,
    >,
>;

impl<'c> oauth2::AsyncHttpClient<'c> for TokenHttp<'_> {
    type Error = TransportError;
    type Future = SendFuture<'c>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(self.runtime.send(self.spec, request))
    }
}

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

/// The resolved endpoints of one provider.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// Authorization endpoint.
    pub authorize: Url,
    /// Token endpoint.
    pub token: Url,
    /// Revocation endpoint.
    pub revoke: Option<Url>,
    /// Device authorization endpoint.
    pub device: Option<Url>,
    /// The endpoint that names the account.
    pub userinfo: Option<Url>,
}

/// The generic OAuth2 handler for one spec and one provider's config.
pub struct OAuth2Handler {
    provider: &'static str,
    spec: &'static OAuth2Spec,
    config: ProviderConfig,
    runtime: std::sync::Arc<Runtime>,
}

impl fmt::Debug for OAuth2Handler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth2Handler")
            .field("provider", &self.provider)
            .field("spec", &self.spec.name)
            .finish_non_exhaustive()
    }
}

impl OAuth2Handler {
    /// A handler for `spec` of `provider` with its config.
    pub fn new(
        provider: &'static str,
        spec: &'static OAuth2Spec,
        config: ProviderConfig,
        runtime: std::sync::Arc<Runtime>,
    ) -> Self {
        OAuth2Handler {
            provider,
            spec,
            config,
            runtime,
        }
    }

    fn err(&self, kind: ErrorKind, message: impl Into<String>) -> Error {
        Error::new(kind, message).with_provider(self.provider)
    }

    /// Resolves endpoints: config overrides, then the issuer's discovery document, then the spec
    /// (with `{field}` placeholders filled from config). Every URL is validated.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for a missing field or an unsafe URL.
    pub async fn endpoints(&self) -> Result<Endpoints> {
        let discovered = match &self.config.issuer {
            Some(issuer) => Some(
                self.runtime
                    .discover(issuer)
                    .await
                    .map_err(|e| e.with_provider(self.provider))?,
            ),
            None => None,
        };
        let pick = |over: &Option<String>,
                    disc: Option<&String>,
                    spec: Option<&'static str>,
                    what: &str|
         -> Result<Option<Url>> {
            let raw = match (over, disc, spec.filter(|s| !s.is_empty())) {
                (Some(o), _, _) => self.with_client_id(o),
                (None, Some(d), _) => d.clone(),
                (None, None, Some(s)) => self.fill(s)?,
                (None, None, None) => return Ok(None),
            };
            endpoint_url(&raw, &format!("{} {what}", self.provider))
                .map(Some)
                .map_err(|e| e.with_provider(self.provider))
        };
        let d = discovered.as_ref();
        let authorize = pick(
            &self.config.authorize_url,
            d.and_then(|d| d.authorization_endpoint.as_ref()),
            Some(self.spec.authorize_url),
            "authorize_url",
        )?;
        let token = pick(
            &self.config.token_url,
            d.and_then(|d| d.token_endpoint.as_ref()),
            Some(self.spec.token_url),
            "token_url",
        )?;
        let revoke = pick(
            &self.config.revoke_url,
            d.and_then(|d| d.revocation_endpoint.as_ref()),
            self.spec.revoke_url,
            "revoke_url",
        )?;
        let device = pick(
            &self.config.device_url,
            d.and_then(|d| d.device_authorization_endpoint.as_ref()),
            self.spec.device_url,
            "device_url",
        )?;
        let userinfo = pick(
            &self.config.userinfo_url,
            d.and_then(|d| d.userinfo_endpoint.as_ref()),
            self.spec.userinfo_url,
            "userinfo_url",
        )?;
        match (authorize, token) {
            (Some(authorize), Some(token)) => Ok(Endpoints {
                authorize,
                token,
                revoke,
                device,
                userinfo,
            }),
            _ => Err(self.err(
                ErrorKind::Config,
                "no authorization or token endpoint is configured",
            )),
        }
    }

    /// Fills `{field}` placeholders from config extras.
    /// `url` with `{client_id}` replaced by the configured client id (GitHub's revocation path
    /// names it), in spec and config URLs alike.
    fn with_client_id(&self, url: &str) -> String {
        if !url.contains("{client_id}") {
            return url.to_owned();
        }
        let id = self.config.client_id.as_deref().unwrap_or_default();
        let id: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
        url.replace("{client_id}", &id)
    }

    fn fill(&self, template: &str) -> Result<String> {
        fill_fields(
            &self.with_client_id(template),
            self.spec.config_fields,
            &self.config,
            self.provider,
        )
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

    fn grant_from(&self, resp: TokenResp, asked: &Scopes, previous: Option<&Grant>) -> Grant {
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
impl AuthHandler for OAuth2Handler {
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
        let resp = client
            .exchange_refresh_token(&rt)
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

#[cfg(test)]
mod fields {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> ProviderConfig {
        let mut c = ProviderConfig::default();
        for (k, v) in pairs {
            c.extra.insert((*k).to_owned(), (*v).to_owned());
        }
        c
    }

    /// A field inside the host takes a DNS name (Datadog's site), a field at the start a whole
    /// URL; anything that could end the host or reach an internal address is refused.
    /// MUTATION: substituting a host field without the DNS-name check lets `evil.test/x` and
    /// `a@b` through and fails this.
    #[test]
    fn host_fields_take_dns_names_and_base_fields_urls() {
        let site = "https://api.{site}/api/v1/validate";
        let fill = |v: &str| fill_fields(site, &["site"], &config(&[("site", v)]), "datadog");
        assert_eq!(
            fill("datadoghq.eu").unwrap(),
            "https://api.datadoghq.eu/api/v1/validate"
        );
        assert_eq!(
            fill("us5.datadoghq.com").unwrap(),
            "https://api.us5.datadoghq.com/api/v1/validate"
        );
        for bad in ["evil.test/x", "a@b", "evil.test:99", "", ".eu", "x?y"] {
            let e = fill(bad).expect_err(bad);
            assert!(e.to_string().contains("must be a DNS name"), "{bad}: {e}");
        }
        let e = fill("localhost").expect_err("api.localhost is internal");
        assert!(e.to_string().contains("loopback"), "{e}");
        let base = fill_fields(
            "{base_url}/api/v1/users/self",
            &["base_url"],
            &config(&[("base_url", "https://canvas.example.edu")]),
            "canvas",
        )
        .unwrap();
        assert_eq!(base, "https://canvas.example.edu/api/v1/users/self");
    }
}
