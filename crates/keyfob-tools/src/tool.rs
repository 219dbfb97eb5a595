//! What a tool is: the auth it declares ([`ToolAuth`]), the [`Tool`] trait, closures as tools
//! ([`FnTool`], what `#[keyfob::tool]` generates), and the helpers the macro's expansion calls.
//!
//! Invariants:
//! - All three ways of declaring auth (a typed provider handle, the macro, a manifest) yield the
//!   same `ToolAuth`; one named by string is checked against the catalog before it is used.
//! - A tool is called with credentials exactly when it declares auth.
//! - A tool's own failure is a [`ToolError`] (a value for the model), never a keyfob error.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use keyfob_core::registry::Catalog;
use keyfob_core::{AuthRequest, Credentials, Provider, Result};
use serde::{Deserialize, Serialize};
pub use serde_json::Value;

/// What a tool needs: a provider, optionally a handler (the provider's default otherwise), and
/// scopes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ToolAuth {
    /// Provider id.
    pub provider: String,
    /// Handler name, when not the provider's default.
    pub handler: Option<String>,
    /// Scopes the tool needs.
    pub scopes: Vec<String>,
}

impl ToolAuth {
    /// Auth through a provider's typed handle (`&keyfob::providers::github::PROVIDER`), checked
    /// at compile time.
    pub fn new(provider: &'static Provider) -> Self {
        ToolAuth {
            provider: provider.id.to_owned(),
            handler: None,
            scopes: Vec::new(),
        }
    }

    /// Auth by provider id, checked when the tool is registered.
    pub fn named(provider: impl Into<String>) -> Self {
        ToolAuth {
            provider: provider.into(),
            handler: None,
            scopes: Vec::new(),
        }
    }

    /// Chooses a handler.
    #[must_use]
    pub fn handler(mut self, handler: impl Into<String>) -> Self {
        self.handler = Some(handler.into());
        self
    }

    /// Adds scopes.
    #[must_use]
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// The engine request for a thread and profile.
    pub fn request(&self, thread: &str, profile: &str) -> AuthRequest {
        AuthRequest {
            provider: self.provider.clone(),
            handler: self.handler.clone(),
            scopes: self.scopes.clone(),
            thread: thread.to_owned(),
            profile: profile.to_owned(),
            // `device_flow = true` in the provider's config makes tools' prompts device codes.
            device: false,
        }
    }

    /// Checks the provider and handler against a catalog.
    ///
    /// # Errors
    /// [`ErrorKind::UnknownProvider`](keyfob_core::ErrorKind::UnknownProvider) naming what exists.
    pub fn check(&self, catalog: &Catalog) -> Result<()> {
        catalog
            .handler(&self.provider, self.handler.as_deref())
            .map(|_| ())
    }
}

/// Why a tool call did not produce output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ToolError {
    /// `bad_arguments`, `timeout`, `failed` or `missing_credentials`.
    pub kind: &'static str,
    /// A sentence for the model or the user.
    pub message: String,
}

impl ToolError {
    /// The tool's own failure.
    pub fn failed(message: impl fmt::Display) -> Self {
        ToolError {
            kind: "failed",
            message: message.to_string(),
        }
    }

    /// Arguments that do not match the schema.
    pub fn bad_arguments(message: impl fmt::Display) -> Self {
        ToolError {
            kind: "bad_arguments",
            message: message.to_string(),
        }
    }

    /// A tool with auth was called without credentials.
    pub fn missing_credentials() -> Self {
        ToolError {
            kind: "missing_credentials",
            message: "the tool was called without its credentials".into(),
        }
    }
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for ToolError {}

/// The future a tool call returns.
pub type ToolFuture<'a> =
    Pin<Box<dyn Future<Output = std::result::Result<Value, ToolError>> + Send + 'a>>;

/// A tool an agent can call.
pub trait Tool: Send + Sync {
    /// Its name, as the model calls it.
    fn name(&self) -> &str;
    /// What it does, for the model.
    fn description(&self) -> &str;
    /// The JSON schema of its arguments.
    fn parameters(&self) -> &Value;
    /// The auth it needs, if any.
    fn auth(&self) -> Option<&ToolAuth>;
    /// Runs it. `creds` is `Some` exactly when [`Tool::auth`] is.
    fn call(&self, args: Value, creds: Option<Credentials>) -> ToolFuture<'_>;
}

type CallFn = dyn Fn(Value, Option<Credentials>) -> ToolFuture<'static> + Send + Sync;

/// A tool made from a closure (what `#[keyfob::tool]` generates).
pub struct FnTool {
    pub(crate) name: String,
    description: String,
    parameters: Value,
    auth: Option<ToolAuth>,
    call: Box<CallFn>,
}

impl FnTool {
    /// A tool from its parts.
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        parameters: Value,
        auth: Option<ToolAuth>,
        call: impl Fn(Value, Option<Credentials>) -> ToolFuture<'static> + Send + Sync + 'static,
    ) -> Self {
        FnTool {
            name: name.into(),
            description: description.into(),
            parameters,
            auth,
            call: Box::new(call),
        }
    }
}

impl fmt::Debug for FnTool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnTool")
            .field("name", &self.name)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl Tool for FnTool {
    fn name(&self) -> &str {
        &self.name
    }
    fn description(&self) -> &str {
        &self.description
    }
    fn parameters(&self) -> &Value {
        &self.parameters
    }
    fn auth(&self) -> Option<&ToolAuth> {
        self.auth.as_ref()
    }
    fn call(&self, args: Value, creds: Option<Credentials>) -> ToolFuture<'_> {
        (self.call)(args, creds)
    }
}

/// The arguments of a tool that takes none.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

/// The JSON schema of `T`.
pub fn schema_for<T: schemars::JsonSchema>() -> Value {
    schemars::schema_for!(T).to_value()
}

/// Parses call arguments (`null` reads as `{}`).
///
/// # Errors
/// [`ToolError::bad_arguments`] saying what did not match.
pub fn parse_args<T: serde::de::DeserializeOwned>(
    args: Value,
) -> std::result::Result<T, ToolError> {
    let args = if args.is_null() {
        Value::Object(Default::default())
    } else {
        args
    };
    serde_json::from_value(args).map_err(ToolError::bad_arguments)
}

/// What a tool fn may return.
pub trait IntoToolOutput {
    /// The output, or the tool's error.
    fn into_output(self) -> std::result::Result<Value, ToolError>;
}

impl<T: Serialize, E: fmt::Display> IntoToolOutput for std::result::Result<T, E> {
    fn into_output(self) -> std::result::Result<Value, ToolError> {
        match self {
            Ok(v) => serde_json::to_value(v).map_err(ToolError::failed),
            Err(e) => Err(ToolError::failed(e)),
        }
    }
}
