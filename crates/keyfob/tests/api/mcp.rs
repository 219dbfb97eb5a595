//! Discovery for MCP logins against a scripted server: the spec's order of well-known URLs, and
//! each refusal with the message a person reads. (A real MCP server and authorization server
//! run in the CLI tests: `keyfob-cli/tests/cli.rs`, `mcp_*`.)

use keyfob::ErrorKind;
use keyfob::mcp::discover;
use keyfob_testkit::{StubResponse, StubServer};
use serde_json::json;

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn unauthorized(challenge: &str) -> StubResponse {
    StubResponse::json(401, &json!({"error": "invalid_token"}))
        .with_header("www-authenticate", challenge)
}

fn not_found() -> StubResponse {
    StubResponse::text(404, "not found")
}

fn as_metadata(issuer: &str) -> serde_json::Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "registration_endpoint": format!("{issuer}/register"),
        "code_challenge_methods_supported": ["S256"],
    })
}

fn paths(stub: &StubServer) -> Vec<String> {
    stub.requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// No `resource_metadata` in the challenge: the path-inserted resource metadata, then the root
/// one; an issuer with a path: RFC 8414 path-inserted, OIDC path-inserted, OIDC path-appended.
/// The challenge's scopes win over the metadata's.
#[tokio::test]
async fn discovery_tries_the_specs_urls_in_order() {
    let stub = StubServer::start(not_found()).await.unwrap();
    let base = stub.url().to_owned();
    let issuer = format!("{base}/tenant1");
    stub.push_responses([
        unauthorized(r#"Bearer scope="files:read""#),
        not_found(),
        StubResponse::json(
            200,
            &json!({"resource": format!("{base}/public/mcp"), "authorization_servers": [issuer],
                    "scopes_supported": ["a", "b"]}),
        ),
        not_found(),
        not_found(),
        StubResponse::json(200, &as_metadata(&issuer)),
    ]);
    let found = discover(&http(), &format!("{base}/public/mcp"))
        .await
        .unwrap();
    assert_eq!(
        paths(&stub),
        [
            "POST /public/mcp",
            "GET /.well-known/oauth-protected-resource/public/mcp",
            "GET /.well-known/oauth-protected-resource",
            "GET /.well-known/oauth-authorization-server/tenant1",
            "GET /.well-known/openid-configuration/tenant1",
            "GET /tenant1/.well-known/openid-configuration",
        ]
    );
    assert_eq!(found.resource, format!("{base}/public/mcp"));
    assert_eq!(found.scopes, ["files:read"]);
    assert_eq!(found.auth.issuer, issuer);
    assert_eq!(
        stub.requests()[0].header("authorization"),
        None,
        "discovery sends no credential"
    );
}

/// Each refusal stops discovery before any authorization request, saying why.
#[tokio::test]
async fn discovery_refuses_what_the_spec_forbids() {
    let stub = StubServer::start(not_found()).await.unwrap();
    let base = stub.url().to_owned();
    let url = format!("{base}/mcp");
    let prm = |resource: &str, issuer: &str| {
        StubResponse::json(
            200,
            &json!({"resource": resource, "authorization_servers": [issuer]}),
        )
    };
    let challenge = unauthorized(&format!(r#"Bearer resource_metadata="{base}/meta.json""#));
    let mut no_s256 = as_metadata(&base);
    no_s256["code_challenge_methods_supported"] = json!(["plain"]);
    let cases: Vec<(Vec<StubResponse>, ErrorKind, String)> = vec![
        (
            vec![StubResponse::json(
                200,
                &json!({"jsonrpc": "2.0", "id": 0, "result": {}}),
            )],
            ErrorKind::InvalidInput,
            "answered without asking for a login".into(),
        ),
        (
            vec![
                challenge.clone(),
                prm("https://evil.example.com/mcp", &base),
            ],
            ErrorKind::Protocol,
            format!(r#"is for "https://evil.example.com/mcp", not for {url}; refusing"#),
        ),
        (
            vec![
                challenge.clone(),
                prm(&url, &base),
                StubResponse::json(200, &as_metadata(&format!("{base}/"))),
            ],
            ErrorKind::Protocol,
            format!(r#"names the issuer "{base}/", not "{base}"; refusing to use it"#),
        ),
        (
            vec![
                challenge.clone(),
                prm(&url, &base),
                StubResponse::json(200, &no_s256),
            ],
            ErrorKind::Protocol,
            "does not list S256 in code_challenge_methods_supported".into(),
        ),
        (
            vec![challenge.clone(), not_found()],
            ErrorKind::Protocol,
            format!("no protected resource metadata for {url} ({base}/meta.json: HTTP 404)"),
        ),
        (
            vec![
                challenge.clone(),
                prm(&url, &base),
                not_found(),
                not_found(),
            ],
            ErrorKind::Protocol,
            format!("no authorization server metadata for {base}"),
        ),
    ];
    for (answers, kind, says) in cases {
        stub.push_responses(answers);
        let e = discover(&http(), &url).await.unwrap_err();
        assert_eq!(e.kind(), kind, "{e}");
        assert!(e.to_string().contains(&says), "{e}\nwanted: {says}");
        stub.clear_requests();
    }
    let e = discover(&http(), "http://mcp.example.com/mcp")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("must use https"), "{e}");
}

/// An authorization server without dynamic registration and no configured client: the error
/// names the redirect URI to register and the table to put the client in.
#[tokio::test]
async fn no_registration_says_what_to_configure() {
    let stub = StubServer::start(not_found()).await.unwrap();
    let base = stub.url().to_owned();
    let url = format!("{base}/mcp");
    let mut meta = as_metadata(&base);
    meta.as_object_mut()
        .unwrap()
        .remove("registration_endpoint");
    stub.push_responses([
        unauthorized(&format!(r#"Bearer resource_metadata="{base}/meta.json""#)),
        StubResponse::json(
            200,
            &json!({"resource": url, "authorization_servers": [base]}),
        ),
        StubResponse::json(200, &meta),
    ]);
    let mut config = keyfob::Config::default();
    config.mcp.insert(
        "tickets".into(),
        keyfob::config::McpServer {
            url: url.clone(),
            ..Default::default()
        },
    );
    let store = keyfob::store::MemoryStore::new();
    let e = keyfob::mcp::prepare(&mut config, &store, "tickets")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(
        e.to_string().contains(
            "offers no dynamic client registration; register a client there with the redirect \
             URI http://127.0.0.1:8975/auth/mcp_tickets/oauth2/callback and set client_id (and \
             client_secret, if it issued one) in [mcp.tickets] of keyfob.toml"
        ),
        "{e}"
    );
    assert!(config.providers.is_empty(), "nothing is added on failure");
}

/// A registration endpoint that refuses: the server's reason and what to do instead, and nothing
/// stored or configured.
#[tokio::test]
async fn a_refused_registration_says_why_and_stores_nothing() {
    let stub = StubServer::start(not_found()).await.unwrap();
    let base = stub.url().to_owned();
    let url = format!("{base}/mcp");
    stub.push_responses([
        unauthorized(&format!(r#"Bearer resource_metadata="{base}/meta.json""#)),
        StubResponse::json(
            200,
            &json!({"resource": url, "authorization_servers": [base]}),
        ),
        StubResponse::json(200, &as_metadata(&base)),
        StubResponse::json(
            400,
            &json!({"error": "invalid_redirect_uri", "error_description": "loopback only"}),
        ),
    ]);
    let mut config = keyfob::Config::default();
    let store = keyfob::store::MemoryStore::new();
    let e = keyfob::mcp::prepare(&mut config, &store, &url)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol);
    assert!(
        e.to_string().contains(&format!(
            "{base} refused to register keyfob as a client (invalid_redirect_uri: loopback \
             only); register one by hand and set client_id in [mcp."
        )),
        "{e}"
    );
    assert!(config.providers.is_empty(), "nothing is added on failure");
    use keyfob::SessionStore;
    assert!(
        store
            .list(Some(keyfob::mcp::RECORD_THREAD))
            .await
            .unwrap()
            .is_empty()
    );
}

/// The server moves to another authorization server: the registration at the old one is not
/// used there, and the old server's tokens are deleted rather than ever sent to the new one.
#[tokio::test]
async fn an_authorization_server_that_changes_ends_the_old_login() {
    use keyfob::SessionStore;
    let stub = StubServer::start(not_found()).await.unwrap();
    let base = stub.url().to_owned();
    let url = format!("{base}/mcp");
    let found_at = |issuer: &str, client_id: &str| {
        vec![
            unauthorized(&format!(r#"Bearer resource_metadata="{base}/meta.json""#)),
            StubResponse::json(
                200,
                &json!({"resource": url, "authorization_servers": [issuer]}),
            ),
            StubResponse::json(200, &as_metadata(issuer)),
            StubResponse::json(201, &json!({"client_id": client_id})),
        ]
    };
    let mut config = keyfob::Config::default();
    let store = keyfob::store::MemoryStore::new();
    stub.push_responses(found_at(&base, "client-at-old"));
    let id = keyfob::mcp::prepare(&mut config, &store, &url)
        .await
        .unwrap();
    let session = keyfob::Session {
        key: keyfob::SessionKey::new(&id, "", ""),
        handler: "oauth2".into(),
        grant: keyfob::Grant::bearer("token-from-the-old-server".to_owned().into()),
        created_at: 0,
        updated_at: 0,
        refresh_error: None,
        version: 0,
    };
    store
        .put(&session, keyfob::store::Expect::Absent)
        .await
        .unwrap();

    let moved = format!("{base}/tenant");
    stub.push_responses(found_at(&moved, "client-at-new"));
    let mut config = keyfob::Config::default();
    let again = keyfob::mcp::prepare(&mut config, &store, &url)
        .await
        .unwrap();
    assert_eq!(again, id);
    assert!(
        store.get(&session.key).await.unwrap().is_none(),
        "the old server's session is gone"
    );
    assert_eq!(
        config.auth[&id].client_id.as_deref(),
        Some("client-at-new"),
        "registered anew at the new server"
    );
    assert_eq!(
        config.providers[&id].token_url.as_deref(),
        Some(format!("{moved}/token").as_str())
    );
}

/// A server whose metadata is larger than any real one (2 MiB) is refused after 1 MiB, with the
/// reason; nothing more is read.
#[tokio::test]
async fn an_oversized_answer_is_refused() {
    let stub = StubServer::start(not_found()).await.unwrap();
    let base = stub.url().to_owned();
    let url = format!("{base}/mcp");
    let huge = json!({"resource": url, "authorization_servers": [base],
        "padding": "x".repeat(2 << 20)});
    stub.push_responses([
        unauthorized(&format!(r#"Bearer resource_metadata="{base}/meta.json""#)),
        StubResponse::json(200, &huge),
    ]);
    let e = discover(&http(), &url).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert!(
        e.to_string().contains("the answer is larger than 1 MiB"),
        "{e}"
    );
}
