//! The provider conformance kit behind [`conformance!`](crate::conformance!): one set of checks
//! that every provider crate runs against its own `PROVIDER`.
//!
//! OAuth2 handlers are driven through the real engine against a [`StubServer`] token endpoint
//! (configured through endpoint overrides), so the authorize URL and the exact token requests
//! (method, headers, body, client authentication) are checked as the provider's spec says they
//! must be, and every request a handler sends to the provider (token, identity, revocation,
//! device and key-check requests) is pinned in the provider's snapshot as the stub received it. The same stub then replays what real token endpoints answer (form-encoded bodies,
//! string `expires_in`, HTTP 200 carrying an error in GitHub's and Slack's shapes, RFC 6749
//! errors, HTML) and a rejected refresh. Every check runs under a tracing subscriber that records
//! everything at TRACE, and neither that output nor any `Debug` string or error message may
//! contain a sentinel secret. A capability the provider lacks (no OAuth2 handler, no token
//! handler, no refresh) is asserted to be refused, never skipped.
//!
//! One file per kind of check: `spec` (validity, registration), `oauth2` (each OAuth2 handler's
//! flow), `quirks` (what real token endpoints answer), `token` (each token handler and its key
//! check), `snapshots` (the pinned requests), `capture` (the tracing capture and the sentinel
//! search every check runs under). This file holds the macros and what the checks share.
//!
//! Invariants:
//! - Every secret the kit hands to the engine contains [`SENTINEL`], and every check runs inside
//!   `capture::leak_checked`, so a secret in any log line, `Debug` string or error fails it.
//! - No check passes by looping over nothing: a provider without the handler kind a check needs
//!   is asserted to refuse it, and `snapshots` refuses a provider whose handlers send nothing.
//! - The macros name only `$crate::conformance::…` items re-exported here, so a provider's
//!   one-line `tests/conformance.rs` does not depend on how the kit is split.

mod capture;
mod oauth2;
mod quirks;
mod snapshots;
mod spec;
mod token;

use keyfob_core::config::Config;
use keyfob_core::spec::{Handler, Provider};
use keyfob_core::{AuthRequest, CallbackParams, Engine, ErrorKind, LinkCookies};

use crate::conformance::capture::assert_no_sentinel;
use crate::stub::StubServer;

pub use oauth2::oauth2_handlers;
pub use snapshots::snapshots;
pub use spec::{is_registered, spec_is_valid};
pub use token::token_handlers;

/// Every secret the kit uses contains this, so one search finds any leak.
pub const SENTINEL: &str = "sentinel-kf";

/// Points the identity lookup after a login at a closed loopback port: the kit's checks count
/// token requests, and identity has its own tests.
const NO_USERINFO: &str = "userinfo_url = \"http://127.0.0.1:1/userinfo\"\n";

/// Runs every check for `provider`. The [`conformance!`](crate::conformance!) macro calls the
/// checks one by one instead, so that each shows up as its own test.
pub fn all(provider: &'static Provider) {
    spec_is_valid(provider);
    is_registered(provider);
    oauth2_handlers(provider);
    token_handlers(provider);
}

/// Whether some handler of `provider` sends requests to the provider: an OAuth2 handler, or a
/// token handler with a key check. [`conformance!`](crate::conformance!) then takes the pinned
/// requests of each such handler (`snapshots = [...]`).
pub const fn sends_requests(provider: &Provider) -> bool {
    let mut i = 0;
    while i < provider.handlers.len() {
        match provider.handlers[i] {
            Handler::OAuth2(_) => return true,
            Handler::Token(t) if t.verify.is_some() => return true,
            Handler::Token(_) => {}
        }
        i += 1;
    }
    false
}

fn engine_for(provider: &Provider, stub: &StubServer) -> Engine {
    let mut toml = format!(
        "[auth.{id}]\nclient_id = \"client-1\"\nclient_secret = \"{SENTINEL}-client-secret\"\n\
         authorize_url = \"{url}/authorize\"\ntoken_url = \"{token}\"\n",
        id = provider.id,
        url = stub.url(),
        token = stub.token_url(),
    );
    for h in provider.handlers {
        if let Handler::OAuth2(o) = h {
            for f in o.config_fields {
                toml.push_str(&format!("{f} = \"https://tenant.example\"\n"));
            }
        }
    }
    toml.push_str(NO_USERINFO);
    let config = Config::from_toml(&toml).expect("kit config parses");
    Engine::builder()
        .config(config)
        .build()
        .expect("engine builds")
}

