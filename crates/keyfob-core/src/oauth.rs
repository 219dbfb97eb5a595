//! OAuth2 for every OAuth2 handler, on the `oauth2` crate: authorization code with PKCE S256, code
//! exchange and refresh, device authorization, revocation, userinfo and key checks, with a
//! tolerant token-response normalizer in front of the crate's strict parser.
//!
//! Requests go through [`Runtime`] (`runtime.rs`): one HTTP client, metadata discovery
//! (`discovery.rs`), and token requests whose answers `normalize.rs` rewrites into the RFC 6749
//! shape. [`OAuth2Driver`] (`driver.rs`) drives the `oauth2` crate for one provider, on the
//! endpoints `endpoints.rs` resolves; `form.rs` builds the requests the crate does not (for
//! `device.rs` and `revoke.rs`); `key_check.rs` and `identity.rs` ask providers about keys and
//! accounts.
//!
//! Invariants:
//! - Every request goes through the one `Runtime` client: no redirects followed, a bounded time.
//! - No raw response body reaches an error or a log. What cannot be read becomes the private code
//!   `keyfob_unreadable_response` with a description, reported as `Protocol`; a 5xx or 429
//!   becomes `keyfob_unavailable`, reported as `Transport`.
//! - Client authentication is exactly one method, the spec's (Basic or in the body), except for
//!   revocation styles that name their own.

mod device;
mod discovery;
mod driver;
mod endpoints;
mod form;
mod identity;
mod key_check;
mod normalize;
mod revoke;
mod runtime;

pub use device::{DEVICE_CODE_GRANT, DeviceStart, Poll};
pub(crate) use discovery::same_issuer;
pub use driver::OAuth2Driver;
pub(crate) use driver::TokenResp;
pub use endpoints::Endpoints;
pub(crate) use endpoints::fill_fields;
pub use identity::identity_from;
pub use key_check::KeyCheck;
pub(crate) use normalize::{normalize, normalized_response};
pub(crate) use runtime::read_capped;
pub use runtime::{Network, Runtime};

/// The private error code for responses that could not be read.
const UNREADABLE: &str = "keyfob_unreadable_response";
/// The synthetic error code of a token endpoint that answered 5xx or 429: unavailable for now,
/// reported as [`ErrorKind::Transport`](crate::ErrorKind::Transport) (worth a retry later), not
/// as a protocol breach.
const UNAVAILABLE: &str = "keyfob_unavailable";
