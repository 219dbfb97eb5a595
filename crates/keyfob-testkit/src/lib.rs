//! Test fixtures for keyfob: a real OAuth2 authorization server, a scripted browser and a stub token endpoint.
//!
//! - [`Idp`]: a spec-enforcing OAuth2 authorization server (the npm package
//!   `oidc-provider`, run by `node`) on 127.0.0.1. Needs
//!   `npm ci --prefix crates/keyfob-testkit/idp` once (or `cargo xtask test`).
//! - [`Browser`]: plays the user's browser against the [`Idp`]: approves or
//!   denies an authorization request and hands back the redirect to the client.
//! - [`conformance!`]: the checks every provider crate runs on its `PROVIDER`.
//! - [`StubServer`]: an HTTP server with a canned, configurable answer, for
//!   fault tests (token endpoint answering 500, HTML, garbage, or hanging).
//! - [`store_conformance!`]: the checks every `SessionStore` runs ([`store_suite`]).

pub mod browser;
pub mod conformance;
pub mod crash;
pub mod idp;
pub mod redis;
pub mod store_suite;
pub mod stub;

pub use browser::Browser;
/// Inline snapshots for [`conformance!`]: `snapshots = [("acme-oauth2", expect![[""]])]`.
pub use expect_test::{Expect, expect};
pub use idp::{Idp, IdpClient, IdpOptions, Stats};
pub use redis::RedisServer;
pub use stub::{RecordedRequest, StubResponse, StubServer};

/// A prompt's start link, opened as a browser would (without HTTP): see [`open_prompt`].
#[derive(Debug)]
pub struct OpenedLink {
    /// The flow's `state`, from the link.
    pub state: String,
    /// The cookie the link gave, as the browser sends it back.
    pub cookies: keyfob_core::engine::LinkCookies,
    /// Where the link sends the browser: the authorization URL or the token page.
    pub next_url: String,
}

/// Opens `prompt`'s start link through the engine (`Engine::open_link`), as the browser that
/// opens it first would.
///
/// # Panics
/// If the prompt is not a start link or the engine refuses it.
pub async fn open_prompt(engine: &keyfob_core::Engine, prompt: &keyfob_core::Prompt) -> OpenedLink {
    use keyfob_core::ExposeSecret;
    let state = query_param(&prompt.url, "state").expect("the prompt's link has a state");
    let opened = engine
        .open_link(
            &prompt.key.provider,
            Some(&state),
            &keyfob_core::engine::LinkCookies::none(),
        )
        .await
        .unwrap_or_else(|e| panic!("opening the login link failed: {e}"));
    let cookie = opened.cookie.expect("a first opening sets a cookie");
    OpenedLink {
        state,
        cookies: keyfob_core::engine::LinkCookies::with(&cookie),
        next_url: opened.next_url.expose_secret().to_owned(),
    }
}

/// Returns a TCP port on 127.0.0.1 that was free a moment ago.
///
/// Tests need the callback port before starting the [`Idp`], since redirect
/// URIs are registered exactly. Another process may grab the port between this
/// call and its use; on a test machine that is rare enough.
///
/// # Panics
///
/// If no port can be bound on 127.0.0.1.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind 127.0.0.1:0");
    listener
        .local_addr()
        .expect("local_addr of a bound listener")
        .port()
}

/// The first value of query parameter `name` in `url` (a login link's `state`, a callback's
/// `code`), decoded; `None` when the URL does not parse or lacks it.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
