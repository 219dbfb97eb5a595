//! The `keyfob` command: log in to providers, print tokens, run commands with credentials.
//!
//! Exit codes: 0 success; 1 any other error (config, network, a provider's token endpoint); 2 bad
//! usage; 3 not logged in or the session needs a new login; 4 the login was denied or its link
//! expired or was already used; 5 timed out waiting for the user; 130 interrupted. `exec` passes
//! the command's own exit code through.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use keyfob::{AuthRequest, Engine, ErrorKind, ExposeSecret, Revocation, SessionKey, SignOut};
use keyfob_callback::identity::{self, Identity, Verdict};

mod proxy;

#[derive(Parser)]
#[command(
    name = "keyfob",
    version,
    about = "Credentials for agent tools: log in once, hand tokens to tools"
)]
struct Cli {
    /// The config file (default: $KEYFOB_CONFIG, ./keyfob.toml, then the user config directory).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Print the whole error chain and debug logs.
    #[arg(long, short, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the compiled-in and configured providers.
    Providers {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Log in to a provider and store the session.
    Login(LoginArgs),
    /// Print a valid access token, refreshing it first when needed.
    Token(KeyArgs),
    /// Show stored sessions (never a secret).
    Status {
        /// Only this thread.
        #[arg(long)]
        thread: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a session at the provider and delete it.
    Logout(LogoutArgs),
    /// Run a command with providers' credentials in its environment.
    Exec {
        /// Providers, comma-separated (`github,slack`).
        providers: String,
        /// Profile.
        #[arg(long, default_value = "default")]
        profile: String,
        /// Thread.
        #[arg(long, default_value = "default")]
        thread: String,
        /// The command and its arguments.
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Protected remote MCP servers.
    #[command(subcommand)]
    Mcp(McpCommand),
    /// Run the callback server on its own.
    Serve {
        /// Address to bind (default: [server] bind, 127.0.0.1:8975).
        #[arg(long)]
        bind: Option<SocketAddr>,
        /// Serve https with a self-signed certificate for 127.0.0.1/localhost, kept in the
        /// keyfob home (`tls/`) and renewed before it expires.
        #[arg(long, conflicts_with = "tls_cert")]
        tls: bool,
        /// Serve https with this certificate chain (PEM).
        #[arg(long, value_name = "PEM", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The private key (PEM) of --tls-cert.
        #[arg(long, value_name = "PEM", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum McpCommand {
    /// Bridge a stdio MCP client to a protected remote MCP server: give the client
    /// `keyfob mcp proxy <URL>` as its server command. Logs in when needed (the link on stderr),
    /// adds the token to every request and refreshes it before it expires; several proxies
    /// for one server share one login.
    Proxy(ProxyArgs),
    /// Serve keyfob's tools to an MCP client over stdio (give the client `keyfob mcp serve
    /// --tools DIR` as its server command). A tool whose provider is not connected yet asks the
    /// user to log in: through a URL elicitation where the client offers them, else with the
    /// link in the tool's result.
    Serve(McpServeArgs),
}

#[derive(Args)]
struct McpServeArgs {
    /// Serve over stdin and stdout (the default).
    #[arg(long, conflicts_with = "http")]
    stdio: bool,
    /// Serve over streamable HTTP at http://ADDR/mcp instead (e.g. 127.0.0.1:8976).
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// A `Host` the HTTP server answers besides the loopback names (repeatable); any other is
    /// refused, against DNS rebinding.
    #[arg(long, value_name = "HOST", requires = "http")]
    allowed_host: Vec<String>,
    /// Protect the HTTP server (MCP authorization): only JWT access tokens from this
    /// authorization server, for this server's URL, are let in, and each token's subject uses
    /// its own sessions.
    #[arg(long, value_name = "ISSUER", requires = "http")]
    auth_issuer: Option<String>,
    /// A scope every access token must hold (repeatable).
    #[arg(long, value_name = "SCOPE", requires = "auth_issuer")]
    auth_scope: Vec<String>,
    /// The URL clients reach this server at, the access tokens' audience (default:
    /// http://ADDR/mcp).
    #[arg(long, value_name = "URL", requires = "auth_issuer")]
    public_url: Option<String>,
    /// The client a browser signs in as before a login link opens (a public client whose
    /// redirect URI is <callback base>/connect/callback); by default one is registered at the
    /// authorization server (RFC 7591).
    #[arg(long, value_name = "ID", requires = "auth_issuer")]
    auth_client_id: Option<String>,
    /// A directory of tool manifests (`*.toml`, the reference system's format with its `[auth]`
    /// table), each served as a tool besides the built-in session tools.
    #[arg(long, value_name = "DIR")]
    tools: Option<PathBuf>,
    /// The thread whose sessions the tools use.
    #[arg(long, default_value = "default")]
    thread: String,
    /// The profile whose sessions the tools use.
    #[arg(long, default_value = "default")]
    profile: String,
    /// Address for the callback server the login links lead to (default: [server] bind).
    #[arg(long)]
    bind: Option<SocketAddr>,
}

#[derive(Args)]
struct ProxyArgs {
    /// The server's URL, or the name of its [mcp.<name>] table.
    #[arg(value_name = "URL|NAME")]
    target: String,
    /// Profile.
    #[arg(long, default_value = "default")]
    profile: String,
    /// Thread.
    #[arg(long, default_value = "default")]
    thread: String,
    /// Do not open a browser for a login; just print the link on stderr.
    #[arg(long)]
    no_browser: bool,
    /// Log in with a code typed on another device, where the server's authorization server
    /// offers it.
    #[arg(long, conflicts_with = "no_browser")]
    device: bool,
    /// Address for the callback server of a login (default: [server] bind).
    #[arg(long)]
    bind: Option<SocketAddr>,
}

#[derive(Args)]
struct KeyArgs {
    /// Provider id.
    #[arg(required_unless_present = "mcp")]
    provider: Option<String>,
    /// A protected remote MCP server instead of a provider: its URL, or the name of its
    /// [mcp.<name>] table. `login` discovers its authorization server and registers keyfob there.
    #[arg(long, value_name = "URL|NAME", conflicts_with = "provider")]
    mcp: Option<String>,
    /// Profile.
    #[arg(long, default_value = "default")]
    profile: String,
    /// Thread.
    #[arg(long, default_value = "default")]
    thread: String,
}

#[derive(Args)]
struct LogoutArgs {
    #[command(flatten)]
    key: KeyArgs,
    /// Only delete locally; do not revoke at the provider.
    #[arg(long)]
    no_revoke: bool,
    /// Keep the local session when revocation fails (to retry later).
    #[arg(long, conflicts_with = "no_revoke")]
    keep_if_revoke_fails: bool,
}

#[derive(Args)]
struct LoginArgs {
    #[command(flatten)]
    key: KeyArgs,
    /// Handler (default: the provider's default handler).
    #[arg(long)]
    handler: Option<String>,
    /// A scope to request; repeat for more.
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// Do not open a browser; just print the URL.
    #[arg(long)]
    no_browser: bool,
    /// Log in with a code typed on another device (RFC 8628 device flow): for SSH sessions,
    /// containers and CI. Chosen by itself when no browser can be opened and the provider
    /// supports it.
    #[arg(long, conflicts_with = "no_browser")]
    device: bool,
    /// After logging in, name the profile after the account the provider reports (an email or
    /// login), so that several accounts sit side by side.
    #[arg(long)]
    label_from_identity: bool,
    /// Give up after this many seconds (default: the flow timeout, 300).
    #[arg(long, value_name = "SECS")]
    timeout: Option<u64>,
    /// Address for the callback server (default: [server] bind).
    #[arg(long)]
    bind: Option<SocketAddr>,
    /// Print the link (and a device code) on stderr: stdout belongs to someone else (`mcp proxy`).
    #[arg(skip)]
    links_on_stderr: bool,
    /// Also hands the link and its message to this (`mcp proxy`: a URL elicitation).
    #[arg(skip)]
    on_link: Option<proxy::LinkSink>,
}

/// Prints a line a person must see and a script may read: on stdout, unless stdout is taken.
fn show_line(links_on_stderr: bool, line: &str) {
    if links_on_stderr {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = std::env::var("KEYFOB_LOG").unwrap_or_else(|_| {
        if cli.verbose {
            "keyfob=debug".into()
        } else {
            "keyfob=warn".into()
        }
    });
    // The browser opener logs the command lines it runs: never let them through, whatever
    // KEYFOB_LOG says (they once carried login links).
    let filter = format!("{filter},webbrowser=off");
    // Colour only on a terminal, and never under NO_COLOR (no-color.org).
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_target(false)
        .init();
    let verbose = cli.verbose;
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        // The reader went away (`keyfob providers | head -1`): nothing more to say.
        Err(e) if broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            if verbose {
                eprintln!("error: {e:#}");
            } else {
                eprintln!("error: {e}");
            }
            ExitCode::from(exit_code(&e))
        }
    }
}

fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn exit_code(e: &anyhow::Error) -> u8 {
    match e.downcast_ref::<keyfob::Error>().map(keyfob::Error::kind) {
        Some(ErrorKind::NoSession | ErrorKind::ReauthRequired) => 3,
        Some(ErrorKind::Denied | ErrorKind::Expired) => 4,
        Some(ErrorKind::Timeout) => 5,
        _ => 1,
    }
}

async fn engine(config: Option<&PathBuf>) -> anyhow::Result<Engine> {
    let (config, _) = keyfob::Config::load(config.map(PathBuf::as_path))?;
    Ok(keyfob::open(config).await?)
}

/// The engine for a command on `k`; with `--mcp`, `k.provider` becomes the server's provider
/// id, discovered and registered first when `discover` (a login), else from its stored record.
async fn engine_for(
    config: Option<&PathBuf>,
    k: &mut KeyArgs,
    discover: bool,
    bind: Option<SocketAddr>,
) -> anyhow::Result<Engine> {
    let (mut config, _) = keyfob::Config::load(config.map(PathBuf::as_path))?;
    // The redirect URI registered for an MCP server names the callback's port.
    if let Some(bind) = bind {
        config.server.bind = bind;
    }
    let Some(target) = &k.mcp else {
        return Ok(keyfob::open(config).await?);
    };
    if discover {
        let (engine, id) = keyfob::open_mcp(config, target).await?;
        k.provider = Some(id);
        return Ok(engine);
    }
    let (id, _) = keyfob::mcp::server_of(&config, target)?;
    let engine = keyfob::open(config).await?;
    if engine.catalog().provider(&id).is_err() {
        anyhow::bail!(
            "keyfob has not logged in to the MCP server {target} yet; run `keyfob login --mcp {target}`"
        );
    }
    k.provider = Some(id);
    Ok(engine)
}

impl KeyArgs {
    /// The provider id (set from `--mcp` by [`engine_for`]).
    fn id(&self) -> &str {
        self.provider.as_deref().unwrap_or_default()
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = cli.config.as_ref();
    match cli.command {
        Command::Providers { json } => providers(&engine(config).await?, json),
        Command::Login(mut args) => {
            let engine = engine_for(config, &mut args.key, true, args.bind).await?;
            login(engine, args).await
        }
        Command::Token(mut k) => {
            let engine = engine_for(config, &mut k, false, None).await?;
            engine.catalog().provider(k.id())?;
            let creds = engine
                .credentials(&SessionKey::new(k.id(), &k.thread, &k.profile))
                .await?;
            writeln!(std::io::stdout(), "{}", creds.access_token())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { thread, json } => {
            status(&engine(config).await?, thread.as_deref(), json).await
        }
        Command::Logout(mut args) => {
            let engine = engine_for(config, &mut args.key, false, None).await?;
            logout(&engine, args).await
        }
        Command::Exec {
            providers,
            profile,
            thread,
            command,
        } => {
            exec(
                &engine(config).await?,
                &providers,
                &profile,
                &thread,
                &command,
            )
            .await
        }
        Command::Mcp(McpCommand::Proxy(p)) => mcp_proxy(config, p).await,
        Command::Mcp(McpCommand::Serve(a)) => mcp_serve(config, a).await,
        Command::Serve {
            bind,
            tls,
            tls_cert,
            tls_key,
        } => {
            let (mut config, _) = keyfob::Config::load(config.map(PathBuf::as_path))?;
            config.server.tls |= tls;
            if tls_cert.is_some() {
                config.server.tls_cert = tls_cert;
                config.server.tls_key = tls_key;
            }
            serve(config, bind).await
        }
    }
}

/// `keyfob mcp proxy`: discovers the server (reusing its registration), then bridges.
async fn mcp_proxy(config: Option<&PathBuf>, p: ProxyArgs) -> anyhow::Result<ExitCode> {
    let (mut config, _) = keyfob::Config::load(config.map(PathBuf::as_path))?;
    if let Some(bind) = p.bind {
        config.server.bind = bind;
    }
    let (_, url) = keyfob::mcp::server_of(&config, &p.target)?;
    let (engine, id) = keyfob::open_mcp(config, &p.target).await?;
    let key = SessionKey::new(&id, &p.thread, &p.profile);
    let for_login = engine.clone();
    let login: proxy::Login = Box::new(move |scopes, on_link| {
        let args = LoginArgs {
            key: KeyArgs {
                provider: Some(id.clone()),
                mcp: None,
                profile: p.profile.clone(),
                thread: p.thread.clone(),
            },
            handler: None,
            scopes,
            // A client that shows the link (URL elicitation) opens it; two browsers would race.
            no_browser: p.no_browser || on_link.is_some(),
            device: p.device,
            label_from_identity: false,
            timeout: None,
            bind: p.bind,
            links_on_stderr: true,
            on_link,
        };
        let engine = for_login.clone();
        Box::pin(async move {
            match login(engine, args).await? {
                code if code == ExitCode::SUCCESS => Ok(()),
                _ => anyhow::bail!("the login did not complete"),
            }
        })
    });
    proxy::run(engine, key, url, login).await?;
    Ok(ExitCode::SUCCESS)
}

/// `keyfob mcp serve`: the tools of `--tools` and the built-in ones over stdio, with the
/// callback server their login links lead to.
async fn mcp_serve(config: Option<&PathBuf>, a: McpServeArgs) -> anyhow::Result<ExitCode> {
    use rmcp::ServiceExt;
    let (config, _) = keyfob::Config::load(config.map(PathBuf::as_path))?;
    let bind = a.bind.unwrap_or(config.server.bind);
    let mut tools = keyfob::Keyfob::from_config(config).await?;
    if let Some(dir) = &a.tools {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read the tools directory {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        for file in files {
            let manifest = keyfob::tools::ToolManifest::load(&file, tools.engine().catalog())
                .with_context(|| format!("in {}", file.display()))?;
            let tool = manifest
                .into_tool()
                .with_context(|| format!("in {}", file.display()))?;
            tools
                .register(tool)
                .with_context(|| format!("in {}", file.display()))?;
        }
    }
    let engine = tools.engine().clone();
    // A protected server's login links open only for the user they were made for: its own
    // callback server checks that (a gate), so another server cannot stand in for it.
    let listener = match a.http {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?,
        ),
        None => None,
    };
    let auth = match (&a.auth_issuer, &listener) {
        (Some(issuer), Some(listener)) => {
            let resource = a
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{}/mcp", listener.local_addr().unwrap_or(bind)));
            let auth = keyfob_mcp_server::auth::ResourceAuth::discover(
                issuer,
                &resource,
                a.auth_scope.clone(),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            Some(Arc::new(auth))
        }
        _ => None,
    };
    let gate = auth.as_ref().map(|auth| {
        Arc::new(keyfob_mcp_server::connect::ConnectGate::new(
            auth.clone(),
            engine.clone(),
            a.auth_client_id.clone(),
        )) as Arc<dyn keyfob_callback::Gate>
    });
    let options = keyfob_callback::Options {
        gate: gate.clone(),
        ..keyfob_callback::Options::default()
    };
    // The browser comes back to this process's callback server, or to this user's keyfob
    // server when it already runs there (not for a protected server: see above).
    let server = match keyfob_callback::start_with(engine.clone(), bind, options).await {
        Ok(s) => Some(s),
        Err(e) if gate.is_some() => {
            return Err(anyhow::Error::new(e).context(format!(
                "a protected MCP server needs its own callback server, and {bind} is taken; \
                 pass --bind with a free port"
            )));
        }
        Err(e) => match keyfob_server_at(&engine, bind).await {
            Verdict::Ours => {
                engine.set_callback_addr(bind);
                None
            }
            _ => {
                return Err(anyhow::Error::new(e).context(format!(
                    "{bind} is taken by a program that is not this user's keyfob server; stop \
                     it, or pass --bind with a free port"
                )));
            }
        },
    };
    let tools = keyfob_mcp_server::ToolServer::new(Arc::new(tools), &a.thread, &a.profile);
    if let Some(listener) = listener {
        let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"]
            .iter()
            .map(|h| (*h).to_owned())
            .collect();
        hosts.extend(a.allowed_host);
        let local = listener.local_addr()?;
        eprintln!("keyfob MCP server listening on http://{local}/mcp");
        let stop = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        keyfob_mcp_server::serve_http(tools, listener, hosts, auth, stop)
            .await
            .context("the MCP HTTP server stopped")?;
    } else {
        let service = tools
            .serve(rmcp::transport::stdio())
            .await
            .context("the MCP client did not initialize")?;
        service.waiting().await.context("the MCP session failed")?;
    }
    drop(server);
    Ok(ExitCode::SUCCESS)
}

#[derive(serde::Serialize)]
struct ProviderOut {
    id: &'static str,
    display_name: &'static str,
    handlers: Vec<HandlerOut>,
}

#[derive(serde::Serialize)]
struct HandlerOut {
    name: &'static str,
    kind: &'static str,
    default: bool,
    env_keys: Vec<&'static str>,
    configured: bool,
}

fn providers(engine: &Engine, json: bool) -> anyhow::Result<ExitCode> {
    let list: Vec<ProviderOut> = engine
        .catalog()
        .iter()
        .map(|p| ProviderOut {
            id: p.id,
            display_name: p.display_name,
            handlers: p
                .handlers
                .iter()
                .enumerate()
                .map(|(i, h)| HandlerOut {
                    name: h.name(),
                    kind: h.kind().as_str(),
                    default: i == 0,
                    env_keys: h.env_keys(),
                    configured: engine.is_configured(p, h),
                })
                .collect(),
        })
        .collect();
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&list)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "{:<18} {:<22} {:<9} {:<26} CONFIGURED",
        "PROVIDER", "HANDLER", "KIND", "ENV"
    )?;
    for p in &list {
        for h in &p.handlers {
            let configured = if h.configured {
                "yes".to_owned()
            } else {
                format!("no (set client_id in [auth.{}])", p.id)
            };
            writeln!(
                out,
                "{:<18} {:<22} {:<9} {:<26} {configured}",
                p.id,
                format!("{}{}", h.name, if h.default { " *" } else { "" }),
                h.kind,
                h.env_keys.join(","),
            )?;
        }
    }
    writeln!(out, "\n* default handler. {} providers.", list.len())?;
    Ok(ExitCode::SUCCESS)
}

/// Who answers at `addr`: this user's `keyfob serve` with this configuration (then `login` uses
/// it), one with another configuration, or something else. A server must prove itself with the
/// key in its identity file (see `keyfob_callback::identity`), which only this user can read; an
/// answer to `/health` alone proves nothing, since any local user can bind a free port first.
async fn keyfob_server_at(engine: &Engine, addr: SocketAddr) -> Verdict {
    let config = engine.config();
    let Some(id) = Identity::read(&config.home(), addr.port()) else {
        return Verdict::Foreign;
    };
    let server = &config.server;
    let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(2));
    let scheme = if server.https() {
        // Trust exactly the certificate that server uses (self-signed in the home, or given).
        let pem = server
            .tls_cert
            .clone()
            .unwrap_or_else(|| config.home().join("tls").join("cert.pem"));
        match std::fs::read(&pem)
            .ok()
            .and_then(|b| reqwest::Certificate::from_pem(&b).ok())
        {
            Some(cert) => builder = builder.add_root_certificate(cert),
            None => return Verdict::Foreign,
        }
        "https"
    } else {
        "http"
    };
    let Ok(client) = builder.build() else {
        return Verdict::Foreign;
    };
    let mut host = addr;
    if host.ip().is_unspecified() {
        host.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let challenge = identity::challenge();
    let url = if scheme == "https" {
        format!(
            "https://localhost:{}/health?challenge={challenge}",
            host.port()
        )
    } else {
        format!("http://{host}/health?challenge={challenge}")
    };
    #[derive(serde::Deserialize)]
    struct Health {
        proof: Option<String>,
    }
    let proof = match client.get(url).send().await {
        Ok(r) => r.json::<Health>().await.ok().and_then(|h| h.proof),
        Err(_) => None,
    };
    match proof {
        Some(proof) => id.judge(&challenge, &proof, &fingerprint(config)),
        None => Verdict::Foreign,
    }
}

/// What a `keyfob serve` and a `keyfob login` must agree on for the login to complete through
/// that server: the home, the store (and a hash of its key), the providers and their settings,
/// and how login links look. A SHA-256, hex.
fn fingerprint(config: &keyfob::Config) -> String {
    use keyfob::crypto::sha256_hex;
    let server = &config.server;
    // The providers of MCP logins come from the store, not the file: a server started before a
    // login added one must still be recognised (and is not used for MCP logins; see `login`).
    let mine = |id: &&String| !id.starts_with("mcp_");
    let auth: Vec<_> = config.auth.iter().filter(|(id, _)| mine(id)).collect();
    let providers: Vec<_> = config.providers.iter().filter(|(id, _)| mine(id)).collect();
    let key = config
        .store
        .key
        .as_ref()
        .map(|k| sha256_hex(k.expose_secret()));
    sha256_hex(&format!(
        "{:?}|{:?}|{key:?}|{:?}|{:?}|{:?}|{:?}|{}",
        config.home(),
        config.store,
        auth,
        providers,
        server.public_base_url,
        server.path_prefix,
        server.https()
    ))
}

/// A future that resolves on Ctrl-C, listening from the moment it is created (a signal that
/// arrives before the first poll is not lost and does not kill the process).
fn interrupt() -> anyhow::Result<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut s = signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?;
        Ok(Box::pin(async move {
            s.recv().await;
        }))
    }
    #[cfg(not(unix))]
    {
        Ok(Box::pin(async {
            let _ = tokio::signal::ctrl_c().await;
        }))
    }
}

async fn login(engine: Engine, args: LoginArgs) -> anyhow::Result<ExitCode> {
    let interrupted = interrupt()?;
    let k = &args.key;
    let mut req = AuthRequest::new(k.id())
        .scopes(args.scopes.iter().cloned())
        .thread(&k.thread)
        .profile(&k.profile);
    if let Some(h) = &args.handler {
        req = req.handler(h);
    }
    let (_, handler) = engine
        .catalog()
        .handler(&req.provider, req.handler.as_deref())?;
    // A device login needs no callback server. Without a browser, it is the way in where the
    // provider offers it; otherwise the URL is printed for another machine's browser.
    let oauth2 = matches!(handler, keyfob::spec::Handler::OAuth2(_));
    let device = args.device || (oauth2 && !args.no_browser && !browser_available());
    if device {
        match engine.login(&req.clone().device(true)).await {
            Ok(prompt) => {
                show_device_prompt(&prompt, args.links_on_stderr);
                if let Some(sink) = &args.on_link {
                    let code = prompt.user_code.as_deref().unwrap_or("");
                    sink(&prompt.url, &format!("{} (code {code})", prompt.message));
                }
                return finish_login(&engine, &req, prompt, &args, None, interrupted).await;
            }
            Err(e) if !args.device && e.kind() == keyfob::ErrorKind::Unsupported => {
                tracing::debug!(
                    "no device login for {}; using the browser flow",
                    req.provider
                );
            }
            Err(e) => return Err(e.into()),
        }
    }
    let bind = args.bind.unwrap_or(engine.config().server.bind);
    let server = match keyfob_callback::start(engine.clone(), bind).await {
        Ok(s) => Some(s),
        Err(e) => match keyfob_server_at(&engine, bind).await {
            // A server knows the MCP servers logged into before it started, and no others.
            Verdict::Ours if req.provider.starts_with("mcp_") => anyhow::bail!(
                "this user's keyfob server is listening on {bind}, and it cannot complete logins to \
                 MCP servers; stop it for this login, or log in with --bind and another free port"
            ),
            Verdict::Ours => {
                // Prompts must point at the server that will receive the browser.
                engine.set_callback_addr(bind);
                tracing::debug!(
                    kind = e.kind().as_str(),
                    "using this user's keyfob server already on {bind}"
                );
                None
            }
            Verdict::OtherConfig(pid) => anyhow::bail!(
                "a keyfob server with another configuration (pid {pid}) is listening on {bind}; \
                 stop it, or log in with the configuration it runs with (--config, KEYFOB_HOME)"
            ),
            // A token page needs no registered port: serve this login on a free one.
            Verdict::Foreign if !oauth2 => {
                let free = SocketAddr::new(bind.ip(), 0);
                let s = keyfob_callback::start(engine.clone(), free).await?;
                eprintln!(
                    "note: {bind} is taken by a program that is not this user's keyfob server; \
                     this login uses {} instead",
                    s.local_addr()
                );
                Some(s)
            }
            Verdict::Foreign => {
                return Err(anyhow::Error::new(e).context(format!(
                    "{bind} is taken by a program that is not this user's keyfob server, and \
                     {}'s registered redirect URI needs that port; stop that program (`ss -ltnp`), \
                     or register another port and pass --bind",
                    req.provider
                )));
            }
        },
    };
    let prompt = engine.login(&req).await?;
    eprintln!("{}:", prompt.message);
    show_line(args.links_on_stderr, &prompt.url);
    if let Some(sink) = &args.on_link {
        sink(&prompt.url, &prompt.message);
    }
    let mut opener = None;
    if !args.no_browser {
        match open_browser(engine.config(), &prompt) {
            Ok(file) => opener = Some(file),
            Err(e) => {
                tracing::debug!(error = %e, "cannot open a browser");
                eprintln!("(could not open a browser; open the URL above yourself)");
            }
        }
    }
    let done = finish_login(&engine, &req, prompt, &args, server, interrupted).await;
    if let Some(file) = opener {
        let _ = std::fs::remove_file(file);
    }
    done
}

/// Opens the login link in the user's browser without putting it on a command line, where
/// every local user could read it (`/proc/<pid>/cmdline`): the link goes into a private HTML file
/// (`<home>/run/login-<flow>.html`, 0600 in a 0700 directory) that redirects to it, and the
/// browser is given the file's path. The caller removes the file when the login ends.
fn open_browser(config: &keyfob::Config, prompt: &keyfob::Prompt) -> anyhow::Result<PathBuf> {
    let dir = config.home().join("run");
    // Left behind by logins that were killed: an hour is longer than any link lives.
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let stale = entry.file_name().to_string_lossy().starts_with("login-")
                && entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t.elapsed().unwrap_or_default() > Duration::from_secs(3600));
            if stale {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    let file = dir.join(format!("login-{}.html", prompt.flow_id));
    let url = html_escape::encode_double_quoted_attribute(&prompt.url);
    let page = format!(
        "<!doctype html><meta charset=\"utf-8\"><meta name=\"referrer\" content=\"no-referrer\">\
         <meta http-equiv=\"refresh\" content=\"0;url={url}\"><title>keyfob login</title>\
         <p><a href=\"{url}\">Continue to the keyfob login</a></p>\n"
    );
    // A directory another user planted (or can write to) would let them read or swap the page;
    // a missing one is created owner-only.
    if dir.exists() {
        keyfob::crypto::check_private(&dir)?;
    }
    keyfob::crypto::write_private(&file, page.as_bytes())
        .with_context(|| format!("cannot write {}", file.display()))?;
    webbrowser::open(&format!("file://{}", file.display()))
        .with_context(|| "cannot start a browser".to_owned())
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&file);
        })?;
    Ok(file)
}

