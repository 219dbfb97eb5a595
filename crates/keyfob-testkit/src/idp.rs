//! Starts the test OAuth2 authorization server (`idp/server.mjs`, built on oidc-provider) as a child process.
//!
//! The server enforces the spec the way strict real providers do: PKCE (S256)
//! for every client, exact redirect URIs, client authentication by the
//! registered method only, single-use authorization codes and refresh tokens
//! that rotate on every use. See `idp/server.mjs` for the details.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

/// How long [`Idp::start`] waits for node to report that it listens.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// The line `server.mjs` prints once ready, followed by the issuer URL.
const LISTENING_PREFIX: &str = "KEYFOB_IDP_LISTENING ";
/// How many of node's stderr lines are kept for error messages.
const LOG_LINES: usize = 200;

/// A client registered at the [`Idp`].
///
/// Every client may use the authorization code, refresh token and device
/// code grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpClient {
    /// The `client_id`.
    pub client_id: String,
    /// The `client_secret`.
    pub client_secret: String,
    /// Redirect URIs, matched exactly (no prefix or port wildcards).
    pub redirect_uris: Vec<String>,
    /// `true`: the client must authenticate with HTTP Basic
    /// (`client_secret_basic`); `false`: with `client_id` and `client_secret`
    /// in the form body (`client_secret_post`). The other method is rejected.
    pub basic_auth: bool,
}

impl IdpClient {
    /// A client that authenticates with HTTP Basic (`client_secret_basic`).
    pub fn basic(client_id: &str, client_secret: &str, redirect_uris: &[&str]) -> Self {
        Self::new(client_id, client_secret, redirect_uris, true)
    }

    /// A client that authenticates with form-body credentials (`client_secret_post`).
    pub fn post(client_id: &str, client_secret: &str, redirect_uris: &[&str]) -> Self {
        Self::new(client_id, client_secret, redirect_uris, false)
    }

    fn new(client_id: &str, client_secret: &str, redirect_uris: &[&str], basic_auth: bool) -> Self {
        Self {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            redirect_uris: redirect_uris.iter().map(|&u| u.to_owned()).collect(),
            basic_auth,
        }
    }
}

/// Configuration for [`Idp::start`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpOptions {
    /// The registered clients.
    pub clients: Vec<IdpClient>,
    /// Lifetime of issued access tokens (`expires_in`), in seconds.
    pub access_token_ttl_secs: u64,
    /// Scopes accepted beyond `openid` and `offline_access`, e.g. `repo`,
    /// `read:user`. Scopes not listed are silently left out of grants.
    pub extra_scopes: Vec<String>,
    /// An MCP server's URL (`http://127.0.0.1:<port>/mcp`): the server then opens dynamic
    /// registration (RFC 7591) and issues JWT access tokens with scope `mcp:tools` for that
    /// resource (RFC 8707). See [`crate::mcp::ResourceServer`].
    pub mcp_resource: Option<String>,
}

impl Default for IdpOptions {
    /// No clients, one-hour access tokens, no extra scopes, no MCP resource.
    fn default() -> Self {
        Self {
            clients: Vec::new(),
            access_token_ttl_secs: 3600,
            extra_scopes: Vec::new(),
            mcp_resource: None,
        }
    }
}

/// Request counters kept by the [`Idp`] (`GET /__stats`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Stats {
    /// POSTs to the token endpoint by `grant_type`, rejected ones included.
    /// A request without `grant_type` counts as `"missing"`.
    pub token_requests: BTreeMap<String, u64>,
    /// All POSTs to the token endpoint.
    pub token_requests_total: u64,
    /// All POSTs to the revocation endpoint (RFC 7009), rejected ones included.
    #[serde(default)]
    pub revocation_requests: u64,
}

impl Stats {
    /// Token requests with this `grant_type` (0 if none).
    pub fn token(&self, grant_type: &str) -> u64 {
        self.token_requests.get(grant_type).copied().unwrap_or(0)
    }
}

/// The endpoints we read from the discovery document.
#[derive(Debug, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    revocation_endpoint: String,
    introspection_endpoint: String,
    device_authorization_endpoint: String,
}

/// A running test authorization server; the node process dies with it.
#[derive(Debug)]
pub struct Idp {
    // Held, not used: node exits when this pipe closes, even if we die
    // without running Drop (see KEYFOB_IDP_EXIT_ON_STDIN_EOF in server.mjs).
    _stdin: ChildStdin,
    // `kill_on_drop`: dropping the Idp kills node.
    _child: Child,
    discovery: Discovery,
    http: reqwest::Client,
    log: Log,
}

/// The last [`LOG_LINES`] lines node wrote to stderr.
type Log = Arc<Mutex<VecDeque<String>>>;

