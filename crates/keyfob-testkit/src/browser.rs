//! A scripted browser that walks an authorization request through the test IdP's pages.
//!
//! It keeps cookies (oidc-provider ties interactions and sessions to them) and
//! follows redirects itself, but only within the IdP's origin: the final
//! redirect to the client's `redirect_uri` is returned, not requested, so the
//! test decides what reaches the callback server. It also confirms device
//! flow user codes (RFC 8628), and opens keyfob's own login links (`…/start?state=…`),
//! keeping the cookie that binds the flow to this browser, so that the callback and the token
//! form it reaches through [`Browser::get`] and [`Browser::post_form`] are accepted.

use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::{StatusCode, header};
use url::Url;

/// Upper bound on requests for one authorization, against redirect loops.
const MAX_STEPS: usize = 20;

/// A user agent with a cookie jar, for the [`Idp`](crate::Idp)'s interaction pages.
///
/// One `Browser` is one user: after a first approval the IdP remembers the
/// login session and the grant, so a later request for the same client and
/// scopes is answered at once, without a page. Use a new `Browser` for a
/// fresh user (e.g. to test [`deny`](Self::deny) after an approval).
#[derive(Debug, Clone)]
pub struct Browser {
    http: reqwest::Client,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    /// A browser with an empty cookie jar.
    ///
    /// # Panics
    ///
    /// If the HTTP client cannot be built (no TLS backend; not expected).
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .expect("building the browser's HTTP client");
        Self { http }
    }

    /// A browser on an HTTP client of the caller's, sharing its cookie jar (build it with
    /// `cookie_store(true)` and no redirect following), so the caller's own requests to
    /// keyfob carry the cookie a login link gave this browser.
    pub fn with_http(http: reqwest::Client) -> Self {
        Self { http }
    }

    /// Opens `authorize_url`, logs in and approves every requested scope.
    ///
    /// Returns the absolute URL the IdP redirects to at the end: the client's
    /// `redirect_uri` with `code`, `state` and `iss`. It is not requested.
    ///
    /// # Errors
    ///
    /// If the IdP answers with an error page (e.g. an unregistered
    /// `redirect_uri`), an unexpected page, or too many redirects.
    pub async fn approve(&self, authorize_url: &str) -> anyhow::Result<String> {
        self.authorize(authorize_url, "approve").await
    }

    /// Like [`approve`](Self::approve), but logs in as `account` (the test IdP offers
    /// `user-2` besides its default `user-1`): a second user.
    ///
    /// # Errors
    /// As for [`approve`](Self::approve).
    pub async fn approve_as(&self, authorize_url: &str, account: &str) -> anyhow::Result<String> {
        self.authorize(authorize_url, &format!("approve-as-{account}"))
            .await
    }

    /// Opens `authorize_url` and denies the request.
    ///
    /// Returns the absolute URL the IdP redirects to at the end: the client's
    /// `redirect_uri` with `error=access_denied` and `state`. It is not
    /// requested. (If this browser already approved the same request earlier,
    /// no page is shown and the redirect carries a `code` instead.)
    ///
    /// # Errors
    ///
    /// As for [`approve`](Self::approve).
    pub async fn deny(&self, authorize_url: &str) -> anyhow::Result<String> {
        self.authorize(authorize_url, "deny").await
    }

    /// Opens a device flow's `verification_uri_complete` (RFC 8628), confirms
    /// the user code, logs in and approves every requested scope.
    ///
    /// Returns once the IdP shows its success page; the device's next poll of
    /// the token endpoint then yields tokens.
    ///
    /// # Errors
    ///
    /// If the IdP shows an error or an unexpected page (e.g. an unknown,
    /// expired or already used user code).
    pub async fn approve_device(&self, verification_uri_complete: &str) -> anyhow::Result<()> {
        self.device(verification_uri_complete, "approve", "device-done")
            .await
    }

    /// Like [`approve_device`](Self::approve_device), but denies at the
    /// consent step; the device's next poll yields `access_denied`.
    ///
    /// # Errors
    ///
    /// As for [`approve_device`](Self::approve_device).
    pub async fn deny_device(&self, verification_uri_complete: &str) -> anyhow::Result<()> {
        self.device(verification_uri_complete, "deny", "device-aborted")
            .await
    }

    /// Opens one of keyfob's login links (`…/auth/<provider>/start?state=…`): keeps the cookie
    /// it sets and returns where it sends the browser (an authorization URL or the token page).
    ///
    /// # Errors
    /// When keyfob answers anything but a redirect (its error page's text is in the error).
    pub async fn open_link(&self, url: &str) -> anyhow::Result<String> {
        let base = Url::parse(url).with_context(|| format!("invalid URL {url:?}"))?;
        let resp = self
            .http
            .get(base.clone())
            .send()
            .await
            .with_context(|| format!("requesting {url}"))?;
        let status = resp.status();
        if status != StatusCode::SEE_OTHER {
            let body = resp.text().await.unwrap_or_default();
            bail!("the login link answered {status}: {}", page_text(&body));
        }
        let location = resp
            .headers()
            .get(header::LOCATION)
            .context("a 303 without Location")?
            .to_str()
            .context("non-ASCII Location")?;
        Ok(base.join(location)?.into())
    }

    /// GETs `url`, which must redirect (an authorization server that approves at once), and
    /// returns where it sends the browser, without following.
    ///
    /// # Errors
    /// When the request fails or the answer is not a redirect (its text is in the error).
    pub async fn redirect_of(&self, url: &str) -> anyhow::Result<String> {
        let base = Url::parse(url).with_context(|| format!("invalid URL {url:?}"))?;
        let resp = self.http.get(base.clone()).send().await?;
        let status = resp.status();
        let Some(location) = resp.headers().get(header::LOCATION).cloned() else {
            let body = resp.text().await.unwrap_or_default();
            bail!(
                "{url} answered {status}, not a redirect: {}",
                page_text(&body)
            );
        };
        Ok(base.join(location.to_str()?)?.into())
    }

    /// GETs `url` with this browser's cookies (a callback, a token page): status and body.
    ///
    /// # Errors
    /// When the request fails.
    pub async fn get(&self, url: &str) -> anyhow::Result<(StatusCode, String)> {
        let resp = self
            .http
            .get(url)
            .send()
            .await
            .with_context(|| format!("requesting {url}"))?;
        let status = resp.status();
        Ok((status, resp.text().await?))
    }

    /// POSTs a form to `url` with this browser's cookies, as the page's own form would (same
    /// origin): status and body.
    ///
    /// # Errors
    /// When the request fails.
    pub async fn post_form(
        &self,
        url: &str,
        fields: &[(&str, &str)],
    ) -> anyhow::Result<(StatusCode, String)> {
        let origin = Url::parse(url)?.origin().ascii_serialization();
        let resp = self
            .http
            .post(url)
            .header(header::ORIGIN, origin)
            .header("sec-fetch-site", "same-origin")
            .form(fields)
            .send()
            .await
            .with_context(|| format!("posting to {url}"))?;
        let status = resp.status();
        Ok((status, resp.text().await?))
    }

    async fn authorize(&self, url: &str, action: &str) -> anyhow::Result<String> {
        // keyfob's login link first, when given one: it binds the flow to this browser.
        let parsed = Url::parse(url).with_context(|| format!("invalid URL {url:?}"))?;
        let authorize_url = if parsed.path().ends_with("/start") {
            self.open_link(url).await?
        } else {
            url.to_owned()
        };
        match self.walk(&authorize_url, action, None).await? {
            End::Left(url) => Ok(url),
            End::Page => unreachable!("walk ends on a page only with a marker"),
        }
    }

    async fn device(&self, uri: &str, action: &str, done_id: &str) -> anyhow::Result<()> {
        match self.walk(uri, action, Some(done_id)).await? {
            End::Page => Ok(()),
            End::Left(url) => bail!("the device flow redirected away from the IdP, to {url}"),
        }
    }

    /// Follows redirects within the IdP's origin, clicks the link with
    /// `id="<action>"` on interaction pages and submits the device flow's
    /// forms (see [`page_form`]), until a redirect leaves the IdP or a page with
    /// `id="<done_id>"` shows.
    async fn walk(&self, start: &str, action: &str, done_id: Option<&str>) -> anyhow::Result<End> {
        let mut url = Url::parse(start).with_context(|| format!("invalid URL {start:?}"))?;
        let idp_origin = url.origin();
        let mut form: Option<Vec<(String, String)>> = None;

        for _ in 0..MAX_STEPS {
            let req = match form.take() {
                Some(fields) => self.http.post(url.clone()).form(&fields),
                None => self.http.get(url.clone()),
            };
            let resp = req
                .send()
                .await
                .with_context(|| format!("requesting {url}"))?;
            let status = resp.status();

            if status.is_redirection() {
                let location = resp
                    .headers()
                    .get(header::LOCATION)
                    .with_context(|| format!("{status} from {url} without Location"))?
                    .to_str()
                    .with_context(|| format!("non-ASCII Location from {url}"))?;
                let next = url
                    .join(location)
                    .with_context(|| format!("bad Location {location:?} from {url}"))?;
                if next.origin() != idp_origin {
                    return Ok(End::Left(next.into()));
                }
                url = next;
                continue;
            }

            let body = resp
                .text()
                .await
                .with_context(|| format!("reading {url}"))?;
            if status != StatusCode::OK {
                bail!("the IdP answered {status} at {url}: {}", page_text(&body));
            }
            if let Some(done_id) = done_id {
                if body.contains(&format!("id=\"{done_id}\"")) {
                    return Ok(End::Page);
                }
            }
            if let Some(href) = link_href(&body, action) {
                url = url
                    .join(&href)
                    .with_context(|| format!("bad `{action}` link {href:?} at {url}"))?;
            } else if let Some((target, fields)) = page_form(&body) {
                let next = url
                    .join(&target)
                    .with_context(|| format!("bad form action {target:?} at {url}"))?;
                if next.origin() != idp_origin {
                    bail!(
                        "the IdP page at {url} posts a form to {next} (response_mode=form_post is not supported)"
                    );
                }
                url = next;
                form = Some(fields);
            } else {
                bail!(
                    "the IdP page at {url} has no `{action}` link: {}",
                    page_text(&body)
                );
            }
        }
        bail!("more than {MAX_STEPS} steps at the IdP, last at {url}")
    }
}

