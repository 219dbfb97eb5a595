//! End-to-end flows through the real callback server over HTTP, against a real, spec-enforcing
//! OAuth2 server (oidc-provider on 127.0.0.1), plus the page and bad-input behaviour.

use std::sync::Arc;
use std::time::Duration;

use keyfob_core::{
    AuthRequest, Config, Engine, Ensured, ErrorKind, ExposeSecret, MemoryStore, Prompt, SessionKey,
};
use keyfob_testkit::{
    Browser, Idp, IdpClient, IdpOptions, LogBuffer, StubResponse, StubServer, free_port,
    query_param, state_of,
};

// Name the provider crates so they are linked and registered.
use keyfob_provider_github as _;
use keyfob_provider_notion as _;

struct Setup {
    engine: Engine,
    server: keyfob_callback::Server,
    idp: Idp,
    http: reqwest::Client,
}

impl Setup {
    fn base(&self) -> String {
        format!("http://{}", self.server.local_addr())
    }

    /// `iss=<the test IdP>` (RFC 9207), as the IdP adds it to every authorization response.
    fn iss(&self) -> String {
        let issuer: String =
            url::form_urlencoded::byte_serialize(self.idp.issuer().as_bytes()).collect();
        format!("iss={issuer}")
    }

    /// The user's browser, sharing `http`'s cookie jar.
    fn browser(&self) -> Browser {
        Browser::with_http(self.http.clone())
    }

    /// Opens `p`'s login link in the user's browser: where it leads (authorization URL or token
    /// page). Later requests through `http` carry the flow's cookie.
    async fn open(&self, p: &Prompt) -> String {
        self.browser()
            .open_link(&p.url)
            .await
            .expect("the login link opens")
    }
}

/// A callback server on a free port and an IdP with two clients: `kf-basic` (Basic auth, for
/// the config-defined provider `testidp`) and `kf-post` (body auth, for the `github` crate).
async fn setup(ttl: u64, extra_config: &str) -> Setup {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let idp = Idp::start(IdpOptions {
        clients: vec![
            IdpClient::basic(
                "kf-basic",
                "basic-secret",
                &[&format!("{base}/auth/testidp/oauth2/callback")],
            ),
            IdpClient::post(
                "kf-post",
                "post-secret",
                &[&format!("{base}/auth/github/oauth2/callback")],
            ),
        ],
        access_token_ttl_secs: ttl,
        extra_scopes: vec!["repo".into(), "read:user".into()],
        mcp_resource: None,
    })
    .await
    .expect("the test IdP starts (run `npm ci --prefix crates/keyfob-testkit/idp`)");
    let toml = format!(
        r#"
        [server]
        bind = "127.0.0.1:{port}"
        [providers.testidp]
        display_name = "Test IdP"
        issuer = "{issuer}"
        scopes = ["openid"]
        refresh = "rotating"
        [auth.testidp]
        client_id = "kf-basic"
        client_secret = "basic-secret"
        [auth.github]
        client_id = "kf-post"
        client_secret = "post-secret"
        authorize_url = "{authorize}"
        token_url = "{token}"
        use_recommended_scopes = false
        # Keys typed in these tests are checked by nobody: no request leaves 127.0.0.1.
        verify_key = false
        [auth.notion]
        verify_key = false
        {extra_config}
        "#,
        issuer = idp.issuer(),
        authorize = idp.authorize_url(),
        token = idp.token_url(),
    );
    let config = Config::from_toml(&toml).expect("config");
    let engine = Engine::builder()
        .config(config)
        .store(Arc::new(MemoryStore::new()))
        .build()
        .expect("engine");
    let server =
        keyfob_callback::start(engine.clone(), format!("127.0.0.1:{port}").parse().unwrap())
            .await
            .expect("server");
    // The user's browser: keeps cookies (the login link's), follows no redirect by itself.
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Setup {
        engine,
        server,
        idp,
        http,
    }
}

/// Makes a fresh session look old, so that its short-lived token is due for refresh now.
async fn age(engine: &Engine, key: &SessionKey) {
    let mut s = engine.store().get(key).await.unwrap().expect("session");
    s.updated_at -= 3600;
    engine
        .store()
        .put(&s, keyfob_core::store::Expect::Any)
        .await
        .unwrap();
}

