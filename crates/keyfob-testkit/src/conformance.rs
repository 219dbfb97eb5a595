//! The provider conformance kit behind [`conformance!`](crate::conformance!): one set of checks
//! that every provider crate runs against its own `PROVIDER`.
//!
//! OAuth2 handlers are driven through the real engine against a [`StubServer`] token endpoint
//! (configured through endpoint overrides), so the authorize URL and the exact token requests
//! (method, headers, body, client authentication) are checked as the provider's spec says they
//! must be, and every request a handler sends to the provider (token, identity, revocation,
//! device and key-check requests) is pinned in the provider's snapshot as the stub received it. The same stub then replays what real token endpoints answer (form-encoded bodies,
//! string `expires_in`, HTTP 200 carrying an error in GitHub's and Slack's shapes, RFC 6749
//! errors, HTML) and a rejected refresh. Every check runs under a tracing subscriber that records
//! everything at TRACE, and neither that output nor any `Debug` string or error message may
//! contain a sentinel secret. A capability the provider lacks (no OAuth2 handler, no token
//! handler, no refresh) is asserted to be refused, never skipped.

use std::io::Write;
use std::sync::{Arc, Mutex};

use keyfob_core::config::Config;
use keyfob_core::scope;
use keyfob_core::spec::{
    BodyFormat, ClientAuth, Forbidden, Handler, KeyPlacement, OAuth2Spec, Offline, Pkce, Provider,
    Refresh, TokenEntry, TokenSpec, Verify,
};
use keyfob_core::{AuthRequest, CallbackParams, Engine, ErrorKind, ExposeSecret, SecretString};
use serde_json::json;
use url::Url;

use crate::stub::{StubResponse, StubServer};

/// Every secret the kit uses contains this, so one search finds any leak.
pub const SENTINEL: &str = "sentinel-kf";

/// Points the identity lookup after a login at a closed loopback port: the kit's checks count
/// token requests, and identity has its own tests.
const NO_USERINFO: &str = "userinfo_url = \"http://127.0.0.1:1/userinfo\"\n";

/// Runs every check for `provider`. The [`conformance!`](crate::conformance!) macro calls the
/// checks one by one instead, so that each shows up as its own test.
pub fn all(provider: &'static Provider) {
    spec_is_valid(provider);
    is_registered(provider);
    oauth2_handlers(provider);
    token_handlers(provider);
}

/// Whether some handler of `provider` sends requests to the provider: an OAuth2 handler, or a
/// token handler with a key check. [`conformance!`](crate::conformance!) then takes the pinned
/// requests of each such handler (`snapshots = [...]`).
pub const fn sends_requests(provider: &Provider) -> bool {
    let mut i = 0;
    while i < provider.handlers.len() {
        match provider.handlers[i] {
            Handler::OAuth2(_) => return true,
            Handler::Token(t) if t.verify.is_some() => return true,
            Handler::Token(_) => {}
        }
        i += 1;
    }
    false
}

/// The handlers of `provider` that send requests (see [`sends_requests`]), refusing to return
/// none: a check over them must not pass by looping over nothing.
fn requesting_handlers(provider: &'static Provider, check: &str) -> Vec<&'static Handler> {
    let handlers: Vec<_> = provider
        .handlers
        .iter()
        .filter(|h| match h {
            Handler::OAuth2(_) => true,
            Handler::Token(t) => t.verify.is_some(),
        })
        .collect();
    assert!(
        !handlers.is_empty(),
        "{check}: no handler of provider `{}` sends a request, so there is nothing to pin; \
         its tests/conformance.rs must be `conformance!(<crate>::PROVIDER)` without snapshots",
        provider.id
    );
    handlers
}

/// The spec passes [`keyfob_core::spec::validate`].
pub fn spec_is_valid(provider: &'static Provider) {
    if let Err(problems) = keyfob_core::spec::validate(provider) {
        panic!(
            "provider `{}` has an invalid spec:\n- {}",
            provider.id,
            problems.join("\n- ")
        );
    }
}

/// The provider is in the registry (its crate is linked and registered), exactly once.
pub fn is_registered(provider: &'static Provider) {
    let all = keyfob_core::registry::all();
    assert!(
        !all.is_empty(),
        "the registry is empty: the provider crate registered nothing"
    );
    let found: Vec<_> = all.iter().filter(|p| p.id == provider.id).collect();
    assert_eq!(
        found.len(),
        1,
        "provider `{}` must be registered exactly once",
        provider.id
    );
    assert!(
        std::ptr::eq(*found[0], provider),
        "the registered `{}` is not this PROVIDER",
        provider.id
    );
}

/// Captures tracing output at every level while `f` runs, then asserts that no sentinel leaked.
fn leak_checked<F: std::future::Future<Output = ()>>(what: &str, f: F) {
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(f);
    });
    let out =
        String::from_utf8_lossy(&buf.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned();
    assert!(
        !out.contains(SENTINEL),
        "{what}: a secret appeared in tracing output:\n{out}"
    );
}

fn assert_no_sentinel(what: &str, text: &str) {
    assert!(!text.contains(SENTINEL), "{what} leaks a secret: {text}");
}

