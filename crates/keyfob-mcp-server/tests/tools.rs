//! Tools declared in Rust (`#[keyfob::tool]` functions) served by `ToolServer` and driven by
//! rmcp's own client over an in-memory pipe: each is listed with its name, its doc comment as
//! description and its argument schema, next to the built-in session tools; a call returns the
//! tool's value; a tool whose provider is not connected answers a client without URL
//! elicitation with the login link and the advice to call again.

use std::sync::Arc;

use keyfob::{Config, Credentials, Keyfob};
use keyfob_mcp_server::ToolServer;
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ContentBlock};
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

#[tokio::test]
async fn rust_tools_are_listed_and_called_over_mcp() {
    let engine = keyfob::builder()
        .config(Config::from_toml("[auth.notion]\nverify_key = false\n").unwrap())
        .build()
        .unwrap();
    let mut tools = Keyfob::new(engine);
    tools.register(add_tool()).unwrap();
    tools.register(notion_key_length_tool()).unwrap();
    let server = ToolServer::new(Arc::new(tools), "default", "default");

    let (client_end, server_end) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        let running = server.serve(tokio::io::split(server_end)).await.unwrap();
        let _ = running.waiting().await;
    });
    let client = ().serve(tokio::io::split(client_end)).await.unwrap();

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
