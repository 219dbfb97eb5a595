//! A session's life beyond the browser flow, against real parts: the device login and
//! revocation against oidc-provider (a real authorization server with RFC 8628 and RFC 7009),
//! the device-flow error answers and key checks against stubs answering as providers document,
//! the account's identity, and refresh ahead of need.

use std::time::Duration;

use keyfob::{
    AuthRequest, CallbackParams, Config, Engine, ErrorKind, ExposeSecret, RefreshAhead, Revocation,
    SessionState, SignOut,
};
use keyfob_testkit::{
    Browser, Idp, IdpClient, IdpOptions, OpenedLink, StubResponse, StubServer, free_port,
    open_prompt, query_param,
};
use serde_json::json;

const CLIENT: &str = "lifecycle";
const SECRET: &str = "lifecycle-secret";

fn engine(toml: &str) -> Engine {
    keyfob::builder()
        .config(Config::from_toml(toml).expect("test config"))
        .build()
        .expect("engine")
}

/// An IdP with one Basic client, and an engine whose `testidp` provider discovers it.
async fn idp_engine(ttl: u64) -> (Idp, Engine) {
    let port = free_port();
    let idp = Idp::start(IdpOptions {
        clients: vec![IdpClient::basic(
            CLIENT,
            SECRET,
            &[&format!(
                "http://127.0.0.1:{port}/auth/testidp/oauth2/callback"
            )],
        )],
        access_token_ttl_secs: ttl,
        extra_scopes: vec![],
        mcp_resource: None,
    })
    .await
    .expect("IdP starts");
    let engine = engine(&format!(
        "[server]\nbind = \"127.0.0.1:{port}\"\n\
         [session]\nrefresh_margin_secs = 1\n\
         [providers.testidp]\nissuer = \"{}\"\nscopes = [\"openid\"]\nrefresh = \"rotating\"\n\
         [auth.testidp]\nclient_id = \"{CLIENT}\"\nclient_secret = \"{SECRET}\"\n",
        idp.issuer()
    ));
    (idp, engine)
}

/// Logs in through the authorization-code flow, the browser driven over HTTP.
async fn browser_login(engine: &Engine, req: &AuthRequest) {
    let prompt = engine.login(req).await.expect("flow starts");
    let link = open_prompt(engine, &prompt).await;
    let back = Browser::new()
        .approve(&link.next_url)
        .await
        .expect("approval");
    callback(
        engine,
        req,
        query_param(&back, "code").expect("code"),
        &back,
        &link.cookies,
    )
    .await;
}

/// Brings `code` back for the flow whose link (or redirect) `url` carries the state, from the
/// browser that holds `cookies`.
async fn callback(
    engine: &Engine,
    req: &AuthRequest,
    code: String,
    url: &str,
    cookies: &keyfob::LinkCookies,
) {
    engine
        .complete_oauth2(
            &req.provider,
            CallbackParams {
                state: query_param(url, "state"),
                code: Some(code),
                // RFC 9207: the test IdP names itself in its redirects.
                iss: query_param(url, "iss"),
                ..Default::default()
            },
            cookies,
        )
        .await
        .expect("code exchange");
}

/// Logs in against a stub token endpoint: any code will do.
async fn stub_login(engine: &Engine, req: &AuthRequest) {
    let prompt = engine.login(req).await.expect("flow starts");
    let link = open_prompt(engine, &prompt).await;
    callback(engine, req, "code".into(), &link.next_url, &link.cookies).await;
}

