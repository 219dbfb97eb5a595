//! Authorization server metadata: OpenID Connect discovery, and RFC 8414 when that fails or lacks
//! an endpoint keyfob uses, merged and cached per issuer.
//!
//! Invariants:
//! - A document that names another issuer than the configured one is refused outright (RFC 8414
//!   §3.3; a trailing slash is forgiven).
//! - Metadata without an authorization or a token endpoint is an error and is not cached; what
//!   one document lacks is taken from the other.

use serde::Deserialize;

use crate::config::endpoint_url;
use crate::error::{Error, ErrorKind, Result};
use crate::oauth::Runtime;

/// An authorization server's metadata: OpenID Connect discovery
/// (`<issuer>/.well-known/openid-configuration`) and RFC 8414
/// (`/.well-known/oauth-authorization-server<issuer path>`), merged. Each document's `issuer`
/// must be the configured one.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Discovered {
    /// The issuer both documents name (checked against the configured one).
    pub(crate) issuer: Option<String>,
    pub(super) authorization_endpoint: Option<String>,
    pub(super) token_endpoint: Option<String>,
    pub(super) revocation_endpoint: Option<String>,
    pub(super) device_authorization_endpoint: Option<String>,
    pub(super) userinfo_endpoint: Option<String>,
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

impl Runtime {
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
}