impl Idp {
    /// The directory holding `server.mjs` and `package.json`.
    pub fn dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("idp")
    }

    /// Starts `node idp/server.mjs` and waits (at most 60 s, then once more with a fresh node)
    /// until it listens.
    ///
    /// `node` is taken from `PATH`, or from `$KEYFOB_NODE` if set. Node's
    /// stderr is forwarded to the test's stderr, prefixed with `[idp]`, and
    /// included in the error if start-up fails.
    ///
    /// # Errors
    ///
    /// If `idp/node_modules` is missing (run `npm ci --prefix
    /// crates/keyfob-testkit/idp`), node cannot be started, the server exits or
    /// does not report readiness in time, or its discovery document is unusable.
    pub async fn start(opts: IdpOptions) -> anyhow::Result<Idp> {
        let dir = Self::dir();
        if !dir.join("node_modules").join("oidc-provider").is_dir() {
            bail!(
                "the test IdP's npm dependencies are not installed ({} is missing); \
                 run `npm ci --prefix crates/keyfob-testkit/idp` from the workspace root \
                 (or `cargo xtask test`, which does it)",
                dir.join("node_modules").display()
            );
        }

        let config = serde_json::json!({
            "port": 0,
            "access_token_ttl": opts.access_token_ttl_secs,
            "scopes": opts.extra_scopes,
            "mcp_resource": opts.mcp_resource,
            "clients": opts.clients.iter().map(|c| serde_json::json!({
                "client_id": c.client_id,
                "client_secret": c.client_secret,
                "redirect_uris": c.redirect_uris,
                "token_endpoint_auth_method":
                    if c.basic_auth { "client_secret_basic" } else { "client_secret_post" },
            })).collect::<Vec<_>>(),
        });

        // A node that stays silent past the timeout is given one more chance, visibly: a CI run
        // once saw one of two IdPs started together never report readiness while the other did.
        let (child, stdin, issuer, log) = match launch(&dir, &config).await? {
            Launch::Ready(ready) => *ready,
            Launch::Silent(first_log) => {
                eprintln!(
                    "[idp] node did not report readiness within {STARTUP_TIMEOUT:?} (load average {}); \
                     starting a fresh one. Its stderr:\n{first_log}",
                    load_average()
                );
                match launch(&dir, &config).await? {
                    Launch::Ready(ready) => *ready,
                    Launch::Silent(log) => bail!(
                        "the test IdP did not report `{}` within {:?}, twice (load average {}); \
                         its stderr:\n{log}",
                        LISTENING_PREFIX.trim(),
                        STARTUP_TIMEOUT,
                        load_average()
                    ),
                }
            }
        };

        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .context("building an HTTP client")?;
        let discovery_url = format!("{issuer}/.well-known/openid-configuration");
        let discovery: Discovery = async {
            http.get(&discovery_url)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await
        }
        .await
        .with_context(|| format!("reading {discovery_url}; IdP stderr:\n{}", log_text(&log)))?;
        if discovery.issuer != issuer {
            bail!(
                "the discovery document names issuer {} instead of {issuer}",
                discovery.issuer
            );
        }

        Ok(Idp {
            _stdin: stdin,
            _child: child,
            discovery,
            http,
            log,
        })
    }

    /// The issuer, `http://127.0.0.1:<port>` (no trailing slash).
    pub fn issuer(&self) -> &str {
        &self.discovery.issuer
    }

    /// The authorization endpoint.
    pub fn authorize_url(&self) -> &str {
        &self.discovery.authorization_endpoint
    }

    /// The token endpoint.
    pub fn token_url(&self) -> &str {
        &self.discovery.token_endpoint
    }

    /// The token revocation endpoint (RFC 7009).
    pub fn revocation_url(&self) -> &str {
        &self.discovery.revocation_endpoint
    }

    /// The token introspection endpoint (RFC 7662).
    pub fn introspection_url(&self) -> &str {
        &self.discovery.introspection_endpoint
    }

    /// The device authorization endpoint (RFC 8628).
    pub fn device_authorization_url(&self) -> &str {
        &self.discovery.device_authorization_endpoint
    }

    /// What node has written to stderr so far (the last 200 lines).
    pub fn logs(&self) -> String {
        log_text(&self.log)
    }

    /// The request counters.
    ///
    /// # Panics
    ///
    /// If the IdP cannot be reached or answers nonsense (a broken fixture).
    pub async fn stats(&self) -> Stats {
        let url = format!("{}/__stats", self.issuer());
        let result: reqwest::Result<Stats> = async {
            self.http
                .get(&url)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await
        }
        .await;
        result.unwrap_or_else(|e| panic!("GET {url}: {e}; IdP stderr:\n{}", self.logs()))
    }

    /// Ends every grant made so far, as a user revoking the client's access: their refresh
    /// tokens are refused from now on (`invalid_grant`). Access tokens already issued as JWTs
    /// stay valid until they expire. The number of grants ended.
    ///
    /// # Panics
    ///
    /// If the IdP cannot be reached (a broken fixture).
    pub async fn revoke_grants(&self) -> u64 {
        let url = format!("{}/__revoke_grants", self.issuer());
        let result: reqwest::Result<serde_json::Value> = async {
            self.http
                .post(&url)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await
        }
        .await;
        let v = result.unwrap_or_else(|e| panic!("POST {url}: {e}; IdP stderr:\n{}", self.logs()));
        v["revoked"].as_u64().unwrap_or(0)
    }

    /// An access token signed with the server's own key (test tooling for resource servers):
    /// `claims` may set `sub`, `aud`, `scope`, `expires_in` (negative for an expired token),
    /// `not_before_in`, `iss`, and the header's `kid` and `typ` (`at+jwt` unless set). The
    /// compact JWT.
    ///
    /// # Panics
    ///
    /// If the IdP cannot be reached (a broken fixture).
    pub async fn mint(&self, claims: serde_json::Value) -> String {
        let url = format!("{}/__mint", self.issuer());
        let result = async {
            self.http
                .post(&url)
                .json(&claims)
                .send()
                .await?
                .error_for_status()?
                .text()
                .await
        }
        .await;
        result.unwrap_or_else(|e| panic!("POST {url}: {e}; IdP stderr:\n{}", self.logs()))
    }

    /// Sets all request counters to zero.
    ///
    /// # Panics
    ///
    /// If the IdP cannot be reached (a broken fixture).
    pub async fn reset_stats(&self) {
        let url = format!("{}/__stats/reset", self.issuer());
        let result = async { self.http.post(&url).send().await?.error_for_status() }.await;
        if let Err(e) = result {
            panic!("POST {url}: {e}; IdP stderr:\n{}", self.logs());
        }
    }
}