async fn introspect(idp: &Idp, token: &str) -> serde_json::Value {
    reqwest::Client::new()
        .post(idp.introspection_url())
        .basic_auth(CLIENT, Some(SECRET))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn device_login_end_to_end_then_logout_revokes_at_the_server() {
    let (idp, engine) = idp_engine(3600).await;
    let req = AuthRequest::new("testidp").device(true);
    let prompt = engine.login(&req).await.expect("device login starts");
    let code = prompt
        .user_code
        .clone()
        .expect("the prompt carries the user code");
    assert!(prompt.message.contains(&code), "{}", prompt.message);
    assert!(prompt.url.starts_with(idp.issuer()), "{}", prompt.url);
    // The user, on another device, types the code (the complete URI carries it).
    Browser::new()
        .approve_device(&prompt.url)
        .await
        .expect("approval");
    let creds = engine
        .wait(&prompt, Duration::from_secs(60))
        .await
        .expect("the background poll collects the tokens");
    let token = creds
        .get("TESTIDP_TOKEN")
        .expect("env key")
        .expose_secret()
        .to_owned();
    let stats = idp.stats().await;
    assert!(
        stats.token("urn:ietf:params:oauth:grant-type:device_code") >= 1,
        "polled with the device-code grant: {stats:?}"
    );
    let status = engine.status(None).await.unwrap();
    assert_eq!(status.len(), 1);
    assert_eq!(
        status[0].identity.as_deref(),
        Some("user-1"),
        "userinfo `sub`"
    );
    assert_eq!(status[0].requested_scopes, vec!["openid".to_owned()]);
    assert_eq!(introspect(&idp, &token).await["active"], true);

    let out = engine
        .sign_out(&req.key(), SignOut::default())
        .await
        .unwrap();
    assert_eq!(out.revocation, Revocation::Revoked);
    assert!(out.deleted);
    assert_eq!(
        introspect(&idp, &token).await["active"],
        false,
        "the server itself rejects the revoked token"
    );
    assert!(engine.status(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn denied_device_login_says_so() {
    let (_idp, engine) = idp_engine(3600).await;
    let prompt = engine
        .login(&AuthRequest::new("testidp").device(true))
        .await
        .unwrap();
    Browser::new().deny_device(&prompt.url).await.unwrap();
    let e = engine
        .wait(&prompt, Duration::from_secs(60))
        .await
        .expect_err("denied");
    assert_eq!(e.kind(), ErrorKind::Denied, "{e}");
}

/// A stub for GitHub's device and token endpoints that answers `polls` in order.
async fn device_stub(polls: Vec<StubResponse>) -> (StubServer, Engine) {
    let stub = StubServer::start(StubResponse::text(500, "unscripted"))
        .await
        .unwrap();
    let mut script = vec![StubResponse::json(
        200,
        &json!({"device_code": "dc-sentinel-kf", "user_code": "WDJB-MJHT",
                "verification_uri": "https://github.com/login/device", "expires_in": 900, "interval": 1}),
    )];
    script.extend(polls);
    stub.push_responses(script);
    let engine = engine(&format!(
        "[auth.github]\nclient_id = \"c\"\nclient_secret = \"s\"\ndevice_url = \"{0}/device\"\n\
         token_url = \"{0}/token\"\nuserinfo_url = \"{0}/user\"\n",
        stub.url()
    ));
    (stub, engine)
}

fn oauth_error(code: &str) -> StubResponse {
    StubResponse::json(400, &json!({ "error": code }))
}

#[tokio::test]
async fn device_polling_follows_the_servers_answers() {
    // authorization_pending, then slow_down (interval 1 s → 6 s), then tokens; the identity
    // comes from the userinfo request that follows.
    let (stub, engine) = device_stub(vec![
        oauth_error("authorization_pending"),
        oauth_error("slow_down"),
        StubResponse::json(
            200,
            &json!({"access_token": "at-sentinel-kf", "token_type": "bearer"}),
        ),
        StubResponse::json(200, &json!({"login": "octocat", "id": 1})),
    ])
    .await;
    let started = std::time::Instant::now();
    let prompt = engine
        .login(&AuthRequest::new("github").device(true))
        .await
        .unwrap();
    assert_eq!(prompt.user_code.as_deref(), Some("WDJB-MJHT"));
    let creds = engine.wait(&prompt, Duration::from_secs(30)).await.unwrap();
    assert_eq!(
        creds.get("GITHUB_TOKEN").unwrap().expose_secret(),
        "at-sentinel-kf"
    );
    // Three polls at 1 s, 1 s and then 6 s: the slowed-down interval was honoured.
    assert!(started.elapsed() >= Duration::from_secs(8));
    let reqs = stub.requests();
    let paths: Vec<_> = reqs.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/device", "/token", "/token", "/token", "/user"]);
    let poll = reqs[1].form();
    assert!(poll.contains(&(
        "grant_type".into(),
        "urn:ietf:params:oauth:grant-type:device_code".into()
    )));
    assert!(poll.contains(&("device_code".into(), "dc-sentinel-kf".into())));
    assert!(
        poll.contains(&("client_id".into(), "c".into())),
        "body auth: {poll:?}"
    );
    assert_eq!(
        reqs[4].header("authorization"),
        Some("Bearer at-sentinel-kf")
    );
    let status = engine.status(None).await.unwrap();
    assert_eq!(status[0].identity.as_deref(), Some("octocat"));
}

#[tokio::test]
async fn device_errors_end_the_flow_with_their_kind() {
    let cases = [
        ("expired_token", ErrorKind::Expired),
        ("access_denied", ErrorKind::Denied),
        ("invalid_client", ErrorKind::Protocol),
    ];
    let runs = cases.map(|(code, kind)| async move {
        let (stub, engine) = device_stub(vec![oauth_error(code)]).await;
        let prompt = engine
            .login(&AuthRequest::new("github").device(true))
            .await
            .unwrap();
        let e = engine
            .wait(&prompt, Duration::from_secs(30))
            .await
            .expect_err(code);
        assert_eq!(e.kind(), kind, "{code}: {e}");
        assert!(!e.to_string().contains("sentinel"), "{e}");
        assert!(engine.status(None).await.unwrap().is_empty(), "{code}");
        assert_eq!(stub.requests().len(), 2, "{code}: no poll after the end");
    });
    futures_join(runs).await;
}

async fn futures_join<F: std::future::Future<Output = ()> + Send + 'static>(
    futs: impl IntoIterator<Item = F>,
) {
    let handles: Vec<_> = futs.into_iter().map(tokio::spawn).collect();
    for h in handles {
        h.await.expect("case");
    }
}

#[tokio::test]
async fn a_provider_without_device_login_says_so() {
    let e = engine("[auth.notion]\nclient_id = \"c\"\nclient_secret = \"s\"\n")
        .login(&AuthRequest::new("notion").device(true))
        .await
        .expect_err("Notion has no device endpoint");
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
}

/// A config-defined provider with only `issuer`, at a server whose OpenID discovery document
/// lists no revocation endpoint while its RFC 8414 metadata does (the red-team's second
/// authorization server): keyfob reads both, so sign-out revokes there.
/// MUTATION: reading OpenID discovery alone (no RFC 8414 request) leaves the session
/// unrevoked ("no revocation endpoint") and fails this.
#[tokio::test]
async fn sign_out_revokes_at_the_endpoint_only_rfc8414_metadata_lists() {
    let stub = StubServer::start(StubResponse::json(200, &json!({})))
        .await
        .unwrap();
    let base = stub.url().to_owned();
    let oidc = json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
    });
    let rfc8414 = json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "revocation_endpoint": format!("{base}/revoke"),
    });
    stub.push_responses([
        StubResponse::json(200, &oidc),
        StubResponse::json(200, &rfc8414),
        StubResponse::json(
            200,
            &json!({"access_token": "at-8414", "refresh_token": "rt-8414", "expires_in": 3600}),
        ),
    ]);
    let engine = engine(&format!(
        "[providers.acme]\nissuer = \"{base}\"\n\
         [auth.acme]\nclient_id = \"c\"\nclient_secret = \"s\"\n"
    ));
    let req = AuthRequest::new("acme");
    stub_login(&engine, &req).await;
    let paths: Vec<String> = stub.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/.well-known/openid-configuration",
            "/.well-known/oauth-authorization-server",
            "/token"
        ],
        "both metadata documents, then the exchange"
    );
    stub.clear_requests();
    let out = engine
        .sign_out(
            &req.key(),
            SignOut {
                revoke: true,
                keep_if_revocation_fails: false,
            },
        )
        .await
        .unwrap();
    assert_eq!(out.revocation, Revocation::Revoked);
    let revoked: Vec<String> = stub.requests().iter().map(|r| r.path.clone()).collect();
    assert!(
        revoked.iter().all(|p| p == "/revoke") && !revoked.is_empty(),
        "{revoked:?}"
    );
}