/// Waits for the user, then reports; cancels the flow when nobody waits any more.
async fn finish_login(
    engine: &Engine,
    req: &AuthRequest,
    prompt: keyfob::Prompt,
    args: &LoginArgs,
    server: Option<keyfob_callback::Server>,
    interrupted: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
) -> anyhow::Result<ExitCode> {
    let timeout = Duration::from_secs(
        args.timeout
            .unwrap_or(engine.config().session.flow_timeout_secs),
    );
    let spinner = std::io::stderr().is_terminal().then(|| {
        let s = indicatif::ProgressBar::new_spinner();
        s.set_message(if prompt.user_code.is_some() {
            "waiting for you to enter the code… (Ctrl-C to cancel)"
        } else {
            "waiting for you to finish in the browser… (Ctrl-C to cancel)"
        });
        s.enable_steady_tick(Duration::from_millis(120));
        s
    });
    let outcome = tokio::select! {
        r = engine.wait(&prompt, timeout) => Some(r),
        () = interrupted => None,
    };
    if let Some(s) = spinner {
        s.finish_and_clear();
    }
    if let Some(server) = server {
        server.shutdown().await;
    }
    if !matches!(outcome, Some(Ok(_))) {
        // Nobody waits for the link any more: kill it, and drop its verifier from the store.
        if let Err(e) = engine.cancel(&prompt).await {
            tracing::warn!(kind = e.kind().as_str(), "cannot cancel the login flow");
        }
    }
    match outcome {
        None => {
            eprintln!("Login cancelled.");
            Ok(ExitCode::from(130))
        }
        Some(Err(e)) => Err(e.into()),
        Some(Ok(_)) => {
            let (p, _) = engine
                .catalog()
                .handler(&req.provider, req.handler.as_deref())?;
            let who = engine
                .status(Some(&prompt.key.thread))
                .await?
                .into_iter()
                .find(|s| s.provider == prompt.key.provider && s.profile == prompt.key.profile)
                .and_then(|s| s.identity)
                .map(|i| format!(" as {i}"))
                .unwrap_or_default();
            let key = if args.label_from_identity {
                engine.label_profile_from_identity(&prompt.key).await?
            } else {
                prompt.key.clone()
            };
            eprintln!(
                "Logged in to {}{who} (thread {}, profile {}).",
                p.display_name, key.thread, key.profile
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn logout(engine: &Engine, args: LogoutArgs) -> anyhow::Result<ExitCode> {
    let k = &args.key;
    engine.catalog().provider(k.id())?;
    let key = SessionKey::new(k.id(), &k.thread, &k.profile);
    let out = engine
        .sign_out(
            &key,
            SignOut {
                revoke: !args.no_revoke,
                keep_if_revocation_fails: args.keep_if_revoke_fails,
            },
        )
        .await?;
    let whose = format!(
        "{} (thread {}, profile {})",
        k.id(),
        key.thread,
        key.profile
    );
    match &out.revocation {
        Revocation::NoSession => {
            eprintln!("Not logged in to {whose}; nothing to do.");
            return Ok(ExitCode::SUCCESS);
        }
        Revocation::Revoked => eprintln!("Revoked the tokens at the provider."),
        Revocation::Skipped => eprintln!("Not revoked at the provider (--no-revoke)."),
        Revocation::Unsupported(why) => eprintln!("Not revoked at the provider: {why}."),
        Revocation::Failed(why) => eprintln!("warning: revocation failed: {why}"),
    }
    if out.deleted {
        eprintln!("Logged out of {whose}.");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("Kept the session of {whose}; run `keyfob logout` again to retry.");
        Ok(ExitCode::FAILURE)
    }
}

/// Whether a browser can likely be opened here: not over SSH without a display, not in a
/// headless container.
fn browser_available() -> bool {
    if std::env::var_os("BROWSER").is_some_and(|b| !b.is_empty()) {
        return true;
    }
    if cfg!(any(target_os = "macos", target_os = "windows")) {
        return std::env::var_os("SSH_CONNECTION").is_none();
    }
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|d| !d.is_empty()))
}

/// Prints the device-login instructions, with a QR code of the URL on a terminal.
fn show_device_prompt(prompt: &keyfob::Prompt, links_on_stderr: bool) {
    let code = prompt.user_code.as_deref().unwrap_or("");
    eprintln!("{}.", prompt.message);
    show_line(links_on_stderr, &prompt.url);
    show_line(links_on_stderr, &format!("code: {code}"));
    if std::io::stderr().is_terminal()
        && let Ok(qr) = qrcode::QrCode::new(prompt.url.as_bytes())
    {
        let art = qr
            .render::<qrcode::render::unicode::Dense1x2>()
            .quiet_zone(true)
            .build();
        eprintln!("{art}");
    }
}

async fn status(engine: &Engine, thread: Option<&str>, json: bool) -> anyhow::Result<ExitCode> {
    let sessions = engine.status(thread).await?;
    let mut out = std::io::stdout().lock();
    if !json {
        // On stderr, so the table stays the whole of stdout.
        let store = engine.store();
        match store.location() {
            Some(at) => eprintln!("Store: {} at {at}", store.name()),
            None => eprintln!("Store: {}", store.name()),
        }
    }
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&sessions)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    if sessions.is_empty() {
        eprintln!("No sessions. Log in with `keyfob login <provider>`.");
        return Ok(ExitCode::SUCCESS);
    }
    let now = keyfob::now();
    writeln!(
        out,
        "{:<14} {:<10} {:<10} {:<16} {:<22} {:<14} {:<20} SCOPES",
        "PROVIDER", "THREAD", "PROFILE", "HANDLER", "STATE", "EXPIRES", "ACCOUNT"
    )?;
    for s in sessions {
        let expires = match s.expires_at {
            None => "never".to_owned(),
            Some(at) if at <= now => "expired".to_owned(),
            Some(at) => format!("in {}", human(at - now)),
        };
        let state = if s.needs_reauth {
            "needs re-authentication"
        } else {
            s.state.as_str()
        };
        let missing: Vec<_> = s
            .requested_scopes
            .iter()
            .filter(|r| !s.scopes.contains(r))
            .map(String::as_str)
            .collect();
        let scopes = if missing.is_empty() {
            s.scopes.join(" ")
        } else {
            format!(
                "{} (asked, not granted: {})",
                s.scopes.join(" "),
                missing.join(" ")
            )
        };
        writeln!(
            out,
            "{:<14} {:<10} {:<10} {:<16} {:<22} {:<14} {:<20} {}",
            s.provider,
            s.thread,
            s.profile,
            s.handler,
            state,
            expires,
            s.identity.as_deref().unwrap_or("-"),
            scopes
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn human(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

async fn exec(
    engine: &Engine,
    providers: &str,
    profile: &str,
    thread: &str,
    command: &[String],
) -> anyhow::Result<ExitCode> {
    let mut all: Option<keyfob::Credentials> = None;
    for id in providers
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        engine.catalog().provider(id)?;
        let creds = engine
            .credentials(&SessionKey::new(id, thread, profile))
            .await?;
        match &mut all {
            Some(a) => a.extend(creds),
            None => all = Some(creds),
        }
    }
    let creds = all.context("name at least one provider")?;
    let mut cmd = tokio::process::Command::new(&command[0]);
    cmd.args(&command[1..]);
    // The child gets the user's environment without keyfob's own settings (the store key,
    // client secrets), plus the credentials it was started for.
    for k in keyfob::config::own_env_vars() {
        cmd.env_remove(k);
    }
    for (k, v) in creds.env() {
        cmd.env(k, v.expose_secret());
    }
    let status = match cmd.status().await {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("error: command not found: {}", command[0]);
            return Ok(ExitCode::from(127));
        }
        Err(e) => return Err(anyhow::Error::new(e).context(format!("cannot run {}", command[0]))),
    };
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return Ok(ExitCode::from(128 + u8::try_from(sig).unwrap_or(0)));
        }
    }
    Ok(ExitCode::from(
        u8::try_from(status.code().unwrap_or(1)).unwrap_or(1),
    ))
}

async fn serve(config: keyfob::Config, bind: Option<SocketAddr>) -> anyhow::Result<ExitCode> {
    let bind = bind.unwrap_or(config.server.bind);
    let identity = Identity::new(&fingerprint(&config));
    let home = config.home();
    let engine = keyfob::open(config).await?;
    // `[server] tls` (or --tls) makes both the server and the engine's login links https.
    let server = keyfob_callback::start_with(
        engine.clone(),
        bind,
        keyfob_callback::Options {
            identity: Some(identity.clone()),
            ..keyfob_callback::Options::default()
        },
    )
    .await?;
    // How `keyfob login` recognises this server (see `keyfob_server_at`).
    let id_file = identity.write(&home, server.local_addr().port())?;
    println!(
        "keyfob callback server listening on {}",
        engine.callback_base()
    );
    let stopped = tokio::select! {
        r = server.wait() => r.context("the callback server stopped"),
        _ = tokio::signal::ctrl_c() => { eprintln!("Stopping."); Ok(()) }
    };
    let _ = std::fs::remove_file(id_file);
    stopped?;
    Ok(ExitCode::SUCCESS)
}
