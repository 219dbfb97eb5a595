//! The pinned requests (`requests_pinned`): every request a provider's handlers send, rendered as
//! text and compared with the handler's inline snapshot in its `tests/conformance.rs`.
//!
//! Invariants:
//! - Requests reach an HTTPS stub at the spec's own host names (resolved to the stub, its CA
//!   trusted), so a snapshot shows each request at the host, path and query the spec names, with
//!   every header keyfob chose and the body.
//! - Random parts (state, PKCE, the callback port) and secrets appear only as placeholders; the
//!   rendering itself is searched for the sentinel.
//! - Every received request must go to one of the spec's endpoints, with exactly one to the
//!   token endpoint per step; a snapshot naming no requesting handler, or a provider none of
//!   whose handlers sends a request, fails.

use keyfob_core::config::Config;
use keyfob_core::spec::{Handler, OAuth2Spec, Provider, Refresh, TokenSpec};
use keyfob_core::{AuthRequest, Engine, SecretString};
use serde_json::json;
use url::Url;

use crate::conformance::capture::{assert_no_sentinel, leak_checked};
use crate::conformance::token::key_check_accepts;
use crate::conformance::{SENTINEL, send_code};
use crate::stub::{StubResponse, StubServer};

/// Pins every request a provider's handlers send to the provider: for an OAuth2 handler the
/// authorize URL, the code exchange (and the identity lookup after it), a refresh, the sign-out's
/// revocation and the device flow; for a token handler its key check. Each request is shown as
/// the stub received it at the spec's real URL (method, the host it named, path and query, every
/// header keyfob chose, body), with the random parts (state, PKCE, the callback port) and the
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

/// The handlers of `provider` that send requests (see [`sends_requests`](crate::conformance::sends_requests)), refusing to return
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
    send_code(&engine, provider, state, &link.cookies)
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
