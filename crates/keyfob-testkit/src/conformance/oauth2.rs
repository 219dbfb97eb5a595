//! Each OAuth2 handler's flow against a stub token endpoint: the authorize URL, the code
//! exchange, replay refusal, refresh and a refused refresh.
//!
//! Invariants:
//! - The authorize URL carries exactly the spec's parameters: client id, redirect URI, a state,
//!   PKCE iff the spec says so, its extra parameters, and the scopes (recommended, offline and a
//!   tool's own) in the spec's parameter and separator.
//! - The code exchange is one request with the spec's body format and exactly one client
//!   authentication; a replayed state is refused without reaching the endpoint.
//! - A refresh keeps, rotates or (without refresh) skips the refresh token as the spec says; a
//!   refused refresh of an expired token asks for a new login and keeps the session.
//! - A provider without an OAuth2 handler refuses a code and stores nothing.

use keyfob_core::scope;
use keyfob_core::spec::{
    BodyFormat, ClientAuth, Handler, OAuth2Spec, Offline, Pkce, Provider, Refresh,
};
use keyfob_core::{AuthRequest, CallbackParams, Engine, ErrorKind, ExposeSecret};
use serde_json::json;

use crate::conformance::capture::{assert_no_sentinel, leak_checked};
use crate::conformance::quirks::oauth2_quirks;
use crate::conformance::{SENTINEL, engine_for, refused_and_nothing_stored, send_code};
use crate::query_pairs;
use crate::stub::{StubResponse, StubServer};

/// Every OAuth2 handler: authorize URL, code exchange, replay refusal and refresh, checked
/// against a stub token endpoint, then what real token endpoints answer (see
/// `oauth2_quirks`).
///
/// A provider without an OAuth2 handler must refuse an authorization code.
pub fn oauth2_handlers(provider: &'static Provider) {
    let mut any = false;
    for h in provider.handlers {
        if let Handler::OAuth2(spec) = h {
            any = true;
            leak_checked(spec.name, oauth2_handler(provider, spec));
            leak_checked(spec.name, oauth2_quirks(provider, spec));
        }
    }
    if !any {
        leak_checked(provider.id, oauth2_absent(provider));
    }
}

/// A code sent to a provider that has no OAuth2 handler fails and stores nothing.
async fn oauth2_absent(provider: &'static Provider) {
    let engine = Engine::builder().build().expect("engine");
    let req = AuthRequest::new(provider.id);
    let prompt = engine.login(&req).await.expect("the default flow starts");
    let link = crate::open_prompt(&engine, &prompt).await;
    let e = send_code(&engine, provider, link.state.clone(), &link.cookies)
        .await
        .expect_err("a provider without an OAuth2 handler must refuse an authorization code");
    refused_and_nothing_stored(
        &engine,
        &req,
        &e,
        &format!("{}: a code sent to a token-only provider", provider.id),
    )
    .await;
}

