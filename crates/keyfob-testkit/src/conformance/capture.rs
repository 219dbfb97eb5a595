//! The capture every check runs under: tracing output at TRACE, searched for the sentinel.
//!
//! Invariants:
//! - The capture records every level and every target while the check's future runs to its end
//!   on a runtime of its own, so nothing the check caused is missed.
//! - A sentinel in the captured text, or in any `Debug` string or message passed to
//!   `assert_no_sentinel`, fails the check with the text that leaked.

use crate::LogBuffer;
use crate::conformance::SENTINEL;

/// Captures tracing output at every level while `f` runs, then asserts that no sentinel leaked.
pub(super) fn leak_checked<F: std::future::Future<Output = ()>>(what: &str, f: F) {
    let logs = LogBuffer::default();
    let subscriber = logs
        .subscriber()
        .with_max_level(tracing::Level::TRACE)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(f);
    });
    let out = logs.contents();
    assert!(
        !out.contains(SENTINEL),
        "{what}: a secret appeared in tracing output:\n{out}"
    );
}

pub(super) fn assert_no_sentinel(what: &str, text: &str) {
    assert!(!text.contains(SENTINEL), "{what} leaks a secret: {text}");
}
