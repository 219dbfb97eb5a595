//! The official Rust MCP SDK (rmcp) with keyfob's SQLite store as its vault, against a protected
//! MCP server behind a real authorization server (the testkit's: the MCP TypeScript SDK's parts
//! behind oidc-provider with registration, resource indicators and rotating refresh tokens).

use std::sync::Arc;
use std::time::Duration;

use keyfob_core::crypto::Sealer;
use keyfob_core::{SessionKey, SessionStore};
use keyfob_rmcp::Vault;
use keyfob_store_sqlite::SqliteStore;
use keyfob_testkit::mcp::ResourceServer;
use keyfob_testkit::{Browser, free_port};
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ClientConfig};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::auth::{
    AuthClient, AuthorizationManager, AuthorizationRequest, AuthorizationSession,
};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

/// One process's view: its own handle on the store file, and an rmcp manager on it.
async fn manager(db: &std::path::Path, key: &str, url: &str) -> (AuthorizationManager, SessionKey) {
    // rmcp's HTTP clients take TLS from the process's rustls provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let store: Arc<dyn SessionStore> =
        Arc::new(SqliteStore::open(db, Sealer::from_base64(key).unwrap()).unwrap());
    let vault = Vault::new(store, url, "", "").unwrap();
    let mut manager = AuthorizationManager::new_allowing_private_addresses(url)
        .await
        .unwrap();
    manager.set_credential_store(vault.credentials());
    manager.set_state_store(vault.states());
    (manager, vault.key().clone())
}

/// Logs in with rmcp's own flow (discovery, dynamic registration, PKCE, resource), the user
/// approving in a browser; keyfob's store keeps the state and then the credentials.
async fn log_in(mut manager: AuthorizationManager) -> AuthorizationManager {
    let metadata = manager.resolve_metadata().await.unwrap();
    manager.set_metadata(metadata.metadata);
    let redirect = format!("http://127.0.0.1:{}/callback", free_port());
    let session = AuthorizationSession::new(
        manager,
        AuthorizationRequest::new(redirect).with_client_name("keyfob-rmcp tests"),
    )
    .await
    .map_err(|(_, e)| e)
    .unwrap();
    let callback = Browser::new()
        .approve(session.get_authorization_url())
        .await
        .unwrap();
    session.handle_callback_url(&callback).await.unwrap();
    session.auth_manager
}

/// Calls `whoami` through rmcp's streamable HTTP client with the manager's token.
async fn whoami(manager: AuthorizationManager, url: &str) -> String {
    let transport = StreamableHttpClientTransport::with_client(
        AuthClient::new(reqwest013::Client::new(), manager),
        StreamableHttpClientTransportConfig::with_uri(url.to_owned()),
    );
    let client = ClientConfig::default().serve(transport).await.unwrap();
    let result = client
        .call_tool(CallToolRequestParams::new("whoami"))
        .await
        .unwrap();
    client.cancel().await.unwrap();
    serde_json::to_value(&result).unwrap()["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// An rmcp client logs in once; its credentials are sealed in keyfob's store, listed under
/// `rmcp_<name>`, and a second process's rmcp client starts from them without a login.
#[tokio::test]
async fn an_rmcp_client_logs_in_once_and_another_process_starts_from_the_vault() {
    let (idp, server) = ResourceServer::start(3600).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (db, key) = (dir.path().join("keyfob.db"), Sealer::generate_key());

    let (mut first, session_key) = manager(&db, &key, server.url()).await;
    assert!(
        !first.initialize_from_store().await.unwrap(),
        "nothing stored yet"
    );
    let first = log_in(first).await;
    let token = first.get_access_token().await.unwrap();
    assert_eq!(whoami(first, server.url()).await, "user-1 mcp:tools");

    let raw = std::fs::read(&db).unwrap();
    assert!(
        !raw.windows(token.len()).any(|w| w == token.as_bytes()),
        "the access token is sealed on disk"
    );
    let (mut second, _) = manager(&db, &key, server.url()).await;
    assert!(
        second.initialize_from_store().await.unwrap(),
        "the login is found"
    );
    assert_eq!(second.get_access_token().await.unwrap(), token);
    assert_eq!(whoami(second, server.url()).await, "user-1 mcp:tools");
    assert_eq!(idp.stats().await.token("authorization_code"), 1);

    // keyfob's engine on the same store lists the login and deletes it.
    let store: Arc<dyn SessionStore> =
        Arc::new(SqliteStore::open(&db, Sealer::from_base64(&key).unwrap()).unwrap());
    let engine = keyfob_core::Engine::builder().store(store).build().unwrap();
    let sessions = engine.status(None).await.unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].provider, session_key.provider);
    assert!(sessions[0].refreshable);
    assert!(
        session_key.provider.starts_with("rmcp_127_0_0_1_"),
        "{session_key}"
    );
    assert!(engine.logout(&session_key).await.unwrap());
    let (mut third, _) = manager(&db, &key, server.url()).await;
    assert!(!third.initialize_from_store().await.unwrap(), "logged out");
}

/// Two processes whose rotating refresh token is due refresh one after the other under the
/// store's lease, the second with the token the first got: the authorization server sees no
/// reuse (which would revoke the grant), and both go on. MUTATION: a vault without
/// `acquire_refresh_guard` sends the same refresh token twice and the grant dies.
#[tokio::test]
async fn two_processes_refresh_a_rotating_token_without_burning_it() {
    // Tokens live 4 s; rmcp refreshes in their last half.
    let (idp, server) = ResourceServer::start(4).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (db, key) = (dir.path().join("keyfob.db"), Sealer::generate_key());
    let (first, _) = manager(&db, &key, server.url()).await;
    let first = log_in(first).await;
    let (mut second, _) = manager(&db, &key, server.url()).await;
    assert!(second.initialize_from_store().await.unwrap());
    let before = first.get_access_token().await.unwrap();

    tokio::time::sleep(Duration::from_secs(3)).await;
    let (a, b) = tokio::join!(first.get_access_token(), second.get_access_token());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a, before);
    assert_ne!(b, before);
    let stats = idp.stats().await;
    assert!(stats.token("refresh_token") >= 1, "{stats:?}");
    // Both tokens work: the grant survived.
    assert_eq!(whoami(first, server.url()).await, "user-1 mcp:tools");
    assert_eq!(whoami(second, server.url()).await, "user-1 mcp:tools");
}
