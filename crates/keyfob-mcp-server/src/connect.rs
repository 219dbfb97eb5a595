//! The connect page of a protected server belongs to one user: a login link opens only in the
//! browser of the user it was made for.
//!
//! A tool call of user U (the subject of U's MCP access token) that needs a provider gives U
//! keyfob's start link for a flow that writes U's sessions. Before that link binds a browser,
//! [`ConnectGate`] sends the browser to sign in at the MCP server's authorization server
//! (authorization code with PKCE, for this server's resource and scopes, as a public client it
//! registered or was given); the access token that sign-in yields is checked like any request's
//! token, and its user must be U. Then the browser returns to the start link with a single-use
//! pass and goes on to the provider. A link forwarded to user V: V signs in as V, not U, and is
//! refused; the flow stays open for U.
//!
//! Invariants:
//! - Only flows of a protected server's users (threads `mcp-user-…`) are gated; any other link
//!   opens as before (bound to the first browser).
//! - A sign-in and a pass are bound to the browser that started the sign-in (a cookie whose
//!   SHA-256 they record; `__Host-` over https, so no other site can plant it; a browser that
//!   sends two is refused), single-use, and expire within ten minutes. At most 10,000 sign-ins
//!   are under way, and 8 per link.
//! - The user is compared by issuer and subject: an authorization server that gives each client
//!   its own (pairwise) subjects refuses everyone, since the MCP client and keyfob's sign-in
//!   are two clients.
//! - The sign-in's access token is checked and dropped: never stored, logged or passed on.
//! - A refusal does not say whom the link was for.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyfob_callback::gate::{self, Gate, StartLink};
use keyfob_core::crypto::sha256_hex;
use keyfob_core::{Engine, ExposeSecret, SecretString};
use oauth2::{CsrfToken, PkceCodeChallenge};
use serde::Deserialize;

use crate::auth::ResourceAuth;

/// The cookie that binds a sign-in to its browser; over https, `__Host-` keeps other sites
/// (a sibling subdomain, plain http) from planting one.
const COOKIE: &str = "keyfob-connect";
const HOST_COOKIE: &str = "__Host-keyfob-connect";
/// How long a sign-in or a pass stays usable.
const LIFETIME: Duration = Duration::from_secs(600);
/// The most sign-ins under way at once, and for one link (opening a link again drops its
/// oldest): anyone who holds a link can start sign-ins, so they are capped.
const MAX_SIGN_INS: usize = 10_000;
const MAX_SIGN_INS_PER_LINK: usize = 8;
/// How long a failed registration is not tried again.
const REGISTRATION_BACKOFF: Duration = Duration::from_secs(30);
/// The sign-in's callback, under the callback server's prefix.
const CALLBACK: &str = "/connect/callback";

/// The [`Gate`] of a protected server's login links (see the module's doc).
#[derive(Clone, Debug)]
pub struct ConnectGate {
    inner: Arc<Inner>,
}

struct Inner {
    auth: Arc<ResourceAuth>,
    engine: Engine,
    /// The client id given, or the one registered at the first sign-in.
    client_id: tokio::sync::OnceCell<String>,
    /// Sign-ins under way, by the SHA-256 of their `state`.
    sign_ins: Mutex<HashMap<String, SignIn>>,
    /// Passes back to a start link, by their SHA-256.
    passes: Mutex<HashMap<String, Pass>>,
    /// The last failed registration: when, and why.
    failed_registration: Mutex<Option<(Instant, String)>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectGate")
            .field("issuer", &self.auth.issuer)
            .field("client_id", &self.client_id.get())
            .finish_non_exhaustive()
    }
}

struct SignIn {
    browser: String,
    /// The SHA-256 of the flow's state.
    link: String,
    verifier: SecretString,
    provider: String,
    state: SecretString,
    thread: String,
    until: Instant,
}

struct Pass {
    browser: String,
    thread: String,
    state_hash: String,
    until: Instant,
}

impl ConnectGate {
    /// The gate of `auth`'s server, whose login links `engine` makes. With `client_id`, the
    /// browser signs in as that (public) client, whose redirect URI must be
    /// [`ConnectGate::redirect_uri`]; without, a client is registered (RFC 7591) at the first
    /// sign-in.
    pub fn new(auth: Arc<ResourceAuth>, engine: Engine, client_id: Option<String>) -> Self {
        ConnectGate {
            inner: Arc::new(Inner {
                auth,
                engine,
                client_id: tokio::sync::OnceCell::new_with(client_id),
                sign_ins: Mutex::default(),
                passes: Mutex::default(),
                failed_registration: Mutex::default(),
            }),
        }
    }

