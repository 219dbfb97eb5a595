//! Who keyfob is to an MCP server's authorization server: a client registered in advance
//! (`[mcp.<name>] client_id`), or one keyfob registers itself (RFC 7591, as the MCP spec's
//! fallback) and keeps.
//!
//! Invariants:
//! - A registration belongs to one issuer and one redirect URI; when either changes it is not
//!   reused (2026-07-28: credentials are bound to the issuer).
//! - The client secret is a secret: it lives only in sealed records and never in a message.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::error::{Error, ErrorKind, Result, printable};
use crate::mcp::discovery::AuthServer;

/// A client of one authorization server.
#[derive(Clone)]
pub struct Registration {
    /// The client id.
    pub client_id: String,
    /// The client secret, for confidential clients.
    pub client_secret: Option<SecretString>,
    /// `none`, `client_secret_basic` or `client_secret_post`.
    pub auth_method: String,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("auth_method", &self.auth_method)
            .finish()
    }
}

#[derive(Deserialize)]
struct Registered {
    client_id: String,
    client_secret: Option<String>,
    token_endpoint_auth_method: Option<String>,
}

/// The client authentication for a client with or without a secret, among what `auth` offers.
pub(super) fn auth_method(auth: &AuthServer, has_secret: bool) -> String {
    let offered = &auth.token_endpoint_auth_methods_supported;
    if !has_secret {
        return "none".into();
    }
    // RFC 8414: when the server lists nothing, client_secret_basic is its default.
    if offered.is_empty() || offered.iter().any(|m| m == "client_secret_basic") {
        "client_secret_basic".into()
    } else {
        "client_secret_post".into()
    }
}

/// Registers keyfob as a native public client with the loopback `redirect_uri` (RFC 7591).
///
/// # Errors
/// [`ErrorKind::Config`] when the server offers no registration (what to configure instead);
/// [`ErrorKind::Transport`]; [`ErrorKind::Protocol`] when the registration is refused or its
/// answer does not parse.
pub(super) async fn register(
    http: &reqwest::Client,
    auth: &AuthServer,
    redirect_uri: &str,
    name: &str,
) -> Result<Registration> {
    let Some(endpoint) = &auth.registration_endpoint else {
        return Err(Error::new(
            ErrorKind::Config,
            format!(
                "the authorization server {} offers no dynamic client registration; register a \
                 client there with the redirect URI {redirect_uri} and set client_id (and \
                 client_secret, if it issued one) in [mcp.{name}] of keyfob.toml",
                auth.issuer
            ),
        ));
    };
    // The device grant too where the server offers it: a headless login needs it (RFC 8628).
    let mut grant_types = vec!["authorization_code", "refresh_token"];
    if auth.device_authorization_endpoint.is_some() {
        grant_types.push(crate::oauth::DEVICE_CODE_GRANT);
    }
    let body = serde_json::json!({
        "client_name": "keyfob",
        "redirect_uris": [redirect_uri],
        "grant_types": grant_types,
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "application_type": "native",
    });
    let resp = http.post(endpoint).json(&body).send().await.map_err(|_| {
        Error::new(
            ErrorKind::Transport,
            format!(
                "the registration endpoint of {} cannot be reached",
                auth.issuer
            ),
        )
    })?;
    let status = resp.status().as_u16();
    let bytes = crate::oauth::read_capped(resp).await.unwrap_or_default();
    if !(200..300).contains(&status) {
        let why = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| {
                let e = v.get("error")?.as_str()?.to_owned();
                let d = v
                    .get("error_description")
                    .and_then(|d| d.as_str())
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default();
                Some(printable(&format!("{e}{d}")))
            })
            .unwrap_or_else(|| format!("HTTP {status}"));
        return Err(Error::new(
            ErrorKind::Protocol,
            format!(
                "{} refused to register keyfob as a client ({why}); register one by hand and set \
                 client_id in [mcp.{name}]",
                auth.issuer
            ),
        ));
    }
    // serde's message may quote a value (a secret): name only what was expected.
    let got: Registered = serde_json::from_slice(&bytes).map_err(|_| {
        Error::new(
            ErrorKind::Protocol,
            format!(
                "the registration answer of {} is not a JSON object with a client_id",
                auth.issuer
            ),
        )
    })?;
    let client_secret = got
        .client_secret
        .filter(|s| !s.is_empty())
        .map(SecretString::from);
    let auth_method = got
        .token_endpoint_auth_method
        .unwrap_or_else(|| auth_method(auth, client_secret.is_some()));
    Ok(Registration {
        client_id: got.client_id,
        client_secret,
        auth_method,
    })
}

impl Registration {
    /// The secret, when there is one (for sealing).
    pub(super) fn secret(&self) -> &str {
        self.client_secret
            .as_ref()
            .map_or("", |s| s.expose_secret())
    }
}
