//! The tools API for agent code: tools declare the auth they need, and [`Keyfob`] either runs a
//! call with credentials or pauses it with the prompt to show the user.
//!
//! Auth is declared three ways, all yielding the same [`ToolAuth`]:
//! 1. in code, through a provider's typed handle: `ToolAuth::new(&keyfob::providers::github::PROVIDER)`
//!    does not compile when the `github` feature is off;
//! 2. with `#[keyfob::tool(auth_provider = "github", scopes = ["repo"])]` on an async fn, which
//!    also derives the tool's name, description and argument schema;
//! 3. in a TOML tool manifest with the reference system's `[auth]` table ([`ToolManifest`]).
//!
//! This crate is re-exported by the `keyfob` facade (as `keyfob::tools`, and its main types at
//! `keyfob::`), which is what agent code depends on: the `#[keyfob::tool]` macro expands to
//! `::keyfob::tools::…` paths, and `keyfob::Keyfob` is [`Keyfob`] bound to the providers the
//! facade's features link. It names no provider crate itself.
//!
//! # Features
//!
//! | feature | enables | default |
//! |---|---|---|
//! | `store-sqlite` | [`open_store`] opens the embedded encrypted store | no |
//! | `store-redis` | [`open_store`] opens the shared Redis store | no |
//! | `store-postgres` | [`open_store`] opens the shared PostgreSQL store | no |
//!
//! The facade's features of the same names turn these on.

mod keyfob;
mod manifest;
mod store;
mod tool;

pub use keyfob::{DELETE_SESSION, Invocation, Keyfob, LIST_SESSIONS, Providers};
pub use manifest::{CommandTool, ManifestAuth, ToolManifest};
pub use store::{open_mcp_with, open_store, open_with};
pub use tool::{
    FnTool, IntoToolOutput, NoArgs, Tool, ToolAuth, ToolError, ToolFuture, Value, parse_args,
    schema_for,
};