/// Copies node's stderr to ours and keeps the last lines for error messages.
/// How one node start-up went.
enum Launch {
    /// Listening: the child, its stdin, the issuer and its stderr log.
    Ready(Box<(Child, ChildStdin, String, Log)>),
    /// No readiness line within [`STARTUP_TIMEOUT`] (the child is killed); its stderr.
    Silent(String),
}

/// Starts `node server.mjs` in `dir` with `config` and waits for its readiness line.
async fn launch(dir: &std::path::Path, config: &serde_json::Value) -> anyhow::Result<Launch> {
    let node = std::env::var_os("KEYFOB_NODE").unwrap_or_else(|| "node".into());
    let mut child = Command::new(&node)
        .arg("server.mjs")
        .current_dir(dir)
        .env("KEYFOB_IDP_CONFIG", config.to_string())
        .env("KEYFOB_IDP_EXIT_ON_STDIN_EOF", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| {
            format!("cannot run {node:?} (Node.js 20+ is needed for the test IdP; set $KEYFOB_NODE to use another binary)")
        })?;

    let stdin = child.stdin.take().context("node stdin")?;
    let stdout = child.stdout.take().context("node stdout")?;
    let stderr = child.stderr.take().context("node stderr")?;

    let log = Log::default();
    let stderr_task = tokio::spawn(forward_stderr(stderr, log.clone()));

    let mut stdout = BufReader::new(stdout).lines();
    let wait_listening = async {
        while let Some(line) = stdout.next_line().await? {
            match line.strip_prefix(LISTENING_PREFIX) {
                Some(issuer) => return Ok(Some(issuer.trim().to_owned())),
                None => eprintln!("[idp] {line}"),
            }
        }
        Ok::<_, std::io::Error>(None)
    };
    let issuer = match tokio::time::timeout(STARTUP_TIMEOUT, wait_listening).await {
        Ok(Ok(Some(issuer))) => issuer,
        Ok(Ok(None)) => {
            // stdout closed: node is exiting. Let it finish writing stderr.
            let status = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
            let _ = tokio::time::timeout(Duration::from_secs(2), stderr_task).await;
            bail!(
                "the test IdP exited before listening ({}); its stderr:\n{}",
                match status {
                    Ok(Ok(s)) => s.to_string(),
                    _ => "still running".to_owned(),
                },
                log_text(&log)
            );
        }
        Ok(Err(e)) => bail!(
            "reading the test IdP's stdout: {e}; its stderr:\n{}",
            log_text(&log)
        ),
        Err(_) => return Ok(Launch::Silent(log_text(&log))),
    };
    // Keep draining stdout so node never blocks on a full pipe.
    tokio::spawn(async move {
        while let Ok(Some(line)) = stdout.next_line().await {
            eprintln!("[idp] {line}");
        }
    });
    Ok(Launch::Ready(Box::new((child, stdin, issuer, log))))
}

/// `/proc/loadavg`'s first three fields, for start-up errors.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "unknown".to_owned(),
        |l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    )
}

async fn forward_stderr(stderr: tokio::process::ChildStderr, log: Log) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        eprintln!("[idp] {line}");
        let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
        if log.len() == LOG_LINES {
            log.pop_front();
        }
        log.push_back(line);
    }
}

fn log_text(log: &Log) -> String {
    let log = log.lock().unwrap_or_else(|e| e.into_inner());
    if log.is_empty() {
        return "(nothing)".to_owned();
    }
    log.iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join("\n")
}
