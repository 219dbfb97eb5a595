//! Each token handler: the start link leads to the token page, its fields complete the flow and
//! fill the env keys, and a key check (where the spec names one) is sent and understood as the
//! spec says.
//!
//! Invariants:
//! - A key the provider refuses is refused, echoing the provider's message but no key, and
//!   nothing is stored; the key check carries the key exactly where `Verify::key` puts it.
//! - Each answer the spec gives a meaning (a 403, a "lacks a permission" text, a status field
//!   that is not the accepted value) means exactly that.
//! - Every env key is filled, also under the profile's prefix; a used token page is dead.
//! - A provider without a token handler has no token page and takes no token.

use keyfob_core::config::Config;
use keyfob_core::spec::{
    Forbidden, Handler, KeyPlacement, Provider, TokenEntry, TokenSpec, Verify,
};
use keyfob_core::{AuthRequest, Engine, ErrorKind, ExposeSecret, SecretString};
use serde_json::json;

use crate::conformance::capture::{assert_no_sentinel, leak_checked};
use crate::conformance::{SENTINEL, engine_for, refused_and_nothing_stored};
use crate::stub::{StubResponse, StubServer};

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

/// What a key-check answer must mean.
#[derive(Clone, Copy)]
enum Meaning {
    /// The key is refused and nothing is stored.
    Refused,
    /// The key is saved, with a warning containing this text (the permission it lacks, or why
    /// it could not be checked).
    SavedWarning(&'static str),
}

/// The answers whose meaning the spec defines: a 403 (refused, a missing permission, or nothing
/// about the key), a refusal whose status field says "lacks a permission", and a 2xx answer
/// whose status field says the key is not usable, or lacks that field.
async fn answers_mean_what_the_spec_says(
    engine: &Engine,
    stub: &StubServer,
    provider: &'static Provider,
    spec: &'static TokenSpec,
    verify: &Verify,
    fields: &[(String, SecretString)],
) {
    let check = async |what: &str, answer: StubResponse, meaning: Meaning| {
        answer_means(engine, stub, provider, spec, fields, what, answer, meaning).await;
    };
    let forbidden = StubResponse::json(
        403,
        &json!({"message": "this key may not read this resource", "error": "forbidden"}),
    );
    let meaning = match verify.forbidden {
        Forbidden::Refused => Meaning::Refused,
        Forbidden::LacksPermission(permission) => Meaning::SavedWarning(permission),
        Forbidden::Unchecked(why) => Meaning::SavedWarning(why),
    };
    check("a 403", forbidden, meaning).await;
    if let Some((pointer, value, permission)) = verify.lacking_when {
        let mut body = json!({"message": "this key lacks a permission"});
        set_pointer(&mut body, pointer, value);
        let what = format!("a 401 whose `{pointer}` is `{value}`");
        let lacking = StubResponse::json(401, &body);
        check(&what, lacking, Meaning::SavedWarning(permission)).await;
        // Another value there is a refusal.
        set_pointer(&mut body, pointer, "invalid_api_key");
        check(
            "a 401 with another status",
            StubResponse::json(401, &body),
            Meaning::Refused,
        )
        .await;
    }
    if let Some((pointer, value)) = verify.accepted_when {
        let StubResponse { body, .. } = key_check_accepts(verify);
        let mut body: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        set_pointer(&mut body, pointer, "kit-disabled");
        let what = format!("a 200 whose `{pointer}` is not `{value}`");
        check(&what, StubResponse::json(200, &body), Meaning::Refused).await;
        let what = format!("a 200 without `{pointer}`");
        let answer = StubResponse::json(200, &json!({"login": "kit-user"}));
        check(&what, answer, Meaning::SavedWarning(pointer)).await;
    }
    stub.clear_requests();
}

/// Sets the field at JSON `pointer` in `body` to `value`, making the objects on the way.
fn set_pointer(body: &mut serde_json::Value, pointer: &str, value: &str) {
    let mut at = body;
    for part in pointer.trim_start_matches('/').split('/') {
        if !at.is_object() {
            *at = json!({});
        }
        at = at
            .as_object_mut()
            .expect("made an object above")
            .entry(part)
            .or_insert(serde_json::Value::Null);
    }
    *at = json!(value);
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
        Meaning::SavedWarning(text) => {
            let done = done
                .unwrap_or_else(|e| panic!("{}: after {what} the key is saved: {e}", spec.name));
            assert!(
                done.warnings.iter().any(|w| w.contains(text)),
                "{}: after {what}, the warning says {text}: {:?}",
                spec.name,
                done.warnings
            );
            assert!(engine.logout(&req.key()).await.expect("logout"));
        }
    }
}

/// What the provider answers to a key it accepts: an account name, and the field
/// [`Verify::accepted_when`] names, holding its value.
pub(super) fn key_check_accepts(verify: &Verify) -> StubResponse {
    let mut body = json!({"login": "kit-user"});
    if let Some((pointer, value)) = verify.accepted_when {
        set_pointer(&mut body, pointer, value);
    }
    StubResponse::json(200, &body)
}
