//! Tools declared in Rust (`#[keyfob::tool]` functions) served by `ToolServer` and driven by
//! rmcp's own client over an in-memory pipe: each is listed with its name, its doc comment as
//! description and its argument schema, next to the built-in session tools; a call returns the
//! tool's value; a tool whose provider is not connected answers a client without URL
//! elicitation with the login link and the advice to call again, and asks a client with URL
//! elicitation in the shape of its protocol version: an `elicitation/create` request and the
//! completion notification (2025-11-25), or an input-required result answered by the call
//! made again (2026-07-28).

use std::sync::{Arc, Mutex};

use keyfob::{Config, Credentials, Keyfob};
use keyfob_mcp_server::ToolServer;
use keyfob_testkit::{Browser, state_of};
use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, ContentBlock, CustomNotification,
    ElicitRequestParams, ElicitResult, ElicitationAction, ElicitationCapability, Implementation,
    ProtocolVersion, UrlElicitationCapability,
};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt, NotificationContext, RequestContext};
use rmcp::{ClientHandler, ErrorData, RoleClient, ServiceExt};
use serde::Deserialize;

#[derive(Deserialize, keyfob::schemars::JsonSchema)]
#[schemars(crate = "keyfob::schemars")]
struct AddArgs {
    /// The first number.
    a: i64,
    /// The second number.
    b: i64,
}

/// Adds two numbers.
#[keyfob::tool]
async fn add(args: AddArgs) -> Result<i64, String> {
    Ok(args.a + args.b)
}

/// Tells how long the Notion key is.
#[keyfob::tool(auth_provider = "notion", auth_handler = "notion-token")]
async fn notion_key_length(creds: Credentials) -> Result<usize, String> {
    Ok(creds.access_token().len())
}

fn text(content: &[ContentBlock]) -> String {
    content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect()
}

fn server() -> ToolServer<keyfob::LinkedProviders> {
    let engine = keyfob::builder()
        .config(Config::from_toml("[auth.notion]\nverify_key = false\n").unwrap())
        .build()
        .unwrap();
    let mut tools = Keyfob::new(engine);
    tools.register(add_tool()).unwrap();
    tools.register(notion_key_length_tool()).unwrap();
    ToolServer::new(Arc::new(tools), "default", "default")
}

/// Serves `server` to a client on an in-memory pipe; the client starts as `version` says
/// (`initialize` up to 2025-11-25, `server/discover` from 2026-07-28).
async fn connect<C: ClientHandler>(
    server: ToolServer<keyfob::LinkedProviders>,
    client: C,
    version: ProtocolVersion,
) -> rmcp::service::RunningService<RoleClient, C> {
    let (client_end, server_end) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        let running = server.serve(tokio::io::split(server_end)).await.unwrap();
        let _ = running.waiting().await;
    });
    let lifecycle = if version.has_initialize() {
        ClientLifecycleMode::Initialize
    } else {
        ClientLifecycleMode::Discover {
            preferred_versions: vec![version],
        }
    };
    client
        .serve_with_lifecycle(tokio::io::split(client_end), lifecycle)
        .await
        .unwrap()
}