#[tokio::test]
async fn sign_out_reports_unsupported_and_failed_revocation_and_still_deletes() {
    // A stub RFC 7009 revocation endpoint that fails; a second provider without one.
    let stub = StubServer::start(StubResponse::json(
        200,
        &json!({"access_token": "at-sentinel-kf", "refresh_token": "rt-sentinel-kf", "expires_in": 3600}),
    ))
    .await
    .unwrap();
    let engine = engine(&format!(
        "[providers.acme]\nauthorize_url = \"{0}/authorize\"\ntoken_url = \"{0}/token\"\n\
         revoke_url = \"{0}/revoke\"\nuserinfo_url = \"{0}/user\"\n\
         [auth.acme]\nclient_id = \"c\"\nclient_secret = \"s\"\nallow_internal_endpoints = true\n",
        stub.url()
    ));
    let login = |profile: &'static str| {
        let engine = engine.clone();
        async move {
            let req = AuthRequest::new("acme").profile(profile);
            stub_login(&engine, &req).await;
            req.key()
        }
    };
    let a = login("a").await;
    let b = login("b").await;
    stub.set_response(StubResponse::text(503, "down"));
    let kept = engine
        .sign_out(
            &a,
            SignOut {
                revoke: true,
                keep_if_revocation_fails: true,
            },
        )
        .await
        .unwrap();
    assert!(
        matches!(&kept.revocation, Revocation::Failed(m) if m.contains("HTTP 503")),
        "{kept:?}"
    );
    assert!(!kept.deleted, "kept when asked to");
    let out = engine.sign_out(&a, SignOut::default()).await.unwrap();
    assert!(matches!(out.revocation, Revocation::Failed(_)));
    assert!(out.deleted, "deleted locally all the same");
    let revokes: Vec<_> = stub
        .requests()
        .into_iter()
        .filter(|r| r.path == "/revoke")
        .collect();
    assert!(revokes.iter().all(|r| {
        r.form()
            .iter()
            .any(|(k, v)| k == "token_type_hint" && v == "refresh_token")
    }));
    let skipped = engine
        .sign_out(
            &b,
            SignOut {
                revoke: false,
                ..SignOut::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(skipped.revocation, Revocation::Skipped);
    assert!(skipped.deleted);

    // Notion's tokens have no revocation endpoint in keyfob's spec of a token handler.
    let notion = engine_with_key_stub(StubResponse::json(200, &json!({"name": "Bot"}))).await;
    let key = enter_key(&notion.1, "ntn_sentinel_ok").await.unwrap();
    let out = notion.1.sign_out(&key, SignOut::default()).await.unwrap();
    assert!(
        matches!(&out.revocation, Revocation::Unsupported(m) if m.contains("settings")),
        "{out:?}"
    );
    assert!(out.deleted);
}

/// Logs `provider` in for `profile` through `stub` (answering `login` at every endpoint), then
/// signs out while it answers `revocation`: the revocation outcome and the one request it sent.
async fn sign_out_against(
    stub: &StubServer,
    engine: &Engine,
    provider: &str,
    profile: &str,
    login: StubResponse,
    revocation: StubResponse,
) -> (Revocation, keyfob_testkit::RecordedRequest) {
    stub.set_response(login);
    let req = AuthRequest::new(provider).profile(profile);
    stub_login(engine, &req).await;
    stub.set_response(revocation);
    stub.clear_requests();
    let out = engine
        .sign_out(&req.key(), SignOut::default())
        .await
        .unwrap();
    assert!(out.deleted, "deleted whatever the provider said");
    let mut sent = stub.requests();
    assert_eq!(sent.len(), 1, "one revocation request: {sent:?}");
    (out.revocation, sent.remove(0))
}

fn authorization(r: &keyfob_testkit::RecordedRequest) -> Option<&str> {
    r.headers
        .iter()
        .find(|(k, _)| k == "authorization")
        .map(|(_, v)| v.as_str())
}

/// GitHub revokes through its REST API, not RFC 7009: `DELETE /applications/{client_id}/token`
/// with the app's Basic credentials and `{"access_token": …}`, answered 204; a token it does not
/// know gets 422 "Validation Failed" (docs.github.com/en/rest/apps/oauth-applications).
#[tokio::test]
async fn github_sign_out_deletes_the_app_token() {
    let login = || {
        StubResponse::json(
            200,
            &json!({"access_token": "gho_SENTINEL_revoke_me", "token_type": "bearer", "scope": "repo"}),
        )
    };
    let stub = StubServer::start(login()).await.unwrap();
    let engine = engine(&format!(
        "[auth.github]\nclient_id = \"Iv1.abc\"\nclient_secret = \"s3cret\"\n\
         authorize_url = \"{0}/authorize\"\ntoken_url = \"{0}/token\"\nuserinfo_url = \"{0}/user\"\n\
         revoke_url = \"{0}/applications/{{client_id}}/token\"\n",
        stub.url()
    ));
    let refused = StubResponse::json(
        422,
        &json!({"message": "Validation Failed", "documentation_url": "https://docs.github.com/rest"}),
    );
    for (profile, answer) in [("a", StubResponse::text(204, "")), ("b", refused)] {
        let (outcome, r) =
            sign_out_against(&stub, &engine, "github", profile, login(), answer).await;
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("DELETE", "/applications/Iv1.abc/token")
        );
        // base64("Iv1.abc:s3cret")
        assert_eq!(authorization(&r), Some("Basic SXYxLmFiYzpzM2NyZXQ="));
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body, json!({"access_token": "gho_SENTINEL_revoke_me"}));
        if profile == "a" {
            assert_eq!(outcome, Revocation::Revoked);
        } else {
            assert!(
                matches!(&outcome, Revocation::Failed(m)
                    if m.contains("HTTP 422") && m.contains("Validation Failed") && !m.contains("SENTINEL")),
                "{outcome:?}"
            );
        }
    }
}