fn engine_for(provider: &Provider, stub: &StubServer) -> Engine {
    let mut toml = format!(
        "[auth.{id}]\nclient_id = \"client-1\"\nclient_secret = \"{SENTINEL}-client-secret\"\n\
         authorize_url = \"{url}/authorize\"\ntoken_url = \"{token}\"\n",
        id = provider.id,
        url = stub.url(),
        token = stub.token_url(),
    );
    for h in provider.handlers {
        if let Handler::OAuth2(o) = h {
            for f in o.config_fields {
                toml.push_str(&format!("{f} = \"https://tenant.example\"\n"));
            }
        }
    }
    toml.push_str(NO_USERINFO);
    let config = Config::from_toml(&toml).expect("kit config parses");
    Engine::builder()
        .config(config)
        .build()
        .expect("engine builds")
}

fn query(url: &str) -> Vec<(String, String)> {
    Url::parse(url)
        .expect("prompt URL parses")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn get<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

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
    let state = link.state.clone();
    let e = engine
        .complete_oauth2(
            provider.id,
            CallbackParams {
                state: Some(state),
                code: Some(format!("{SENTINEL}-code")),
                ..Default::default()
            },
            &link.cookies,
        )
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

/// `e` is an `InvalidInput` refusal that echoes no secret, and no session was written.
async fn refused_and_nothing_stored(
    engine: &Engine,
    req: &AuthRequest,
    e: &keyfob_core::Error,
    what: &str,
) {
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{what}: {e}");
    assert_no_sentinel("error message", &e.to_string());
    assert!(
        engine
            .store()
            .get(&req.key())
            .await
            .expect("store")
            .is_none(),
        "{what}: the refusal stored a session"
    );
}

/// Logs in through `spec` with the stub answering `answer` to the code exchange.
async fn login_with(
    engine: &Engine,
    stub: &StubServer,
    provider: &'static Provider,
    spec: &'static OAuth2Spec,
    answer: StubResponse,
) -> keyfob_core::Result<()> {
    stub.set_response(answer);
    let req = AuthRequest::new(provider.id).handler(spec.name);
    let prompt = engine.login(&req).await?;
    let link = crate::open_prompt(engine, &prompt).await;
    let state = link.state.clone();
    engine
        .complete_oauth2(
            provider.id,
            CallbackParams {
                state: Some(state),
                code: Some(format!("{SENTINEL}-code")),
                ..Default::default()
            },
            &link.cookies,
        )
        .await
        .map(|_| ())
}

/// One OAuth2 handler against what real token endpoints answer: errors first (each fails with
/// the right kind, echoes no secret and stores nothing), then successful answers in the shapes
/// providers really use (each yields the token under the handler's env key).
async fn oauth2_quirks(provider: &'static Provider, spec: &'static OAuth2Spec) {
    let stub = StubServer::start(StubResponse::text(500, "unset"))
        .await
        .expect("stub starts");
    let engine = engine_for(provider, &stub);
    let key = AuthRequest::new(provider.id).handler(spec.name).key();
    let errors = [
        (
            "HTTP 200 with an error (GitHub's shape)",
            StubResponse::json(
                200,
                &json!({"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."}),
            ),
            ErrorKind::Protocol,
        ),
        (
            "HTTP 200 with ok:false (Slack's shape)",
            StubResponse::json(200, &json!({"ok": false, "error": "invalid_code"})),
            ErrorKind::Protocol,
        ),
        (
            "400 invalid_grant",
            StubResponse::oauth_error(400, "invalid_grant"),
            ErrorKind::Denied,
        ),
        (
            "401 invalid_client",
            StubResponse::oauth_error(401, "invalid_client"),
            ErrorKind::Config,
        ),
        (
            "HTML error page of a gateway (unavailable: worth a retry)",
            StubResponse::html(502, &format!("<html><body>{SENTINEL}-page</body></html>")),
            ErrorKind::Transport,
        ),
        (
            "HTML page with HTTP 200 (a login page, not a token)",
            StubResponse::html(200, &format!("<html><body>{SENTINEL}-page</body></html>")),
            ErrorKind::Protocol,
        ),
        (
            "200 without access_token",
            StubResponse::json(200, &json!({"token_type": "bearer"})),
            ErrorKind::Protocol,
        ),
    ];
    for (what, answer, kind) in errors {
        let e = login_with(&engine, &stub, provider, spec, answer)
            .await
            .expect_err(what);
        assert_eq!(e.kind(), kind, "{}: {what}: {e}", spec.name);
        let shown = e.to_string();
        assert!(
            !shown.contains(&format!("{SENTINEL}-page"))
                && !shown.contains(&format!("{SENTINEL}-code")),
            "{}: {what}: the error echoes the server's body or the code: {shown}",
            spec.name
        );
        assert!(
            engine.store().get(&key).await.expect("store").is_none(),
            "{}: {what}: a failed exchange stored a session",
            spec.name
        );
    }
    let successes = [
        (
            "form-encoded body",
            StubResponse::new(
                200,
                "application/x-www-form-urlencoded",
                format!("access_token={SENTINEL}-form&token_type=bearer&scope=a%20b"),
            ),
            "form",
        ),
        (
            "string expires_in, no token_type",
            StubResponse::json(
                200,
                &json!({"access_token": format!("{SENTINEL}-loose"), "expires_in": "3600"}),
            ),
            "loose",
        ),
    ];
    for (what, answer, tag) in successes {
        login_with(&engine, &stub, provider, spec, answer)
            .await
            .unwrap_or_else(|e| panic!("{}: {what}: {e}", spec.name));
        let creds = engine.credentials(&key).await.expect("credentials");
        assert_eq!(
            creds
                .get(spec.env_key)
                .map(|s| s.expose_secret().to_owned()),
            Some(format!("{SENTINEL}-{tag}")),
            "{}: {what}: env key",
            spec.name
        );
    }
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
    let q = query(&link.next_url);
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
    scopes_sent(spec, &query(&scoped.next_url), &expected);

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

/// What a key-check answer must mean.
#[derive(Clone, Copy)]
enum Meaning {
    /// The key is refused and nothing is stored.
    Refused,
    /// The key is saved, with a warning naming this permission.
    Lacks(&'static str),
}

/// The answers whose meaning the spec defines: a 403 (refused, or a missing permission), a
/// refusal carrying the spec's "lacks a permission" text, and a 2xx answer whose status field
/// says the key is not active.
async fn answers_mean_what_the_spec_says(
    engine: &Engine,
    stub: &StubServer,
    provider: &'static Provider,
    spec: &'static TokenSpec,
    verify: &Verify,
    fields: &[(String, SecretString)],
) {
    let forbidden = StubResponse::json(
        403,
        &json!({"message": "this key may not read this resource", "error": "forbidden"}),
    );
    let meaning = match verify.forbidden {
        Forbidden::Refused => Meaning::Refused,
        Forbidden::LacksPermission(permission) => Meaning::Lacks(permission),
    };
    answer_means(
        engine, stub, provider, spec, fields, "a 403", forbidden, meaning,
    )
    .await;
    if let Some((text, permission)) = verify.lacking_when {
        let lacking = StubResponse::json(
            401,
            &json!({"detail": {"status": text, "message": "this key lacks a permission"}}),
        );
        let what = format!("a 401 saying `{text}`");
        answer_means(
            engine,
            stub,
            provider,
            spec,
            fields,
            &what,
            lacking,
            Meaning::Lacks(permission),
        )
        .await;
    }
    if let Some((pointer, value)) = verify.accepted_when {
        let StubResponse { body, .. } = key_check_accepts(verify);
        let mut body: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        *body.pointer_mut(pointer).expect("the field is there") = json!("kit-disabled");
        let what = format!("a 200 whose `{pointer}` is not `{value}`");
        let answer = StubResponse::json(200, &body);
        answer_means(
            engine,
            stub,
            provider,
            spec,
            fields,
            &what,
            answer,
            Meaning::Refused,
        )
        .await;
    }
    stub.clear_requests();
}

/// Logs in with `fields` while the key check answers `answer`, and checks the outcome.
#[allow(clippy::too_many_arguments)]
async fn answer_means(
    engine: &Engine,
    stub: &StubServer,
    provider: &'static Provider,
    spec: &'static TokenSpec,
    fields: &[(String, SecretString)],
    what: &str,
    answer: StubResponse,
    meaning: Meaning,
) {
    stub.set_response(answer);
    let req = AuthRequest::new(provider.id)
        .handler(spec.name)
        .profile("answers");
    let prompt = engine.login(&req).await.expect("token flow starts");
    let link = crate::open_prompt(engine, &prompt).await;
    let done = engine
        .complete_token(
            provider.id,
            Some(&link.state),
            fields.to_vec(),
            &link.cookies,
        )
        .await;
    match meaning {
        Meaning::Refused => {
            let e = done.expect_err(&format!("{}: {what} refuses the key", spec.name));
            refused_and_nothing_stored(engine, &req, &e, spec.name).await;
            engine.cancel(&prompt).await.expect("cancel");
        }
        Meaning::Lacks(permission) => {
            let done = done.unwrap_or_else(|e| {
                panic!(
                    "{}: {what} means a valid key lacking {permission}: {e}",
                    spec.name
                )
            });
            assert!(
                done.warnings.iter().any(|w| w.contains(permission)),
                "{}: after {what}, the warning names {permission}: {:?}",
                spec.name,
                done.warnings
            );
            assert!(engine.logout(&req.key()).await.expect("logout"));
        }
    }
}

/// Every token handler: the entry page's fields complete the flow and fill the env keys.
///
/// A provider without a token handler must refuse the token page.
pub fn token_handlers(provider: &'static Provider) {
    let mut any = false;
    for h in provider.handlers {
        if let Handler::Token(spec) = h {
            any = true;
            leak_checked(spec.name, token_handler(provider, h, spec));
        }
    }
    if !any {
        leak_checked(provider.id, token_absent(provider));
    }
}

/// The token page and its submission refuse a provider that has no token handler.
async fn token_absent(provider: &'static Provider) {
    let stub = StubServer::start(StubResponse::text(500, "unused"))
        .await
        .expect("stub starts");
    let engine = engine_for(provider, &stub);
    let req = AuthRequest::new(provider.id);
    let prompt = engine.login(&req).await.expect("the default flow starts");
    let link = crate::open_prompt(&engine, &prompt).await;
    let state = link.state.clone();
    let page = engine
        .token_page(provider.id, Some(&state), &link.cookies)
        .await
        .expect_err("a provider without a token handler has no token page");
    assert_eq!(
        page.kind(),
        ErrorKind::InvalidInput,
        "{}: token page",
        provider.id
    );
    let submit = engine
        .complete_token(
            provider.id,
            Some(&state),
            vec![(
                "token".into(),
                SecretString::from(format!("{SENTINEL}-token")),
            )],
            &link.cookies,
        )
        .await
        .expect_err("a provider without a token handler takes no token");
    refused_and_nothing_stored(
        &engine,
        &req,
        &submit,
        &format!(
            "{}: a token sent to a provider without a token handler",
            provider.id
        ),
    )
    .await;
}

async fn token_handler(
    provider: &'static Provider,
    handler: &'static Handler,
    spec: &'static TokenSpec,
) {
    // Where the spec names a key check, it goes to a stub that first refuses the key as
    // providers do (401), then accepts it naming the account.
    let stub = StubServer::start(StubResponse::json(
        401,
        &json!({"message": "invalid api key", "error": "unauthorized"}),
    ))
    .await
    .expect("stub starts");
    let config = match spec.verify {
        // A per-account check URL that starts with a field: every field of it points at the
        // stub. (A field inside the host, such as Datadog's site, cannot name the stub: the
        // check URL is overridden like any other.)
        Some(v)
            if spec
                .config_fields
                .iter()
                .any(|f| v.url.starts_with(&format!("{{{f}}}"))) =>
        {
            spec.config_fields.iter().fold(
                format!("[auth.{}]\nallow_internal_endpoints = true\n", provider.id),
                |toml, f| toml + &format!("{f} = \"{}\"\n", stub.url()),
            )
        }
        Some(_) => format!(
            "[auth.{}]\nverify_url = \"{}/verify\"\n",
            provider.id,
            stub.url()
        ),
        None => String::new(),
    };
    let engine = Engine::builder()
        .config(Config::from_toml(&config).expect("kit config parses"))
        .build()
        .expect("engine");
    let req = AuthRequest::new(provider.id)
        .handler(spec.name)
        .profile("work");
    let prompt = engine.login(&req).await.expect("token flow starts");
    let base = engine.callback_base();
    assert!(
        prompt
            .url
            .starts_with(&format!("{base}/auth/{}/start?state=", provider.id)),
        "{}: the prompt is keyfob's start link",
        spec.name
    );
    let link = crate::open_prompt(&engine, &prompt).await;
    assert!(
        link.next_url
            .starts_with(&format!("{base}/auth/{}/token?state=", provider.id)),
        "{}: the start link leads to the token page",
        spec.name
    );
    let state = link.state.clone();
    let page_info = engine
        .token_page(provider.id, Some(&state), &link.cookies)
        .await
        .expect("token page");
    let fields: Vec<(String, SecretString)> = page_info
        .fields
        .iter()
        .map(|f| {
            (
                f.name.to_owned(),
                SecretString::from(format!("{SENTINEL}-{}", f.name)),
            )
        })
        .collect();
    if let Some(verify) = &spec.verify {
        let e = engine
            .complete_token(provider.id, Some(&state), fields.clone(), &link.cookies)
            .await
            .expect_err("a key the provider refuses is refused");
        refused_and_nothing_stored(&engine, &req, &e, spec.name).await;
        assert!(
            e.to_string().contains("invalid api key"),
            "{}: {e}",
            spec.name
        );
        let reqs = stub.requests();
        assert_eq!(reqs.len(), 1, "{}: one key check", spec.name);
        key_placed(spec.name, verify, &reqs[0], fields[0].1.expose_secret());
        if spec
            .config_fields
            .iter()
            .any(|f| verify.url.starts_with(&format!("{{{f}}}")))
        {
            let path = spec
                .config_fields
                .iter()
                .fold(verify.url.to_owned(), |u, f| {
                    u.replace(&format!("{{{f}}}"), "")
                });
            assert_eq!(
                reqs[0].path, path,
                "{}: the per-account check URL",
                spec.name
            );
        }
        answers_mean_what_the_spec_says(&engine, &stub, provider, spec, verify, &fields).await;
        stub.set_response(key_check_accepts(verify));
    }
    let done = engine
        .complete_token(provider.id, Some(&state), fields, &link.cookies)
        .await
        .expect("token flow completes");
    assert_eq!(
        done.warnings.len(),
        usize::from(!spec.key_prefixes.is_empty() && spec.entry != TokenEntry::BasicAuth),
        "{}: a sentinel key does not look like a real one: {:?}",
        spec.name,
        done.warnings
    );
    let status = engine.status(None).await.expect("status");
    assert_eq!(
        status[0].identity.as_deref(),
        spec.verify.map(|_| "kit-user"),
        "{}: identity from the key check",
        spec.name
    );
    let creds = engine.credentials(&req.key()).await.expect("credentials");
    let keys = handler.env_keys();
    for k in &keys {
        assert!(creds.get(k).is_some(), "{}: env key {k} missing", spec.name);
        assert!(
            creds.get(&format!("WORK_{k}")).is_some(),
            "{}: profiled env key WORK_{k} missing",
            spec.name
        );
    }
    let first = creds
        .get(keys[0])
        .expect("primary key")
        .expose_secret()
        .to_owned();
    match spec.entry {
        TokenEntry::ApiKey | TokenEntry::KeyPair { .. } => assert!(
            first.starts_with(SENTINEL),
            "{}: key handed over as typed",
            spec.name
        ),
        TokenEntry::BasicAuth => assert!(
            !first.contains(':'),
            "{}: basic auth is base64-encoded",
            spec.name
        ),
    }
    assert_no_sentinel("Credentials Debug", &format!("{creds:?}"));
    let again = engine
        .complete_token(provider.id, Some(&state), vec![], &link.cookies)
        .await
        .expect_err("replay");
    assert_eq!(
        again.kind(),
        ErrorKind::Expired,
        "{}: a used token page must be dead",
        spec.name
    );
}

/// The key check carried the key where the spec says, with the spec's fixed headers.
fn key_placed(handler: &str, verify: &Verify, r: &crate::RecordedRequest, key: &str) {
    use base64::Engine as _;
    let b64 = |s: String| base64::engine::general_purpose::STANDARD.encode(s);
    let method = match verify.method {
        keyfob_core::spec::Method::Get => "GET",
        keyfob_core::spec::Method::Post => "POST",
    };
    assert_eq!(r.method, method, "{handler}: key check method");
    let ok = match verify.key {
        KeyPlacement::Bearer => r.header("authorization") == Some(&format!("Bearer {key}")),
        KeyPlacement::Header { name, prefix } => r.header(name) == Some(&format!("{prefix}{key}")),
        KeyPlacement::Query(p) => {
            url::form_urlencoded::parse(r.query.as_deref().unwrap_or("").as_bytes())
                .any(|(k, v)| k == p && v == key)
        }
        KeyPlacement::BasicUser => {
            r.header("authorization") == Some(&format!("Basic {}", b64(format!("{key}:"))))
        }
        KeyPlacement::BasicPassword(user) => {
            r.header("authorization") == Some(&format!("Basic {}", b64(format!("{user}:{key}"))))
        }
    };
    assert!(
        ok,
        "{handler}: the key is not where {:?} puts it: {r:?}",
        verify.key
    );
    for (k, v) in verify.headers {
        assert_eq!(r.header(k), Some(*v), "{handler}: header {k}");
    }
}

/// Pins every request a provider's handlers send to the provider: for an OAuth2 handler the
/// authorize URL, the code exchange (and the identity lookup after it), a refresh, the sign-out's
/// revocation and the device flow; for a token handler its key check. Each request is shown as
/// the stub received it (method, path and query, every header keyfob chose, body) under the
/// origin of the provider's URL, with the random parts (state, PKCE, the callback port) and the
/// secrets replaced by placeholders, and compared with the handler's inline snapshot. The
/// snapshot is written from the provider's documentation and reviewed; `UPDATE_EXPECT=1`
/// rewrites it from what keyfob sends.
///
/// A handler with an empty snapshot (`expect![[""]]`, as a freshly generated crate has) is
/// not pinned yet: its rendering is printed and the check passes, so a new crate is green at
/// once; the facade's registry test refuses empty snapshots in the tree.
///
/// # Panics
/// When no handler of the provider sends a request (there is nothing to pin), and on any
/// difference.
pub fn snapshots(provider: &'static Provider, snapshots: &[(&str, expect_test::Expect)]) {
    let handlers = requesting_handlers(provider, "requests_pinned");
    for (name, _) in snapshots {
        assert!(
            handlers.iter().any(|h| h.name() == *name),
            "snapshot for `{name}`, which is not a handler of `{}` that sends requests",
            provider.id
        );
    }
    for handler in handlers {
        let mut text = String::new();
        leak_checked(handler.name(), async {
            text = match handler {
                Handler::OAuth2(spec) => render_requests(provider, spec).await,
                Handler::Token(spec) => render_key_check(provider, spec).await,
            };
        });
        assert_no_sentinel("the rendered requests", &text);
        match snapshots.iter().find(|(n, _)| *n == handler.name()) {
            Some((_, expect))
                if !expect.data().trim().is_empty()
                    || std::env::var_os("UPDATE_EXPECT").is_some() =>
            {
                expect.assert_eq(&text)
            }
            _ => eprintln!(
                "{}: requests not pinned yet; check this against the provider's documentation, \
                 then add (\"{}\", keyfob_testkit::expect![[\"\"]]) to `snapshots` in \
                 tests/conformance.rs and run with UPDATE_EXPECT=1:\n{text}",
                handler.name(),
                handler.name()
            ),
        }
    }
}

/// The part of an endpoint URL (or template) before its path: `https://github.com`,
/// `{domain_url}`.
fn origin_of(url: &str) -> &str {
    let after = url.find("://").map_or(0, |i| i + 3);
    url[after..].find('/').map_or(url, |j| &url[..after + j])
}

/// The part of an endpoint URL (or template) after its origin: path and query.
fn path_of(url: &str) -> &str {
    &url[origin_of(url).len()..]
}

/// Whether a received `path` is the path of endpoint template `url`, where a `{field}`
/// segment stands for any one segment.
fn same_path(url: &str, path: &str) -> bool {
    let template = path_of(url).split('?').next().unwrap_or_default();
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| t == p || (t.starts_with('{') && t.ends_with('}')))
}

/// Every request the stub received since it was last cleared, in order, each named by the
/// endpoint of `spec` it was sent to (`token` names the token endpoint's). Exactly one went to
/// the token endpoint.
fn render_received(
    out: &mut String,
    stub: &StubServer,
    spec: &OAuth2Spec,
    token: &str,
    placeholders: &dyn Fn(&str) -> String,
) {
    let endpoints = [
        (token, Some(spec.token_url)),
        ("userinfo", spec.userinfo_url),
        ("revoke", spec.revoke_url),
        ("device", spec.device_url),
    ];
    let mut tokens = 0;
    for r in stub.requests() {
        let what = endpoints
            .iter()
            .find_map(|(what, url)| url.filter(|u| same_path(u, &r.path)).map(|_| *what))
            .unwrap_or_else(|| {
                panic!(
                    "{}: a request to {} {}, which is none of the spec's endpoints",
                    spec.name, r.method, r.path
                )
            });
        tokens += usize::from(what == token);
        render_request(out, what, &r, placeholders);
    }
    assert_eq!(tokens, 1, "{}: one {token} request", spec.name);
}

/// The host names of these endpoint templates, each `{field}` filled by `value(field)` (the
/// callback's `{client_id}` needs none: it sits in a path).
fn hosts_of<'a>(
    urls: impl Iterator<Item = &'a str>,
    value: &dyn Fn(&str) -> Option<String>,
) -> Vec<String> {
    let mut hosts: Vec<String> = Vec::new();
    for template in urls {
        let mut url = template.replace("{client_id}", "client-1");
        while let Some(start) = url.find('{') {
            let end = url[start..].find('}').expect("a closed placeholder") + start;
            let field = url[start + 1..end].to_owned();
            let filled =
                value(&field).unwrap_or_else(|| panic!("{template}: no value for `{{{field}}}`"));
            url.replace_range(start..=end, &filled);
        }
        let host = Url::parse(&url)
            .unwrap_or_else(|e| panic!("{url}: {e}"))
            .host_str()
            .expect("an endpoint has a host")
            .to_owned();
        if !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    hosts
}

/// An HTTPS stub answering for `hosts`, and an engine with config `toml` that resolves each of
/// them to the stub and trusts its CA: the engine's requests go to the spec's real URLs.
async fn tls_stub_engine(
    answer: StubResponse,
    hosts: &[String],
    toml: &str,
) -> (StubServer, Engine) {
    let (stub, ca) = StubServer::start_tls(answer, hosts)
        .await
        .expect("stub starts");
    let mut builder = Engine::builder()
        .config(Config::from_toml(toml).expect("kit config parses"))
        .root_certificate_pem(ca.as_bytes());
    for host in hosts {
        builder = builder.resolve(host, stub.addr());
    }
    (stub, builder.build().expect("engine builds"))
}

/// The authorize URL, the code exchange (with the identity lookup after it), a refresh, the
/// sign-out's revocation and a device login of `spec`, as text. Requests to the provider's
/// endpoints are shown as the stub received them (method, path and query, headers, body) under
/// the provider's origin.
async fn render_requests(provider: &'static Provider, spec: &'static OAuth2Spec) -> String {
    let first = json!({
        "access_token": format!("{SENTINEL}-access-1"),
        "refresh_token": format!("{SENTINEL}-refresh-1"),
        "expires_in": 60,
    });
    // Per-tenant URLs point at a tenant host; every host the spec names resolves to the stub,
    // which serves HTTPS for them: keyfob sends its requests to the spec's real URLs.
    let tenant = "https://tenant.example";
    let mut toml = format!(
        "[auth.{id}]\nclient_id = \"client-1\"\nclient_secret = \"{SENTINEL}-client-secret\"\n",
        id = provider.id,
    );
    for f in spec.config_fields {
        toml.push_str(&format!("{f} = \"{tenant}\"\n"));
    }
    let urls = [
        Some(spec.token_url),
        spec.revoke_url,
        spec.device_url,
        spec.userinfo_url,
    ];
    let hosts = hosts_of(urls.into_iter().flatten(), &|f| {
        spec.config_fields.contains(&f).then(|| tenant.to_owned())
    });
    let (stub, engine) = tls_stub_engine(StubResponse::json(200, &first), &hosts, &toml).await;
    let callback = engine.callback_base();
    let placeholders = |v: &str| -> String {
        let mut v = v.replace(&callback, "<callback>");
        for f in spec.config_fields {
            v = v.replace(tenant, &format!("{{{f}}}"));
        }
        v.replace(&format!("{SENTINEL}-client-secret"), "<client_secret>")
            .replace(&format!("{SENTINEL}-client-secret"), "<client_secret>")
            .replace(&format!("{SENTINEL}-code"), "<code>")
            .replace(&format!("{SENTINEL}-refresh-1"), "<refresh_token>")
            .replace(&format!("{SENTINEL}-access-1"), "<access_token>")
            .replace(&format!("{SENTINEL}-access-2"), "<access_token>")
            .replace(&format!("{SENTINEL}-device-code"), "<device_code>")
    };
    let req = AuthRequest::new(provider.id).handler(spec.name);
    let prompt = engine
        .login(&req)
        .await
        .unwrap_or_else(|e| panic!("{}: starting a flow failed: {e}", spec.name));
    let link = crate::open_prompt(&engine, &prompt).await;
    let url = Url::parse(&link.next_url).expect("authorize URL");
    let mut out = format!(
        "authorize: GET {}\n",
        placeholders(&url[..url::Position::AfterPath])
    );
    let mut state = String::new();
    for (k, v) in url.query_pairs() {
        let shown = match k.as_ref() {
            "state" => {
                state = v.to_string();
                "<state>".to_owned()
            }
            "code_challenge" => "<challenge>".to_owned(),
            _ => placeholders(&v),
        };
        out.push_str(&format!("    {k}={shown}\n"));
    }
    engine
        .complete_oauth2(
            provider.id,
            CallbackParams {
                state: Some(state),
                code: Some(format!("{SENTINEL}-code")),
                ..Default::default()
            },
            &link.cookies,
        )
        .await
        .unwrap_or_else(|e| panic!("{}: code exchange failed: {e}", spec.name));
    render_received(&mut out, &stub, spec, "exchange", &placeholders);
    if spec.refresh == Refresh::None {
        out.push_str("refresh: none\n");
    } else {
        stub.clear_requests();
        stub.set_response(StubResponse::json(
            200,
            &json!({"access_token": format!("{SENTINEL}-access-2"), "expires_in": 3600}),
        ));
        let key = req.key();
        let mut aged = engine
            .store()
            .get(&key)
            .await
            .expect("store")
            .expect("session");
        aged.updated_at -= 3600;
        engine
            .store()
            .put(&aged, keyfob_core::store::Expect::Any)
            .await
            .expect("store");
        engine.credentials(&key).await.expect("refresh");
        render_received(&mut out, &stub, spec, "refresh", &placeholders);
    }
    match spec.revoke_url {
        None => out.push_str("revoke: none\n"),
        Some(_) => {
            stub.clear_requests();
            stub.set_response(StubResponse::json(200, &json!({})));
            let signed_out = engine
                .sign_out(
                    &req.key(),
                    keyfob_core::SignOut {
                        revoke: true,
                        keep_if_revocation_fails: false,
                    },
                )
                .await
                .unwrap_or_else(|e| panic!("{}: sign-out failed: {e}", spec.name));
            assert_eq!(
                signed_out.revocation,
                keyfob_core::Revocation::Revoked,
                "{}: revoked",
                spec.name
            );
            let sent = stub.requests();
            assert!(!sent.is_empty(), "{}: a revocation request", spec.name);
            for r in &sent {
                render_request(&mut out, "revoke", r, &placeholders);
            }
        }
    }
    if spec.device_url.is_none() {
        out.push_str("device: none\n");
        return out;
    }
    // A device login (RFC 8628): the device authorization, then one poll that gets the tokens
    // (the stub asks for the shortest interval), then the identity lookup.
    stub.clear_requests();
    stub.push_responses([StubResponse::json(
        200,
        &json!({
            "device_code": format!("{SENTINEL}-device-code"),
            "user_code": "KIT-CODE",
            "verification_uri": "https://device.example/activate",
            "expires_in": 300,
            "interval": 1,
        }),
    )]);
    stub.set_response(StubResponse::json(200, &first));
    let device = AuthRequest::new(provider.id)
        .handler(spec.name)
        .device(true);
    let prompt = engine
        .login(&device)
        .await
        .unwrap_or_else(|e| panic!("{}: starting a device login failed: {e}", spec.name));
    engine
        .wait(&prompt, std::time::Duration::from_secs(30))
        .await
        .unwrap_or_else(|e| panic!("{}: the device login failed: {e}", spec.name));
    render_received(&mut out, &stub, spec, "device token", &placeholders);
    out
}

/// The key check of token handler `spec`, as the stub received it at the spec's real URL: once
/// for a plain key, and once per prefix that has a URL of its own. Per-account fields get their
/// default or a stand-in value, shown as `{field}`.
async fn render_key_check(provider: &'static Provider, spec: &'static TokenSpec) -> String {
    let verify = spec.verify.expect("a handler with a key check");
    let tenant = "https://tenant.example";
    let at_start = |f: &str| verify.urls().any(|u| u.starts_with(&format!("{{{f}}}")));
    let default = |f: &str| {
        spec.config_defaults
            .iter()
            .find(|(d, _)| *d == f)
            .map(|(_, v)| *v)
    };
    let stand_in = |f: &str| {
        if at_start(f) {
            tenant.to_owned()
        } else {
            format!("{}-1", f.replace('_', "-"))
        }
    };
    let mut toml = format!("[auth.{}]\n", provider.id);
    for f in spec.config_fields {
        if default(f).is_none() {
            toml.push_str(&format!("{f} = \"{}\"\n", stand_in(f)));
        }
    }
    let hosts = hosts_of(verify.urls(), &|f| {
        Some(default(f).map_or_else(|| stand_in(f), str::to_owned))
    });
    let answer = key_check_accepts(&verify);
    let (stub, engine) = tls_stub_engine(answer, &hosts, &toml).await;
    let mut out = String::new();
    let prefixes = std::iter::once("").chain(verify.url_by_prefix.iter().map(|(p, _)| *p));
    for (i, prefix) in prefixes.enumerate() {
        stub.clear_requests();
        let req = AuthRequest::new(provider.id)
            .handler(spec.name)
            .profile(format!("p{i}"));
        let prompt = engine.login(&req).await.expect("token flow starts");
        let link = crate::open_prompt(&engine, &prompt).await;
        let page = engine
            .token_page(provider.id, Some(&link.state), &link.cookies)
            .await
            .expect("token page");
        let fields: Vec<(String, SecretString)> = page
            .fields
            .iter()
            .enumerate()
            .map(|(n, f)| {
                let value = format!("{}{SENTINEL}-{}", if n == 0 { prefix } else { "" }, f.name);
                (f.name.to_owned(), SecretString::from(value))
            })
            .collect();
        engine
            .complete_token(
                provider.id,
                Some(&link.state),
                fields.clone(),
                &link.cookies,
            )
            .await
            .unwrap_or_else(|e| panic!("{}: the key check failed: {e}", spec.name));
        let placeholders = |v: &str| -> String {
            let mut v = v.to_owned();
            for (name, _) in &fields {
                v = v.replace(&format!("{SENTINEL}-{name}"), &format!("<{name}>"));
            }
            for f in spec.config_fields {
                if default(f).is_none() {
                    v = v.replace(&stand_in(f), &format!("{{{f}}}"));
                }
            }
            v
        };
        let reqs = stub.requests();
        assert_eq!(reqs.len(), 1, "{}: one key check", spec.name);
        let what = if prefix.is_empty() {
            "key check".to_owned()
        } else {
            format!("key check ({prefix}…)")
        };
        render_request(&mut out, &what, &reqs[0], &placeholders);
    }
    out
}

/// What the provider answers to a key it accepts: an account name, and the field
/// [`Verify::accepted_when`] names, holding its value.
fn key_check_accepts(verify: &Verify) -> StubResponse {
    let mut body = json!({"login": "kit-user"});
    if let Some((pointer, value)) = verify.accepted_when {
        let mut at = &mut body;
        for part in pointer.trim_start_matches('/').split('/') {
            if !at.get(part).is_some_and(serde_json::Value::is_object) {
                at[part] = json!({});
            }
            at = &mut at[part];
        }
        *at = json!(value);
    }
    StubResponse::json(200, &body)
}

/// One request as the stub received it: method, `https://` and the host the request named,
/// path and query, then every header keyfob chose and the body.
fn render_request(
    out: &mut String,
    what: &str,
    r: &crate::RecordedRequest,
    placeholders: &dyn Fn(&str) -> String,
) {
    let query = r
        .query
        .as_deref()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let host = r.header("host").expect("a request names its host");
    out.push_str(&format!(
        "{what}: {} {}{}\n",
        r.method,
        placeholders(&format!("https://{host}{}", r.path)),
        placeholders(&query)
    ));
    // Every header keyfob chose (transport ones, which the HTTP client sets, left out).
    for (name, v) in &r.headers {
        let name = name.as_str();
        if [
            "host",
            "content-length",
            "user-agent",
            "connection",
            "accept-encoding",
        ]
        .contains(&name)
        {
            continue;
        }
        let shown = match v.strip_prefix("Basic ") {
            Some(b64) => {
                use base64::Engine as _;
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .expect("Basic credentials are base64");
                format!(
                    "Basic base64({})",
                    placeholders(&String::from_utf8_lossy(&raw))
                )
            }
            None => placeholders(v),
        };
        out.push_str(&format!("    {name}: {shown}\n"));
    }
    let fields: Vec<(String, String)> = if r
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json"))
    {
        let v: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&r.body).expect("JSON body");
        v.into_iter()
            .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
            .collect()
    } else {
        r.form()
    };
    for (k, v) in fields {
        let shown = if k == "code_verifier" {
            "<verifier>".to_owned()
        } else {
            placeholders(&v)
        };
        out.push_str(&format!("    {k}={shown}\n"));
    }
}

/// One `#[test]` per conformance check that applies to a provider `static`, in its
/// `tests/conformance.rs`.
///
/// A provider none of whose handlers sends a request to the provider (token entry without a key
/// check) names only its static: `keyfob_testkit::conformance!(keyfob_provider_mem0::PROVIDER);`.
/// One with an OAuth2 handler or a key check also pins each such handler's requests:
/// `conformance!(keyfob_provider_github::PROVIDER, snapshots = [("github-oauth2", expect![[…]]),
/// ("github-token", expect![[…]])])`, which adds the `requests_pinned` test. The form must match
/// the provider's handlers, checked at compile time, so no check passes by looping over nothing.
///
/// The tests go in a module `conformance`. Naming the static links the provider crate, so its
/// registration is present. In this repository a provider crate has a feature `_in_facade`,
/// which the facade turns on when it links the crate: its `registry` test binary then runs these
/// tests, and the crate's own test target compiles to nothing rather than link the whole stack
/// again (`cargo test -p keyfob-provider-<id>`, where the facade is not built, runs them).
#[macro_export]
macro_rules! conformance {
    ($provider:path) => {
        $crate::__conformance_module! {
            const _: () = assert!(
                !$crate::conformance::sends_requests(&$provider),
                "a handler of this provider sends requests (OAuth2, or a key check): pin them with \
                 `conformance!(<crate>::PROVIDER, snapshots = [(\"<handler>\", keyfob_testkit::expect![[\"\"]])])`"
            );
            $crate::__conformance_common!($provider);
        }
    };
    ($provider:path, snapshots = [$(($handler:literal, $expect:expr)),* $(,)?]) => {
        $crate::__conformance_module! {
            const _: () = assert!(
                $crate::conformance::sends_requests(&$provider),
                "no handler of this provider sends a request, so there is nothing to pin: write \
                 `conformance!(<crate>::PROVIDER)` without snapshots"
            );
            $crate::__conformance_common!($provider);
            #[test]
            fn requests_pinned() {
                $crate::conformance::snapshots(&$provider, &[$(($handler, $expect)),*]);
            }
        }
    };
}

/// The module of [`conformance!`](crate::conformance!): every item left out when the crate
/// expanding it has the feature `_in_facade` on.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_module {
    ($($item:item)*) => {
        #[allow(unexpected_cfgs)] // `_in_facade` is declared by this repository's provider crates only
        mod conformance {
            $(
                #[cfg(not(feature = "_in_facade"))]
                $item
            )*
        }
    };
}

/// The checks of [`conformance!`](crate::conformance!) that apply to every provider.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_common {
    ($provider:path) => {
        #[test]
        fn spec_is_valid() {
            $crate::conformance::spec_is_valid(&$provider);
        }
        #[test]
        fn is_registered() {
            $crate::conformance::is_registered(&$provider);
        }
        #[test]
        fn oauth2_handlers() {
            $crate::conformance::oauth2_handlers(&$provider);
        }
        #[test]
        fn token_handlers() {
            $crate::conformance::token_handlers(&$provider);
        }
    };
}
