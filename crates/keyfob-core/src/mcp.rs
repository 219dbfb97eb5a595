//! Logging in to protected remote MCP servers: the client side of the MCP authorization spec.
//!
//! An MCP server becomes a provider defined by its URL. [`prepare`] discovers its authorization
//! server (`discovery.rs`), registers keyfob there or uses the configured client
//! (`registration.rs`), keeps what it found in a sealed record of the store, and adds the
//! provider (`mcp_<name>`) to the config the engine is built from; every verb of the engine
//! (login, refresh, credentials, status, logout) then serves it like any OAuth2 provider, with
//! PKCE S256 and the RFC 8707 `resource` on every authorization and token request.
//! [`restore`] adds the providers of earlier logins from their records, without the network.
//!
//! Invariants:
//! - A record lives at the reserved key (`mcp_<name>`, thread `~mcp`, profile `registration`);
//!   it is sealed like a session (the client secret is its secret) and is not a session: the
//!   engine never hands it out.
//! - A record is reused only for the same server URL, authorization server (issuer) and redirect
//!   URI; otherwise it is replaced, and the sessions of that server are deleted, since their
//!   tokens came from another authorization server or client.
//! - The provider's endpoints come from the record, so a token is only ever sent to the
//!   authorization server that issued it and to the MCP server it was issued for.

mod challenge;
mod discovery;
mod registration;

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use sha2::Digest;

pub use challenge::{Bearer, bearer};
pub use discovery::{AuthServer, Discovered, discover};
pub use registration::Registration;

use crate::config::{Config, CustomProvider, McpServer, endpoint_url};
use crate::error::{Error, ErrorKind, Result};
use crate::session::{Grant, Session, SessionKey};
use crate::store::{Expect, SessionStore};

/// The thread of MCP records; no session lives there.
pub const RECORD_THREAD: &str = "~mcp";
const RECORD_PROFILE: &str = "registration";

/// The provider id of the MCP server named `name`.
pub fn provider_id(name: &str) -> String {
    format!("mcp_{name}")
}

/// A name for a server given only by URL: its host, port and path in `[a-z0-9_]`, then 8 hex
/// digits of the URL's SHA-256, so that URLs that read alike (`api.example.com` and
/// `api-example.com`, http and https) never share a login
/// (`https://mcp.example.com/mcp` → `mcp_example_com_mcp_` and 8 hex digits).
///
/// # Errors
/// [`ErrorKind::Config`] when `url` is not an https URL (or http on loopback).
pub fn name_for(url: &str) -> Result<String> {
    let u = endpoint_url(url, "the MCP server URL")?;
    let text = format!(
        "{}_{}_{}",
        u.host_str().unwrap_or_default(),
        u.port().map(|p| p.to_string()).unwrap_or_default(),
        u.path()
    );
    let mut name = String::new();
    for c in text.chars() {
        let c = if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            '_'
        };
        if !(c == '_' && (name.is_empty() || name.ends_with('_'))) {
            name.push(c);
        }
    }
    let digest = hex::encode(sha2::Sha256::digest(u.as_str().as_bytes()));
    Ok(format!("{}_{}", name.trim_end_matches('_'), &digest[..8]))
}

/// How the threads of a protected MCP server's users begin (`keyfob-mcp-server` derives the
/// rest from each user's issuer and subject). Their login links open only through a gate that
/// checked the user ([`Engine::open_link_after_gate`](crate::Engine::open_link_after_gate)).
pub const USER_THREAD_PREFIX: &str = "mcp-user-";

/// Whether `thread` belongs to a protected MCP server's user.
pub fn is_user_thread(thread: &str) -> bool {
    thread.starts_with(USER_THREAD_PREFIX)
}

/// Whether a key is an MCP record's rather than a session's.
pub fn is_record(key: &SessionKey) -> bool {
    key.thread == RECORD_THREAD
}

fn record_key(id: &str) -> SessionKey {
    SessionKey::new(id, RECORD_THREAD, RECORD_PROFILE)
}