/// Where a walk through the IdP's pages ended.
enum End {
    /// A redirect out of the IdP's origin, to this URL.
    Left(String),
    /// A page with the expected marker.
    Page,
}

/// The form the browser submits on a device flow page: oidc-provider's
/// confirm form (`<form id="op.deviceConfirmForm" ...>`), or the first form of
/// a page that submits it by script (oidc-provider posts the user code from
/// `verification_uri_complete` that way). Returns its action and fields.
fn page_form(html: &str) -> Option<(String, Vec<(String, String)>)> {
    let start = match html.find("<form id=\"op.deviceConfirmForm\"") {
        Some(i) => i,
        None if html.contains("document.forms[0].submit()") => html.find("<form")?,
        None => return None,
    };
    let form = &html[start..start + html[start..].find("</form>")?];
    let action = attr(form, "action")?;
    let fields = form
        .split("<input")
        .skip(1)
        .filter_map(|tag| Some((attr(tag, "name")?, attr(tag, "value").unwrap_or_default())))
        .collect();
    Some((action, fields))
}

/// The value of ` name="..."` in the tag text starting `tag`, decoded.
fn attr(tag: &str, name: &str) -> Option<String> {
    let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
    let marker = format!(" {name}=\"");
    let start = tag.find(&marker)? + marker.len();
    let len = tag[start..].find('"')?;
    Some(decode_entities(&tag[start..start + len]))
}