#[tokio::test]
async fn rust_tools_are_listed_and_called_over_mcp() {
    let client = connect(server(), (), ProtocolVersion::V_2025_11_25).await;

    let listed = client.list_all_tools().await.unwrap();
    let names: Vec<&str> = listed.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(
        names,
        [
            "add",
            "notion_key_length",
            "keyfob_list_sessions",
            "keyfob_delete_session"
        ]
    );
    let add = &listed[0];
    assert_eq!(add.description.as_deref(), Some("Adds two numbers."));
    let schema = serde_json::Value::Object((*add.input_schema).clone());
    assert_eq!(
        schema["properties"]["a"]["description"],
        "The first number."
    );
    assert_eq!(schema["required"], serde_json::json!(["a", "b"]));

    let sum = client
        .call_tool(
            CallToolRequestParams::new("add").with_arguments(
                serde_json::json!({"a": 2, "b": 40})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        )
        .await
        .unwrap();
    assert_eq!(text(&sum.content), "42");

    let asked = client
        .call_tool(CallToolRequestParams::new("notion_key_length"))
        .await
        .unwrap();
    assert_eq!(asked.is_error, Some(true));
    let said = text(&asked.content);
    assert!(
        said.starts_with(
            "notion is not connected. Open this link to connect it, then call the tool again: "
        ) && said.contains("/auth/notion/start?state="),
        "{said}"
    );
    client.cancel().await.unwrap();
}

/// A client that declares URL elicitation and whose user, asked to open a link, types
/// `key` on keyfob's page; it notes what it was asked and told.
#[derive(Clone)]
struct User {
    version: ProtocolVersion,
    key: &'static str,
    seen: Arc<Mutex<Vec<String>>>,
}

impl ClientHandler for User {
    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        let ElicitRequestParams::UrlElicitationParams {
            url,
            elicitation_id,
            ..
        } = request
        else {
            return Ok(ElicitResult::new(ElicitationAction::Decline));
        };
        self.seen
            .lock()
            .unwrap()
            .push(format!("elicit {elicitation_id}"));
        let browser = Browser::new();
        let page = browser.open_link(&url).await.unwrap();
        let action = page.split('?').next().unwrap();
        let (status, _) = browser
            .post_form(action, &[("state", &state_of(&url)), ("token", self.key)])
            .await
            .unwrap();
        assert_eq!(status, 200);
        Ok(ElicitResult::new(ElicitationAction::Accept))
    }

    async fn on_custom_notification(
        &self,
        notification: CustomNotification,
        _context: NotificationContext<RoleClient>,
    ) {
        if notification.method == "notifications/elicitation/complete" {
            let id = notification.params.unwrap_or_default()["elicitationId"].clone();
            self.seen.lock().unwrap().push(format!("complete {id}"));
        }
    }

    fn get_info(&self) -> ClientConfig {
        let mut capabilities = ClientCapabilities::default();
        capabilities.elicitation =
            Some(ElicitationCapability::new().with_url(UrlElicitationCapability::default()));
        ClientConfig::new(capabilities, Implementation::new("keyfob-test", "0"))
            .with_protocol_version(self.version.clone())
    }
}

#[tokio::test]
async fn a_login_is_asked_in_the_shape_of_each_protocol_version() {
    for (version, key) in [
        (ProtocolVersion::V_2025_11_25, "ntn_typed_for_2025_11_25"),
        (ProtocolVersion::V_2026_07_28, "ntn_typed_for_2026_07_28"),
    ] {
        let server = server();
        let engine = server.keyfob().engine().clone();
        let callback = keyfob_callback::start(engine, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let user = User {
            version: version.clone(),
            key,
            seen: seen.clone(),
        };
        let client = connect(server, user, version.clone()).await;
        let answer = client
            .call_tool(CallToolRequestParams::new("notion_key_length"))
            .await
            .unwrap();
        assert_eq!(text(&answer.content), key.len().to_string(), "{version:?}");
        let seen = seen.lock().unwrap().clone();
        let asked = seen[0].strip_prefix("elicit ").unwrap();
        if version.has_initialize() {
            // The completion notification may still be on its way when the result arrived.
            assert!(seen.len() <= 2, "{seen:?}");
            if seen.len() == 2 {
                assert_eq!(seen[1], format!("complete \"{asked}\""));
            }
        } else {
            assert_eq!(seen.len(), 1, "{seen:?}");
        }
        client.cancel().await.unwrap();
        callback.shutdown().await;
    }
}

/// A client that declares URL elicitation and never answers one.
#[derive(Clone)]
struct Silent;

impl ClientHandler for Silent {
    async fn create_elicitation(
        &self,
        _request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        std::future::pending().await
    }

    fn get_info(&self) -> ClientConfig {
        let mut capabilities = ClientCapabilities::default();
        capabilities.elicitation =
            Some(ElicitationCapability::new().with_url(UrlElicitationCapability::default()));
        ClientConfig::new(capabilities, Implementation::new("keyfob-test", "0"))
    }
}

#[tokio::test]
async fn a_client_that_never_answers_the_elicitation_gets_an_answer_in_time() {
    let server = server().with_connect_timeout(std::time::Duration::from_millis(300));
    let client = connect(server, Silent, ProtocolVersion::V_2025_11_25).await;
    let answer = client
        .call_tool(CallToolRequestParams::new("notion_key_length"))
        .await
        .unwrap();
    assert_eq!(answer.is_error, Some(true));
    assert_eq!(
        text(&answer.content),
        "the client did not answer the login for notion"
    );
    client.cancel().await.unwrap();
}
