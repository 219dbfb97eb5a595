//! keyfob's project tasks, as a library so that the xtask test suite can call them.
//!
//! The binary (`cargo xtask …`, see `main.rs`) is a thin command line over these modules.

pub mod codegen;
pub mod names;
pub mod providers;
pub mod scaffold;
pub mod test;
pub mod tidy;

use std::path::{Path, PathBuf};

/// The keyfob repository this xtask was built from.
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the repository root")
        .to_path_buf()
}