async fn prompt(engine: &Engine, req: &AuthRequest) -> Prompt {
    match engine.ensure(req).await.expect("ensure") {
        Ensured::Prompt(p) => p,
        Ensured::Ready(_) => panic!("expected a prompt"),
    }
}

/// Plays the user: approves at the IdP, then follows the redirect to our callback server.
async fn approve(s: &Setup, p: &Prompt) -> reqwest::Response {
    let callback = s.browser().approve(&p.url).await.expect("IdP approves");
    assert!(
        callback.starts_with(&s.base()),
        "the IdP redirects to our callback: {callback}"
    );
    s.http
        .get(&callback)
        .send()
        .await
        .expect("callback request")
}

#[tokio::test]
async fn oauth2_with_generic_provider_pkce_refresh_and_rotation() {
    let s = setup(60, "").await;
    let req = AuthRequest::new("testidp");
    let p = prompt(&s.engine, &req).await;
    assert!(p.url.contains("/auth/testidp/start?state="), "{}", p.url);
    let resp = approve(&s, &p).await;
    assert_eq!(resp.status(), 200);
    let page = resp.text().await.unwrap();
    assert!(page.contains("Test IdP"), "{page}");
    let creds = s
        .engine
        .wait(&p, Duration::from_secs(5))
        .await
        .expect("login completes");
    let first = creds
        .get("TESTIDP_TOKEN")
        .expect("env key")
        .expose_secret()
        .to_owned();
    assert_eq!(s.idp.stats().await.token("authorization_code"), 1);

    // A fresh 60 s token is used as is (the margin is capped at half its life)...
    assert_eq!(
        s.engine
            .credentials(&req.key())
            .await
            .unwrap()
            .access_token(),
        first
    );
    assert_eq!(s.idp.stats().await.token("refresh_token"), 0);
    // ...and refreshed once it is due, with rotation.
    age(&s.engine, &req.key()).await;
    let second = s
        .engine
        .credentials(&req.key())
        .await
        .expect("first refresh")
        .access_token()
        .to_owned();
    assert_ne!(first, second);
    // And once it has really expired, it is refreshed too.
    let mut expired = s.engine.store().get(&req.key()).await.unwrap().unwrap();
    expired.grant.expires_at = Some(keyfob_core::now() - 5);
    s.engine
        .store()
        .put(&expired, keyfob_core::store::Expect::Any)
        .await
        .unwrap();
    let third = s
        .engine
        .credentials(&req.key())
        .await
        .expect("second refresh uses the rotated token")
        .access_token()
        .to_owned();
    assert_ne!(second, third);
    assert_eq!(s.idp.stats().await.token("refresh_token"), 2);
    s.server.shutdown().await;
}

#[tokio::test]
async fn oauth2_with_github_crate_and_endpoint_overrides() {
    let s = setup(3600, "").await;
    let req = AuthRequest::new("github").scopes(["repo"]);
    let p = prompt(&s.engine, &req).await;
    // The same prompt comes back while the user has not acted.
    assert_eq!(prompt(&s.engine, &req).await.url, p.url);
    assert_eq!(approve(&s, &p).await.status(), 200);
    let creds = s
        .engine
        .wait(&p, Duration::from_secs(5))
        .await
        .expect("login completes");
    assert!(creds.get("GITHUB_TOKEN").is_some());
    match s.engine.ensure(&req).await.unwrap() {
        Ensured::Ready(c) => assert_eq!(c.access_token(), creds.access_token()),
        Ensured::Prompt(_) => panic!("a valid session must be used"),
    }
    // A scope the session lacks needs a new consent that keeps the granted ones.
    let more = prompt(&s.engine, &AuthRequest::new("github").scopes(["read:user"])).await;
    let scope = query_param(&s.open(&more).await, "scope").unwrap();
    assert!(
        scope.contains("repo") && scope.contains("read:user"),
        "{scope}"
    );
    let work = s.engine.ensure(&req.clone().profile("work")).await.unwrap();
    assert!(
        matches!(work, Ensured::Prompt(_)),
        "profiles are separate sessions"
    );
}