/// The HTTP client of discovery and registration: no redirects, bounded time.
fn http(config: &Config) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(config.session.http_timeout_secs.max(1)))
        .user_agent(concat!("keyfob/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::new(ErrorKind::Config, "cannot build the HTTP client").with_source(e))
}

/// The name and settings of `target`: a `[mcp.<name>]` table's name, or a URL (a table's, or
/// any server's, then named by [`name_for`]).
fn resolve(config: &Config, target: &str) -> Result<(String, McpServer)> {
    if let Some(s) = config.mcp.get(target) {
        return Ok((target.to_owned(), s.clone()));
    }
    if !target.contains("://") {
        return Err(Error::new(
            ErrorKind::Config,
            format!(
                "no MCP server named `{target}`: give its URL, or add [mcp.{target}] url = \
                 \"https://…\" to keyfob.toml"
            ),
        ));
    }
    if let Some((n, s)) = config.mcp.iter().find(|(_, s)| s.url == target) {
        return Ok((n.clone(), s.clone()));
    }
    let server = McpServer {
        url: target.to_owned(),
        ..McpServer::default()
    };
    Ok((name_for(target)?, server))
}

/// The provider id and the URL of `target` (a `[mcp.<name>]` name or a URL), without the
/// network.
///
/// # Errors
/// [`ErrorKind::Config`] for an unknown name or a bad URL.
pub fn server_of(config: &Config, target: &str) -> Result<(String, String)> {
    let (name, server) = resolve(config, target)?;
    Ok((provider_id(&name), server.url))
}

/// Resolves `target` — a `[mcp.<name>]` table's name or a server URL — to its server; discovers
/// it, registers keyfob where needed, stores the record and adds the provider to `config`.
/// Returns the provider id.
///
/// # Errors
/// [`ErrorKind::Config`] for an unknown name, a bad URL or a server that offers no way to
/// register; discovery's and registration's errors; store failures.
pub async fn prepare(
    config: &mut Config,
    store: &dyn SessionStore,
    target: &str,
) -> Result<String> {
    let (name, server) = resolve(config, target)?;
    let id = provider_id(&name);
    let redirect_uri = format!(
        "{}/auth/{id}/oauth2/callback",
        crate::engine::default_base(config)
    );
    let http = http(config)?;
    let found = discover(&http, &server.url).await?;
    let stored = store.get(&record_key(&id)).await?;
    let fits = stored.as_ref().is_some_and(|s| {
        let d = &s.grant.detail;
        let is = |k: &str, v: &str| d.get(k).and_then(Value::as_str) == Some(v);
        is("url", &server.url)
            && is("issuer", &found.auth.issuer)
            && is("redirect_uri", &redirect_uri)
            && server
                .client_id
                .as_deref()
                .is_none_or(|c| is("client_id", c))
            && (server.client_id.is_some()
                || server.client_metadata_url.as_deref().is_none_or(|u| {
                    is("client_id", u) || !found.auth.client_id_metadata_document_supported
                }))
    });
    let record = match stored {
        Some(s) if fits => s,
        stored => {
            if stored.is_some() {
                forget(store, &id).await?;
            }
            // A client registered by hand, else the metadata document where the server takes
            // one, else registration.
            let registration = match (&server.client_id, &server.client_metadata_url) {
                (Some(client_id), _) => Registration {
                    client_id: client_id.clone(),
                    auth_method: registration::auth_method(
                        &found.auth,
                        server.client_secret.is_some(),
                    ),
                    client_secret: server.client_secret.clone(),
                },
                (None, Some(document)) if found.auth.client_id_metadata_document_supported => {
                    Registration {
                        client_id: document.clone(),
                        client_secret: None,
                        auth_method: "none".into(),
                    }
                }
                _ => registration::register(&http, &found.auth, &redirect_uri, &name).await?,
            };
            let record = record(&id, &found, &registration, &redirect_uri, &server.scopes);
            match store.put(&record, Expect::Absent).await {
                Ok(_) => record,
                // Another process registered at the same moment: use its registration.
                Err(e) if e.kind() == ErrorKind::Conflict => {
                    store.get(&record_key(&id)).await?.ok_or(e)?
                }
                Err(e) => return Err(e),
            }
        }
    };
    add_provider(config, &record);
    Ok(id)
}

/// Adds the provider of every stored MCP record to `config` (no network).
///
/// # Errors
/// Store failures.
pub async fn restore(config: &mut Config, store: &dyn SessionStore) -> Result<()> {
    for record in store.list(Some(RECORD_THREAD)).await? {
        let id = &record.key.provider;
        if record.key.profile != RECORD_PROFILE || config.providers.contains_key(id) {
            continue;
        }
        // A table whose URL changed since: that login is for another server.
        let table = id
            .strip_prefix("mcp_")
            .and_then(|name| config.mcp.get(name));
        if table.is_some_and(|t| Some(t.url.as_str()) != text(&record, "url")) {
            continue;
        }
        let usable = ["url", "authorization_endpoint", "token_endpoint"]
            .iter()
            .all(|k| text(&record, k).is_some_and(|u| endpoint_url(u, k).is_ok()))
            && text(&record, "client_id").is_some_and(|c| !c.is_empty());
        if !usable {
            tracing::warn!(provider = %id, "skipping an unusable MCP record; log in to that server again");
            continue;
        }
        add_provider(config, &record);
    }
    Ok(())
}

/// Deletes the record and every session of the MCP provider `id`.
async fn forget(store: &dyn SessionStore, id: &str) -> Result<()> {
    for s in store.list(None).await? {
        if s.key.provider == id {
            store.delete(&s.key).await?;
        }
    }
    Ok(())
}

fn record(
    id: &str,
    found: &Discovered,
    registration: &Registration,
    redirect_uri: &str,
    extra_scopes: &[String],
) -> Session {
    let a = &found.auth;
    let mut detail = Map::new();
    let mut put = |k: &str, v: Option<&str>| {
        if let Some(v) = v {
            detail.insert(k.to_owned(), Value::String(v.to_owned()));
        }
    };
    put("url", Some(&found.url));
    put("resource", Some(&found.resource));
    put("issuer", Some(&a.issuer));
    put("authorization_endpoint", Some(&a.authorization_endpoint));
    put("token_endpoint", Some(&a.token_endpoint));
    put("revocation_endpoint", a.revocation_endpoint.as_deref());
    put(
        "device_authorization_endpoint",
        a.device_authorization_endpoint.as_deref(),
    );
    put("client_id", Some(&registration.client_id));
    put("auth_method", Some(&registration.auth_method));
    put("redirect_uri", Some(redirect_uri));
    detail.insert(
        "iss_always".into(),
        Value::Bool(a.authorization_response_iss_parameter_supported),
    );
    let mut scopes = found.scopes.clone();
    for s in extra_scopes {
        if !scopes.contains(s) {
            scopes.push(s.clone());
        }
    }
    detail.insert(
        "scopes".into(),
        Value::Array(scopes.into_iter().map(Value::String).collect()),
    );
    let mut grant = Grant::bearer(SecretString::from(registration.secret().to_owned()));
    grant.detail = detail;
    let now = crate::now();
    Session {
        key: record_key(id),
        handler: "mcp-record".into(),
        grant,
        created_at: now,
        updated_at: now,
        refresh_error: None,
        version: 0,
    }
}

fn text<'a>(s: &'a Session, k: &str) -> Option<&'a str> {
    s.grant.detail.get(k).and_then(Value::as_str)
}