/// Slack's `auth.revoke` takes the token as its bearer credential and answers HTTP 200 either
/// way: `{"ok": true, "revoked": true}`, or `{"ok": false, "error": "invalid_auth"}`
/// (api.slack.com/methods/auth.revoke). The second is a failure, not a revocation.
#[tokio::test]
async fn slack_sign_out_calls_auth_revoke_and_reads_ok_false() {
    let login = || {
        StubResponse::json(
            200,
            &json!({"ok": true, "app_id": "A1", "team": {"id": "T1", "name": "Acme"},
                    "authed_user": {"id": "U1", "scope": "chat:write", "token_type": "user",
                                    "access_token": "xoxp-SENTINEL-revoke"}}),
        )
    };
    let stub = StubServer::start(login()).await.unwrap();
    let engine = engine(&format!(
        "[auth.slack]\nclient_id = \"1.2\"\nclient_secret = \"s\"\nuse_recommended_scopes = false\n\
         authorize_url = \"{0}/oauth/v2/authorize\"\ntoken_url = \"{0}/api/oauth.v2.access\"\n\
         userinfo_url = \"{0}/api/auth.test\"\nrevoke_url = \"{0}/api/auth.revoke\"\n",
        stub.url()
    ));
    for (profile, answer) in [
        ("a", json!({"ok": true, "revoked": true})),
        ("b", json!({"ok": false, "error": "invalid_auth"})),
    ] {
        let answer = StubResponse::json(200, &answer);
        let (outcome, r) =
            sign_out_against(&stub, &engine, "slack", profile, login(), answer).await;
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("POST", "/api/auth.revoke")
        );
        assert_eq!(authorization(&r), Some("Bearer xoxp-SENTINEL-revoke"));
        if profile == "a" {
            assert_eq!(outcome, Revocation::Revoked);
        } else {
            assert!(
                matches!(&outcome, Revocation::Failed(m)
                    if m.contains("invalid_auth") && !m.contains("SENTINEL")),
                "{outcome:?}"
            );
        }
    }
}

/// Notion revokes with a JSON body `{"token": …}`, HTTP Basic client credentials and a
/// `Notion-Version` header (developers.notion.com, "Revoke a token"), not RFC 7009's form.
/// MUTATION: sending RFC 7009's form for Notion fails the body and header assertions.
#[tokio::test]
async fn notion_sign_out_posts_json_with_basic_credentials() {
    let login = || {
        StubResponse::json(
            200,
            &json!({"access_token": "ntn_SENTINEL_revoke", "refresh_token": "nrt_SENTINEL", "bot_id": "b1"}),
        )
    };
    let stub = StubServer::start(login()).await.unwrap();
    let engine = engine(&format!(
        "[auth.notion]\nclient_id = \"nid\"\nclient_secret = \"n+s/ec\"\n\
         authorize_url = \"{0}/v1/oauth/authorize\"\ntoken_url = \"{0}/v1/oauth/token\"\n\
         revoke_url = \"{0}/v1/oauth/revoke\"\n",
        stub.url()
    ));
    let (outcome, r) = sign_out_against(
        &stub,
        &engine,
        "notion",
        "default",
        login(),
        StubResponse::json(200, &json!({})),
    )
    .await;
    assert_eq!(outcome, Revocation::Revoked);
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/v1/oauth/revoke")
    );
    // base64("nid:n%2Bs%2Fec"): the credentials form-encoded first (RFC 6749 §2.3.1).
    assert_eq!(authorization(&r), Some("Basic bmlkOm4lMkJzJTJGZWM="));
    assert_eq!(r.header("notion-version"), Some("2025-09-03"));
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body, json!({"token": "ntn_SENTINEL_revoke"}));
}

