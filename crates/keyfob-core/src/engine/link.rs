//! Login links bound to the browser that opened them.
//!
//! A browser flow's prompt is keyfob's start link, `…/auth/<provider>/start?state=…`. The first
//! browser to open it gets a cookie (`keyfob-<flow id>`, HttpOnly, SameSite=Lax, scoped to the
//! provider's path) whose SHA-256 the flow records ([`SessionStore::bind_pending`], atomic), and
//! is sent on to the provider's authorization URL or the token-entry page. The OAuth2 callback,
//! the token page and its form accept a flow's `state` only together with that cookie.
//!
//! Invariants:
//! - A `state` alone completes nothing: someone who learns it (from another user's view of a
//!   process's arguments, a proxy log, the authorization URL) cannot attach their account to the
//!   flow, because their browser never received the flow's cookie.
//! - Exactly one browser is bound to a flow, the first to open the link; a second browser gets
//!   an error page and the first one's login goes on.
//! - Only hashes of cookies are stored; cookie values live in the browser and in the
//!   `Set-Cookie` answer of the start link.
//!
//! [`SessionStore::bind_pending`]: crate::store::SessionStore::bind_pending

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

use crate::engine::complete::unknown_link;
use crate::engine::{Engine, random_token, state_hash};
use crate::error::{Error, ErrorKind, Result};
use crate::now;
use crate::session::SessionKey;
use crate::store::PendingFlow;

/// The prefix of every cookie keyfob sets.
pub const COOKIE_PREFIX: &str = "keyfob-";

/// keyfob's cookies among those a browser sent (`Cookie` headers): how a flow recognises the
/// browser that opened its link. Other cookies are dropped; at most 32 are kept.
#[derive(Clone, Default)]
pub struct LinkCookies(Vec<(String, SecretString)>);

impl fmt::Debug for LinkCookies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, _)| name))
            .finish()
    }
}

impl LinkCookies {
    /// None: a request without cookies (a script, another browser).
    pub fn none() -> Self {
        Self::default()
    }

    /// keyfob's cookies from the values of a request's `Cookie` headers.
    pub fn from_headers<'a>(headers: impl IntoIterator<Item = &'a str>) -> Self {
        let mut out = Vec::new();
        for header in headers {
            for pair in header.split(';') {
                let Some((name, value)) = pair.trim().split_once('=') else {
                    continue;
                };
                if name.starts_with(COOKIE_PREFIX) && out.len() < 32 {
                    out.push((name.to_owned(), SecretString::from(value.trim().to_owned())));
                }
            }
        }
        LinkCookies(out)
    }

    /// One cookie, as a browser would send it back (for programs that drive the engine
    /// directly, and tests).
    pub fn with(cookie: &SetCookie) -> Self {
        LinkCookies(vec![(cookie.name.clone(), cookie.value.clone())])
    }

    /// Whether the cookie `name` is here and hashes to `hash`.
    fn proves(&self, name: &str, hash: &str) -> bool {
        self.0
            .iter()
            .any(|(n, v)| n == name && state_hash(v.expose_secret()) == hash)
    }
}

/// A cookie for the browser that opened a login link.
#[derive(Clone)]
pub struct SetCookie {
    /// `keyfob-<flow id>`.
    pub name: String,
    /// 32 random bytes, base64url.
    pub value: SecretString,
    /// The provider's path on the callback server (`/auth/<provider>/`, under any prefix).
    pub path: String,
    /// Seconds until the flow expires.
    pub max_age: i64,
    /// Whether the server is reached over https.
    pub secure: bool,
}

impl fmt::Debug for SetCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SetCookie")
            .field("name", &self.name)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SetCookie {
    /// The `Set-Cookie` header value.
    ///
    /// # Security
    /// It holds the cookie's value.
    pub fn header(&self) -> String {
        format!(
            "{}={}; Path={}; Max-Age={}; HttpOnly; SameSite=Lax{}",
            self.name,
            self.value.expose_secret(),
            self.path,
            self.max_age.max(1),
            if self.secure { "; Secure" } else { "" }
        )
    }
}