fn registration_of(s: &Session) -> Registration {
    let secret = s.grant.access_token.expose_secret();
    Registration {
        client_id: text(s, "client_id").unwrap_or_default().to_owned(),
        client_secret: (!secret.is_empty()).then(|| SecretString::from(secret.to_owned())),
        auth_method: text(s, "auth_method").unwrap_or("none").to_owned(),
    }
}

/// The `[providers.<id>]` and `[auth.<id>]` tables of a record.
fn add_provider(config: &mut Config, record: &Session) {
    let id = record.key.provider.clone();
    let url = text(record, "url").unwrap_or_default();
    let scopes = record
        .grant
        .detail
        .get("scopes")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let registration = registration_of(record);
    let custom = CustomProvider {
        display_name: Some(format!("MCP server {url}")),
        authorize_url: text(record, "authorization_endpoint").map(str::to_owned),
        token_url: text(record, "token_endpoint").map(str::to_owned),
        revoke_url: text(record, "revocation_endpoint").map(str::to_owned),
        device_url: text(record, "device_authorization_endpoint").map(str::to_owned),
        scopes,
        pkce: true,
        client_auth: if registration.auth_method == "client_secret_basic" {
            "basic".into()
        } else {
            "body".into()
        },
        refresh: "plain".into(),
        ..CustomProvider::default()
    };
    let auth = config.auth.entry(id.clone()).or_default();
    auth.client_id = Some(registration.client_id);
    auth.client_secret = registration.client_secret;
    auth.resource = text(record, "resource").map(str::to_owned);
    auth.exact_issuer = text(record, "issuer").map(str::to_owned);
    auth.iss_always = record.grant.detail.get("iss_always") == Some(&Value::Bool(true));
    auth.use_recommended_scopes = true;
    config.providers.insert(id, custom);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_host_port_and_path() {
        for (url, name) in [
            ("https://mcp.example.com/mcp", "mcp_example_com_mcp_"),
            ("http://localhost:3000/mcp", "localhost_3000_mcp_"),
            ("https://API.Example.com/", "api_example_com_"),
            ("https://a.example/v1//sse/", "a_example_v1_sse_"),
        ] {
            let got = name_for(url).unwrap();
            assert!(
                got.starts_with(name) && got.len() == name.len() + 8,
                "{url}: {got}"
            );
            assert!(crate::spec::is_valid_id(&provider_id(&got)));
        }
        // Alike to read, different servers: different logins. The same URL: the same name.
        let names: std::collections::BTreeSet<String> = [
            "https://api.example.com/mcp",
            "https://api-example.com/mcp",
            "https://api.example.com/mcp/",
        ]
        .iter()
        .map(|u| name_for(u).unwrap())
        .collect();
        assert_eq!(names.len(), 3, "{names:?}");
        assert_eq!(
            name_for("https://API.example.com/mcp").unwrap(),
            name_for("https://api.example.com/mcp").unwrap()
        );
        assert_eq!(
            name_for("http://mcp.example.com/mcp").unwrap_err().kind(),
            ErrorKind::Config
        );
    }
}
