//! Tool manifests (`tool.toml`, the reference system's format with its `[auth]` table) and the
//! [`CommandTool`] a manifest describes: a process that gets its arguments as JSON on stdin and
//! its credentials in the environment.
//!
//! Invariants:
//! - A manifest whose auth names an unknown provider or handler does not load.
//! - A command runs without keyfob's own `KEYFOB_*` settings in its environment; it gets the
//!   user's environment plus the credentials, and nothing else of keyfob's.

use std::path::Path;

use keyfob_core::registry::Catalog;
use keyfob_core::{Credentials, Error, ErrorKind, ExposeSecret, Result};
use serde::Deserialize;

use crate::tool::{Tool, ToolAuth, ToolError, ToolFuture, Value};

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
