//! The tools API for agent code: tools declare the auth they need, and [`Keyfob`] either runs a
//! call with credentials or pauses it with the prompt to show the user.
//!
//! Auth is declared three ways, all yielding the same [`ToolAuth`]:
//! 1. in code, through a provider's typed handle: `ToolAuth::new(&keyfob::providers::github::PROVIDER)`
//!    does not compile when the `github` feature is off;
//! 2. with `#[keyfob::tool(auth_provider = "github", scopes = ["repo"])]` on an async fn, which
//!    also derives the tool's name, description and argument schema;
//! 3. in a TOML tool manifest with the reference system's `[auth]` table ([`ToolManifest`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use keyfob_core::registry::Catalog;
use keyfob_core::{
    AuthRequest, Credentials, Engine, Ensured, Error, ErrorKind, ExposeSecret, Prompt, Provider,
    Result, SessionKey,
};
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
    /// [`ErrorKind::UnknownProvider`] naming what exists.
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
    name: String,
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

/// A tool manifest (`tool.toml`), in the reference system's format:
///
/// ```toml
/// name = "list_issues"
/// description = "Lists a repository's open issues"
/// command = ["python3", "list_issues.py"]   # run with args on stdin, credentials in env
///
/// [auth]
/// auth_provider = "github"
/// auth_handler = "github-oauth2"            # optional
/// scopes = ["repo"]
/// ```
#[derive(Clone, Debug, Deserialize)]
pub struct ToolManifest {
    /// Tool name.
    pub name: String,
    /// What it does.
    #[serde(default)]
    pub description: String,
    /// The command that runs it.
    #[serde(default)]
    pub command: Vec<String>,
    /// The JSON schema of its arguments (any object when absent).
    #[serde(default)]
    pub parameters: Option<Value>,
    /// Its auth.
    #[serde(default)]
    pub auth: Option<ManifestAuth>,
}

/// The `[auth]` table of a manifest.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestAuth {
    /// Provider id.
    pub auth_provider: String,
    /// Handler name.
    #[serde(default)]
    pub auth_handler: Option<String>,
    /// Scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
}

impl ToolManifest {
    /// Parses a manifest and checks its provider and handler against `catalog`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for TOML that does not parse, [`ErrorKind::UnknownProvider`] for
    /// an unknown provider or handler; both name the tool.
    pub fn from_toml(text: &str, catalog: &Catalog) -> Result<Self> {
        let m: ToolManifest = toml::from_str(text).map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("invalid tool manifest: {}", e.message()),
            )
        })?;
        if let Some(auth) = m.auth() {
            auth.check(catalog)
                .map_err(|e| Error::new(e.kind(), format!("tool `{}`: {}", m.name, e.message())))?;
        }
        Ok(m)
    }

    /// Reads and checks a manifest file.
    ///
    /// # Errors
    /// As [`ToolManifest::from_toml`], naming the file.
    pub fn load(path: &Path, catalog: &Catalog) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("cannot read tool manifest {}", path.display()),
            )
            .with_source(e)
        })?;
        Self::from_toml(&text, catalog)
            .map_err(|e| Error::new(e.kind(), format!("{}: {}", path.display(), e.message())))
    }

    /// The auth it declares.
    pub fn auth(&self) -> Option<ToolAuth> {
        self.auth.as_ref().map(|a| ToolAuth {
            provider: a.auth_provider.clone(),
            handler: a.auth_handler.clone(),
            scopes: a.scopes.clone(),
        })
    }

    /// A tool that runs the manifest's command: arguments as JSON on stdin, credentials in the
    /// environment, output read from stdout (JSON when it parses, else text).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when the manifest has no command.
    pub fn into_tool(self) -> Result<CommandTool> {
        if self.command.is_empty() {
            return Err(Error::new(
                ErrorKind::Config,
                format!("tool `{}` has no `command` to run", self.name),
            ));
        }
        let parameters = self
            .parameters
            .clone()
            .unwrap_or_else(|| serde_json::json!({"type": "object"}));
        let auth = self.auth();
        Ok(CommandTool {
            manifest: self,
            parameters,
            auth,
        })
    }
}

/// A tool that runs a command (see [`ToolManifest::into_tool`]).
#[derive(Debug)]
pub struct CommandTool {
    manifest: ToolManifest,
    parameters: Value,
    auth: Option<ToolAuth>,
}