/// Calendly's revocation endpoint takes `client_id`, `client_secret` and `token` in the form
/// body, while its token endpoint wants HTTP Basic (developer.calendly.com, "Revoke access
/// token"): no Authorization header goes to the revocation endpoint.
/// MUTATION: using the token endpoint's Basic authentication fails the body assertions.
#[tokio::test]
async fn calendly_sign_out_sends_the_client_credentials_in_the_body() {
    let stub = StubServer::start(StubResponse::json(
        200,
        &json!({"access_token": "cal_SENTINEL_access", "refresh_token": "cal_SENTINEL_refresh", "expires_in": 7200}),
    ))
    .await
    .unwrap();
    let engine = engine(&format!(
        "[auth.calendly]\nclient_id = \"cid\"\nclient_secret = \"csec\"\n\
         authorize_url = \"{0}/oauth/authorize\"\ntoken_url = \"{0}/oauth/token\"\n\
         revoke_url = \"{0}/oauth/revoke\"\nuserinfo_url = \"{0}/users/me\"\n",
        stub.url()
    ));
    let req = AuthRequest::new("calendly");
    stub_login(&engine, &req).await;
    stub.set_response(StubResponse::json(200, &json!({})));
    stub.clear_requests();
    let out = engine
        .sign_out(&req.key(), SignOut::default())
        .await
        .unwrap();
    assert_eq!(out.revocation, Revocation::Revoked);
    let sent = stub.requests();
    assert_eq!(
        sent.len(),
        2,
        "the refresh token, then the access token: {sent:?}"
    );
    for (r, token) in sent
        .iter()
        .zip(["cal_SENTINEL_refresh", "cal_SENTINEL_access"])
    {
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("POST", "/oauth/revoke")
        );
        assert_eq!(authorization(r), None, "no Basic header");
        assert_eq!(r.form_value("client_id").as_deref(), Some("cid"));
        assert_eq!(r.form_value("client_secret").as_deref(), Some("csec"));
        assert_eq!(r.form_value("token").as_deref(), Some(token));
    }
}

/// An engine whose Notion key check goes to a stub answering `answer`.
async fn engine_with_key_stub(answer: StubResponse) -> (StubServer, Engine) {
    let stub = StubServer::start(answer).await.unwrap();
    let engine = engine(&format!(
        "[auth.notion]\nverify_url = \"{}/v1/users/me\"\n",
        stub.url()
    ));
    (stub, engine)
}

/// Starts a token login for `provider` (its `<provider>-token` handler) and opens its link.
async fn token_state(engine: &Engine, provider: &str) -> keyfob::Result<OpenedLink> {
    let req = AuthRequest::new(provider).handler(format!("{provider}-token"));
    let prompt = engine.login(&req).await?;
    Ok(open_prompt(engine, &prompt).await)
}

/// Enters `key` on `provider`'s token page of the opened `link`.
async fn enter(
    engine: &Engine,
    provider: &str,
    link: &OpenedLink,
    key: &str,
) -> keyfob::Result<keyfob::Completed> {
    let fields = vec![("token".into(), key.to_owned().into())];
    engine
        .complete_token(provider, Some(&link.state), fields, &link.cookies)
        .await
}

/// Starts a Notion token login and enters `key`; the session key on success.
async fn enter_key(engine: &Engine, key: &str) -> keyfob::Result<keyfob::SessionKey> {
    let state = token_state(engine, "notion").await?;
    enter(engine, "notion", &state, key).await.map(|c| c.key)
}

/// The key that is checked with the provider is the key that is stored: a form with a field the
/// page does not ask for (`a=<valid key>&token=<another>`, the red-team's repro) is refused
/// before any check, and stores nothing; the one field is checked and stored as typed.
/// MUTATION: checking the first posted field instead of the grant's key, with unknown fields
/// accepted, stores an unchecked key under a checked identity and fails this.
#[tokio::test]
async fn the_key_checked_is_the_key_stored() {
    let (stub, engine) =
        engine_with_key_stub(StubResponse::json(200, &json!({"name": "Checked Bot"}))).await;
    let link = token_state(&engine, "notion").await.unwrap();
    let fields = vec![
        ("a".into(), "ntn_checked_valid".to_owned().into()),
        ("token".into(), "ntn_unchecked_other".to_owned().into()),
    ];
    let e = engine
        .complete_token("notion", Some(&link.state), fields, &link.cookies)
        .await
        .expect_err("an extra field is refused");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("does not ask for"), "{e}");
    assert!(!e.to_string().contains("ntn_"), "{e}");
    assert!(stub.requests().is_empty(), "nothing was checked");
    assert!(
        engine.status(None).await.unwrap().is_empty(),
        "nothing stored"
    );

    let done = enter(&engine, "notion", &link, "ntn_checked_valid")
        .await
        .expect("the same link, one field");
    let r = &stub.requests()[0];
    assert_eq!(r.header("authorization"), Some("Bearer ntn_checked_valid"));
    let creds = engine.credentials(&done.key).await.unwrap();
    assert_eq!(creds.access_token(), "ntn_checked_valid");
}

/// A Datadog key belongs to one site: tools get the site as `DD_SITE` (the configured one, else
/// US1's `datadoghq.com`), for every profile; a SendGrid EU subuser's key, its API host.
/// MUTATION: dropping `config_env` from `Engine::credentials_of` fails this.
#[tokio::test]
async fn keys_come_with_their_site_or_region() {
    for (config, site) in [
        ("[auth.datadog]\nverify_key = false\n", "datadoghq.com"),
        (
            "[auth.datadog]\nverify_key = false\nsite = \"datadoghq.eu\"\n",
            "datadoghq.eu",
        ),
    ] {
        let engine = engine(config);
        for profile in ["default", "work"] {
            let req = AuthRequest::new("datadog").profile(profile);
            let prompt = engine.login(&req).await.unwrap();
            let link = open_prompt(&engine, &prompt).await;
            enter(
                &engine,
                "datadog",
                &link,
                "0123456789abcdef0123456789abcdef",
            )
            .await
            .unwrap();
            let creds = engine.credentials(&req.key()).await.unwrap();
            assert_eq!(
                creds.get("DD_SITE").map(|s| s.expose_secret().to_owned()),
                Some(site.to_owned()),
                "{config}"
            );
            if profile == "work" {
                assert_eq!(
                    creds
                        .get("WORK_DD_SITE")
                        .map(|s| s.expose_secret().to_owned()),
                    Some(site.to_owned())
                );
            }
        }
    }
    // SendGrid's EU subusers: their API host, the same way.
    let engine =
        engine("[auth.sendgrid]\nverify_key = false\napi_host = \"api.eu.sendgrid.com\"\n");
    let req = AuthRequest::new("sendgrid");
    let prompt = engine.login(&req).await.unwrap();
    let link = open_prompt(&engine, &prompt).await;
    enter(&engine, "sendgrid", &link, "SG.sentinel")
        .await
        .unwrap();
    let creds = engine.credentials(&req.key()).await.unwrap();
    assert_eq!(
        creds
            .get("SENDGRID_API_HOST")
            .map(|s| s.expose_secret().to_owned()),
        Some("api.eu.sendgrid.com".to_owned())
    );
}

