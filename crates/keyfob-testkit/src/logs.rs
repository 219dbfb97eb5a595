//! [`LogBuffer`]: a tracing writer that keeps everything written to it, for tests that search log
//! output for secrets.
//!
//! Invariants:
//! - Every clone writes to and reads the same buffer, so the subscriber's writer and the test's
//!   handle see the same text.
//! - A writer that panicked while holding the lock does not hide what was already captured: a
//!   poisoned lock is used as it is.

use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};

use tracing_subscriber::fmt::format::{DefaultFields, Format};
use tracing_subscriber::fmt::{MakeWriter, SubscriberBuilder};

/// A tracing writer that keeps what it is given in memory; clones share the buffer.
///
/// Install `logs.subscriber().with_max_level(…).finish()` (or `.with_env_filter(…)`), let the
/// code under test log, then search `logs.contents()`.
#[derive(Clone, Debug, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    /// A `fmt` subscriber builder writing to this buffer without ANSI colours; the caller picks
    /// the filter and calls `finish`.
    pub fn subscriber(
        &self,
    ) -> SubscriberBuilder<DefaultFields, Format, tracing_subscriber::filter::LevelFilter, Self>
    {
        tracing_subscriber::fmt()
            .with_writer(self.clone())
            .with_ansi(false)
    }

    /// Everything written so far, as text (invalid UTF-8 replaced).
    pub fn contents(&self) -> String {
        String::from_utf8_lossy(&self.lock()).into_owned()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<u8>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Write for LogBuffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.lock().extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogBuffer {
    type Writer = Self;

    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}