    /// Where the authorization server sends the browser back after a sign-in.
    pub fn redirect_uri(&self) -> String {
        self.inner.redirect_uri()
    }
}

#[async_trait::async_trait]
impl Gate for ConnectGate {
    async fn check(&self, link: &StartLink<'_>) -> Option<Response> {
        if !link.key.thread.starts_with(crate::USER_THREAD_PREFIX) {
            return None;
        }
        let Ok(browser) = browser_cookie(link.headers) else {
            return Some(two_cookies());
        };
        let pass = link
            .query
            .iter()
            .find(|(k, _)| k == "connect")
            .map(|(_, v)| v);
        if let (Some(pass), Some(browser)) = (pass, &browser)
            && self.inner.take_pass(pass, browser, link)
        {
            return None;
        }
        Some(self.inner.sign_in(link, browser).await)
    }

    fn routes(&self) -> Router {
        Router::new()
            .route(CALLBACK, axum::routing::get(callback))
            .with_state(self.inner.clone())
    }
}

impl Inner {
    fn redirect_uri(&self) -> String {
        format!("{}{CALLBACK}", self.engine.callback_base())
    }

    /// Whether `pass` lets this browser open `link` (it is used up either way).
    fn take_pass(&self, pass: &str, browser: &SecretString, link: &StartLink<'_>) -> bool {
        let mut passes = lock(&self.passes);
        passes.retain(|_, p| p.until > Instant::now());
        passes.remove(&sha256_hex(pass)).is_some_and(|p| {
            p.browser == sha256_hex(browser.expose_secret())
                && p.thread == link.key.thread
                && p.state_hash == sha256_hex(link.state)
        })
    }