impl Tool for CommandTool {
    fn name(&self) -> &str {
        &self.manifest.name
    }
    fn description(&self) -> &str {
        &self.manifest.description
    }
    fn parameters(&self) -> &Value {
        &self.parameters
    }
    fn auth(&self) -> Option<&ToolAuth> {
        self.auth.as_ref()
    }
    fn call(&self, args: Value, creds: Option<Credentials>) -> ToolFuture<'_> {
        Box::pin(async move {
            use tokio::io::AsyncWriteExt;
            let mut cmd = tokio::process::Command::new(&self.manifest.command[0]);
            cmd.args(&self.manifest.command[1..])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .kill_on_drop(true);
            // The user's environment without keyfob's own settings, plus the credentials.
            for k in keyfob_core::config::own_env_vars() {
                cmd.env_remove(k);
            }
            if let Some(c) = &creds {
                for (k, v) in c.env() {
                    cmd.env(k, v.expose_secret());
                }
            }
            let mut child = cmd.spawn().map_err(|e| {
                ToolError::failed(format!("cannot run `{}`: {e}", self.manifest.command[0]))
            })?;
            if let Some(mut stdin) = child.stdin.take() {
                let _ = stdin.write_all(args.to_string().as_bytes()).await;
            }
            let out = child.wait_with_output().await.map_err(ToolError::failed)?;
            let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if !out.status.success() {
                let stderr = String::from_utf8_lossy(&out.stderr);
                return Err(ToolError::failed(format!(
                    "exited with {}: {}",
                    out.status,
                    stderr.trim()
                )));
            }
            Ok(serde_json::from_str(&stdout).unwrap_or(Value::String(stdout)))
        })
    }
}

/// The outcome of [`Keyfob::invoke`].
#[derive(Debug)]
pub enum Invocation {
    /// The tool ran and returned this.
    Done(Value),
    /// The tool ran and failed, or timed out.
    Failed(ToolError),
    /// The tool needs the user first: show the prompt, then call again.
    Paused(Prompt),
}

/// The built-in tool that lists the thread's sessions.
pub const LIST_SESSIONS: &str = "keyfob_list_sessions";
/// The built-in tool that deletes one session of the thread.
pub const DELETE_SESSION: &str = "keyfob_delete_session";

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct DeleteArgs {
    /// The provider whose session to delete.
    provider: String,
    /// The profile (the caller's own by default).
    #[serde(default)]
    profile: Option<String>,
}

/// The orchestrator: tools, their auth, and the engine that satisfies it (the reference's
/// `Pocket` with `PocketAuth`).
pub struct Keyfob {
    engine: Engine,
    tools: BTreeMap<String, Arc<dyn Tool>>,
    call_timeout: Duration,
    builtins: Vec<FnTool>,
}

impl fmt::Debug for Keyfob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyfob")
            .field("engine", &self.engine)
            .field("tools", &self.tools.keys().collect::<Vec<_>>())
            .field("call_timeout", &self.call_timeout)
            .finish()
    }
}

impl Keyfob {
    /// An orchestrator on `engine`, with the built-in session tools and a 60 s call timeout.
    pub fn new(engine: Engine) -> Self {
        let builtin = |name: &str, description: &str, parameters: Value| {
            FnTool::new(name, description, parameters, None, |_, _| {
                Box::pin(async {
                    Err(ToolError::failed(
                        "built-in tools run through Keyfob::invoke",
                    ))
                })
            })
        };
        let builtins = vec![
            builtin(
                LIST_SESSIONS,
                "Lists the accounts connected in this conversation (no secrets).",
                schema_for::<NoArgs>(),
            ),
            builtin(
                DELETE_SESSION,
                "Disconnects the account of one provider in this conversation.",
                schema_for::<DeleteArgs>(),
            ),
        ];
        Keyfob {
            engine,
            tools: BTreeMap::new(),
            call_timeout: Duration::from_secs(60),
            builtins,
        }
    }

    /// An orchestrator from config: the store it selects and every compiled-in provider.
    ///
    /// # Errors
    /// As [`crate::open`].
    pub async fn from_config(config: keyfob_core::Config) -> Result<Self> {
        Ok(Self::new(crate::open(config).await?))
    }