/// Brings the kit's authorization code (`{SENTINEL}-code`) and `state` back to `provider`'s
/// callback from the browser holding `cookies`, as the provider's redirect would.
async fn send_code(
    engine: &Engine,
    provider: &Provider,
    state: String,
    cookies: &LinkCookies,
) -> keyfob_core::Result<keyfob_core::Completed> {
    let params = CallbackParams {
        state: Some(state),
        code: Some(format!("{SENTINEL}-code")),
        ..Default::default()
    };
    engine.complete_oauth2(provider.id, params, cookies).await
}

/// `e` is an `InvalidInput` refusal that echoes no secret, and no session was written.
async fn refused_and_nothing_stored(
    engine: &Engine,
    req: &AuthRequest,
    e: &keyfob_core::Error,
    what: &str,
) {
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{what}: {e}");
    assert_no_sentinel("error message", &e.to_string());
    assert!(
        engine
            .store()
            .get(&req.key())
            .await
            .expect("store")
            .is_none(),
        "{what}: the refusal stored a session"
    );
}

/// One `#[test]` per conformance check that applies to a provider `static`, in its
/// `tests/conformance.rs`.
///
/// A provider none of whose handlers sends a request to the provider (token entry without a key
/// check) names only its static: `keyfob_testkit::conformance!(keyfob_provider_exa::PROVIDER);`.
/// One with an OAuth2 handler or a key check also pins each such handler's requests:
/// `conformance!(keyfob_provider_github::PROVIDER, snapshots = [("github-oauth2", expect![[…]]),
/// ("github-token", expect![[…]])])`, which adds the `requests_pinned` test. The form must match
/// the provider's handlers, checked at compile time, so no check passes by looping over nothing.
///
/// The tests go in a module `conformance`. Naming the static links the provider crate, so its
/// registration is present. In this repository a provider crate has a feature `_in_facade`,
/// which the facade turns on when it links the crate: its `registry` test binary then runs these
/// tests, and the crate's own test target compiles to nothing rather than link the whole stack
/// again (`cargo test -p keyfob-provider-<id>`, where the facade is not built, runs them).
#[macro_export]
macro_rules! conformance {
    ($provider:path) => {
        $crate::__conformance_module! {
            const _: () = assert!(
                !$crate::conformance::sends_requests(&$provider),
                "a handler of this provider sends requests (OAuth2, or a key check): pin them with \
                 `conformance!(<crate>::PROVIDER, snapshots = [(\"<handler>\", keyfob_testkit::expect![[\"\"]])])`"
            );
            $crate::__conformance_common!($provider);
        }
    };
    ($provider:path, snapshots = [$(($handler:literal, $expect:expr)),* $(,)?]) => {
        $crate::__conformance_module! {
            const _: () = assert!(
                $crate::conformance::sends_requests(&$provider),
                "no handler of this provider sends a request, so there is nothing to pin: write \
                 `conformance!(<crate>::PROVIDER)` without snapshots"
            );
            $crate::__conformance_common!($provider);
            #[test]
            fn requests_pinned() {
                $crate::conformance::snapshots(&$provider, &[$(($handler, $expect)),*]);
            }
        }
    };
}

/// The module of [`conformance!`](crate::conformance!): every item left out when the crate
/// expanding it has the feature `_in_facade` on.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_module {
    ($($item:item)*) => {
        #[allow(unexpected_cfgs)] // `_in_facade` is declared by this repository's provider crates only
        mod conformance {
            $(
                #[cfg(not(feature = "_in_facade"))]
                $item
            )*
        }
    };
}

/// The checks of [`conformance!`](crate::conformance!) that apply to every provider.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_common {
    ($provider:path) => {
        #[test]
        fn spec_is_valid() {
            $crate::conformance::spec_is_valid(&$provider);
        }
        #[test]
        fn is_registered() {
            $crate::conformance::is_registered(&$provider);
        }
        #[test]
        fn oauth2_handlers() {
            $crate::conformance::oauth2_handlers(&$provider);
        }
        #[test]
        fn token_handlers() {
            $crate::conformance::token_handlers(&$provider);
        }
    };
}
