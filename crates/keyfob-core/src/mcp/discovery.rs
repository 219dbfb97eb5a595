//! Finding who issues tokens for an MCP server (MCP authorization, 2025-11-25 and 2026-07-28):
//! the server's 401 challenge, its protected resource metadata (RFC 9728), and the metadata of
//! its authorization server (RFC 8414 / OpenID Connect discovery, in the spec's order).
//!
//! Invariants:
//! - The resource metadata must name a resource this server's URL lies under (same origin, a
//!   path prefix); anything else is refused before any authorization request.
//! - Authorization server metadata is used only when its `issuer` is identical to the issuer it
//!   was looked up for (no normalisation), and it must offer PKCE with S256.
//! - Discovery follows no redirect and sends no credential.

use serde::Deserialize;
use url::Url;

use crate::config::endpoint_url;
use crate::error::{Error, ErrorKind, Result, printable};
use crate::mcp::challenge::{self, Bearer};

/// An MCP server as discovery found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    /// The server's URL, as given.
    pub url: String,
    /// The canonical URI sent as RFC 8707 `resource`: the metadata's `resource`.
    pub resource: String,
    /// Scopes to ask for: the challenge's, else every scope the resource metadata lists.
    pub scopes: Vec<String>,
    /// The authorization server.
    pub auth: AuthServer,
}

/// The parts of an authorization server's metadata an MCP login uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct AuthServer {
    /// The issuer identifier, identical to the one looked up.
    #[serde(default)]
    pub issuer: String,
    /// Authorization endpoint.
    pub authorization_endpoint: String,
    /// Token endpoint.
    pub token_endpoint: String,
    /// RFC 7591 dynamic client registration endpoint.
    #[serde(default)]
    pub registration_endpoint: Option<String>,
    /// RFC 7009 revocation endpoint.
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    /// RFC 8628 device authorization endpoint.
    #[serde(default)]
    pub device_authorization_endpoint: Option<String>,
    /// PKCE methods; must hold `S256`.
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
    /// How clients may authenticate at the token endpoint.
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// Scopes the server knows.
    #[serde(default)]
    pub scopes_supported: Vec<String>,
    /// RFC 9207: every authorization response names the issuer (`iss`).
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    /// Client ID Metadata Documents: an https URL may be the client id.
    #[serde(default)]
    pub client_id_metadata_document_supported: bool,
}

#[derive(Deserialize)]
struct ResourceMetadata {
    resource: Option<String>,
    #[serde(default)]
    authorization_servers: Vec<String>,
    #[serde(default)]
    scopes_supported: Vec<String>,
}

fn protocol(message: String) -> Error {
    Error::new(ErrorKind::Protocol, message)
}

/// Discovers how to log in to the MCP server at `url`.
///
/// # Errors
/// [`ErrorKind::Config`] for a URL that is not https (or http on loopback);
/// [`ErrorKind::Transport`] when the server cannot be reached; [`ErrorKind::InvalidInput`] when
/// it answers without asking for a token; [`ErrorKind::Protocol`] when its metadata is missing,
/// names another resource, or its authorization server's metadata is missing, names another
/// issuer or lacks S256 PKCE.
pub async fn discover(http: &reqwest::Client, url: &str) -> Result<Discovered> {
    let server = endpoint_url(url, "the MCP server URL")?;
    let (challenge, open) = probe(http, &server).await?;
    let (metadata_url, prm) = match resource_metadata(http, &server, &challenge).await {
        Ok(found) => found,
        // It answered without a token and publishes no metadata: nothing to log in to.
        Err(_) if open => {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "the MCP server at {server} answered without asking for a login and \
                     publishes no protected resource metadata; it needs no token"
                ),
            ));
        }
        // No resource metadata anywhere: a server of the 2025-03-26 revision, whose origin is
        // its authorization server.
        Err(e)
            if challenge
                .as_ref()
                .is_none_or(|c| c.resource_metadata.is_none()) =>
        {
            return legacy(http, &server, url, challenge).await.map_err(|_| e);
        }
        Err(e) => return Err(e),
    };
    let resource = prm.resource.clone().ok_or_else(|| {
        protocol(format!(
            "the resource metadata at {metadata_url} names no `resource`"
        ))
    })?;
    if !covers(&resource, &server) {
        return Err(protocol(format!(
            "the resource metadata at {metadata_url} is for {:?}, not for {server}; refusing to \
             log in (a token for that resource must not be used here)",
            printable(&resource)
        )));
    }
    let issuer = prm.authorization_servers.first().ok_or_else(|| {
        protocol(format!(
            "the resource metadata at {metadata_url} names no authorization server"
        ))
    })?;
    let auth = auth_server(http, issuer).await?;
    let scopes = match challenge.and_then(|c| c.scope) {
        Some(s) => s.split_whitespace().map(str::to_owned).collect(),
        None => prm.scopes_supported,
    };
    Ok(Discovered {
        url: url.to_owned(),
        resource,
        scopes,
        auth,
    })
}

