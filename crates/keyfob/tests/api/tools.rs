//! The tools API: three ways to declare auth, paused and resumed calls, pre-authentication,
//! built-in session tools and timeouts. The compile-time provider check (a disabled or unknown
//! provider does not compile) needs a feature subset, so it lives in `keyfob-feature-subset`.

use std::sync::Arc;
use std::time::Duration;

use keyfob::tools::{DELETE_SESSION, LIST_SESSIONS, ToolManifest, Value};
use keyfob::{
    Config, Credentials, Engine, ErrorKind, ExposeSecret, Invocation, Keyfob, Prompt, Tool,
    ToolAuth,
};
use serde::Deserialize;
use serde_json::json;

/// Arguments of `list_issues`.
#[derive(Deserialize, keyfob::schemars::JsonSchema)]
#[schemars(crate = "keyfob::schemars")]
struct ListIssues {
    /// `owner/name` of the repository.
    repo: String,
}

/// Lists the open issues of a repository.
///
/// Returns their titles.
#[keyfob::tool(auth_provider = "github", scopes = ["repo"])]
async fn list_issues(args: ListIssues, creds: Credentials) -> Result<Value, String> {
    let token = creds
        .get("GITHUB_TOKEN")
        .ok_or("no token")?
        .expose_secret()
        .to_owned();
    Ok(json!({ "repo": args.repo, "token_len": token.len() }))
}

/// Reads the user's profile.
#[keyfob::tool(auth_provider = "github", scopes = ["read:user"])]
async fn whoami(_creds: Credentials) -> Result<String, String> {
    Ok("octocat".into())
}

/// Searches Notion pages.
#[keyfob::tool(auth_provider = "notion", auth_handler = "notion-token")]
async fn search_notion(creds: Credentials) -> Result<String, String> {
    Ok(creds.access_token().to_owned())
}

/// Adds two numbers.
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

/// Takes its time.
#[keyfob::tool]
async fn slow() -> Result<(), String> {
    tokio::time::sleep(Duration::from_secs(5)).await;
    Ok(())
}

fn engine() -> Engine {
    // No key check: nothing leaves 127.0.0.1 in these tests.
    let toml = "[auth.github]\nclient_id = \"cid\"\nclient_secret = \"cs\"\nuse_recommended_scopes = false\nverify_key = false\n[auth.notion]\nverify_key = false\n";
    keyfob::builder()
        .config(Config::from_toml(toml).unwrap())
        .build()
        .unwrap()
}

fn keyfob() -> Keyfob {
    let mut k = Keyfob::new(engine());
    k.register(list_issues_tool()).unwrap();
    k.register(whoami_tool()).unwrap();
    k.register(search_notion_tool()).unwrap();
    k.register(add_tool()).unwrap();
    k
}

#[test]
fn three_ways_to_declare_the_same_auth() {
    let typed = ToolAuth::new(&keyfob::providers::github::PROVIDER).scopes(["repo"]);
    let tool = list_issues_tool();
    let manifest = ToolManifest::from_toml(
        "name = \"list_issues\"\n[auth]\nauth_provider = \"github\"\nscopes = [\"repo\"]\n",
        engine().catalog(),
    )
    .unwrap();
    assert_eq!(tool.auth(), Some(&typed));
    assert_eq!(manifest.auth(), Some(typed));
}

#[test]
fn the_macro_derives_name_description_and_schema() {
    let tool = list_issues_tool();
    assert_eq!(tool.name(), "list_issues");
    assert_eq!(
        tool.description(),
        "Lists the open issues of a repository.\n\nReturns their titles."
    );
    let schema = tool.parameters();
    assert_eq!(schema["properties"]["repo"]["type"], "string");
    assert_eq!(schema["required"], json!(["repo"]));
    assert!(add_tool().auth().is_none());
    assert_eq!(
        search_notion_tool().auth().unwrap().handler.as_deref(),
        Some("notion-token")
    );
}

