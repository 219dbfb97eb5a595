//! Proves the fixtures work: the IdP enforces OAuth2 the way strict providers do, and the stub server answers as told.
//!
//! The protocol is done by hand here (no oauth2 crate), so these tests check
//! the fixtures, not keyfob's client code.
//!
//! The store suite also runs here on keyfob-core's `MemoryStore` (module `memory_store`): the core
//! cannot run it itself without a dev-dependency on this crate, which would compile the core a
//! second time for its unit tests, and the two copies' store types would not even match.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyfob_testkit::{
    Browser, Idp, IdpClient, IdpOptions, StubResponse, StubServer, free_port, query_param,
};
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use url::Url;

const BASIC_ID: &str = "basic-client";
const BASIC_SECRET: &str = "basic-secret";
const POST_ID: &str = "post-client";
const POST_SECRET: &str = "post-secret";
const TTL: u64 = 1234;

struct Fixture {
    idp: Idp,
    redirect_uri: String,
    http: reqwest::Client,
}

async fn start() -> Fixture {
    let redirect_uri = format!("http://127.0.0.1:{}/auth/x/oauth2/callback", free_port());
    let idp = Idp::start(IdpOptions {
        clients: vec![
            IdpClient::basic(BASIC_ID, BASIC_SECRET, &[&redirect_uri]),
            IdpClient::post(POST_ID, POST_SECRET, &[&redirect_uri]),
        ],
        access_token_ttl_secs: TTL,
        extra_scopes: vec!["repo".into(), "read:user".into(), "channels:read".into()],
        mcp_resource: None,
    })
    .await
    .expect("start the IdP");
    Fixture {
        idp,
        redirect_uri,
        http: reqwest::Client::new(),
    }
}

/// A PKCE pair: (code_verifier, S256 code_challenge).
fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// How the client authenticates at the token endpoint.
#[derive(Clone, Copy)]
enum Auth<'a> {
    Basic(&'a str, &'a str),
    Post(&'a str, &'a str),
    Both(&'a str, &'a str),
}

impl Fixture {
    fn authorize_url(
        &self,
        client_id: &str,
        redirect_uri: &str,
        scope: &str,
        state: &str,
        challenge: &str,
    ) -> String {
        let mut url = Url::parse(self.idp.authorize_url()).unwrap();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", scope)
            .append_pair("state", state)
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256");
        url.into()
    }

    /// Approves an authorization request for `client_id` and returns (code, verifier).
    async fn code_for(&self, client_id: &str, scope: &str) -> (String, String) {
        let (verifier, challenge) = pkce();
        let url = self.authorize_url(client_id, &self.redirect_uri, scope, "st", &challenge);
        let back = Browser::new().approve(&url).await.unwrap();
        let code = query_param(&back, "code").unwrap_or_else(|| panic!("no code in {back}"));
        (code, verifier)
    }

    async fn token(&self, auth: Auth<'_>, params: &[(&str, &str)]) -> (StatusCode, Value) {
        let mut form: Vec<(&str, &str)> = params.to_vec();
        let mut req = self.http.post(self.idp.token_url());
        match auth {
            Auth::Basic(id, secret) => req = req.basic_auth(id, Some(secret)),
            Auth::Post(id, secret) => form.extend([("client_id", id), ("client_secret", secret)]),
            Auth::Both(id, secret) => {
                req = req.basic_auth(id, Some(secret));
                form.extend([("client_id", id), ("client_secret", secret)]);
            }
        }
        let resp = req.form(&form).send().await.unwrap();
        let status = resp.status();
        let body = resp.json().await.unwrap();
        (status, body)
    }

    async fn exchange(
        &self,
        auth: Auth<'_>,
        code: &str,
        verifier: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut params = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.redirect_uri.as_str()),
        ];
        params.extend(verifier.map(|v| ("code_verifier", v)));
        self.token(auth, &params).await
    }

    async fn refresh(&self, auth: Auth<'_>, refresh_token: &str) -> (StatusCode, Value) {
        self.token(
            auth,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
        .await
    }
}

fn str_field<'a>(body: &'a Value, key: &str) -> &'a str {
    body[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {body}"))
}

fn assert_error(got: &(StatusCode, Value), status: StatusCode, error: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1["error"], error, "{}", got.1);
}

