//! An agent-style loop with a token tool (Notion) and an OAuth2 tool (GitHub): each call either
//! runs with credentials or pauses with the URL the user must open; after the user finishes, the
//! same call runs.
//!
//! ```sh
//! cargo run -p keyfob --example agent_loop              # you play the user, in your browser
//! cargo run -p keyfob --example agent_loop -- --demo    # fully scripted: keyfob's test OAuth2
//!                                                       # server stands in for GitHub and the
//!                                                       # script types the Notion token
//! ```
//!
//! Interactive mode reads `keyfob.toml` like the CLI (GitHub needs `[auth.github]` client
//! credentials); `--demo` needs the test server's node packages (`cargo xtask setup`).

use std::time::Duration;

use keyfob::tools::Value;
use keyfob::{Config, Credentials, ExposeSecret, Invocation, Keyfob, Prompt};
use keyfob_testkit::{Browser, Idp, IdpClient, IdpOptions};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize, keyfob::schemars::JsonSchema)]
#[schemars(crate = "keyfob::schemars")]
struct RepoArgs {
    /// Repository owner.
    owner: String,
}

/// Lists a user's repositories.
#[keyfob::tool(auth_provider = "github", scopes = ["repo"])]
async fn list_repos(args: RepoArgs, creds: Credentials) -> Result<Value, String> {
    // A real tool would call the GitHub API with this token.
    let token = creds.get("GITHUB_TOKEN").ok_or("no GitHub token")?;
    Ok(json!({ "owner": args.owner, "authorized": !token.expose_secret().is_empty() }))
}

#[derive(Deserialize, keyfob::schemars::JsonSchema)]
#[schemars(crate = "keyfob::schemars")]
struct PageArgs {
    /// Page title to look up.
    title: String,
}

/// Finds a Notion page by title.
#[keyfob::tool(auth_provider = "notion", auth_handler = "notion-token")]
async fn find_page(args: PageArgs, creds: Credentials) -> Result<Value, String> {
    let token = creds.access_token();
    Ok(json!({ "title": args.title, "token_prefix": &token[..token.len().min(4)] }))
}

/// Adds two numbers (no auth needed).
#[keyfob::tool]
async fn add(args: AddArgs) -> Result<i64, String> {
    Ok(args.a + args.b)
}

#[derive(Deserialize, keyfob::schemars::JsonSchema)]
#[schemars(crate = "keyfob::schemars")]
struct AddArgs {
    a: i64,
    b: i64,
}

/// In demo mode, plays the user's part for a prompt.
struct DemoUser {
    browser: Browser,
    http: reqwest::Client,
}

impl DemoUser {
    async fn act(&self, prompt: &Prompt) -> anyhow::Result<()> {
        if prompt.key.provider == "notion" {
            let state = url::Url::parse(&prompt.url)?
                .query_pairs()
                .find(|(k, _)| k == "state")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            let action = prompt.url.split('?').next().unwrap_or_default().to_owned();
            println!("   [demo user] types a Notion token into the page");
            self.http
                .post(action)
                .form(&[("state", state.as_str()), ("token", "ntn_demo_token")])
                .send()
                .await?;
        } else {
            println!("   [demo user] approves the consent screen");
            let callback = self.browser.approve(&prompt.url).await?;
            self.http.get(callback).send().await?;
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let demo = std::env::args().any(|a| a == "--demo");
    // In demo mode the test OAuth2 server stands in for GitHub.
    let (config, _idp) = if demo {
        let port = keyfob_testkit::free_port();
        let idp = Idp::start(IdpOptions {
            clients: vec![IdpClient::post(
                "demo",
                "demo-secret",
                &[&format!(
                    "http://127.0.0.1:{port}/auth/github/oauth2/callback"
                )],
            )],
            extra_scopes: vec!["repo".into()],
            ..IdpOptions::default()
        })
        .await?;
        let toml = format!(
            "[server]\nbind = \"127.0.0.1:{port}\"\n[store]\nkind = \"memory\"\n\
             [auth.github]\nclient_id = \"demo\"\nclient_secret = \"demo-secret\"\nauthorize_url = \"{}\"\ntoken_url = \"{}\"\n",
            idp.authorize_url(),
            idp.token_url()
        );
        (Config::from_toml(&toml)?, Some(idp))
    } else {
        (Config::load(None)?.0, None)
    };
    let bind = config.server.bind;
    let mut keyfob = Keyfob::from_config(config).await?;
    keyfob
        .register(list_repos_tool())?
        .register(find_page_tool())?
        .register(add_tool())?;
    let server = keyfob_callback::start(keyfob.engine().clone(), bind).await?;
    let user = DemoUser {
        browser: Browser::new(),
        http: reqwest::Client::new(),
    };

    println!("tools the model sees:");
    for t in keyfob.tools() {
        println!(
            "  - {}: {}",
            t.name(),
            t.description().lines().next().unwrap_or("")
        );
    }

    // What a model would decide to call, scripted.
    let script = [
        ("add", json!({"a": 2, "b": 40})),
        ("list_repos", json!({"owner": "octocat"})),
        ("find_page", json!({"title": "Roadmap"})),
    ];
    for (tool, args) in script {
        println!("\nagent calls {tool}({args})");
        loop {
            match keyfob
                .invoke(tool, args.clone(), "chat-1", "default")
                .await?
            {
                Invocation::Done(out) => {
                    println!("-> done: {out}");
                    break;
                }
                Invocation::Failed(e) => {
                    println!("-> failed: {e}");
                    break;
                }
                Invocation::Paused(prompt) => {
                    println!("-> paused. {}:\n   {}", prompt.message, prompt.url);
                    if demo {
                        user.act(&prompt).await?;
                    } else {
                        println!("   (waiting for you to finish in the browser)");
                    }
                    keyfob.wait(&prompt, Duration::from_secs(300)).await?;
                    println!("   the user finished; calling again");
                }
            }
        }
    }
    server.shutdown().await;
    Ok(())
}
