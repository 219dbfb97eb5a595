//! Data for the stores' `kill -9` tests: a child process rewrites [`KEYS`] large sessions
//! between an old and a new version until it is killed, and the parent then checks that each
//! session is exactly one of the two ([`which_version`]), never a mix or a truncation.

use keyfob_core::{ExposeSecret, Grant, SecretString, Session, SessionKey};

/// Sessions the crash writer rewrites in turn.
pub const KEYS: usize = 4;

/// A random number from the std hasher's per-process random keys (no RNG dependency), for the
/// moment of the kill.
pub fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.finish()
}

/// The key of session `i`.
pub fn key(i: usize) -> SessionKey {
    SessionKey::new("acme", format!("thread-{i}"), "default")
}

/// Version `which` (0 = old, 1 = new) of session `i`: large (several SQLite pages; more than one
/// network packet), of a different size per version, and every part tagged with the version.
pub fn session(i: usize, which: usize) -> Session {
    let tag = ["old", "new"][which];
    let size = [12 * 1024, 20 * 1024][which];
    let mut grant = Grant::bearer(SecretString::from(format!("{tag}-{i}-").repeat(size / 8)));
    grant.refresh_token = Some(SecretString::from(format!("{tag}-refresh-{i}")));
    grant.detail.insert(
        "payload".into(),
        format!("{tag}-detail-{i}-").repeat(size / 16).into(),
    );
    Session {
        key: key(i),
        handler: "acme-oauth2".into(),
        grant,
        created_at: 1,
        updated_at: which as i64,
        refresh_error: None,
        version: 0,
    }
}

/// Which version (0 old, 1 new) `got` is, after checking that it is exactly that version of
/// session `i` in every part; panics on a mix or a truncation.
pub fn which_version(i: usize, got: &Session) -> usize {
    let token = got.grant.access_token.expose_secret();
    let which = usize::from(!token.starts_with("old-"));
    let want = session(i, which);
    assert_eq!(
        token,
        want.grant.access_token.expose_secret(),
        "session {i}: access token is neither the old nor the new one (length {})",
        token.len()
    );
    assert_eq!(
        got.grant.refresh_token.as_ref().map(|t| t.expose_secret()),
        want.grant.refresh_token.as_ref().map(|t| t.expose_secret()),
        "session {i}: refresh token from another version"
    );
    assert_eq!(
        got.grant.detail, want.grant.detail,
        "session {i}: detail from another version"
    );
    assert_eq!(got.updated_at, want.updated_at, "session {i}");
    which
}
