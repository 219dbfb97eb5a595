//! The orchestrator, [`Keyfob`]: registered tools, their auth, and the engine that satisfies it.
//! [`Keyfob::invoke`] runs a call with credentials or pauses it with the prompt to show the user;
//! the built-in session tools are answered here.
//!
//! Invariants:
//! - Only tools that declare auth touch the store.
//! - A tool's failure or timeout is an [`Invocation::Failed`] for the model; keyfob-level
//!   problems (an unknown tool, a store that is down) are errors.
//! - Built-in tools are answered by the orchestrator itself, because they need the thread, which
//!   plain tools never see; their names cannot be registered again.
//! - This crate names no provider: [`Keyfob::from_config`] gets its engine builder from `P`
//!   ([`Providers`]), which the facade binds to the providers its features link.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use keyfob_core::{
    Credentials, Engine, EngineBuilder, Ensured, Error, ErrorKind, Prompt, Result, SessionKey,
};
use serde::Deserialize;

use crate::open_with;
use crate::tool::{FnTool, NoArgs, Tool, ToolAuth, ToolError, Value, parse_args, schema_for};

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

/// Where [`Keyfob::from_config`] gets its engine builder: the providers a build links.
///
/// The facade implements it (`keyfob::LinkedProviders`) with `keyfob::builder()`, which names
/// every provider crate its features enable, so that the linker keeps them, and knows every
/// provider crate there is, so that a disabled one's error names its feature. `keyfob::Keyfob`
/// is `Keyfob<keyfob::LinkedProviders>`.
pub trait Providers {
    /// An engine builder that knows this build's providers.
    fn builder() -> EngineBuilder;
}

/// The orchestrator: tools, their auth, and the engine that satisfies it (the reference's
/// `Pocket` with `PocketAuth`). `P` says which providers [`Keyfob::from_config`] builds engines
/// with; everything else is the same for every `P`.
pub struct Keyfob<P> {
    engine: Engine,
    tools: BTreeMap<String, Arc<dyn Tool>>,
    call_timeout: Duration,
    builtins: Vec<FnTool>,
    providers: PhantomData<fn() -> P>,
}

impl<P> fmt::Debug for Keyfob<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyfob")
            .field("engine", &self.engine)
            .field("tools", &self.tools.keys().collect::<Vec<_>>())
            .field("call_timeout", &self.call_timeout)
            .finish()
    }
}

impl<P> Keyfob<P> {
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
            providers: PhantomData,
        }
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

impl<P: Providers> Keyfob<P> {
    /// An orchestrator from config: the store it selects and every compiled-in provider.
    ///
    /// # Errors
    /// As [`open_with`].
    pub async fn from_config(config: keyfob_core::Config) -> Result<Self> {
        Ok(Self::new(open_with(P::builder(), config).await?))
    }
}
