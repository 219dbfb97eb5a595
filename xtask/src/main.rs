//! `cargo xtask <command>`: keyfob's project tasks (the alias is in `.cargo/config.toml`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use xtask::codegen::{self, Mode};
use xtask::scaffold::{self, Common, Request};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "keyfob's project tasks",
    disable_version_flag = true
)]
struct Cli {
    /// The repository to work on (default: the one this xtask was built from).
    #[arg(long, global = true, hide = true)]
    root: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create a token provider crate from template-token and wire it in.
    #[command(name = "new-token-provider")]
    NewTokenProvider {
        /// The provider id: lowercase letters, digits and `_`, starting with a letter.
        id: String,
        #[command(flatten)]
        common: CommonArgs,
        /// A cheap authenticated GET that tells whether a token works (https).
        #[arg(long)]
        verify_url: Option<String>,
    },
    /// Create an OAuth2 provider crate from template-oauth2 and wire it in.
    #[command(name = "new-oauth2-provider")]
    NewOAuth2Provider {
        /// The provider id: lowercase letters, digits and `_`, starting with a letter.
        id: String,
        #[command(flatten)]
        common: CommonArgs,
        /// Authorization endpoint (https).
        #[arg(long)]
        authorize_url: String,
        /// Token endpoint (https).
        #[arg(long)]
        token_url: String,
        /// Recommended scopes, separated by commas or spaces (repeatable).
        #[arg(long)]
        scopes: Vec<String>,
        /// What joins scopes in the authorize URL: `space` (" ") or `comma` (",").
        #[arg(long, default_value = "space")]
        scope_separator: String,
        /// Client authentication at the token endpoint: `basic` or `body`.
        #[arg(long, default_value = "body")]
        client_auth: String,
        /// The provider accepts PKCE S256 (the default).
        #[arg(long, overrides_with = "no_pkce")]
        pkce: bool,
        /// The provider rejects or ignores PKCE.
        #[arg(long)]
        no_pkce: bool,
        /// Refresh tokens: `plain`, `rotating` or `none`.
        #[arg(long, default_value = "plain")]
        refresh: String,
    },
    /// Regenerate what derives from the provider crates (facade features and link lines,
    /// the registry test's feature checks, docs/providers.md, the README summary).
    Codegen {
        /// Change nothing; fail when a generated file is stale.
        #[arg(long)]
        check: bool,
    },
    /// Check project rules: module docs, no disabled tests, provider crate shape.
    Tidy,
    /// Install test dependencies, then run every test (extra args go to `cargo test`).
    Test {
        /// Leave out the tests that need a redis-server (and count them in the summary),
        /// instead of installing it or stopping without it.
        #[arg(long)]
        skip_redis: bool,
        /// Leave out the tests that need PostgreSQL (and count them), instead of installing it
        /// or stopping without it.
        #[arg(long)]
        skip_postgres: bool,
        /// Leave out the end-to-end tests in a real headless Chromium (and count them), instead
        /// of installing Chromium or stopping without it.
        #[arg(long)]
        skip_browser: bool,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Only install test dependencies (redis-server, Chromium, node packages of the test IdP).
    Setup {
        /// Do not install redis-server.
        #[arg(long)]
        skip_redis: bool,
        /// Do not install PostgreSQL.
        #[arg(long)]
        skip_postgres: bool,
        /// Do not install Chromium.
        #[arg(long)]
        skip_browser: bool,
    },
    /// Internal: one hermetic cargo-generate run (see scaffold.rs).
    #[command(name = "__render", hide = true)]
    Render {
        template: PathBuf,
        destination: PathBuf,
        name: String,
        config: PathBuf,
        defines: Vec<String>,
    },
}

#[derive(Args)]
struct CommonArgs {
    /// The name people know the service by (default: the id in title case).
    #[arg(long)]
    display_name: Option<String>,
    /// The environment variable a tool reads (default: <ID>_TOKEN).
    #[arg(long)]
    env_key: Option<String>,
    /// Where users get credentials: a token page, or where developers register an OAuth app.
    #[arg(long)]
    docs_url: Option<String>,
    /// Replace an existing provider crate of that id.
    #[arg(long)]
    force: bool,
}

impl CommonArgs {
    fn split(self) -> (Common, bool) {
        (
            Common {
                display_name: self.display_name,
                env_key: self.env_key,
                docs_url: self.docs_url,
            },
            self.force,
        )
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = cli.root.clone().unwrap_or_else(xtask::project_root);
    match run(cli.cmd, &root) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cmd: Cmd, root: &std::path::Path) -> anyhow::Result<()> {
    match cmd {
        Cmd::NewTokenProvider {
            id,
            common,
            verify_url,
        } => {
            let (common, force) = common.split();
            scaffold_and_report(root, Request::token(&id, common, verify_url, force)?)
        }
        Cmd::NewOAuth2Provider {
            id,
            common,
            authorize_url,
            token_url,
            scopes,
            scope_separator,
            client_auth,
            pkce: _,
            no_pkce,
            refresh,
        } => {
            let (common, force) = common.split();
            let req = Request::oauth2(
                &id,
                common,
                authorize_url,
                token_url,
                scopes,
                scope_separator,
                client_auth,
                !no_pkce,
                refresh,
                force,
            )?;
            scaffold_and_report(root, req)
        }
        Cmd::Codegen { check } => {
            let mode = if check { Mode::Check } else { Mode::Write };
            let changed = codegen::run(root, mode)?;
            if changed.is_empty() {
                eprintln!("codegen: everything is up to date");
            }
            for f in changed {
                eprintln!("codegen: wrote {}", f.display());
            }
            Ok(())
        }
        Cmd::Tidy => {
            let problems = xtask::tidy::check(root)?;
            if problems.is_empty() {
                eprintln!("tidy: no problems");
                Ok(())
            } else {
                anyhow::bail!(
                    "tidy found {} problem(s):\n  - {}",
                    problems.len(),
                    problems.join("\n  - ")
                )
            }
        }
        Cmd::Test {
            skip_redis,
            skip_postgres,
            skip_browser,
            args,
        } => xtask::test::test(
            root,
            xtask::test::Skip {
                redis: skip_redis,
                postgres: skip_postgres,
                browser: skip_browser,
            },
            args,
        ),
        Cmd::Setup {
            skip_redis,
            skip_postgres,
            skip_browser,
        } => xtask::test::setup(
            root,
            xtask::test::Skip {
                redis: skip_redis,
                postgres: skip_postgres,
                browser: skip_browser,
            },
        ),
        Cmd::Render {
            template,
            destination,
            name,
            config,
            defines,
        } => {
            let out = scaffold::render_here(&template, &destination, &name, &config, defines)?;
            println!("{}", out.display());
            Ok(())
        }
    }
}

fn scaffold_and_report(root: &std::path::Path, req: Request) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let out = scaffold::run(root, &exe, &req)?;
    print!("{}", scaffold::summary(&req, &out));
    Ok(())
}