    /// Bounds every tool call.
    #[must_use]
    pub fn with_call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Adds a tool, checking its auth against the providers this build serves.
    ///
    /// # Errors
    /// [`ErrorKind::UnknownProvider`] for unknown auth; [`ErrorKind::InvalidInput`] for a
    /// duplicate or reserved name.
    pub fn register(&mut self, tool: impl Tool + 'static) -> Result<&mut Self> {
        let name = tool.name().to_owned();
        if self.tools.contains_key(&name) || self.builtins.iter().any(|b| b.name == name) {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!("a tool named `{name}` is already registered"),
            ));
        }
        if let Some(auth) = tool.auth() {
            auth.check(self.engine.catalog())
                .map_err(|e| Error::new(e.kind(), format!("tool `{name}`: {}", e.message())))?;
        }
        self.tools.insert(name, Arc::new(tool));
        Ok(self)
    }

    /// Every tool, built-ins included, for the model's function list.
    pub fn tools(&self) -> impl Iterator<Item = &dyn Tool> {
        self.tools
            .values()
            .map(|t| t.as_ref() as &dyn Tool)
            .chain(self.builtins.iter().map(|b| b as &dyn Tool))
    }

    /// Ready credentials for `auth`, or the prompt to show.
    ///
    /// # Errors
    /// As [`Engine::ensure`].
    pub async fn ensure(&self, auth: &ToolAuth, thread: &str, profile: &str) -> Result<Ensured> {
        self.engine.ensure(&auth.request(thread, profile)).await
    }

    /// Waits for the user to finish a prompt.
    ///
    /// # Errors
    /// As [`Engine::wait`].
    pub async fn wait(&self, prompt: &Prompt, timeout: Duration) -> Result<Credentials> {
        self.engine.wait(prompt, timeout).await
    }

    /// Calls a tool: runs it with credentials, or pauses with the prompt the user must finish
    /// first. Tools without auth never touch the store.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] for an unknown tool; engine errors while getting credentials.
    /// The tool's own failures and timeouts are [`Invocation::Failed`].
    pub async fn invoke(
        &self,
        tool: &str,
        args: Value,
        thread: &str,
        profile: &str,
    ) -> Result<Invocation> {
        if tool == LIST_SESSIONS || tool == DELETE_SESSION {
            return self.builtin(tool, args, thread, profile).await;
        }
        let t = self.tools.get(tool).ok_or_else(|| {
            let names: Vec<_> = self.tools().map(|t| t.name().to_owned()).collect();
            Error::new(
                ErrorKind::InvalidInput,
                format!("unknown tool `{tool}`; tools: {}", names.join(", ")),
            )
        })?;
        let creds = match t.auth() {
            None => None,
            Some(auth) => match self.ensure(auth, thread, profile).await? {
                Ensured::Ready(c) => Some(c),
                Ensured::Prompt(p) => return Ok(Invocation::Paused(p)),
            },
        };
        Ok(
            match tokio::time::timeout(self.call_timeout, t.call(args, creds)).await {
                Ok(Ok(v)) => Invocation::Done(v),
                Ok(Err(e)) => Invocation::Failed(e),
                Err(_) => Invocation::Failed(ToolError {
                    kind: "timeout",
                    message: format!(
                        "the tool `{tool}` did not finish within {} s",
                        self.call_timeout.as_secs_f64()
                    ),
                }),
            },
        )
    }

    async fn builtin(
        &self,
        tool: &str,
        args: Value,
        thread: &str,
        profile: &str,
    ) -> Result<Invocation> {
        if tool == LIST_SESSIONS {
            let sessions = self.engine.status(Some(thread)).await?;
            return Ok(Invocation::Done(
                serde_json::to_value(sessions)
                    .map_err(|e| Error::new(ErrorKind::Protocol, e.to_string()))?,
            ));
        }
        let args: DeleteArgs = match parse_args(args) {
            Ok(a) => a,
            Err(e) => return Ok(Invocation::Failed(e)),
        };
        let profile = args.profile.as_deref().unwrap_or(profile);
        let deleted = self
            .engine
            .logout(&SessionKey::new(&args.provider, thread, profile))
            .await?;
        let deleted = u8::from(deleted);
        Ok(Invocation::Done(
            serde_json::json!({ "provider": args.provider, "deleted": deleted }),
        ))
    }

    /// Prepares auth for many tools at once: grouped by provider and handler with scopes merged,
    /// one prompt per group that still needs the user (none for groups already satisfied).
    ///
    /// # Errors
    /// Unknown tools; engine errors.
    pub async fn preauth(
        &self,
        tools: &[&str],
        thread: &str,
        profile: &str,
    ) -> Result<Vec<Prompt>> {
        // One session per provider (per thread and profile), so one prompt per provider: the
        // handler is the first one a tool names, else the provider's default.
        let mut groups: BTreeMap<String, (Option<String>, BTreeSet<String>)> = BTreeMap::new();
        for name in tools {
            let t = self.tools.get(*name).ok_or_else(|| {
                Error::new(ErrorKind::InvalidInput, format!("unknown tool `{name}`"))
            })?;
            if let Some(auth) = t.auth() {
                let (handler, scopes) = groups.entry(auth.provider.clone()).or_default();
                if handler.is_none() {
                    handler.clone_from(&auth.handler);
                }
                scopes.extend(auth.scopes.iter().cloned());
            }
        }
        let mut prompts = Vec::new();
        for (provider, (handler, scopes)) in groups {
            let auth = ToolAuth {
                provider,
                handler,
                scopes: scopes.into_iter().collect(),
            };
            if let Ensured::Prompt(p) = self.ensure(&auth, thread, profile).await? {
                prompts.push(p);
            }
        }
        Ok(prompts)
    }

    /// Waits until every prompt is finished, or `timeout` passes.
    ///
    /// # Errors
    /// The first flow's error, or [`ErrorKind::Timeout`].
    pub async fn wait_all(&self, prompts: &[Prompt], timeout: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        for p in prompts {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            self.engine.wait(p, left).await?;
        }
        Ok(())
    }
}
