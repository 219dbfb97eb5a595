//! Entry points for the cargo-fuzz targets in `fuzz/` (hidden, not an API: it may change at any
//! time). They reach code that is private to this crate without widening its visibility.

use std::fmt;

use oauth2::basic::BasicErrorResponse;
use oauth2::{AuthUrl, AuthorizationCode, ClientId, RequestTokenError, TokenResponse, TokenUrl};
use serde_json::Value;

use crate::oauth::TokenResp;
use crate::spec::OAuth2Spec;

/// `oauth::normalize`: a token-endpoint answer (status, `Content-Type`, body) rewritten into
/// RFC 6749 JSON, and the status to report.
pub fn normalize(status: u16, content_type: &str, body: &[u8], spec: &OAuth2Spec) -> (u16, Value) {
    crate::oauth::normalize(status, content_type, body, spec)
}

/// What the `oauth2` crate made of a normalized answer, without any secret.
#[derive(Debug)]
pub enum Parsed {
    /// A token response.
    Token {
        /// Whether it carries a refresh token.
        refresh_token: bool,
        /// `expires_in`, in seconds.
        expires_in: Option<u64>,
        /// How many scopes it names.
        scopes: Option<usize>,
        /// Its non-standard fields.
        extra_fields: usize,
    },
    /// An RFC 6749 error response, with its code.
    ServerError(String),
    /// A body the crate could not parse, with the path that failed.
    Parse(String),
    /// Anything else the crate refused (an empty body, a wrong content type).
    Other(String),
}

#[derive(Debug)]
struct Never;

impl fmt::Display for Never {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unreachable")
    }
}

impl std::error::Error for Never {}

/// Normalizes an answer exactly as `Runtime::send` does (`oauth::normalized_response`), and
/// hands it to an `oauth2` client typed like the engine's for an authorization-code exchange.
pub fn exchange(status: u16, content_type: &str, body: &[u8], spec: &OAuth2Spec) -> Parsed {
    let resp = crate::oauth::normalized_response(status, content_type, body, spec);
    let client = oauth2::Client::<
        BasicErrorResponse,
        TokenResp,
        oauth2::basic::BasicTokenIntrospectionResponse,
        oauth2::StandardRevocableToken,
        oauth2::basic::BasicRevocationErrorResponse,
    >::new(ClientId::new("fuzz".into()))
    .set_auth_uri(AuthUrl::new("https://example.invalid/authorize".into()).expect("valid URL"))
    .set_token_uri(TokenUrl::new("https://example.invalid/token".into()).expect("valid URL"));
    let answer = move |_req: oauth2::HttpRequest| Ok::<_, Never>(resp.clone());
    match client
        .exchange_code(AuthorizationCode::new("code".into()))
        .request(&answer)
    {
        Ok(t) => Parsed::Token {
            refresh_token: t.refresh_token().is_some(),
            expires_in: t.expires_in().map(|d| d.as_secs()),
            scopes: t.scopes().map(Vec::len),
            extra_fields: t.extra_fields().rest.len(),
        },
        Err(RequestTokenError::ServerResponse(r)) => Parsed::ServerError(r.error().to_string()),
        Err(RequestTokenError::Parse(e, _)) => Parsed::Parse(e.path().to_string()),
        Err(RequestTokenError::Other(m)) => Parsed::Other(m),
        Err(RequestTokenError::Request(_)) => unreachable!("the canned answer never fails"),
    }
}