/// What opening a start link gives the browser.
#[derive(Debug)]
pub struct Opened {
    /// The cookie to set; `None` when this browser holds it already (the link opened twice).
    pub cookie: Option<SetCookie>,
    /// Where to send the browser: the authorization URL or the token-entry page.
    pub next_url: SecretString,
}

fn cookie_name(flow: &PendingFlow) -> String {
    format!("{COOKIE_PREFIX}{}", flow.id)
}

fn opened_elsewhere() -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        "this login link was opened in another browser; finish the login there, or start it again",
    )
}

impl Engine {
    /// Opens a start link: binds the flow of `state` to this browser (the first to open it) and
    /// says where to send it.
    ///
    /// # Errors
    /// As for [`Engine::complete_oauth2`]'s `state` checks; [`ErrorKind::InvalidInput`] when
    /// another browser opened the link first.
    /// The link of a protected MCP server's user ([`crate::mcp::is_user_thread`]) is refused:
    /// only that server, which checks who opens it, may open it
    /// ([`Engine::open_link_after_gate`]).
    pub async fn open_link(
        &self,
        provider: &str,
        state: Option<&str>,
        cookies: &LinkCookies,
    ) -> Result<Opened> {
        self.open(provider, state, cookies, false).await
    }

    /// [`Engine::open_link`] for a caller that made sure the browser is the user the flow is
    /// for (the gate of a protected MCP server's callback server).
    ///
    /// # Errors
    /// As [`Engine::open_link`].
    pub async fn open_link_after_gate(
        &self,
        provider: &str,
        state: Option<&str>,
        cookies: &LinkCookies,
    ) -> Result<Opened> {
        self.open(provider, state, cookies, true).await
    }

    async fn open(
        &self,
        provider: &str,
        state: Option<&str>,
        cookies: &LinkCookies,
        gated: bool,
    ) -> Result<Opened> {
        let (hash, pending) = self.waiting_flow(provider, state).await?;
        if !gated && crate::mcp::is_user_thread(&pending.key.thread) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "this login link belongs to a user of a protected MCP server: open it with the \
                 server that gave it to you",
            ));
        }
        let Some(next_url) = pending.next_url.clone() else {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "this login link has no page to open",
            ));
        };
        let name = cookie_name(&pending);
        if let Some(bound) = &pending.browser {
            return if cookies.proves(&name, bound) {
                Ok(Opened {
                    cookie: None,
                    next_url,
                })
            } else {
                Err(opened_elsewhere())
            };
        }
        let value = random_token(32);
        let ours = state_hash(&value);
        let now = now();
        let stored = self
            .inner
            .store
            .bind_pending(&hash, &ours, now)
            .await?
            .ok_or_else(unknown_link)?;
        if stored.browser.as_deref() != Some(ours.as_str()) {
            return Err(opened_elsewhere());
        }
        let base = self.callback_base();
        let base_path = url::Url::parse(&base)
            .map(|u| u.path().trim_end_matches('/').to_owned())
            .unwrap_or_default();
        Ok(Opened {
            cookie: Some(SetCookie {
                name,
                value: SecretString::from(value),
                path: format!("{base_path}/auth/{provider}/"),
                max_age: pending.expires_at.saturating_sub(now),
                secure: base.starts_with("https://"),
            }),
            next_url,
        })
    }

    /// The session a waiting flow's link will write, without opening it: for a gate that
    /// checks who may open the link (the user the flow is for) before [`Engine::open_link`].
    ///
    /// # Errors
    /// As [`Engine::open_link`] for an unknown, expired or used `state`.
    pub async fn link_key(&self, provider: &str, state: Option<&str>) -> Result<SessionKey> {
        Ok(self.waiting_flow(provider, state).await?.1.key)
    }

    /// Refuses a flow unless `cookies` prove this is the browser that opened its link.
    pub(super) fn check_browser(pending: &PendingFlow, cookies: &LinkCookies) -> Result<()> {
        match &pending.browser {
            Some(bound) if cookies.proves(&cookie_name(pending), bound) => Ok(()),
            Some(_) => Err(opened_elsewhere()),
            None => Err(Error::new(
                ErrorKind::InvalidInput,
                "open the login link keyfob gave you first (it ends in /start?state=…); this \
                 page cannot be used on its own",
            )),
        }
    }
}
