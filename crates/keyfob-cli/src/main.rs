//! The `keyfob` command: log in to providers, print tokens, run commands with credentials.
//!
//! Exit codes: 0 success; 1 any other error (config, network, a provider's token endpoint); 2 bad
//! usage; 3 not logged in or the session needs a new login; 4 the login was denied or its link
//! expired or was already used; 5 timed out waiting for the user; 130 interrupted. `exec` passes
//! the command's own exit code through.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use keyfob::{AuthRequest, Engine, ErrorKind, ExposeSecret, SessionKey, SessionState};

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
    /// Delete a stored session.
    Logout(KeyArgs),
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
    /// Run the callback server on its own.
    Serve {
        /// Address to bind (default: [server] bind, 127.0.0.1:8975).
        #[arg(long)]
        bind: Option<SocketAddr>,
    },
}

#[derive(Args)]
struct KeyArgs {
    /// Provider id.
    provider: String,
    /// Profile.
    #[arg(long, default_value = "default")]
    profile: String,
    /// Thread.
    #[arg(long, default_value = "default")]
    thread: String,
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
    /// Give up after this many seconds (default: the flow timeout, 300).
    #[arg(long, value_name = "SECS")]
    timeout: Option<u64>,
    /// Address for the callback server (default: [server] bind).
    #[arg(long)]
    bind: Option<SocketAddr>,
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
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
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

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = cli.config.as_ref();
    match cli.command {
        Command::Providers { json } => providers(&engine(config).await?, json),
        Command::Login(args) => login(engine(config).await?, args).await,
        Command::Token(k) => {
            let engine = engine(config).await?;
            engine.catalog().provider(&k.provider)?;
            let creds = engine
                .credentials(&SessionKey::new(&k.provider, &k.thread, &k.profile))
                .await?;
            println!("{}", creds.access_token());
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { thread, json } => {
            status(&engine(config).await?, thread.as_deref(), json).await
        }
        Command::Logout(k) => {
            let engine = engine(config).await?;
            engine.catalog().provider(&k.provider)?;
            let key = SessionKey::new(&k.provider, &k.thread, &k.profile);
            if engine.logout(&key).await? {
                eprintln!(
                    "Logged out of {} (thread {}, profile {}).",
                    k.provider, key.thread, key.profile
                );
            } else {
                eprintln!(
                    "Not logged in to {} (thread {}, profile {}); nothing to do.",
                    k.provider, key.thread, key.profile
                );
            }
            Ok(ExitCode::SUCCESS)
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
        Command::Serve { bind } => serve(engine(config).await?, bind).await,
    }
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
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<18} {:<22} {:<9} {:<26} CONFIGURED",
        "PROVIDER", "HANDLER", "KIND", "ENV"
    );
    for p in &list {
        for h in &p.handlers {
            println!(
                "{:<18} {:<22} {:<9} {:<26} {}",
                p.id,
                format!("{}{}", h.name, if h.default { " *" } else { "" }),
                h.kind,
                h.env_keys.join(","),
                if h.configured {
                    "yes"
                } else {
                    "no (set client_id in [auth.<id>])"
                }
            );
        }
    }
    println!("\n* default handler. {} providers.", list.len());
    Ok(ExitCode::SUCCESS)
}

/// Whether a keyfob server already answers at `addr` (then `login` can use it).
async fn keyfob_server_at(addr: SocketAddr) -> bool {
    let Ok(client) = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
    else {
        return false;
    };
    match client.get(format!("http://{addr}/health")).send().await {
        Ok(r) => r
            .text()
            .await
            .is_ok_and(|t| t.contains("\"status\":\"ok\"")),
        Err(_) => false,
    }
}

async fn login(engine: Engine, args: LoginArgs) -> anyhow::Result<ExitCode> {
    let k = &args.key;
    let mut req = AuthRequest::new(&k.provider)
        .scopes(args.scopes.iter().cloned())
        .thread(&k.thread)
        .profile(&k.profile);
    if let Some(h) = &args.handler {
        req = req.handler(h);
    }
    engine
        .catalog()
        .handler(&req.provider, req.handler.as_deref())?;
    let bind = args.bind.unwrap_or(engine.config().server.bind);
    let server = match keyfob_callback::start(engine.clone(), bind).await {
        Ok(s) => Some(s),
        Err(e) if keyfob_server_at(bind).await => {
            // Prompts must point at the server that will receive the browser.
            engine.set_callback_addr(bind);
            tracing::debug!(
                kind = e.kind().as_str(),
                "using the keyfob server already on {bind}"
            );
            None
        }
        Err(e) => return Err(e.into()),
    };
    let prompt = engine.login(&req).await?;
    eprintln!("{}:", prompt.message);
    println!("{}", prompt.url);
    if !args.no_browser && webbrowser::open(&prompt.url).is_err() {
        eprintln!("(could not open a browser; open the URL above yourself)");
    }
    let timeout = Duration::from_secs(
        args.timeout
            .unwrap_or(engine.config().session.flow_timeout_secs),
    );
    let spinner = std::io::stderr().is_terminal().then(|| {
        let s = indicatif::ProgressBar::new_spinner();
        s.set_message("waiting for you to finish in the browser… (Ctrl-C to cancel)");
        s.enable_steady_tick(Duration::from_millis(120));
        s
    });
    let outcome = tokio::select! {
        r = engine.wait(&prompt, timeout) => Some(r),
        _ = tokio::signal::ctrl_c() => None,
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
            eprintln!(
                "Logged in to {} (thread {}, profile {}).",
                p.display_name, prompt.key.thread, prompt.key.profile
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn status(engine: &Engine, thread: Option<&str>, json: bool) -> anyhow::Result<ExitCode> {
    let sessions = engine.status(thread).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&sessions)?);
        return Ok(ExitCode::SUCCESS);
    }
    if sessions.is_empty() {
        eprintln!("No sessions. Log in with `keyfob login <provider>`.");
        return Ok(ExitCode::SUCCESS);
    }
    let now = keyfob::now();
    println!(
        "{:<14} {:<10} {:<10} {:<16} {:<14} {:<14} SCOPES",
        "PROVIDER", "THREAD", "PROFILE", "HANDLER", "STATE", "EXPIRES"
    );
    for s in sessions {
        let expires = match s.expires_at {
            None => "never".to_owned(),
            Some(at) if at <= now => "expired".to_owned(),
            Some(at) => format!("in {}", human(at - now)),
        };
        let state = if s.refresh_error.is_some() && s.state != SessionState::Valid {
            "needs_login"
        } else {
            s.state.as_str()
        };
        println!(
            "{:<14} {:<10} {:<10} {:<16} {:<14} {:<14} {}",
            s.provider,
            s.thread,
            s.profile,
            s.handler,
            state,
            expires,
            s.scopes.join(" ")
        );
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

async fn serve(engine: Engine, bind: Option<SocketAddr>) -> anyhow::Result<ExitCode> {
    let bind = bind.unwrap_or(engine.config().server.bind);
    let server = keyfob_callback::start(engine.clone(), bind).await?;
    println!(
        "keyfob callback server listening on {}",
        engine.callback_base()
    );
    tokio::select! {
        r = server.wait() => { r.context("the callback server stopped")?; }
        _ = tokio::signal::ctrl_c() => { eprintln!("Stopping."); }
    }
    Ok(ExitCode::SUCCESS)
}