#[tokio::test]
async fn access_denied_ends_the_flow_with_a_clear_error() {
    let s = setup(3600, "").await;
    let p = prompt(&s.engine, &AuthRequest::new("testidp")).await;
    let callback = s.browser().deny(&p.url).await.unwrap();
    let resp = s.http.get(&callback).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert!(resp.text().await.unwrap().contains("access_denied"));
    let e = s.engine.wait(&p, Duration::from_secs(5)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Denied);
    assert!(e.to_string().contains("access_denied"), "{e}");
    assert!(
        s.engine
            .store()
            .get(&SessionKey::default_for("testidp"))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn forged_replayed_and_cross_provider_states_touch_nothing() {
    let s = setup(3600, "").await;
    // A github session exists: a state sent to github's route must not touch it.
    let gh = prompt(&s.engine, &AuthRequest::new("github").scopes(["repo"])).await;
    approve(&s, &gh).await;
    s.engine.wait(&gh, Duration::from_secs(5)).await.unwrap();
    let github_before = s
        .engine
        .store()
        .get(&SessionKey::default_for("github"))
        .await
        .unwrap()
        .unwrap();
    s.idp.reset_stats().await;
    let p = prompt(&s.engine, &AuthRequest::new("testidp")).await;
    let callback = s.browser().approve(&p.url).await.unwrap();
    let code = query_param(&callback, "code").unwrap();
    let state = state_of(&callback);

    // Forged state, missing state, and the real state on another provider's route.
    for bad in [
        format!(
            "{}/auth/testidp/oauth2/callback?code={code}&state=forged",
            s.base()
        ),
        format!("{}/auth/testidp/oauth2/callback?code={code}", s.base()),
        format!(
            "{}/auth/github/oauth2/callback?code={code}&state={state}",
            s.base()
        ),
    ] {
        let r = s.http.get(&bad).send().await.unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        let body = r.text().await.unwrap();
        assert!(!body.contains(&code), "the page must not echo the code");
    }
    assert_eq!(
        s.idp.stats().await.token_requests_total,
        0,
        "nothing reached the token endpoint"
    );
    assert!(
        s.engine
            .store()
            .get(&SessionKey::default_for("testidp"))
            .await
            .unwrap()
            .is_none()
    );
    let github_after = s
        .engine
        .store()
        .get(&SessionKey::default_for("github"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        github_after.version, github_before.version,
        "the github session is untouched"
    );
    let pending = s
        .engine
        .store()
        .pending_for(&p.key)
        .await
        .unwrap()
        .expect("the flow is still open");
    assert_eq!(pending.status, keyfob_core::store::FlowStatus::Waiting);

    // The real flow still completes, once.
    assert_eq!(s.http.get(&callback).send().await.unwrap().status(), 200);
    let session = s
        .engine
        .store()
        .get(&SessionKey::default_for("testidp"))
        .await
        .unwrap()
        .expect("session");
    let replay = s.http.get(&callback).send().await.unwrap();
    assert_eq!(replay.status(), 400);
    assert!(replay.text().await.unwrap().contains("already used"));
    let after = s
        .engine
        .store()
        .get(&SessionKey::default_for("testidp"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        after.version, session.version,
        "a replay must not touch the session"
    );
    assert_eq!(s.idp.stats().await.token("authorization_code"), 1);
}

#[tokio::test]
async fn hundred_concurrent_callers_cause_one_refresh() {
    let s = setup(60, "").await;
    let req = AuthRequest::new("testidp");
    let p = prompt(&s.engine, &req).await;
    approve(&s, &p).await;
    let first = s
        .engine
        .wait(&p, Duration::from_secs(5))
        .await
        .unwrap()
        .access_token()
        .to_owned();
    age(&s.engine, &req.key()).await;
    s.idp.reset_stats().await;
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let engine = s.engine.clone();
            let req = req.clone();
            tokio::spawn(async move {
                match engine.ensure(&req).await.expect("ensure") {
                    Ensured::Ready(c) => c.access_token().to_owned(),
                    Ensured::Prompt(_) => panic!("no prompt expected"),
                }
            })
        })
        .collect();
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(t.await.unwrap());
    }
    assert_eq!(
        s.idp.stats().await.token("refresh_token"),
        1,
        "exactly one refresh request"
    );
    assert!(
        tokens.iter().all(|t| t == &tokens[0] && t != &first),
        "all 100 callers get the new token"
    );
}

#[tokio::test]
async fn token_page_over_http() {
    let s = setup(3600, "").await;
    let req = AuthRequest::new("notion")
        .handler("notion-token")
        .profile("work");
    let p = prompt(&s.engine, &req).await;
    let page = s.http.get(&s.open(&p).await).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let h = page.headers();
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(h["x-frame-options"], "DENY");
    // `same-origin` on the form, so that its own POST carries a real Origin (security.rs).
    assert_eq!(h["referrer-policy"], "same-origin");
    assert_eq!(h["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(html.contains("type=\"password\"") && html.contains("Notion"));
    let state = state_of(&p.url);
    let action = format!("{}/auth/notion/token", s.base());

    // An empty key is refused and keeps the link alive.
    let r = s
        .http
        .post(&action)
        .form(&[("state", state.as_str()), ("token", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // A cross-site post is refused.
    let r = s
        .http
        .post(&action)
        .header("origin", "https://evil.example")
        .form(&[("state", state.as_str()), ("token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // An oversized body is refused.
    let big = "a".repeat(keyfob_callback::MAX_BODY + 1);
    let r = s
        .http
        .post(&action)
        .form(&[("state", state.as_str()), ("token", big.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);

    let r = s
        .http
        .post(&action)
        .header("origin", s.base())
        .form(&[
            ("state", state.as_str()),
            ("token", "secret_sentinel_notion"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(!r.text().await.unwrap().contains("secret_sentinel_notion"));
    let creds = s.engine.wait(&p, Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        creds.get("WORK_NOTION_TOKEN").unwrap().expose_secret(),
        "secret_sentinel_notion"
    );
    assert_eq!(
        creds.get("NOTION_TOKEN").unwrap().expose_secret(),
        "secret_sentinel_notion"
    );
    // The link is dead once used.
    assert_eq!(s.http.get(&p.url).send().await.unwrap().status(), 400);
}

#[tokio::test]
async fn pages_escape_what_they_echo_and_unknown_paths_404() {
    let s = setup(3600, "").await;
    // A real state with a hostile error description: the page shows it, escaped.
    let p = prompt(&s.engine, &AuthRequest::new("testidp")).await;
    s.open(&p).await;
    let state = state_of(&p.url);
    let r = s
        .http
        .get(format!(
            "{}/auth/testidp/oauth2/callback?state={state}&error=access_denied&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E&{}",
            s.base(),
            s.iss()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{body}"
    );
    assert!(!body.contains("<script>"), "{body}");
    let evil = "%3Cscript%3Ealert(1)%3C%2Fscript%3E";
    for path in [
        format!("/auth/notion/token?state={evil}"),
        format!("/auth/testidp/oauth2/callback?state={evil}&error={evil}"),
        format!("/auth/{evil}/token"),
        "/nope".to_owned(),
    ] {
        let r = s
            .http
            .get(format!("{}{path}", s.base()))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{path}");
        assert!(r.headers().contains_key("content-security-policy"));
        let body = r.text().await.unwrap();
        assert!(!body.contains("<script>"), "{path}: {body}");
    }
    let health = s
        .http
        .get(format!("{}/health", s.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.text().await.unwrap(), "{\"status\":\"ok\"}");
}

#[tokio::test]
async fn a_thousand_concurrent_flows_keep_their_own_tokens() {
    let s = Arc::new(setup(3600, "").await);
    let req = |i: usize| {
        AuthRequest::new("notion")
            .handler("notion-token")
            .thread(format!("t{}", i % 100))
            .profile(format!("p{}", i / 100))
    };
    // All 1,000 flows are open at once, each with a waiter.
    let mut prompts = Vec::new();
    for i in 0..1000 {
        prompts.push(prompt(&s.engine, &req(i)).await);
    }
    let waiters: Vec<_> = prompts
        .iter()
        .cloned()
        .map(|p| {
            let engine = s.engine.clone();
            tokio::spawn(async move { engine.wait(&p, Duration::from_secs(60)).await })
        })
        .collect();
    // The users finish in reverse order, many at a time (the limit only caps open sockets).
    let limit = Arc::new(tokio::sync::Semaphore::new(128));
    let posts: Vec<_> = prompts
        .iter()
        .enumerate()
        .rev()
        .map(|(i, p)| {
            let (s, limit) = (s.clone(), limit.clone());
            let state = state_of(&p.url);
            let link = p.url.clone();
            tokio::spawn(async move {
                let _permit = limit.acquire().await.unwrap();
                let token = format!("token-{i}");
                // Each user's own browser: the link, then the form with the cookie it set.
                let browser = Browser::new();
                browser.open_link(&link).await.unwrap();
                let (status, _) = browser
                    .post_form(
                        &format!("{}/auth/notion/token", s.base()),
                        &[("state", state.as_str()), ("token", token.as_str())],
                    )
                    .await
                    .unwrap();
                assert_eq!(status, 200);
            })
        })
        .collect();
    for t in posts {
        t.await.unwrap();
    }
    for (i, w) in waiters.into_iter().enumerate() {
        let creds = w.await.unwrap().expect("every waiter gets its own session");
        assert_eq!(creds.access_token(), format!("token-{i}"));
    }
    for i in 0..1000 {
        let key = SessionKey::new("notion", format!("t{}", i % 100), format!("p{}", i / 100));
        let creds = s.engine.credentials(&key).await.unwrap();
        assert_eq!(creds.access_token(), format!("token-{i}"));
    }
    assert_eq!(s.engine.status(None).await.unwrap().len(), 1000);
}

#[tokio::test]
async fn bad_token_endpoints_give_clear_errors() {
    let stub = StubServer::start(StubResponse::html(500, "<html>Internal error</html>"))
        .await
        .unwrap();
    let toml = format!(
        "[session]\nhttp_timeout_secs = 1\n[auth.github]\nclient_id = \"c\"\nclient_secret = \"s\"\nauthorize_url = \"{u}/authorize\"\ntoken_url = \"{t}\"\n",
        u = stub.url(),
        t = stub.token_url()
    );
    let engine = Engine::builder()
        .config(Config::from_toml(&toml).unwrap())
        .build()
        .unwrap();
    let cases: Vec<(StubResponse, &str)> = vec![
        (
            StubResponse::html(500, "<html>Internal error</html>"),
            "unavailable (HTTP 500)",
        ),
        (
            StubResponse::html(200, "<html>login page</html>"),
            "neither JSON nor form data",
        ),
        (
            StubResponse::new(200, "application/json", "{\"access_tok"),
            "neither JSON nor form data",
        ),
        (
            StubResponse::json(502, &serde_json::json!({})),
            "unavailable (HTTP 502)",
        ),
        (
            StubResponse::json(200, &serde_json::json!({"error": "bad_verification_code"})),
            "bad_verification_code",
        ),
        (
            StubResponse::token("t").with_delay(Duration::from_secs(3)),
            "did not answer within 1 s",
        ),
    ];
    for (response, expected) in cases {
        stub.set_response(response);
        let p = engine.login(&AuthRequest::new("github")).await.unwrap();
        let link = keyfob_testkit::open_prompt(&engine, &p).await;
        let params = keyfob_core::CallbackParams {
            state: Some(link.state.clone()),
            code: Some("code-1".into()),
            ..Default::default()
        };
        let e = engine
            .complete_oauth2("github", params, &link.cookies)
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains(expected),
            "expected `{expected}` in `{e}`"
        );
        assert!(!e.to_string().contains("code-1"));
        // The failure reaches the waiter, and no session is written.
        let waited = engine.wait(&p, Duration::from_secs(2)).await.unwrap_err();
        assert_eq!(waited.kind(), e.kind());
        assert!(
            engine
                .store()
                .get(&SessionKey::default_for("github"))
                .await
                .unwrap()
                .is_none()
        );
    }
    // A missing client id names the config to set.
    let bare = Engine::builder().build().unwrap();
    let e = bare.login(&AuthRequest::new("github")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("[auth.github]"), "{e}");
}

/// A refresh the server refuses for good (`invalid_grant`: the user revoked the grant) ends the
/// session's use at once: the caller is told to log in again (exit 3 in the CLI), `ensure`
/// returns a prompt, and the old access token, which such a server revoked with the grant, is
/// not handed out, although it has not expired yet. The session is kept (for `status`).
/// MUTATION: serving the still-valid access token after a `ReauthRequired` refresh (the old
/// behaviour) fails the first assertion.
#[tokio::test]
async fn a_refused_refresh_asks_for_a_new_login_at_once() {
    let s = setup(60, "").await;
    let req = AuthRequest::new("testidp");
    let p = prompt(&s.engine, &req).await;
    approve(&s, &p).await;
    s.engine.wait(&p, Duration::from_secs(5)).await.unwrap();
    // Break the refresh token: the server now rejects it with invalid_grant.
    let mut session = s.engine.store().get(&req.key()).await.unwrap().unwrap();
    session.grant.refresh_token = Some("revoked-or-bogus".to_owned().into());
    s.engine
        .store()
        .put(&session, keyfob_core::store::Expect::Any)
        .await
        .unwrap();
    age(&s.engine, &req.key()).await;
    let e = s
        .engine
        .credentials(&req.key())
        .await
        .expect_err("a refused refresh ends the session's use");
    assert_eq!(e.kind(), ErrorKind::ReauthRequired, "{e}");
    let kept = s
        .engine
        .store()
        .get(&req.key())
        .await
        .unwrap()
        .expect("session kept");
    assert!(
        !kept.is_expired(keyfob_core::now()),
        "the token had not expired"
    );
    assert!(
        kept.refresh_error
            .as_deref()
            .is_some_and(|e| e.contains("log in again"))
    );
    // Later callers get the same answer without another request, and a prompt from `ensure`.
    let before = s.idp.stats().await.token("refresh_token");
    let e = s.engine.credentials(&req.key()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ReauthRequired, "{e}");
    assert_eq!(s.idp.stats().await.token("refresh_token"), before);
    assert!(matches!(
        s.engine.ensure(&req).await.unwrap(),
        Ensured::Prompt(_)
    ));
    assert!(
        s.engine.store().get(&req.key()).await.unwrap().is_some(),
        "never deleted"
    );
}

#[tokio::test]
async fn pending_flows_expire_and_are_purged() {
    let s = setup(3600, "[session]\nflow_timeout_secs = 1").await;
    let p = prompt(
        &s.engine,
        &AuthRequest::new("notion").handler("notion-token"),
    )
    .await;
    let page = s.open(&p).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        s.http.get(&p.url).send().await.unwrap().status(),
        400,
        "an expired link is refused"
    );
    assert_eq!(
        s.http.get(&page).send().await.unwrap().status(),
        400,
        "an expired page is refused, even to the browser that opened it"
    );
    assert_eq!(s.engine.purge_expired().await.unwrap(), 1);
    assert!(
        s.engine
            .store()
            .pending_for(&p.key)
            .await
            .unwrap()
            .is_none(),
        "nothing left behind"
    );
    let e = s.engine.wait(&p, Duration::from_secs(1)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Expired);
}

#[tokio::test]
async fn a_path_prefix_serves_behind_a_proxy() {
    let port = free_port();
    let toml = format!("[server]\nbind = \"127.0.0.1:{port}\"\npath_prefix = \"/kf\"");
    let engine = Engine::builder()
        .config(Config::from_toml(&toml).unwrap())
        .build()
        .unwrap();
    let server =
        keyfob_callback::start(engine.clone(), format!("127.0.0.1:{port}").parse().unwrap())
            .await
            .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    assert_eq!(
        reqwest::get(format!("{base}/kf/health"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        reqwest::get(format!("{base}/health"))
            .await
            .unwrap()
            .status(),
        404
    );
    let p = engine
        .login(&AuthRequest::new("notion").handler("notion-token"))
        .await
        .unwrap();
    assert!(
        p.url
            .starts_with(&format!("{base}/kf/auth/notion/start?state=")),
        "{}",
        p.url
    );
    let browser = Browser::new();
    let next = browser.open_link(&p.url).await.unwrap();
    assert!(
        next.starts_with(&format!("{base}/kf/auth/notion/token?state=")),
        "{next}"
    );
    let (_, page) = browser.get(&next).await.unwrap();
    assert!(
        page.contains("action=\"token\""),
        "the form posts back to its own path: {page}"
    );
    let state = state_of(&p.url);
    let (status, _) = browser
        .post_form(
            &format!("{base}/kf/auth/notion/token"),
            &[("state", state.as_str()), ("token", "behind-proxy")],
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    let missing = reqwest::get(format!("{base}/elsewhere")).await.unwrap();
    assert_eq!(missing.status(), 404);
    assert!(
        missing.headers().contains_key("content-security-policy"),
        "headers outside the prefix too"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_callback_without_code_or_error_fails_the_flow_clearly() {
    let s = setup(3600, "").await;
    let p = prompt(&s.engine, &AuthRequest::new("testidp")).await;
    s.open(&p).await;
    let state = state_of(&p.url);
    let r = s
        .http
        .get(format!(
            "{}/auth/testidp/oauth2/callback?state={state}&{}",
            s.base(),
            s.iss()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("neither"));
    let e = s.engine.wait(&p, Duration::from_secs(2)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(s.idp.stats().await.token_requests_total, 0);
}

/// Every log line keyfob writes during real flows (TRACE level, every target of ours and axum's),
/// searched for the secrets those flows handled.
#[tokio::test]
async fn no_secret_reaches_the_logs() {
    // A global subscriber: thread-local ones miss events when other tests run in parallel
    // (callsite interest is shared). Other tests' lines land in the buffer too; they must be
    // just as clean.
    static BUF: std::sync::OnceLock<LogBuffer> = std::sync::OnceLock::new();
    let buf = BUF.get_or_init(LogBuffer::default).clone();
    let subscriber = buf
        .subscriber()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "keyfob=trace,keyfob_core=trace,keyfob_callback=trace,axum=trace",
        ))
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("only this test installs one");

    let s = setup(60, "").await;
    let req = AuthRequest::new("testidp");
    let p = prompt(&s.engine, &req).await;
    let state = state_of(&p.url);
    let verifier = s
        .engine
        .store()
        .pending_for(&req.key())
        .await
        .unwrap()
        .unwrap()
        .verifier
        .unwrap();
    let callback = s.browser().approve(&p.url).await.unwrap();
    let code = query_param(&callback, "code").unwrap();
    s.http.get(&callback).send().await.unwrap();
    s.engine.wait(&p, Duration::from_secs(5)).await.unwrap();
    age(&s.engine, &req.key()).await;
    s.engine.credentials(&req.key()).await.unwrap();
    let session = s.engine.store().get(&req.key()).await.unwrap().unwrap();
    // A failing exchange and a token page, too.
    s.http
        .get(format!(
            "{}/auth/testidp/oauth2/callback?state={state}&code={code}",
            s.base()
        ))
        .send()
        .await
        .unwrap();
    let tp = prompt(
        &s.engine,
        &AuthRequest::new("notion").handler("notion-token"),
    )
    .await;
    s.open(&tp).await;
    let tstate = state_of(&tp.url);
    s.http
        .post(format!("{}/auth/notion/token", s.base()))
        .form(&[("state", tstate.as_str()), ("token", "ntn_log_sentinel")])
        .send()
        .await
        .unwrap();
    s.engine.wait(&tp, Duration::from_secs(5)).await.unwrap();

    let logs = buf.contents();
    assert!(logs.contains("session stored"), "the capture works: {logs}");
    use keyfob_core::ExposeSecret;
    for (what, secret) in [
        ("state", state.as_str()),
        ("code", code.as_str()),
        ("verifier", verifier.expose_secret()),
        ("access token", session.grant.access_token.expose_secret()),
        (
            "refresh token",
            session
                .grant
                .refresh_token
                .as_ref()
                .unwrap()
                .expose_secret(),
        ),
        ("token-page state", tstate.as_str()),
        ("typed token", "ntn_log_sentinel"),
    ] {
        assert!(
            !logs.contains(secret),
            "the {what} reached the logs:\n{logs}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_refresh_is_one_request_shared_by_every_caller() {
    let stub = StubServer::start(StubResponse::oauth_error(400, "invalid_grant"))
        .await
        .unwrap();
    let toml = format!(
        "[auth.github]\nclient_id = \"c\"\nclient_secret = \"s\"\nauthorize_url = \"{u}/authorize\"\ntoken_url = \"{t}\"\n",
        u = stub.url(),
        t = stub.token_url()
    );
    let engine = Engine::builder()
        .config(Config::from_toml(&toml).unwrap())
        .build()
        .unwrap();
    let key = SessionKey::default_for("github");
    for (response, kind) in [
        (
            StubResponse::oauth_error(400, "invalid_grant"),
            ErrorKind::ReauthRequired,
        ),
        (
            StubResponse::html(503, "<html>down</html>"),
            ErrorKind::Transport,
        ),
    ] {
        stub.set_response(response);
        stub.clear_requests();
        let mut grant = keyfob_core::Grant::bearer("expired".to_owned().into());
        grant.refresh_token = Some("rt".to_owned().into());
        grant.expires_at = Some(keyfob_core::now() - 10);
        let session = keyfob_core::Session {
            key: key.clone(),
            handler: "github-oauth2".into(),
            grant,
            created_at: 0,
            updated_at: 0,
            refresh_error: None,
            version: 0,
        };
        engine
            .store()
            .put(&session, keyfob_core::store::Expect::Any)
            .await
            .unwrap();
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let engine = engine.clone();
                let key = key.clone();
                tokio::spawn(async move { engine.credentials(&key).await })
            })
            .collect();
        for t in tasks {
            let e = t
                .await
                .unwrap()
                .expect_err("an expired token is never handed out");
            assert_eq!(e.kind(), kind, "{e}");
        }
        assert_eq!(
            stub.requests().len(),
            1,
            "one request for 50 callers ({kind:?})"
        );
        assert!(
            engine.store().get(&key).await.unwrap().is_some(),
            "the session is kept"
        );
    }
}

/// RFC 9207 and RFC 8414 §3.3 against the real server, which names itself in every
/// authorization response (`iss`) and says so in its metadata: a response naming another issuer
/// (a mix-up) or none is refused before the flow is claimed, and nothing is exchanged; the
/// genuine response then completes. Metadata naming another issuer than the configured one is
/// refused with both values.
/// MUTATION: `Engine::check_iss` returning `Ok(())` fails the first two refusals (verified).
#[tokio::test]
async fn the_issuer_is_checked_in_metadata_and_on_the_callback() {
    let s = setup(3600, "").await;
    let p = prompt(&s.engine, &AuthRequest::new("testidp")).await;
    let callback = s.browser().approve(&p.url).await.unwrap();
    assert!(
        callback.contains("iss="),
        "the IdP names itself: {callback}"
    );
    let url = url::Url::parse(&callback).unwrap();
    let without_iss: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "iss")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let with = |extra: Option<&str>| {
        let mut u = url.clone();
        {
            let mut q = u.query_pairs_mut();
            q.clear();
            for (k, v) in &without_iss {
                q.append_pair(k, v);
            }
            if let Some(iss) = extra {
                q.append_pair("iss", iss);
            }
        }
        u.to_string()
    };
    for (forged, says) in [
        (with(Some("https://evil.example")), "expects"),
        (with(None), "does not name its issuer"),
    ] {
        let r = s.http.get(&forged).send().await.unwrap();
        assert_eq!(r.status(), 400, "{forged}");
        let page = r.text().await.unwrap();
        assert!(page.contains(says), "{page}");
    }
    assert_eq!(
        s.idp.stats().await.token("authorization_code"),
        0,
        "nothing exchanged"
    );
    let r = s.http.get(&callback).send().await.unwrap();
    assert_eq!(r.status(), 200);
    s.engine.wait(&p, Duration::from_secs(5)).await.unwrap();

    // Metadata that names another issuer than the one configured.
    let stub = StubServer::start(StubResponse::json(
        200,
        &serde_json::json!({
            "issuer": "https://other.example",
            "authorization_endpoint": "https://other.example/authorize",
            "token_endpoint": "https://other.example/token",
        }),
    ))
    .await
    .unwrap();
    let engine = Engine::builder()
        .config(
            Config::from_toml(&format!(
                "[providers.mixed]\nissuer = \"{}\"\n[auth.mixed]\nclient_id = \"c\"\n",
                stub.url()
            ))
            .unwrap(),
        )
        .store(Arc::new(MemoryStore::new()))
        .build()
        .unwrap();
    let e = engine
        .login(&AuthRequest::new("mixed"))
        .await
        .expect_err("metadata of another issuer");
    assert!(
        e.to_string().contains("https://other.example") && e.to_string().contains(stub.url()),
        "{e}"
    );
}
