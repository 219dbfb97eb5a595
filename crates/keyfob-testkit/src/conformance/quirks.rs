//! One OAuth2 handler against what real token endpoints answer: errors in the shapes providers
//! use (HTTP 200 with GitHub's or Slack's error, RFC 6749 errors, HTML pages, no token), then
//! successes in loose shapes (form-encoded bodies, string `expires_in`, no `token_type`).
//!
//! Invariants:
//! - Each error answer ends in its kind (`Protocol`, `Denied`, `Config`, `Transport`), echoes
//!   neither the server's body nor the code, and stores no session.
//! - Each loose success yields the token under the handler's env key.

use keyfob_core::spec::{OAuth2Spec, Provider};
use keyfob_core::{AuthRequest, Engine, ErrorKind, ExposeSecret};
use serde_json::json;

use crate::conformance::{SENTINEL, engine_for, send_code};
use crate::stub::{StubResponse, StubServer};

/// One OAuth2 handler against what real token endpoints answer: errors first (each fails with
/// the right kind, echoes no secret and stores nothing), then successful answers in the shapes
/// providers really use (each yields the token under the handler's env key).
pub(super) async fn oauth2_quirks(provider: &'static Provider, spec: &'static OAuth2Spec) {
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

/// Logs in through `spec` with the stub answering `answer` to the code exchange.
pub(super) async fn login_with(
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
    send_code(engine, provider, link.state.clone(), &link.cookies)
        .await
        .map(|_| ())
}