/// An engine with `toml` whose requests to `hosts` reach an HTTPS stub answering `answer` (the
/// stub's certificate names them; the engine trusts its CA): key checks at the providers' real
/// URLs.
async fn engine_at_hosts(toml: &str, hosts: &[&str], answer: StubResponse) -> (StubServer, Engine) {
    let hosts: Vec<String> = hosts.iter().map(|h| (*h).to_owned()).collect();
    let (stub, ca) = StubServer::start_tls(answer, &hosts).await.unwrap();
    let mut builder = keyfob::builder()
        .config(Config::from_toml(toml).unwrap())
        .root_certificate_pem(ca.as_bytes());
    for h in &hosts {
        builder = builder.resolve(h, stub.addr());
    }
    (stub, builder.build().unwrap())
}

/// The host and path each key check went to.
fn checked_at(stub: &StubServer) -> Vec<String> {
    stub.requests()
        .iter()
        .map(|r| format!("{}{}", r.header("host").unwrap_or_default(), r.path))
        .collect()
}

/// Key checks go where the account lives: ElevenLabs' configured residency host and Datadog's
/// site (not the defaults); a Cloudflare account-owned token (`cfat_`) under its account, and
/// without `account_id` it is saved unchecked with a hint naming the setting; an older token
/// with no prefix that the user endpoint refuses is tried under the account once `account_id`
/// is set.
/// MUTATION: `insert` instead of `or_insert_with` in `TokenSpec::with_defaults` (the default
/// winning over the configured host), checking every key at `Verify::url`, or dropping the retry
/// at the prefix URLs each fail this.
#[tokio::test]
async fn key_checks_go_where_the_account_lives() {
    let ok = StubResponse::json(200, &json!({"result": {"status": "active"}}));
    let (stub, eleven) = engine_at_hosts(
        "[auth.elevenlabs]\napi_host = \"api.eu.residency.elevenlabs.io\"\n\
         [auth.datadog]\nsite = \"datadoghq.eu\"\n",
        &["api.eu.residency.elevenlabs.io", "api.datadoghq.eu"],
        ok.clone(),
    )
    .await;
    for provider in ["elevenlabs", "datadog"] {
        let link = token_state(&eleven, provider).await.unwrap();
        enter(&eleven, provider, &link, "sk_sentinel")
            .await
            .unwrap();
    }
    assert_eq!(
        checked_at(&stub),
        [
            "api.eu.residency.elevenlabs.io/v1/user",
            "api.datadoghq.eu/api/v1/validate"
        ]
    );

    let account = "023e105f4ecef8ad9ca31a8372d0c353";
    let (stub, cf) = engine_at_hosts(
        &format!("[auth.cloudflare]\naccount_id = \"{account}\"\n"),
        &["api.cloudflare.com"],
        ok.clone(),
    )
    .await;
    let link = token_state(&cf, "cloudflare").await.unwrap();
    enter(&cf, "cloudflare", &link, "cfat_sentinel")
        .await
        .unwrap();
    assert_eq!(
        checked_at(&stub),
        [format!(
            "api.cloudflare.com/client/v4/accounts/{account}/tokens/verify"
        )]
    );

    // An older token: the user endpoint refuses it, the account endpoint accepts it.
    stub.clear_requests();
    stub.push_responses([StubResponse::json(
        401,
        &json!({"success": false, "errors": [{"code": 1000, "message": "Invalid API Token"}]}),
    )]);
    let link = token_state(&cf, "cloudflare").await.unwrap();
    let done = enter(&cf, "cloudflare", &link, "0123456789legacy")
        .await
        .unwrap();
    assert_eq!(
        checked_at(&stub),
        [
            "api.cloudflare.com/client/v4/user/tokens/verify".to_owned(),
            format!("api.cloudflare.com/client/v4/accounts/{account}/tokens/verify")
        ]
    );
    let creds = cf.credentials(&done.key).await.unwrap();
    assert_eq!(
        creds
            .get("CLOUDFLARE_ACCOUNT_ID")
            .map(|s| s.expose_secret().to_owned()),
        Some(account.to_owned())
    );

    // Without account_id: an account token is saved unchecked, with the setting named.
    let (stub, cf) = engine_at_hosts("", &["api.cloudflare.com"], ok).await;
    let link = token_state(&cf, "cloudflare").await.unwrap();
    let done = enter(&cf, "cloudflare", &link, "cfat_sentinel")
        .await
        .unwrap();
    assert!(stub.requests().is_empty(), "{:?}", checked_at(&stub));
    assert!(
        done.warnings
            .iter()
            .any(|w| w.contains("set `account_id` in [auth.cloudflare]")),
        "{:?}",
        done.warnings
    );
}