    /// Sends the browser to sign in at the authorization server.
    async fn sign_in(&self, link: &StartLink<'_>, browser: Option<SecretString>) -> Response {
        let client_id = match self.client_id().await {
            Ok(id) => id,
            Err(why) => return gate::page(StatusCode::BAD_GATEWAY, "Cannot sign you in", &why),
        };
        let Some(mut url) = self
            .auth
            .endpoints
            .authorization_endpoint
            .as_deref()
            .and_then(|u| url::Url::parse(u).ok())
        else {
            return gate::page(
                StatusCode::BAD_GATEWAY,
                "Cannot sign you in",
                "The authorization server names no authorization endpoint.",
            );
        };
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = CsrfToken::new_random();
        let browser =
            browser.unwrap_or_else(|| SecretString::from(CsrfToken::new_random().into_secret()));
        let link_hash = sha256_hex(link.state);
        {
            let mut sign_ins = lock(&self.sign_ins);
            sign_ins.retain(|_, s| s.until > Instant::now());
            let mut same: Vec<(String, Instant)> = sign_ins
                .iter()
                .filter(|(_, s)| s.link == link_hash)
                .map(|(k, s)| (k.clone(), s.until))
                .collect();
            if same.len() >= MAX_SIGN_INS_PER_LINK {
                same.sort_by_key(|(_, until)| *until);
                for (k, _) in &same[..=same.len() - MAX_SIGN_INS_PER_LINK] {
                    sign_ins.remove(k);
                }
            }
            if sign_ins.len() >= MAX_SIGN_INS {
                return gate::page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Busy",
                    "Too many sign-ins are under way. Try again in a few minutes.",
                );
            }
            sign_ins.insert(
                sha256_hex(state.secret()),
                SignIn {
                    browser: sha256_hex(browser.expose_secret()),
                    link: link_hash,
                    verifier: SecretString::from(verifier.into_secret()),
                    provider: link.provider.to_owned(),
                    state: SecretString::from(link.state.to_owned()),
                    thread: link.key.thread.clone(),
                    until: Instant::now() + LIFETIME,
                },
            );
        }
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", &client_id)
                .append_pair("redirect_uri", &self.redirect_uri())
                .append_pair("state", state.secret())
                .append_pair("code_challenge", challenge.as_str())
                .append_pair("code_challenge_method", "S256")
                .append_pair("resource", &self.auth.resource);
            if !self.auth.scopes.is_empty() {
                q.append_pair("scope", &self.auth.scopes.join(" "));
            }
        }
        // The cookie again, whether new or not: its lifetime starts with this sign-in.
        let mut resp = see_other(url.as_str());
        let base = self.engine.callback_base();
        let cookie = if base.starts_with("https://") {
            format!(
                "{HOST_COOKIE}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax; Secure",
                browser.expose_secret(),
                LIFETIME.as_secs()
            )
        } else {
            let path = url::Url::parse(&base)
                .map(|u| u.path().trim_end_matches('/').to_owned())
                .unwrap_or_default();
            format!(
                "{COOKIE}={}; Path={path}/; Max-Age={}; HttpOnly; SameSite=Lax",
                browser.expose_secret(),
                LIFETIME.as_secs()
            )
        };
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            resp.headers_mut().insert(header::SET_COOKIE, v);
        }
        resp
    }

    /// The client id: the one given, or one registered now (once; a failure is not tried
    /// again for [`REGISTRATION_BACKOFF`]).
    async fn client_id(&self) -> Result<String, String> {
        if let Some((when, why)) = &*lock(&self.failed_registration)
            && when.elapsed() < REGISTRATION_BACKOFF
        {
            return Err(why.clone());
        }
        let registered = self.client_id.get_or_try_init(|| self.register()).await;
        if let Err(why) = &registered {
            *lock(&self.failed_registration) = Some((Instant::now(), why.clone()));
        }
        registered.cloned()
    }

    async fn register(&self) -> Result<String, String> {
        let issuer = &self.auth.issuer;
        let endpoint = self
            .auth
            .endpoints
            .registration_endpoint
            .as_deref()
            .ok_or_else(|| {
                format!(
                    "The authorization server {issuer} offers no dynamic client registration; \
                     register a public client there with the redirect URI {} and pass its id \
                     with --auth-client-id.",
                    self.redirect_uri()
                )
            })?;
        let body = serde_json::json!({
            "client_name": "keyfob connect",
            "redirect_uris": [self.redirect_uri()],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "application_type": "native",
        });
        #[derive(Deserialize)]
        struct Registered {
            client_id: String,
        }
        let refused = |why: String| {
            format!("The authorization server {issuer} did not register keyfob's sign-in ({why}).")
        };
        let resp = self
            .auth
            .http
            .post(endpoint)
            .json(&body)
            .send()
            .await
            .map_err(|_| refused("it cannot be reached".to_owned()))?;
        if !resp.status().is_success() {
            return Err(refused(format!("HTTP {}", resp.status().as_u16())));
        }
        let registered: Registered = resp
            .json()
            .await
            .map_err(|_| refused("its answer has no client_id".to_owned()))?;
        Ok(registered.client_id)
    }

    /// The access token the sign-in's `code` yields.
    async fn exchange(&self, code: &str, verifier: &SecretString) -> Result<SecretString, String> {
        #[derive(Deserialize)]
        struct Tokens {
            access_token: String,
        }
        let endpoint = self
            .auth
            .endpoints
            .token_endpoint
            .as_deref()
            .ok_or("the authorization server names no token endpoint")?;
        let client_id = self.client_id().await?;
        let resp = self
            .auth
            .http
            .post(endpoint)
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &self.redirect_uri()),
                ("client_id", &client_id),
                ("code_verifier", verifier.expose_secret()),
                ("resource", &self.auth.resource),
            ])
            .send()
            .await
            .map_err(|_| "the authorization server cannot be reached")?;
        if !resp.status().is_success() {
            return Err(format!(
                "the authorization server refused the sign-in's code (HTTP {})",
                resp.status().as_u16()
            ));
        }
        let tokens: Tokens = resp
            .json()
            .await
            .map_err(|_| "the authorization server's answer holds no access token")?;
        Ok(SecretString::from(tokens.access_token))
    }
}