#[tokio::test]
async fn code_flow_with_basic_auth_single_use_codes_and_rotating_refresh_tokens() {
    let t0 = Instant::now();
    let f = start().await;
    eprintln!("IdP started in {:?}", t0.elapsed());
    let basic = Auth::Basic(BASIC_ID, BASIC_SECRET);

    let (verifier, challenge) = pkce();
    let url = f.authorize_url(
        BASIC_ID,
        &f.redirect_uri,
        "repo read:user",
        "state-123",
        &challenge,
    );
    let back = Browser::new().approve(&url).await.unwrap();
    assert!(back.starts_with(&format!("{}?", f.redirect_uri)), "{back}");
    assert_eq!(query_param(&back, "state").as_deref(), Some("state-123"));
    assert_eq!(query_param(&back, "iss").as_deref(), Some(f.idp.issuer()));
    let code = query_param(&back, "code").unwrap();

    let (status, tokens) = f.exchange(basic, &code, Some(&verifier)).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], TTL);
    assert_eq!(tokens["scope"], "repo read:user");
    assert!(
        tokens.get("id_token").is_none(),
        "no openid scope, no id_token: {tokens}"
    );
    let access_token = str_field(&tokens, "access_token");
    let refresh_token = str_field(&tokens, "refresh_token");
    assert!(!access_token.is_empty());

    // Refresh rotates: a new refresh token each time, and used ones are dead.
    let (status, refreshed) = f.refresh(basic, refresh_token).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let rt2 = str_field(&refreshed, "refresh_token");
    assert_ne!(rt2, refresh_token);
    assert_ne!(str_field(&refreshed, "access_token"), access_token);
    assert_eq!(refreshed["expires_in"], TTL);
    let (status, refreshed) = f.refresh(basic, rt2).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let rt3 = str_field(&refreshed, "refresh_token");
    assert_ne!(rt3, rt2);
    assert_error(
        &f.refresh(basic, refresh_token).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );
    // Replaying a used refresh token revokes the whole grant (reuse detection),
    // so the newest refresh token is dead too.
    assert_error(
        &f.refresh(basic, rt3).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );

    // Authorization codes are single-use.
    assert_error(
        &f.exchange(basic, &code, Some(&verifier)).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );
    // Replaying a code also revokes what it was exchanged for (RFC 6749 4.1.2).
    let (code, verifier) = f.code_for(BASIC_ID, "repo").await;
    let (status, tokens) = f.exchange(basic, &code, Some(&verifier)).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_error(
        &f.exchange(basic, &code, Some(&verifier)).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );
    let got = f.refresh(basic, str_field(&tokens, "refresh_token")).await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_grant");

    let stats = f.idp.stats().await;
    assert_eq!(stats.token("authorization_code"), 4);
    assert_eq!(stats.token("refresh_token"), 5);
    assert_eq!(stats.token_requests_total, 9);
    f.idp.reset_stats().await;
    assert_eq!(f.idp.stats().await, keyfob_testkit::Stats::default());
}

#[tokio::test]
async fn pkce_is_enforced() {
    let f = start().await;
    let basic = Auth::Basic(BASIC_ID, BASIC_SECRET);

    // Token request without code_verifier.
    let (code, verifier) = f.code_for(BASIC_ID, "repo").await;
    assert_error(
        &f.exchange(basic, &code, None).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );
    // A wrong verifier.
    let (wrong, _) = pkce();
    assert_error(
        &f.exchange(basic, &code, Some(&wrong)).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );
    // (The code survives failed PKCE checks.)
    assert_eq!(
        f.exchange(basic, &code, Some(&verifier)).await.0,
        StatusCode::OK
    );

    // Authorization requests without code_challenge, or with `plain`, bounce
    // back to the client with an error.
    let mut url = Url::parse(f.idp.authorize_url()).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", BASIC_ID)
        .append_pair("redirect_uri", &f.redirect_uri)
        .append_pair("scope", "repo")
        .append_pair("state", "s");
    let back = Browser::new().approve(url.as_str()).await.unwrap();
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("invalid_request"),
        "{back}"
    );
    assert_eq!(query_param(&back, "state").as_deref(), Some("s"));

    let plain = f
        .authorize_url(BASIC_ID, &f.redirect_uri, "repo", "s", &verifier)
        .replace("code_challenge_method=S256", "code_challenge_method=plain");
    let back = Browser::new().approve(&plain).await.unwrap();
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("invalid_request"),
        "{back}"
    );
}