/// Canvas keys work only on the institution that issued them, so the check URL is per account:
/// `{base_url}/api/v1/users/self`. Without `base_url` the key is saved unchecked, with a warning
/// naming the setting; with it, Canvas's 401 (`{"errors": [{"message": …}]}`) refuses the key and
/// its 200 names the user. A `base_url` that is not a safe URL is a config error.
#[tokio::test]
async fn per_account_key_checks_use_the_configured_base_url() {
    let key = "7~sentinel-key";
    let unset = engine("");
    let state = token_state(&unset, "canvas").await.unwrap();
    let done = enter(&unset, "canvas", &state, key)
        .await
        .expect("saved unchecked");
    assert!(
        done.warnings
            .iter()
            .any(|w| w.contains("`base_url` in [auth.canvas]")),
        "{:?}",
        done.warnings
    );

    let stub = StubServer::start(StubResponse::json(
        401,
        &json!({"errors": [{"message": "Invalid access token."}]}),
    ))
    .await
    .unwrap();
    let set = engine(&format!(
        "[auth.canvas]\nbase_url = \"{}\"\nallow_internal_endpoints = true\n",
        stub.url()
    ));
    let state = token_state(&set, "canvas").await.unwrap();
    let e = enter(&set, "canvas", &state, key)
        .await
        .expect_err("Canvas refused the key");
    assert!(e.to_string().contains("Invalid access token."), "{e}");
    assert!(!e.to_string().contains("sentinel"), "{e}");
    assert_eq!(stub.requests()[0].path, "/api/v1/users/self");
    stub.set_response(StubResponse::json(
        200,
        &json!({"id": 1, "name": "Ada Teacher"}),
    ));
    let done = enter(&set, "canvas", &state, key)
        .await
        .expect("the same link, a key Canvas accepts");
    assert!(done.warnings.is_empty(), "{:?}", done.warnings);
    let status = set.status(None).await.unwrap();
    assert_eq!(status[0].identity.as_deref(), Some("Ada Teacher"));

    let bad = engine("[auth.canvas]\nbase_url = \"http://10.0.0.1\"\n");
    let state = token_state(&bad, "canvas").await.unwrap();
    let e = enter(&bad, "canvas", &state, key)
        .await
        .expect_err("an internal address without allow_internal_endpoints");
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
}

#[tokio::test]
async fn entered_keys_are_checked_with_the_provider() {
    // Notion answers 401 with its error object for a bad key (developers.notion.com, "Status
    // codes"); the message is shown and the same link can be used again.
    let (stub, engine) = engine_with_key_stub(StubResponse::json(
        401,
        &json!({"object": "error", "status": 401, "code": "unauthorized", "message": "API token is invalid."}),
    ))
    .await;
    let req = AuthRequest::new("notion").handler("notion-token");
    let prompt = engine.login(&req).await.unwrap();
    let link = open_prompt(&engine, &prompt).await;
    let state = link.state.clone();
    let e = engine
        .complete_token(
            "notion",
            Some(&state),
            vec![("token".into(), "ntn_sentinel_bad".to_owned().into())],
            &link.cookies,
        )
        .await
        .expect_err("a rejected key is refused");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("API token is invalid."), "{e}");
    assert!(!e.to_string().contains("sentinel"), "{e}");
    assert!(
        engine.status(None).await.unwrap().is_empty(),
        "nothing stored"
    );
    let r = &stub.requests()[0];
    assert_eq!(r.path, "/v1/users/me");
    assert_eq!(r.header("authorization"), Some("Bearer ntn_sentinel_bad"));
    assert_eq!(r.header("notion-version"), Some("2022-06-28"));

    // The same link, a good key: stored, with the bot's name as identity.
    stub.set_response(StubResponse::json(
        200,
        &json!({"object": "user", "type": "bot", "name": "Agent Bot"}),
    ));
    let done = engine
        .complete_token(
            "notion",
            Some(&state),
            vec![("token".into(), "ntn_sentinel_good".to_owned().into())],
            &link.cookies,
        )
        .await
        .expect("the link is still alive");
    assert!(done.warnings.is_empty(), "{:?}", done.warnings);
    let status = engine.status(None).await.unwrap();
    assert_eq!(status[0].identity.as_deref(), Some("Agent Bot"));

    // A key that does not look like Notion's, and a check that cannot be made: saved, warned.
    stub.set_response(StubResponse::text(503, "maintenance"));
    let req2 = AuthRequest::new("notion")
        .handler("notion-token")
        .profile("p2");
    let prompt = engine.login(&req2).await.unwrap();
    let link = open_prompt(&engine, &prompt).await;
    let state = link.state.clone();
    let done = engine
        .complete_token(
            "notion",
            Some(&state),
            vec![("token".into(), "sentinel-odd".to_owned().into())],
            &link.cookies,
        )
        .await
        .unwrap();
    assert_eq!(done.warnings.len(), 2, "{:?}", done.warnings);
    assert!(done.warnings[0].contains("does not start like"));
    assert!(done.warnings[1].contains("HTTP 503"));
    assert!(done.warnings.iter().all(|w| !w.contains("sentinel")));
}

/// The token page over HTTP: a key the provider refuses comes back as the form, with the
/// provider's words, and the link still works.
#[tokio::test]
async fn the_token_page_shows_a_refused_key() {
    let (stub, engine) = engine_with_key_stub(StubResponse::json(
        401,
        &json!({"object": "error", "status": 401, "code": "unauthorized", "message": "API token is invalid."}),
    ))
    .await;
    let server = keyfob_callback::start(engine.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let prompt = engine
        .login(&AuthRequest::new("notion").handler("notion-token"))
        .await
        .unwrap();
    let state = query_param(&prompt.url, "state").unwrap();
    let action = format!("http://{}/auth/notion/token", server.local_addr());
    let browser = Browser::new();
    browser.open_link(&prompt.url).await.unwrap();
    let submit = |key: &'static str| {
        let (browser, action, state) = (browser.clone(), action.clone(), state.clone());
        async move {
            browser
                .post_form(&action, &[("state", state.as_str()), ("token", key)])
                .await
                .unwrap()
        }
    };
    let (status, page) = submit("ntn_sentinel_bad").await;
    assert_eq!(status, 400);
    assert!(page.contains("API token is invalid."), "{page}");
    assert!(page.contains("<form"), "the form again: {page}");
    assert!(!page.contains("sentinel"), "{page}");
    stub.set_response(StubResponse::json(200, &json!({"name": "Agent Bot"})));
    let (status, page) = submit("ntn_sentinel_good").await;
    assert_eq!(status, 200);
    assert!(page.contains("Done"));
    server.shutdown().await;
}

