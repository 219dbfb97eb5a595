//! Form requests built by hand with the client's credentials, for what the `oauth2` crate's
//! typestate client does not send: device authorization, device polling and RFC 7009
//! revocation.
//!
//! Invariants:
//! - The client's credentials go in exactly one place: an HTTP Basic header (each part
//!   form-url-encoded, RFC 6749 §2.3.1) or the body, as the spec or the revocation style says.
//! - Without a client id, nothing is sent.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use oauth2::http::{self, HeaderValue, header};
use secrecy::ExposeSecret;
use url::Url;

use crate::error::{ErrorKind, Result};
use crate::oauth::OAuth2Driver;
use crate::oauth::runtime::status_and_body;
use crate::spec::ClientAuth;

/// A request body's fields.
pub(super) type Form = Vec<(&'static str, String)>;

impl OAuth2Driver {
    /// A form with the client's credentials placed as `auth` says (the spec's method, except
    /// for revocation styles that name their own), and the Basic header when that is the
    /// method.
    pub(super) fn authenticated_form(
        &self,
        mut form: Form,
        auth: ClientAuth,
    ) -> Result<(Form, Option<String>)> {
        let id = self
            .config
            .client_id
            .clone()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                self.err(
                    ErrorKind::Config,
                    format!(
                        "no OAuth2 client id: set client_id in [auth.{}]",
                        self.provider
                    ),
                )
            })?;
        let secret = self
            .config
            .client_secret
            .as_ref()
            .map(|s| s.expose_secret().to_owned());
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        match (auth, secret) {
            (ClientAuth::Basic, Some(secret)) => {
                let basic = STANDARD.encode(format!("{}:{}", enc(&id), enc(&secret)));
                Ok((form, Some(format!("Basic {basic}"))))
            }
            (_, secret) => {
                form.push(("client_id", id));
                if let Some(s) = secret {
                    form.push(("client_secret", s));
                }
                Ok((form, None))
            }
        }
    }

    pub(super) fn form_request(&self, url: &Url, form: Form) -> Result<oauth2::HttpRequest> {
        self.form_request_as(url, form, self.spec.client_auth)
    }

    /// [`Self::form_request`] with the client authentication method `auth`.
    fn form_request_as(
        &self,
        url: &Url,
        form: Form,
        auth: ClientAuth,
    ) -> Result<oauth2::HttpRequest> {
        let (form, basic) = self.authenticated_form(form, auth)?;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish()
            .into_bytes();
        let mut req = http::Request::builder()
            .method(http::Method::POST)
            .uri(url.as_str())
            .header(header::ACCEPT, "application/json")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(b) = basic {
            let value = HeaderValue::from_str(&b)
                .map_err(|_| self.err(ErrorKind::Config, "the client credentials are not ASCII"))?;
            req = req.header(header::AUTHORIZATION, value);
        }
        req.body(body)
            .map_err(|_| self.err(ErrorKind::Config, "cannot build the request"))
    }

    /// POSTs an authenticated form as is (no token-response normalizing): status and body.
    pub(super) async fn post_form(
        &self,
        url: &Url,
        form: Form,
        what: &str,
    ) -> Result<(u16, Vec<u8>)> {
        self.post_form_as(url, form, what, self.spec.client_auth)
            .await
    }

    /// [`Self::post_form`] with the client authentication method `auth`.
    pub(super) async fn post_form_as(
        &self,
        url: &Url,
        form: Form,
        what: &str,
        auth: ClientAuth,
    ) -> Result<(u16, Vec<u8>)> {
        let (parts, body) = self.form_request_as(url, form, auth)?.into_parts();
        let resp = self
            .runtime
            .client
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(body)
            .send()
            .await
            .map_err(|e| self.runtime.transport(what, &e))?;
        Ok(status_and_body(resp).await)
    }
}