/// The 2025-03-26 revision: the authorization server is the MCP server's origin, its metadata at
/// the root well-known URL (its `issuer` is recorded, not compared: no issuer was named to
/// look it up), else the default endpoints `/authorize`, `/token` and `/register`.
async fn legacy(
    http: &reqwest::Client,
    server: &Url,
    url: &str,
    challenge: Option<Bearer>,
) -> Result<Discovered> {
    let origin = server.origin().ascii_serialization();
    let well_known = format!("{origin}/.well-known/oauth-authorization-server");
    let auth = match json::<AuthServer>(http, &well_known).await {
        Ok(mut m) => {
            if m.issuer.is_empty() {
                m.issuer.clone_from(&origin);
            }
            checked(m, &origin, &well_known)?
        }
        Err(_) => AuthServer {
            issuer: origin.clone(),
            authorization_endpoint: format!("{origin}/authorize"),
            token_endpoint: format!("{origin}/token"),
            registration_endpoint: Some(format!("{origin}/register")),
            code_challenge_methods_supported: vec!["S256".into()],
            ..AuthServer::default()
        },
    };
    let mut resource = server.clone();
    resource.set_fragment(None);
    Ok(Discovered {
        url: url.to_owned(),
        resource: resource.to_string(),
        scopes: challenge
            .and_then(|c| c.scope)
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default(),
        auth,
    })
}

/// Sends the server an `initialize` without a token: its 401 challenge, if it sent one, and
/// whether it answered with success (some servers protect only their tools).
async fn probe(http: &reqwest::Client, server: &Url) -> Result<(Option<Bearer>, bool)> {
    let body = serde_json::json!({
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "keyfob", "version": env!("CARGO_PKG_VERSION")}
        }
    });
    let resp = http
        .post(server.clone())
        .header("accept", "application/json, text/event-stream")
        .json(&body)
        .send()
        .await
        .map_err(|e| reach(server, &e))?;
    let status = resp.status().as_u16();
    if (200..300).contains(&status) {
        return Ok((None, true));
    }
    let headers: Vec<String> = resp
        .headers()
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    Ok((challenge::bearer(headers.iter().map(String::as_str)), false))
}

fn reach(url: &Url, e: &reqwest::Error) -> Error {
    let what = if e.is_timeout() {
        "did not answer in time"
    } else {
        "cannot be reached"
    };
    Error::new(
        ErrorKind::Transport,
        format!(
            "{}://{} {what}",
            url.scheme(),
            url.host_str().unwrap_or_default()
        ),
    )
}

/// The resource metadata: at the challenge's URL, else path-inserted, else at the root.
async fn resource_metadata(
    http: &reqwest::Client,
    server: &Url,
    challenge: &Option<Bearer>,
) -> Result<(String, ResourceMetadata)> {
    let mut candidates = Vec::new();
    if let Some(url) = challenge.as_ref().and_then(|c| c.resource_metadata.clone()) {
        endpoint_url(&url, "the challenge's resource_metadata")?;
        candidates.push(url);
    } else {
        let path = server.path().trim_end_matches('/');
        let at = |p: &str| {
            let mut u = server.clone();
            u.set_path(p);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        };
        if !path.is_empty() {
            candidates.push(at(&format!("/.well-known/oauth-protected-resource{path}")));
        }
        candidates.push(at("/.well-known/oauth-protected-resource"));
    }
    let mut failures = Vec::new();
    for url in candidates {
        match json::<ResourceMetadata>(http, &url).await {
            Ok(m) => return Ok((url, m)),
            Err(why) => failures.push(format!("{url}: {why}")),
        }
    }
    Err(protocol(format!(
        "no protected resource metadata for {server} ({}); is it an MCP server that uses OAuth?",
        failures.join("; ")
    )))
}