async fn oauth2_handler(provider: &'static Provider, spec: &'static OAuth2Spec) {
    let first = json!({
        "access_token": format!("{SENTINEL}-access-1"),
        "refresh_token": format!("{SENTINEL}-refresh-1"),
        "expires_in": 60,
        "token_type": "bearer",
    });
    let stub = StubServer::start(StubResponse::json(200, &first))
        .await
        .expect("stub starts");
    let engine = engine_for(provider, &stub);
    let req = AuthRequest::new(provider.id).handler(spec.name);

    // The authorize URL.
    let prompt = engine
        .login(&req)
        .await
        .unwrap_or_else(|e| panic!("{}: starting a flow failed: {e}", spec.name));
    let link = crate::open_prompt(&engine, &prompt).await;
    let q = query_pairs(&link.next_url);
    assert!(
        link.next_url
            .starts_with(&format!("{}/authorize?", stub.url())),
        "{}: authorize URL",
        spec.name
    );
    assert_eq!(
        get(&q, "response_type"),
        Some("code"),
        "{}: response_type",
        spec.name
    );
    assert_eq!(
        get(&q, "client_id"),
        Some("client-1"),
        "{}: client_id",
        spec.name
    );
    let redirect = format!(
        "{}/auth/{}/oauth2/callback",
        engine.callback_base(),
        provider.id
    );
    assert_eq!(
        get(&q, "redirect_uri"),
        Some(redirect.as_str()),
        "{}: redirect_uri",
        spec.name
    );
    let state = get(&q, "state").expect("state is sent").to_owned();
    assert!(state.len() >= 32, "{}: state too short", spec.name);
    match spec.pkce {
        Pkce::S256 => {
            assert_eq!(
                get(&q, "code_challenge_method"),
                Some("S256"),
                "{}: PKCE method",
                spec.name
            );
            assert_eq!(
                get(&q, "code_challenge").map(str::len),
                Some(43),
                "{}: PKCE challenge",
                spec.name
            );
        }
        Pkce::None => assert!(
            get(&q, "code_challenge").is_none(),
            "{}: PKCE sent although the spec says none",
            spec.name
        ),
    }
    for (k, v) in spec.authorize_params {
        assert_eq!(
            get(&q, k),
            Some(*v),
            "{}: authorize parameter {k}",
            spec.name
        );
    }
    // Scopes: the default flow asks for the recommended ones (plus the offline scope), and a
    // tool's own scopes are added to them, in the spec's parameter, joined by its separator.
    let mut expected = scope::from_iter(spec.recommended_scopes.iter().copied());
    if let Offline::Scope(s) = spec.offline {
        expected.insert(s.to_owned());
    }
    scopes_sent(spec, &q, &expected);
    let asked = ["kf-scope-a", "kf-scope-b"];
    let scoped = engine
        .login(&req.clone().thread("kf-scoped").scopes(asked))
        .await
        .unwrap_or_else(|e| panic!("{}: starting a flow with scopes failed: {e}", spec.name));
    expected.extend(asked.map(str::to_owned));
    let scoped = crate::open_prompt(&engine, &scoped).await;
    scopes_sent(spec, &query_pairs(&scoped.next_url), &expected);

    // The code exchange.
    let code = format!("{SENTINEL}-code");
    let params = CallbackParams {
        state: Some(state.clone()),
        code: Some(code.clone()),
        ..Default::default()
    };
    engine
        .complete_oauth2(provider.id, params.clone(), &link.cookies)
        .await
        .unwrap_or_else(|e| panic!("{}: code exchange failed: {e}", spec.name));
    let reqs = stub.requests();
    assert_eq!(reqs.len(), 1, "{}: one token request", spec.name);
    let r = &reqs[0];
    assert_eq!(r.method, "POST", "{}: token request method", spec.name);
    assert!(
        r.header("accept")
            .is_some_and(|a| a.contains("application/json")),
        "{}: Accept: application/json",
        spec.name
    );
    let body: Vec<(String, String)> = match spec.body_format {
        BodyFormat::Form => {
            assert!(
                r.header("content-type")
                    .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded")),
                "{}: form body",
                spec.name
            );
            r.form()
        }
        BodyFormat::Json => {
            assert!(
                r.header("content-type")
                    .is_some_and(|c| c.starts_with("application/json")),
                "{}: JSON body",
                spec.name
            );
            let v: serde_json::Map<String, serde_json::Value> =
                serde_json::from_slice(&r.body).expect("JSON body");
            v.into_iter()
                .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned()))
                .collect()
        }
    };
    assert_eq!(
        get(&body, "grant_type"),
        Some("authorization_code"),
        "{}: grant_type",
        spec.name
    );
    assert_eq!(
        get(&body, "code"),
        Some(code.as_str()),
        "{}: code",
        spec.name
    );
    assert_eq!(
        get(&body, "redirect_uri"),
        Some(redirect.as_str()),
        "{}: redirect_uri repeated",
        spec.name
    );
    assert_eq!(
        get(&body, "code_verifier").is_some(),
        spec.pkce == Pkce::S256,
        "{}: code_verifier iff PKCE",
        spec.name
    );
    match spec.client_auth {
        ClientAuth::Basic => {
            assert!(
                r.header("authorization")
                    .is_some_and(|a| a.starts_with("Basic ")),
                "{}: Basic client auth",
                spec.name
            );
            assert!(
                get(&body, "client_secret").is_none(),
                "{}: secret sent twice (Basic and body)",
                spec.name
            );
        }
        ClientAuth::Body => {
            assert!(
                r.header("authorization").is_none(),
                "{}: Authorization header with body client auth",
                spec.name
            );
            assert_eq!(
                get(&body, "client_id"),
                Some("client-1"),
                "{}: client_id in body",
                spec.name
            );
            assert!(
                get(&body, "client_secret").is_some_and(|s| s.contains(SENTINEL)),
                "{}: client_secret in body",
                spec.name
            );
        }
    }
    // A replayed state is refused and makes no request.
    let replay = engine
        .complete_oauth2(provider.id, params, &link.cookies)
        .await
        .expect_err("replay must fail");
    assert_eq!(
        replay.kind(),
        ErrorKind::Expired,
        "{}: replayed state",
        spec.name
    );
    assert_no_sentinel("error message", &replay.to_string());
    assert_eq!(
        stub.requests().len(),
        1,
        "{}: a replay reached the token endpoint",
        spec.name
    );

    // Refresh: once the first token is due, asking for credentials refreshes it (or, where tokens cannot be refreshed, hands out the still-valid one).
    stub.clear_requests();
    // A plain refresh answers without a refresh token (the old one stays valid and is kept); a
    // rotating one answers with a new one, which must replace the old.
    let refreshed = if spec.refresh == Refresh::Rotating {
        json!({"access_token": format!("{SENTINEL}-access-2"), "refresh_token": format!("{SENTINEL}-refresh-2"), "expires_in": 3600})
    } else {
        json!({"access_token": format!("{SENTINEL}-access-2"), "expires_in": 3600})
    };
    stub.set_response(StubResponse::json(200, &refreshed));
    let key = req.key();
    let mut aged = engine
        .store()
        .get(&key)
        .await
        .expect("store")
        .expect("session");
    aged.updated_at -= 3600; // an old 60 s token: due now, whatever the margin
    engine
        .store()
        .put(&aged, keyfob_core::store::Expect::Any)
        .await
        .expect("store");
    let creds = engine
        .credentials(&key)
        .await
        .expect("a refresh never fails while the token is valid");
    let after = engine
        .store()
        .get(&key)
        .await
        .expect("store")
        .expect("session");
    let primary = if spec.refresh == Refresh::None {
        "1"
    } else {
        "2"
    };
    assert_eq!(
        creds
            .get(spec.env_key)
            .map(|s| s.expose_secret().to_owned()),
        Some(format!("{SENTINEL}-access-{primary}")),
        "{}: env key",
        spec.name
    );
    assert_no_sentinel("Credentials Debug", &format!("{creds:?}"));
    assert_no_sentinel("Prompt Debug", &format!("{prompt:?}"));
    assert_no_sentinel("Engine Debug", &format!("{engine:?}"));
    assert_no_sentinel("Session Debug", &format!("{after:?}"));
    let reqs = stub.requests();
    if spec.refresh == Refresh::None {
        assert!(
            reqs.is_empty(),
            "{}: refreshed although the spec says tokens cannot be",
            spec.name
        );
        assert_eq!(
            after.grant.access_token.expose_secret(),
            format!("{SENTINEL}-access-1"),
            "{}: session kept",
            spec.name
        );
    } else {
        assert_eq!(reqs.len(), 1, "{}: one refresh request", spec.name);
        let body = if spec.body_format == BodyFormat::Json {
            let v: serde_json::Map<String, serde_json::Value> =
                serde_json::from_slice(&reqs[0].body).expect("JSON body");
            v.into_iter()
                .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned()))
                .collect()
        } else {
            reqs[0].form()
        };
        assert_eq!(
            get(&body, "grant_type"),
            Some("refresh_token"),
            "{}: refresh grant_type",
            spec.name
        );
        assert_eq!(
            get(&body, "refresh_token").map(str::to_owned),
            Some(format!("{SENTINEL}-refresh-1")),
            "{}: refresh token sent",
            spec.name
        );
        assert_eq!(
            after.grant.access_token.expose_secret(),
            format!("{SENTINEL}-access-2"),
            "{}: new access token stored",
            spec.name
        );
        let rt = after
            .grant
            .refresh_token
            .as_ref()
            .map(|t| t.expose_secret().to_owned());
        let (expected, what) = if spec.refresh == Refresh::Rotating {
            ("2", "the rotated refresh token is stored")
        } else {
            ("1", "the refresh token is kept when none comes back")
        };
        assert_eq!(
            rt,
            Some(format!("{SENTINEL}-refresh-{expected}")),
            "{}: {what}",
            spec.name
        );
    }

    // An expired token whose refresh fails: the server rejects the refresh token (or, for a
    // provider that cannot refresh, no request is made at all). Either way the caller is told to
    // log in again, and the session is kept rather than deleted.
    stub.clear_requests();
    stub.set_response(StubResponse::oauth_error(400, "invalid_grant"));
    let mut expired = engine
        .store()
        .get(&key)
        .await
        .expect("store")
        .expect("session");
    expired.grant.expires_at = Some(keyfob_core::now() - 10);
    engine
        .store()
        .put(&expired, keyfob_core::store::Expect::Any)
        .await
        .expect("store");
    let e = engine
        .credentials(&key)
        .await
        .expect_err("an expired token whose refresh fails is no credential");
    assert_eq!(
        e.kind(),
        ErrorKind::ReauthRequired,
        "{}: failed refresh of an expired token: {e}",
        spec.name
    );
    assert_no_sentinel("error message", &e.to_string());
    assert_eq!(
        stub.requests().len(),
        usize::from(spec.refresh != Refresh::None),
        "{}: refresh requests after expiry",
        spec.name
    );
    assert!(
        engine.store().get(&key).await.expect("store").is_some(),
        "{}: a failed refresh deleted the session",
        spec.name
    );
}

/// The authorize URL's query `q` carries exactly `expected` in the spec's scope parameter, joined
/// by its separator, and no scope parameter at all when `expected` is empty or the provider takes
/// no scopes.
fn scopes_sent(spec: &OAuth2Spec, q: &[(String, String)], expected: &scope::Scopes) {
    let Some(param) = spec.scope_param else {
        assert!(
            get(q, "scope").is_none(),
            "{}: scopes sent to a provider that takes none",
            spec.name
        );
        return;
    };
    let sent = get(q, param);
    if expected.is_empty() {
        assert_eq!(sent, None, "{}: `{param}` sent with no scope", spec.name);
        return;
    }
    let sent = sent.unwrap_or_else(|| panic!("{}: no `{param}` parameter", spec.name));
    assert_eq!(&scope::parse(sent), expected, "{}: scopes", spec.name);
    if expected.len() > 1 {
        assert_eq!(
            sent.matches(spec.scope_separator).count(),
            expected.len() - 1,
            "{}: scopes not joined by {:?}: {sent}",
            spec.name,
            spec.scope_separator
        );
    }
}

fn get<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}
