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

pub mod browser;
pub mod conformance;
pub mod crash;
pub mod idp;
pub mod redis;
pub mod stub;

pub use browser::Browser;
/// Inline snapshots for [`conformance!`]: `snapshots = [("acme-oauth2", expect![[""]])]`.
pub use expect_test::{Expect, expect};
pub use idp::{Idp, IdpClient, IdpOptions, Stats};
pub use redis::RedisServer;
pub use stub::{RecordedRequest, StubResponse, StubServer};

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