#[tokio::test]
async fn client_authentication_must_use_the_registered_method() {
    let f = start().await;

    // A client_secret_post client: Basic is refused, both at once is refused,
    // the form body works. Failed client authentication leaves the code usable.
    let (code, verifier) = f.code_for(POST_ID, "channels:read").await;
    let got = f
        .exchange(Auth::Basic(POST_ID, POST_SECRET), &code, Some(&verifier))
        .await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_client");
    let got = f
        .exchange(Auth::Both(POST_ID, POST_SECRET), &code, Some(&verifier))
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_request");
    let got = f
        .exchange(Auth::Post(POST_ID, "wrong"), &code, Some(&verifier))
        .await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_client");
    let (status, tokens) = f
        .exchange(Auth::Post(POST_ID, POST_SECRET), &code, Some(&verifier))
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["scope"], "channels:read");
    let (status, _) = f
        .refresh(
            Auth::Post(POST_ID, POST_SECRET),
            str_field(&tokens, "refresh_token"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // A client_secret_basic client: body credentials are refused, and so is both.
    let (code, verifier) = f.code_for(BASIC_ID, "repo").await;
    let got = f
        .exchange(Auth::Post(BASIC_ID, BASIC_SECRET), &code, Some(&verifier))
        .await;
    assert_error(&got, StatusCode::UNAUTHORIZED, "invalid_client");
    let got = f
        .exchange(Auth::Both(BASIC_ID, BASIC_SECRET), &code, Some(&verifier))
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_request");

    // Another client's code is refused.
    let got = f
        .exchange(Auth::Post(POST_ID, POST_SECRET), &code, Some(&verifier))
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_grant");

    let stats = f.idp.stats().await;
    assert_eq!(stats.token("authorization_code"), 7);
    assert_eq!(stats.token("refresh_token"), 1);
}

#[tokio::test]
async fn redirect_uri_must_match_exactly() {
    let f = start().await;
    let (_, challenge) = pkce();
    let browser = Browser::new();

    for bad in [
        format!("{}/", f.redirect_uri),
        f.redirect_uri.replace("/callback", "/other"),
        f.redirect_uri.replace("127.0.0.1", "localhost"),
    ] {
        let url = f.authorize_url(BASIC_ID, &bad, "repo", "s", &challenge);
        let err = browser.approve(&url).await.unwrap_err().to_string();
        assert!(err.contains("invalid_redirect_uri"), "{bad}: {err}");
    }

    // The token request must repeat the redirect_uri exactly, too.
    let (code, verifier) = f.code_for(BASIC_ID, "repo").await;
    let got = f
        .token(
            Auth::Basic(BASIC_ID, BASIC_SECRET),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    assert_error(&got, StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn deny_redirects_with_access_denied() {
    let f = start().await;
    let (_, challenge) = pkce();
    let url = f.authorize_url(POST_ID, &f.redirect_uri, "repo", "state-9", &challenge);
    let back = Browser::new().deny(&url).await.unwrap();
    assert!(back.starts_with(&format!("{}?", f.redirect_uri)), "{back}");
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(query_param(&back, "state").as_deref(), Some("state-9"));
    assert_eq!(query_param(&back, "code"), None);
}

#[tokio::test]
async fn openid_scope_yields_an_id_token() {
    let f = start().await;
    let (code, verifier) = f.code_for(BASIC_ID, "openid repo").await;
    let (status, tokens) = f
        .exchange(Auth::Basic(BASIC_ID, BASIC_SECRET), &code, Some(&verifier))
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["scope"], "openid repo");
    assert!(tokens["id_token"].is_string(), "{tokens}");
    assert!(tokens["refresh_token"].is_string(), "{tokens}");
}

#[tokio::test]
async fn revocation_and_introspection() {
    let f = start().await;
    let (code, verifier) = f.code_for(BASIC_ID, "repo").await;
    let (_, tokens) = f
        .exchange(Auth::Basic(BASIC_ID, BASIC_SECRET), &code, Some(&verifier))
        .await;
    let access_token = str_field(&tokens, "access_token");
    let refresh_token = str_field(&tokens, "refresh_token");

    let introspect = |token: String| {
        f.http
            .post(f.idp.introspection_url())
            .basic_auth(BASIC_ID, Some(BASIC_SECRET))
            .form(&[("token", token)])
            .send()
    };
    let info: Value = introspect(access_token.into())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["scope"], "repo");
    assert_eq!(info["sub"], "user-1");

    // Revoking the refresh token ends the grant, the access token included.
    let resp = f
        .http
        .post(f.idp.revocation_url())
        .basic_auth(BASIC_ID, Some(BASIC_SECRET))
        .form(&[
            ("token", refresh_token),
            ("token_type_hint", "refresh_token"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_error(
        &f.refresh(Auth::Basic(BASIC_ID, BASIC_SECRET), refresh_token)
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );
    let info: Value = introspect(access_token.into())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["active"], false, "{info}");
}

#[tokio::test]
async fn idp_start_reports_its_endpoints() {
    let f = start().await;
    let issuer = f.idp.issuer();
    assert!(issuer.starts_with("http://127.0.0.1:"), "{issuer}");
    assert_eq!(f.idp.authorize_url(), format!("{issuer}/auth"));
    assert_eq!(f.idp.token_url(), format!("{issuer}/token"));
    assert_eq!(f.idp.revocation_url(), format!("{issuer}/token/revocation"));
    assert_eq!(
        f.idp.device_authorization_url(),
        format!("{issuer}/device/auth")
    );
}

#[tokio::test]
async fn stub_server_answers_as_told_and_records_requests() {
    let stub = StubServer::start(StubResponse::html(500, "<h1>Internal Server Error</h1>"))
        .await
        .unwrap();
    let http = reqwest::Client::new();

    let resp = http
        .post(stub.token_url())
        .basic_auth("id", Some("secret"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "rt-1")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(resp.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(resp.text().await.unwrap(), "<h1>Internal Server Error</h1>");

    let reqs = stub.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].path, "/token");
    assert_eq!(reqs[0].form_value("refresh_token").as_deref(), Some("rt-1"));
    assert!(
        reqs[0]
            .header("Authorization")
            .unwrap()
            .starts_with("Basic ")
    );

    // Garbage with a JSON content type, on any path.
    stub.set_response(
        StubResponse::new(200, "application/json", b"\x00{not json".to_vec())
            .with_header("x-test", "1"),
    );
    let resp = http
        .get(format!("{}/anything?a=b", stub.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-test"], "1");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"\x00{not json");
    assert_eq!(stub.requests()[1].query.as_deref(), Some("a=b"));

    // A hang: the client's timeout fires, and the request was still recorded.
    stub.clear_requests();
    stub.set_response(StubResponse::token("at").with_delay(Duration::from_secs(30)));
    let err = http
        .post(stub.token_url())
        .timeout(Duration::from_millis(200))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(stub.requests().len(), 1);

    stub.set_response(StubResponse::token("at"));
    let body: Value = http
        .post(stub.token_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["access_token"], "at");
}

async fn device_authorize(f: &Fixture) -> Value {
    let resp = f
        .http
        .post(f.idp.device_authorization_url())
        .form(&[
            ("client_id", POST_ID),
            ("client_secret", POST_SECRET),
            ("scope", "repo"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.unwrap()
}

async fn device_poll(f: &Fixture, device: &Value) -> (StatusCode, Value) {
    f.token(
        Auth::Post(POST_ID, POST_SECRET),
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", str_field(device, "device_code")),
        ],
    )
    .await
}

#[tokio::test]
async fn device_flow_approve_and_deny() {
    let f = start().await;

    let device = device_authorize(&f).await;
    assert_error(
        &device_poll(&f, &device).await,
        StatusCode::BAD_REQUEST,
        "authorization_pending",
    );
    Browser::new()
        .approve_device(str_field(&device, "verification_uri_complete"))
        .await
        .unwrap();
    let (status, tokens) = device_poll(&f, &device).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["scope"], "repo");
    assert!(tokens["refresh_token"].is_string(), "{tokens}");

    let device = device_authorize(&f).await;
    Browser::new()
        .deny_device(str_field(&device, "verification_uri_complete"))
        .await
        .unwrap();
    assert_error(
        &device_poll(&f, &device).await,
        StatusCode::BAD_REQUEST,
        "access_denied",
    );

    assert_eq!(
        f.idp
            .stats()
            .await
            .token("urn:ietf:params:oauth:grant-type:device_code"),
        3
    );
}

/// keyfob-core's in-memory store against the store suite (see the module doc).
mod memory_store {
    keyfob_testkit::store_conformance!(async {
        std::sync::Arc::new(keyfob_core::MemoryStore::new())
    });
}
