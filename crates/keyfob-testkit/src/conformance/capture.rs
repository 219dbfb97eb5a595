//! The capture every check runs under: tracing output at TRACE, searched for the sentinel.
//!
//! Invariants:
//! - The capture records every level and every target while the check's future runs to its end
//!   on a runtime of its own, so nothing the check caused is missed.
//! - A sentinel in the captured text, or in any `Debug` string or message passed to
//!   `assert_no_sentinel`, fails the check with the text that leaked.

use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::conformance::SENTINEL;

/// Captures tracing output at every level while `f` runs, then asserts that no sentinel leaked.
pub(super) fn leak_checked<F: std::future::Future<Output = ()>>(what: &str, f: F) {
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(f);
    });
    let out =
        String::from_utf8_lossy(&buf.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned();
    assert!(
        !out.contains(SENTINEL),
        "{what}: a secret appeared in tracing output:\n{out}"
    );
}

pub(super) fn assert_no_sentinel(what: &str, text: &str) {
    assert!(!text.contains(SENTINEL), "{what} leaks a secret: {text}");
}
