//! A provider's endpoints: config overrides first, then the issuer's metadata, then the spec's
//! URLs, whose `{field}` placeholders are filled from `[auth.<provider>]`.
//!
//! Invariants:
//! - Every endpoint is parsed and checked (https, or http on a loopback host; no user info)
//!   before it is used.
//! - A field filled into a host must be a DNS name, a field at the start a URL, a field in the
//!   path one segment; unless `allow_internal_endpoints`, none may make the endpoint a loopback,
//!   private or link-local address.
//! - `{client_id}` is filled URL-encoded, in spec and config URLs alike.

use url::Url;

use crate::config::{ProviderConfig, endpoint_url, is_internal};
use crate::error::{Error, ErrorKind, Result};
use crate::oauth::OAuth2Driver;

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

impl OAuth2Driver {
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
}

/// `template` with each `{field}` of `fields` replaced by that `[auth.<provider>]` value: at the
/// start, an http(s) URL without credentials and, unless `allow_internal_endpoints`, not a
/// loopback, private or link-local address; inside the host, a DNS name; in the path, one
/// segment.
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
            let at = out.find(&needle).unwrap_or_default();
            // Where the host ends: after `scheme://host`, or after a leading `{field}` (a
            // whole base URL) that is not filled yet.
            let host_start = if out.starts_with('{') {
                out.find('}')
            } else {
                out.find("://").map(|i| i + 3)
            };
            let host_end = host_start
                .and_then(|i| out[i..].find('/').map(|j| i + j))
                .unwrap_or(out.len());
            if at > host_end {
                // In the path: one segment, nothing that could climb up or start a query.
                let segment_ok = !value.is_empty()
                    && value != "."
                    && value != ".."
                    && value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
                if !segment_ok {
                    return Err(err(format!(
                        "{what} must be one path segment such as `023e105f4ecef8ad9ca31a8372d0c353`, not {:?}",
                        crate::error::printable(value)
                    )));
                }
                out = out.replace(&needle, value);
                continue;
            }
            if at > 0 {
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

    /// A field in the path takes one segment (Cloudflare's account id); a value that could leave
    /// the segment is refused.
    /// MUTATION: treating a path field as a host field accepts `a.b` but also refuses `a_b`;
    /// substituting it unchecked lets `../x` and `x?y` through and fails this.
    #[test]
    fn path_fields_take_one_segment() {
        let url = "https://api.cloudflare.com/client/v4/accounts/{account_id}/tokens/verify";
        let fill = |v: &str| fill_fields(url, &["account_id"], &config(&[("account_id", v)]), "cf");
        assert_eq!(
            fill("023e105f4ecef8ad9ca31a8372d0c353").unwrap(),
            "https://api.cloudflare.com/client/v4/accounts/023e105f4ecef8ad9ca31a8372d0c353/tokens/verify"
        );
        assert!(fill("acct_1").is_ok());
        // Whatever the order of the fields, a path field after a leading base field is a path
        // field.
        let tenant = fill_fields(
            "{base_url}/accounts/{id}",
            &["id", "base_url"],
            &config(&[("id", "acct_1"), ("base_url", "https://t.example")]),
            "x",
        );
        assert_eq!(tenant.unwrap(), "https://t.example/accounts/acct_1");
        for bad in ["..", "a/b", "x?y", "a#b", "", "%2e%2e", "a b"] {
            let e = fill(bad).expect_err(bad);
            assert!(e.to_string().contains("one path segment"), "{bad}: {e}");
        }
    }
}
