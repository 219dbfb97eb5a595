//! An rmcp client that keeps its OAuth login in keyfob's store: the first run logs in (the
//! link on stderr, the callback on a loopback port), every later run, in any process, starts
//! from the stored login, refreshed under keyfob's lease when due. Then it lists the server's
//! tools, or calls one.
//!
//! ```sh
//! cargo run -p keyfob-rmcp --example rmcp_login -- https://mcp.example.com/mcp [TOOL [JSON_ARGS]]
//! ```
//!
//! The store is the one keyfob's configuration selects (`KEYFOB_CONFIG`, `KEYFOB_HOME`), as for
//! the `keyfob` command; `keyfob status` lists the login as `rmcp_<name>`.

use anyhow::Context;
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ClientConfig};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::auth::{
    AuthClient, AuthorizationManager, AuthorizationRequest, AuthorizationSession,
};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // HTTPS with rustls on ring, as the rest of keyfob.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .context("usage: rmcp_login <MCP server URL> [TOOL [JSON_ARGS]]")?;
    let (config, _) = keyfob_core::Config::load(None)?;
    let store = keyfob_tools::open_store(&config).await?;
    let vault = keyfob_rmcp::Vault::new(store, &url, "", "")?;

    // A server on this machine has a private address, which rmcp refuses unless told.
    let loopback = url::Url::parse(&url)?.host_str().is_some_and(|h| {
        h == "localhost" || h.parse::<std::net::IpAddr>().is_ok_and(|a| a.is_loopback())
    });
    let mut manager = if loopback {
        AuthorizationManager::new_allowing_private_addresses(url.as_str()).await?
    } else {
        AuthorizationManager::new(url.as_str()).await?
    };
    manager.set_credential_store(vault.credentials());
    manager.set_state_store(vault.states());
    if !manager.initialize_from_store().await? {
        manager = log_in(manager).await?;
    }

    let transport = StreamableHttpClientTransport::with_client(
        AuthClient::new(reqwest013::Client::new(), manager),
        StreamableHttpClientTransportConfig::with_uri(url.clone()),
    );
    let client = ClientConfig::default().serve(transport).await?;
    match args.next() {
        None => {
            for tool in client.list_all_tools().await? {
                println!("{}", tool.name);
            }
        }
        Some(tool) => {
            let mut params = CallToolRequestParams::new(tool);
            if let Some(json) = args.next() {
                params.arguments = Some(serde_json::from_str(&json).context("JSON_ARGS")?);
            }
            let result = client.call_tool(params).await?;
            println!("{}", serde_json::to_string_pretty(&result)?);
        }
    }
    client.cancel().await?;
    Ok(())
}

/// rmcp's own flow (discovery, registration, PKCE, the resource), its state in keyfob's store;
/// the user's browser comes back to a one-shot loopback listener.
async fn log_in(mut manager: AuthorizationManager) -> anyhow::Result<AuthorizationManager> {
    let metadata = manager.resolve_metadata().await?;
    manager.set_metadata(metadata.metadata);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let redirect = format!("http://{}/callback", listener.local_addr()?);
    let session = AuthorizationSession::new(
        manager,
        AuthorizationRequest::new(redirect.as_str()).with_client_name("keyfob rmcp example"),
    )
    .await
    .map_err(|(_, e)| e)?;
    eprintln!(
        "Open this link to log in:\n{}",
        session.get_authorization_url()
    );

    let (mut conn, _) = listener.accept().await?;
    let mut request = vec![0; 8192];
    let n = conn.read(&mut request).await?;
    let line = String::from_utf8_lossy(&request[..n]);
    let target = line
        .split_whitespace()
        .nth(1)
        .context("the browser sent no request line")?;
    let callback = format!("{}{}", redirect.trim_end_matches("/callback"), target);
    let outcome = session.handle_callback_url(&callback).await;
    let page = if outcome.is_ok() {
        "Logged in; you may close this page."
    } else {
        "The login failed; see the terminal."
    };
    conn.write_all(
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
            page.len()
        )
        .as_bytes(),
    )
    .await?;
    outcome?;
    Ok(session.auth_manager)
}