/// The authorization server's redirect after a sign-in: checks who signed in, then sends the
/// browser back to the start link with a pass.
async fn callback(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let mut params: HashMap<String, String> = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if params.insert(k.into_owned(), v.into_owned()).is_some() {
            return refuse(StatusCode::BAD_REQUEST, "A parameter appears twice.");
        }
    }
    let sign_in = params.get("state").and_then(|s| {
        let mut sign_ins = lock(&inner.sign_ins);
        sign_ins.retain(|_, s| s.until > Instant::now());
        sign_ins.remove(&sha256_hex(s))
    });
    let Some(sign_in) = sign_in else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "This sign-in is unknown, used or expired. Open the link your MCP client showed \
             again.",
        );
    };
    let Ok(browser) = browser_cookie(&headers) else {
        return two_cookies();
    };
    if browser.map(|b| sha256_hex(b.expose_secret())).as_ref() != Some(&sign_in.browser) {
        return refuse(
            StatusCode::FORBIDDEN,
            "This sign-in was started in another browser. Open the link there, or open it again \
             here.",
        );
    }
    if params.contains_key("error") {
        return refuse(
            StatusCode::FORBIDDEN,
            "The authorization server did not sign you in. Open the link again to retry.",
        );
    }
    // RFC 9207: an answer that names another issuer is not from our authorization server (and
    // one that says it always names itself must).
    let iss_required = inner
        .auth
        .endpoints
        .authorization_response_iss_parameter_supported
        .unwrap_or(false);
    let iss = params.get("iss");
    if iss.is_some_and(|iss| *iss != inner.auth.issuer) || (iss.is_none() && iss_required) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "This answer comes from another authorization server.",
        );
    }
    let Some(code) = params.get("code") else {
        return refuse(StatusCode::BAD_REQUEST, "The sign-in's answer has no code.");
    };
    let token = match inner.exchange(code, &sign_in.verifier).await {
        Ok(t) => t,
        Err(why) => return gate::page(StatusCode::BAD_GATEWAY, "Cannot sign you in", &why),
    };
    let Ok(subject) = inner.auth.check(token.expose_secret()).await else {
        return refuse(
            StatusCode::FORBIDDEN,
            "The sign-in did not give an access token for this MCP server.",
        );
    };
    if crate::user_thread(&subject) != sign_in.thread {
        tracing::warn!(
            provider = sign_in.provider,
            "a login link was opened by another user than the one it was made for; refused"
        );
        return refuse(
            StatusCode::FORBIDDEN,
            "This login link was made for another user of this MCP server. Sign in as the user \
             who asked for it, or ask your own MCP client for your own link.",
        );
    }
    let pass = CsrfToken::new_random().into_secret();
    let mut passes = lock(&inner.passes);
    passes.retain(|_, p| p.until > Instant::now());
    passes.insert(
        sha256_hex(&pass),
        Pass {
            browser: sign_in.browser,
            thread: sign_in.thread,
            state_hash: sha256_hex(sign_in.state.expose_secret()),
            until: Instant::now() + LIFETIME,
        },
    );
    drop(passes);
    let mut back = match url::Url::parse(&format!(
        "{}/auth/{}/start",
        inner.engine.callback_base(),
        sign_in.provider
    )) {
        Ok(u) => u,
        Err(_) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, "Bad callback address."),
    };
    back.query_pairs_mut()
        .append_pair("state", sign_in.state.expose_secret())
        .append_pair("connect", &pass);
    see_other(back.as_str())
}

fn refuse(status: StatusCode, message: &str) -> Response {
    gate::page(status, "Refused", message)
}

fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => (StatusCode::SEE_OTHER, [(header::LOCATION, v)]).into_response(),
        Err(_) => refuse(StatusCode::INTERNAL_SERVER_ERROR, "Bad redirect address."),
    }
}

/// The value of the sign-in cookie, if the browser sent it; `Err` when it sent two (one may
/// have been planted by another site).
fn browser_cookie(headers: &HeaderMap) -> Result<Option<SecretString>, ()> {
    let mut found = None;
    for pair in headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
    {
        let Some((name, value)) = pair.trim().split_once('=') else {
            continue;
        };
        if (name == COOKIE || name == HOST_COOKIE) && !value.is_empty() {
            if found.is_some() {
                return Err(());
            }
            found = Some(SecretString::from(value.to_owned()));
        }
    }
    Ok(found)
}

fn two_cookies() -> Response {
    refuse(
        StatusCode::BAD_REQUEST,
        "This browser sent two keyfob sign-in cookies. Clear this site's cookies and open the \
         link again.",
    )
}

/// A map's lock, even after a panic elsewhere (its entries stay consistent: each change is one
/// insert or remove).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