#[tokio::test]
async fn refresh_ahead_keeps_calls_off_the_token_endpoint() {
    // Access tokens live 4 s; refresh-ahead looks every 200 ms. 1,000 calls spread over two
    // lifetimes never find the session due, so none waits for a refresh.
    let (idp, engine) = idp_engine(4).await;
    let req = AuthRequest::new("testidp");
    browser_login(&engine, &req).await;
    let task = engine.refresh_ahead(RefreshAhead {
        lead: Duration::from_secs(2),
        jitter: Duration::ZERO,
        every: Duration::from_millis(200),
    });
    let key = req.key();
    for _ in 0..1000 {
        engine.credentials(&key).await.expect("credentials");
        tokio::time::sleep(Duration::from_millis(9)).await;
    }
    drop(task);
    let stats = engine.stats();
    assert_eq!(stats.inline_refreshes, 0, "{stats:?}");
    assert!(stats.background_refreshes >= 2, "{stats:?}");
    assert_eq!(
        idp.stats().await.token("refresh_token"),
        stats.background_refreshes,
        "every refresh request came from the background task"
    );
}

#[tokio::test]
async fn a_failing_background_refresh_marks_the_session_for_a_new_login() {
    let stub = StubServer::start(StubResponse::json(
        200,
        &json!({"access_token": "at-sentinel-kf", "refresh_token": "rt-sentinel-kf", "expires_in": 3}),
    ))
    .await
    .unwrap();
    let engine = engine(&format!(
        "[session]\nrefresh_margin_secs = 1\n\
         [auth.github]\nclient_id = \"c\"\nclient_secret = \"s\"\nauthorize_url = \"{0}/authorize\"\n\
         token_url = \"{0}/token\"\nuserinfo_url = \"{0}/user\"\n",
        stub.url()
    ));
    let req = AuthRequest::new("github");
    stub_login(&engine, &req).await;
    stub.set_response(StubResponse::json(400, &json!({"error": "invalid_grant"})));
    let n = engine
        .refresh_due(Duration::from_secs(10), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(n, 0);
    assert_eq!(engine.stats().background_failures, 1);
    let status = engine.status(None).await.unwrap();
    assert!(status[0].needs_reauth, "{status:?}");
    assert!(
        status[0]
            .refresh_error
            .as_deref()
            .is_some_and(|e| e.contains("log in again")),
        "{status:?}"
    );
    // The grant was refused: the session needs a login at once, its access token unexpired
    // or not (the provider revoked it with the grant, most likely).
    assert_eq!(status[0].state, SessionState::NeedsAuth, "{status:?}");
    let e = engine
        .credentials(&req.key())
        .await
        .expect_err("a refused grant ends the session's use");
    assert_eq!(e.kind(), ErrorKind::ReauthRequired, "{e}");
    // The tools API's view: a prompt for a new login, not an error at call time.
    match engine.ensure(&req).await.unwrap() {
        keyfob::Ensured::Prompt(p) => {
            let link = open_prompt(&engine, &p).await;
            assert!(link.next_url.contains("/authorize?"), "{}", link.next_url);
        }
        other => panic!("expected a prompt, got {other:?}"),
    }
}

/// With `device_flow = true`, a tool call that needs a login pauses with a device prompt: the
/// code is in the prompt the agent shows, and the same call then runs.
#[tokio::test]
async fn a_paused_tool_call_carries_the_device_code() {
    use keyfob::tools::{FnTool, Invocation, Keyfob, ToolAuth};
    let (stub, _) = device_stub(vec![
        oauth_error("authorization_pending"),
        StubResponse::json(
            200,
            &json!({"access_token": "at-tool", "token_type": "bearer"}),
        ),
        StubResponse::json(200, &json!({"login": "octocat"})),
    ])
    .await;
    let engine = engine(&format!(
        "[auth.github]\nclient_id = \"c\"\nclient_secret = \"s\"\ndevice_flow = true\n\
         device_url = \"{0}/device\"\ntoken_url = \"{0}/token\"\nuserinfo_url = \"{0}/user\"\n",
        stub.url()
    ));
    let mut k = Keyfob::new(engine.clone());
    k.register(FnTool::new(
        "whoami",
        "Who am I on GitHub",
        json!({"type": "object"}),
        Some(ToolAuth::named("github")),
        |_, creds| {
            Box::pin(async move {
                let token = creds.expect("credentials").access_token().to_owned();
                Ok(serde_json::Value::String(token))
            })
        },
    ))
    .unwrap();
    let Invocation::Paused(prompt) = k
        .invoke("whoami", serde_json::Value::Null, "chat-1", "default")
        .await
        .unwrap()
    else {
        panic!("a first call pauses");
    };
    assert_eq!(prompt.user_code.as_deref(), Some("WDJB-MJHT"));
    engine
        .wait(&prompt, Duration::from_secs(30))
        .await
        .expect("the device flow completes");
    match k
        .invoke("whoami", serde_json::Value::Null, "chat-1", "default")
        .await
        .unwrap()
    {
        Invocation::Done(v) => assert_eq!(v, "at-tool"),
        other => panic!("expected the call to run, got {other:?}"),
    }
}
