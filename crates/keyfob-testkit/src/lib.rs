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
//! - [`LogBuffer`]: a tracing writer that keeps log output in memory, for tests that search it
//!   for secrets.
//! - [`store_conformance!`]: the checks every `SessionStore` runs ([`store_suite`]).

pub mod browser;
pub mod conformance;
pub mod crash;
pub mod fleet;
pub mod idp;
pub mod logs;
pub mod mcp;
pub mod postgres;
pub mod redis;
pub mod store_suite;
pub mod stub;
pub mod tls;

pub use browser::Browser;
/// Inline snapshots for [`conformance!`]: `snapshots = [("acme-oauth2", expect![[""]])]`.
pub use expect_test::{Expect, expect};
pub use idp::{Idp, IdpClient, IdpOptions, Stats};
pub use logs::LogBuffer;
pub use postgres::PostgresServer;
pub use redis::{RedisCluster, RedisServer};
pub use stub::{RecordedRequest, StubResponse, StubServer};
pub use tls::TlsFiles;

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
    let state = state_of(&prompt.url);
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

/// This test binary running only its test `test` (its exact name, one thread, output not
/// captured): the child half of a multi-process test, which finds its orders in the
/// environment the parent sets.
///
/// # Panics
/// When the test binary's path is unknown.
pub fn test_child(test: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(std::env::current_exe().expect("the test binary"));
    cmd.args(["--exact", test, "--nocapture", "--test-threads", "1"]);
    cmd
}

/// Returns a TCP port on 127.0.0.1 that was free a moment ago.
///
/// Tests need the callback port before starting the [`Idp`], since redirect
/// URIs are registered exactly. Ports come from below the kernel's ephemeral
/// range, so no outgoing connection of this machine holds one by chance, and
/// each process walks its own sequence from a start derived from its pid, so
/// two tests of one process never get the same port. Another process may still
/// bind the port before its use; on a test machine that is rare enough.
///
/// # Panics
///
/// If no port of the range can be bound on 127.0.0.1.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // Linux's default ephemeral range starts at 32768; read the real one where it exists.
    let ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32768);
    let (low, high) = if ephemeral > 12_000 {
        (10_000, ephemeral)
    } else {
        (ephemeral.max(1024), 65_536)
    };
    let span = high - low;
    let start = std::process::id().wrapping_mul(7919) % span;
    for _ in 0..span {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = low + (start + n) % span;
        let port = u16::try_from(port).expect("a port number");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port on 127.0.0.1 between {low} and {high}")
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

/// The `state` of a login link, an authorization URL or a callback: [`query_param`] for tests
/// that cannot go on without one.
///
/// # Panics
/// If the URL does not parse or carries no `state`.
pub fn state_of(url: &str) -> String {
    query_param(url, "state").unwrap_or_else(|| panic!("no state in the URL"))
}

/// Every parameter of `url`'s query, decoded, in order (repeated names kept).
///
/// # Panics
/// If the URL does not parse.
pub fn query_pairs(url: &str) -> Vec<(String, String)> {
    url::Url::parse(url)
        .unwrap_or_else(|e| panic!("the URL does not parse: {e}"))
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}