/// Whether `resource` names `server` or a prefix of it: same scheme, host and port, and a path
/// that `server`'s path starts with (segment-wise).
fn covers(resource: &str, server: &Url) -> bool {
    let Ok(r) = Url::parse(resource) else {
        return false;
    };
    if r.origin() != server.origin() || r.fragment().is_some() {
        return false;
    }
    let rp = r.path().trim_end_matches('/');
    let sp = server.path();
    rp.is_empty() || sp == rp || sp.starts_with(&format!("{rp}/"))
}

/// The metadata of `issuer`, from the first of the spec's well-known URLs that answers.
async fn auth_server(http: &reqwest::Client, issuer: &str) -> Result<AuthServer> {
    let base = endpoint_url(issuer, "the authorization server's issuer")?;
    let path = base.path().trim_end_matches('/');
    let at = |p: String| {
        let mut u = base.clone();
        u.set_path(&p);
        u.set_query(None);
        u.to_string()
    };
    let candidates = if path.is_empty() {
        vec![
            at("/.well-known/oauth-authorization-server".into()),
            at("/.well-known/openid-configuration".into()),
        ]
    } else {
        vec![
            at(format!("/.well-known/oauth-authorization-server{path}")),
            at(format!("/.well-known/openid-configuration{path}")),
            at(format!("{path}/.well-known/openid-configuration")),
        ]
    };
    let mut failures = Vec::new();
    for url in candidates {
        let m = match json::<AuthServer>(http, &url).await {
            Ok(m) => m,
            Err(why) => {
                failures.push(format!("{url}: {why}"));
                continue;
            }
        };
        if m.issuer != issuer {
            return Err(protocol(format!(
                "the metadata at {url} names the issuer {:?}, not {issuer:?}; refusing to use it",
                printable(&m.issuer)
            )));
        }
        return checked(m, issuer, &url);
    }
    Err(protocol(format!(
        "no authorization server metadata for {issuer} ({})",
        failures.join("; ")
    )))
}

/// `m` when it offers PKCE with S256 and every endpoint is a usable URL.
fn checked(m: AuthServer, issuer: &str, url: &str) -> Result<AuthServer> {
    if !m
        .code_challenge_methods_supported
        .iter()
        .any(|c| c == "S256")
    {
        return Err(protocol(format!(
            "the authorization server {issuer} does not list S256 in \
             code_challenge_methods_supported (at {url}); MCP logins need PKCE with S256"
        )));
    }
    for (what, v) in [
        ("authorization_endpoint", Some(&m.authorization_endpoint)),
        ("token_endpoint", Some(&m.token_endpoint)),
        ("registration_endpoint", m.registration_endpoint.as_ref()),
        ("revocation_endpoint", m.revocation_endpoint.as_ref()),
        (
            "device_authorization_endpoint",
            m.device_authorization_endpoint.as_ref(),
        ),
    ] {
        if let Some(v) = v {
            endpoint_url(v, &format!("{issuer}'s {what}"))?;
        }
    }
    Ok(m)
}

/// GETs a JSON document; the reason it could not, otherwise.
async fn json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
) -> std::result::Result<T, String> {
    let resp = http
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                "no answer in time".to_owned()
            } else {
                "cannot be reached".to_owned()
            }
        })?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("HTTP {}", status.as_u16()));
    }
    let body = crate::oauth::read_capped(resp)
        .await
        .map_err(|e| e.to_string())?;
    serde_json::from_slice(&body).map_err(|e| format!("not the expected JSON ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resource_covers_its_own_paths_only() {
        let server = Url::parse("https://mcp.example.com/tenant/mcp").unwrap();
        for (resource, ok) in [
            ("https://mcp.example.com/tenant/mcp", true),
            ("https://mcp.example.com/tenant/mcp/", true),
            ("https://mcp.example.com/tenant", true),
            ("https://mcp.example.com", true),
            ("https://mcp.example.com/", true),
            ("https://mcp.example.com/ten", false),
            ("https://mcp.example.com/other/mcp", false),
            ("https://evil.example.com/tenant/mcp", false),
            ("http://mcp.example.com/tenant/mcp", false),
            ("https://mcp.example.com:8443/tenant/mcp", false),
            ("https://mcp.example.com/tenant/mcp#x", false),
            ("not a url", false),
        ] {
            assert_eq!(covers(resource, &server), ok, "{resource}");
        }
    }
}