/// The `href` of the element with `id="<id>"`, as `server.mjs` writes it:
/// `<a id="approve" href="...">`.
fn link_href(html: &str, id: &str) -> Option<String> {
    let marker = format!("id=\"{id}\" href=\"");
    let start = html.find(&marker)? + marker.len();
    let len = html[start..].find('"')?;
    Some(decode_entities(&html[start..start + len]))
}

/// A page's text without tags, on one line, for error messages.
fn page_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    decode_entities(&text)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Decodes what `server.mjs` and oidc-provider escape: numeric character
/// references and `&amp;`, `&lt;`, `&gt;`, `&quot;`; anything else is left as is.
fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let decoded = rest.find(';').and_then(|end| {
            let c = match &rest[1..end] {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                num => char::from_u32(num.strip_prefix('#')?.parse().ok()?)?,
            };
            Some((c, end + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_links_and_decodes_entities() {
        let html = r#"<p><a id="approve" href="/i/a&#38;b/approve">A</a> <a id="deny" href="/i/x/deny">D</a>"#;
        assert_eq!(
            link_href(html, "approve").as_deref(),
            Some("/i/a&b/approve")
        );
        assert_eq!(link_href(html, "deny").as_deref(), Some("/i/x/deny"));
        assert_eq!(link_href(html, "other"), None);
        let form = r#"<form id="op.deviceConfirmForm" method="post" action="/device">
<input type="hidden" name="xsrf" value="x&#38;y"/>
<input type="hidden" name="user_code" value="ABCD-EFGH"/>
</form>"#;
        let (action, fields) = page_form(form).unwrap();
        assert_eq!(action, "/device");
        assert_eq!(
            fields,
            [
                ("xsrf".into(), "x&y".into()),
                ("user_code".into(), "ABCD-EFGH".into())
            ]
        );
        assert_eq!(
            page_text("<pre>error=x\nclient&#39;s &amp; &nope; &#zz;</pre>"),
            "error=x client's & &nope; &#zz;"
        );
    }
}