#[test]
fn bad_manifests_fail_at_load_time() {
    let catalog = engine().catalog().clone();
    let e = ToolManifest::from_toml(
        "name = \"t\"\n[auth]\nauth_provider = \"githbu\"\n",
        &catalog,
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnknownProvider);
    assert!(
        e.to_string()
            .contains("tool `t`: unknown provider `githbu`; did you mean `github`?"),
        "{e}"
    );
    let e = ToolManifest::from_toml(
        "name = \"t\"\n[auth]\nauth_provider = \"github\"\nauth_handler = \"github-magic\"\n",
        &catalog,
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("has no handler `github-magic`; its handlers: github-oauth2, github-token"),
        "{e}"
    );
    let e = ToolManifest::from_toml(
        "name = \"t\"\n[auth]\nauth_providr = \"github\"\n",
        &catalog,
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("auth_providr"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let e = ToolManifest::load(&dir.path().join("missing.toml"), &catalog).unwrap_err();
    assert!(e.to_string().contains("missing.toml"), "{e}");
    let mut k = Keyfob::new(engine());
    let e = k.register(keyfob::tools::FnTool::new(
        "x",
        "",
        json!({}),
        Some(ToolAuth::named("nosuch")),
        |_, _| Box::pin(async { Ok(Value::Null) }),
    ));
    assert_eq!(e.unwrap_err().kind(), ErrorKind::UnknownProvider);
}

/// The user's browser: opens the prompt's link, then posts the token form.
async fn submit_token(base: &str, prompt: &Prompt, token: &str) {
    let state = keyfob_testkit::query_param(&prompt.url, "state").unwrap();
    let browser = keyfob_testkit::Browser::new();
    browser.open_link(&prompt.url).await.unwrap();
    let (status, _) = browser
        .post_form(
            &format!("{base}/auth/notion/token"),
            &[("state", state.as_str()), ("token", token)],
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_paused_call_runs_after_the_user_finishes() {
    let k = keyfob();
    let server = keyfob_callback::start(k.engine().clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let base = format!("http://{}", server.local_addr());
    let Invocation::Paused(p) = k
        .invoke("search_notion", Value::Null, "chat-1", "default")
        .await
        .unwrap()
    else {
        panic!("the first call must pause");
    };
    assert!(
        p.url
            .starts_with(&format!("{base}/auth/notion/start?state=")),
        "{}",
        p.url
    );
    assert!(p.message.contains("Notion"));
    submit_token(&base, &p, "ntn_one").await;
    k.wait(&p, Duration::from_secs(5)).await.unwrap();
    let Invocation::Done(out) = k
        .invoke("search_notion", Value::Null, "chat-1", "default")
        .await
        .unwrap()
    else {
        panic!("the second call must run");
    };
    assert_eq!(out, json!("ntn_one"));
    // Another thread and another profile each get their own prompt.
    assert!(matches!(
        k.invoke("search_notion", Value::Null, "chat-2", "default")
            .await
            .unwrap(),
        Invocation::Paused(_)
    ));
    assert!(matches!(
        k.invoke("search_notion", Value::Null, "chat-1", "work")
            .await
            .unwrap(),
        Invocation::Paused(_)
    ));

    // Built-in tools see this thread's sessions and delete one.
    let Invocation::Done(list) = k
        .invoke(LIST_SESSIONS, Value::Null, "chat-1", "default")
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["provider"], "notion");
    assert!(!list.to_string().contains("ntn_one"));
    let Invocation::Done(del) = k
        .invoke(
            DELETE_SESSION,
            json!({"provider": "notion"}),
            "chat-1",
            "default",
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(del["deleted"], 1);
    assert!(matches!(
        k.invoke("search_notion", Value::Null, "chat-1", "default")
            .await
            .unwrap(),
        Invocation::Paused(_)
    ));
    server.shutdown().await;
}

#[tokio::test]
async fn preauth_groups_by_provider_and_merges_scopes() {
    let k = keyfob();
    let prompts = k
        .preauth(
            &["list_issues", "whoami", "search_notion", "add"],
            "t",
            "default",
        )
        .await
        .unwrap();
    assert_eq!(prompts.len(), 2, "one prompt per provider");
    let github = prompts.iter().find(|p| p.key.provider == "github").unwrap();
    let authorize = keyfob_testkit::open_prompt(k.engine(), github)
        .await
        .next_url;
    let scope = keyfob_testkit::query_param(&authorize, "scope").unwrap();
    assert!(
        scope.contains("repo") && scope.contains("read:user"),
        "{scope}"
    );
    assert!(prompts.iter().any(|p| p.key.provider == "notion"));
    let e = k
        .wait_all(&prompts, Duration::from_millis(100))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
}

#[tokio::test]
async fn arguments_errors_and_timeouts_are_results() {
    let mut k = keyfob().with_call_timeout(Duration::from_millis(100));
    k.register(slow_tool()).unwrap();
    let Invocation::Done(v) = k
        .invoke("add", json!({"a": 2, "b": 3}), "t", "default")
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(v, json!(5));
    let Invocation::Failed(e) = k
        .invoke("add", json!({"a": "x"}), "t", "default")
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(e.kind, "bad_arguments");
    let Invocation::Failed(e) = k.invoke("slow", Value::Null, "t", "default").await.unwrap() else {
        panic!()
    };
    assert_eq!(e.kind, "timeout");
    assert!(
        e.message.contains("did not finish within 0.1 s"),
        "{}",
        e.message
    );
    let err = k
        .invoke("nosuch", Value::Null, "t", "default")
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("unknown tool `nosuch`; tools: add, list_issues"),
        "{err}"
    );
    assert!(
        k.register(add_tool()).is_err(),
        "duplicate names are refused"
    );
}

/// A store that fails every call: tools without auth must not need one.
#[derive(Debug)]
struct NoStore;

#[async_trait::async_trait]
impl keyfob::SessionStore for NoStore {
    fn name(&self) -> &'static str {
        "none"
    }
    async fn get(&self, _: &keyfob::SessionKey) -> keyfob::Result<Option<keyfob::Session>> {
        panic!("store touched")
    }
    async fn put(&self, _: &keyfob::Session, _: keyfob::store::Expect) -> keyfob::Result<u64> {
        panic!("store touched")
    }
    async fn delete(&self, _: &keyfob::SessionKey) -> keyfob::Result<bool> {
        panic!("store touched")
    }
    async fn list(&self, _: Option<&str>) -> keyfob::Result<Vec<keyfob::Session>> {
        panic!("store touched")
    }
    async fn put_pending(&self, _: &keyfob::store::PendingFlow) -> keyfob::Result<()> {
        panic!("store touched")
    }
    async fn pending(&self, _: &str) -> keyfob::Result<Option<keyfob::store::PendingFlow>> {
        panic!("store touched")
    }
    async fn pending_for(
        &self,
        _: &keyfob::SessionKey,
    ) -> keyfob::Result<Option<keyfob::store::PendingFlow>> {
        panic!("store touched")
    }
    async fn bind_pending(
        &self,
        _: &str,
        _: &str,
        _: i64,
    ) -> keyfob::Result<Option<keyfob::store::PendingFlow>> {
        panic!("store touched")
    }
    async fn claim_pending(
        &self,
        _: &str,
        _: i64,
    ) -> keyfob::Result<Option<keyfob::store::PendingFlow>> {
        panic!("store touched")
    }
    async fn finish_pending(&self, _: &str, _: keyfob::store::FlowStatus) -> keyfob::Result<()> {
        panic!("store touched")
    }
    async fn delete_pending(&self, _: &str) -> keyfob::Result<()> {
        panic!("store touched")
    }
    async fn purge_expired(&self, _: i64) -> keyfob::Result<usize> {
        panic!("store touched")
    }
}

#[tokio::test]
async fn tools_without_auth_never_touch_the_store() {
    let mut k = Keyfob::new(keyfob::builder().store(Arc::new(NoStore)).build().unwrap());
    k.register(add_tool()).unwrap();
    let Invocation::Done(v) = k
        .invoke("add", json!({"a": 1, "b": 1}), "t", "default")
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(v, json!(2));
}

#[tokio::test]
async fn manifest_tools_run_their_command_with_credentials() {
    let k0 = keyfob();
    let manifest = ToolManifest::from_toml(
        r#"
        name = "echo_token"
        description = "Echoes its input and token"
        language = "shell"
        command = ["sh", "-c", "read input; printf '{\"input\": %s, \"token\": \"%s\"}' \"$input\" \"$NOTION_TOKEN\""]
        [auth]
        auth_provider = "notion"
        auth_handler = "notion-token"
        "#,
        k0.engine().catalog(),
    )
    .unwrap();
    let mut k = k0;
    k.register(manifest.into_tool().unwrap()).unwrap();
    let Invocation::Paused(p) = k
        .invoke("echo_token", json!({"q": 1}), "t", "default")
        .await
        .unwrap()
    else {
        panic!()
    };
    let link = keyfob_testkit::open_prompt(k.engine(), &p).await;
    k.engine()
        .complete_token(
            "notion",
            Some(&link.state),
            vec![("token".into(), "ntn_cmd".to_owned().into())],
            &link.cookies,
        )
        .await
        .unwrap();
    let Invocation::Done(out) = k
        .invoke("echo_token", json!({"q": 1}), "t", "default")
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(out, json!({"input": {"q": 1}, "token": "ntn_cmd"}));
}
