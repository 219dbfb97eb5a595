//! The callback server's request handling, driven in process through
//! `keyfob_callback::router(engine)` with `tower::ServiceExt::oneshot`.
//!
//! Input (text, so that seeds are readable):
//!
//! ```text
//! METHOD /path?query
//! Header: value
//!
//! body
//! %%token
//! 200 application/json
//! {"access_token": "…"}
//! ```
//!
//! `{STATE}` in the request becomes the `state` of a live flow for the provider named in the
//! path (`{STATE:<id>}` for another provider's): `github` (OAuth2), `notion` (API key) or
//! `basicauth`. The harness opens each live flow's login link as a browser would and sends its
//! cookie with the request (unless the request has `X-Fuzz-No-Cookie`), so the fuzzer reaches
//! the code exchange and the token form, and also the refusal of a state without its browser. GitHub's endpoints point at a stub on 127.0.0.1 that answers what follows
//! `%%token` (status and content type on one line, then the body), so a live code exchange runs
//! the whole path: query parsing, the engine, the HTTP adapter, the normalizer, the `oauth2`
//! crate, the grant and the store. `X-Fuzz-Engine: prefixed` picks an engine configured with
//! `path_prefix = "/kf"` and a public base URL.
//!
//! Asserted on every answer: no panic; the security headers; no state echoed by the OAuth2
//! callback page; and a status below 500, except 502 when a live OAuth2 state reached the token
//! endpoint (the engine maps the provider's answer, or its absence, to `Protocol` or `Transport`,
//! which the server answers with 502 Bad Gateway by design). A 500 is never acceptable: with the
//! memory store it can only mean an internal error.
#![no_main]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Mutex, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use keyfob::spec::Handler;
use keyfob::{AuthRequest, Config, Engine, ExposeSecret};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

/// What the stub token endpoint answers next: status, content type, body.
static ANSWER: Mutex<(u16, String, Vec<u8>)> = Mutex::new((200, String::new(), Vec::new()));

struct World {
    rt: tokio::runtime::Runtime,
    plain: (Engine, Router),
    prefixed: (Engine, Router),
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let port = stub_token_endpoint();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let engine = |extra: &str| {
            let toml = format!(
                r#"
                [session]
                http_timeout_secs = 5
                [auth.github]
                client_id = "fuzz-client"
                client_secret = "fuzz-secret"
                token_url = "http://127.0.0.1:{port}/token"
                userinfo_url = "http://127.0.0.1:{port}/user"
                revoke_url = "http://127.0.0.1:{port}/revoke"
                [auth.notion]
                verify_key = false
                [auth.slack]
                verify_key = false
                token_url = "http://127.0.0.1:{port}/token"
                {extra}
                "#
            );
            let config = Config::from_toml(&toml).expect("config");
            let engine = keyfob::builder().config(config).build().expect("engine");
            let router = keyfob_callback::router(engine.clone());
            (engine, router)
        };
        World {
            plain: engine(""),
            prefixed: engine(
                "[server]\npath_prefix = \"/kf\"\npublic_base_url = \"https://auth.example.test\"",
            ),
            rt,
        }
    })
}

/// A one-request-per-connection HTTP/1.1 server on 127.0.0.1 answering [`ANSWER`] at `/token`
/// and 404 elsewhere.
fn stub_token_endpoint() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind stub");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Headers, then as much body as Content-Length says.
            let head_end = loop {
                match conn.read(&mut chunk) {
                    Ok(0) | Err(_) => break None,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break Some(i + 4);
                }
            };
            let Some(head_end) = head_end else { continue };
            let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            while buf.len() < head_end + len {
                match conn.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let (status, ct, body) = if head.starts_with("post /token ") {
                ANSWER.lock().unwrap_or_else(|e| e.into_inner()).clone()
            } else {
                (404, "application/json".into(), b"{}".to_vec())
            };
            let mut out = format!("HTTP/1.1 {status} X\r\nconnection: close\r\n").into_bytes();
            if !ct.is_empty() {
                out.extend_from_slice(format!("content-type: {ct}\r\n").as_bytes());
            }
            out.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
            out.extend_from_slice(&body);
            let _ = conn.write_all(&out);
        }
    });
    port
}

/// The live state of a fresh flow for `provider`, and the `name=value` cookie its opened login
/// link gave.
async fn live_state(engine: &Engine, provider: &str) -> Option<(String, String)> {
    // GitHub's OAuth2 handler; the token-entry handler of the others.
    let oauth2 = provider == "github";
    let handler = engine
        .catalog()
        .provider(provider)
        .ok()?
        .handlers
        .iter()
        .find(|h| matches!(h, Handler::OAuth2(_)) == oauth2)?;
    let req = AuthRequest::new(provider).handler(handler.name());
    let prompt = engine.login(&req).await.ok()?;
    let state = url_query_state(&prompt.url)?;
    let opened = engine
        .open_link(provider, Some(&state), &keyfob::LinkCookies::none())
        .await
        .ok()?;
    let cookie = opened.cookie?;
    let cookie = format!("{}={}", cookie.name, cookie.value.expose_secret());
    Some((state, cookie))
}

fn url_query_state(url: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|kv| {
        // States are base64url: no percent-encoding to undo.
        kv.strip_prefix("state=").map(str::to_owned)
    })
}

fn split_once_bytes<'a>(data: &'a [u8], sep: &[u8]) -> (&'a [u8], Option<&'a [u8]>) {
    match data.windows(sep.len()).position(|w| w == sep) {
        Some(i) => (&data[..i], Some(&data[i + sep.len()..])),
        None => (data, None),
    }
}

fn set_answer(spec: Option<&[u8]>) {
    let (status, ct, body) = match spec {
        None => (
            200,
            "application/json".to_owned(),
            br#"{"access_token":"fuzz-access","token_type":"bearer","expires_in":3600,"scope":"repo"}"#
                .to_vec(),
        ),
        Some(raw) => {
            let (line, body) = split_once_bytes(raw, b"\n");
            let line = String::from_utf8_lossy(line);
            let mut words = line.split_whitespace();
            let status = words
                .next()
                .and_then(|s| s.parse::<u16>().ok())
                .filter(|s| (100..=999).contains(s) && !(100..200).contains(s))
                .unwrap_or(200);
            let ct: String = words.collect::<Vec<_>>().join(" ");
            // A header value the stub can write: printable ASCII only.
            let ct = ct.chars().filter(|c| (' '..='~').contains(c)).collect();
            (status, ct, body.unwrap_or_default().to_vec())
        }
    };
    *ANSWER.lock().unwrap_or_else(|e| e.into_inner()) = (status, ct, body);
}

/// `KEYFOB_FUZZ_DEBUG=1` prints each request's status (to check what seeds reach).
fn debug() -> bool {
    static DEBUG: OnceLock<bool> = OnceLock::new();
    *DEBUG.get_or_init(|| std::env::var_os("KEYFOB_FUZZ_DEBUG").is_some())
}

const PROVIDERS: &[&str] = &["github", "notion", "basicauth"];

fuzz_target!(|data: &[u8]| {
    let w = world();
    let (request, token_answer) = split_once_bytes(data, b"\n%%token\n");
    set_answer(token_answer);
    let Ok(text) = std::str::from_utf8(request) else {
        return;
    };
    let (head, body) = match text.split_once("\n\n") {
        Some((h, b)) => (h, b),
        None => (text, ""),
    };
    let mut lines = head.lines();
    let Some(request_line) = lines.next() else {
        return;
    };
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or("GET");
    let target = parts.next().unwrap_or("/");
    let headers: Vec<(&str, &str)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect();
    let prefixed = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("x-fuzz-engine") && *v == "prefixed");
    let (engine, router) = if prefixed { &w.prefixed } else { &w.plain };

    w.rt.block_on(async {
        // Live states, substituted into the whole request.
        let path_provider = target
            .trim_start_matches("/kf")
            .strip_prefix("/auth/")
            .and_then(|r| r.split('/').next())
            .unwrap_or("");
        let raw_all = format!(
            "{target}\n{body}\n{}",
            headers
                .iter()
                .map(|(_, v)| *v)
                .collect::<Vec<_>>()
                .join("\n")
        );
        let mut live: Vec<(String, String)> = Vec::new();
        let mut cookies: Vec<String> = Vec::new();
        for p in PROVIDERS {
            let wanted = raw_all.contains(&format!("{{STATE:{p}}}"))
                || (raw_all.contains("{STATE}") && *p == path_provider);
            if wanted {
                if let Some((state, cookie)) = live_state(engine, p).await {
                    live.push(((*p).to_owned(), state));
                    cookies.push(cookie);
                }
            }
        }
        let no_cookie = headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("x-fuzz-no-cookie"));
        let uses_oauth2_state = live.iter().any(|(p, _)| p == "github");
        let substitute = |s: &str| -> String {
            let mut s = s.to_owned();
            for (p, state) in &live {
                s = s.replace(&format!("{{STATE:{p}}}"), state);
                if p == path_provider {
                    s = s.replace("{STATE}", state);
                }
            }
            s
        };
        let target = substitute(target);
        let body = substitute(body);
        let headers: Vec<(String, String)> = headers
            .iter()
            .filter(|(k, _)| !k.to_ascii_lowercase().starts_with("x-fuzz-"))
            .map(|(k, v)| ((*k).to_owned(), substitute(v)))
            .collect();

        let mut builder = Request::builder().method(method).uri(target.as_str());
        for (k, v) in &headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        if !cookies.is_empty() && !no_cookie {
            builder = builder.header(header::COOKIE, cookies.join("; "));
        }
        let Ok(req) = builder.body(Body::from(body.clone())) else {
            return;
        };
        let resp = router
            .clone()
            .oneshot(req)
            .await
            .expect("the router is infallible");
        let status = resp.status();
        for h in [
            header::CONTENT_SECURITY_POLICY,
            header::X_FRAME_OPTIONS,
            header::X_CONTENT_TYPE_OPTIONS,
            header::CACHE_CONTROL,
            header::REFERRER_POLICY,
        ] {
            assert!(
                resp.headers().contains_key(&h),
                "no {h} on a {status} answer"
            );
        }
        let page = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .expect("the page is readable");
        let page = String::from_utf8_lossy(&page);
        // The OAuth2 callback route, by its path: a query can spell "/oauth2/callback" too, and
        // the token form rightly carries its own state.
        if target
            .split('?')
            .next()
            .unwrap_or("")
            .contains("/oauth2/callback")
        {
            for (_, state) in &live {
                // A state the request itself carried elsewhere (in `error=…`, say) is the
                // caller's own text, shown escaped; only the `state` parameter must not come
                // back.
                let elsewhere = target
                    .replace(&format!("state={state}"), "")
                    .contains(state.as_str());
                assert!(
                    elsewhere || !page.contains(state.as_str()),
                    "the callback page echoes a state"
                );
            }
        }
        if debug() {
            eprintln!(
                "{status} {method} {} live={:?}",
                target.split('?').next().unwrap_or(""),
                live.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>()
            );
        }
        let allowed_5xx = uses_oauth2_state && status == StatusCode::BAD_GATEWAY;
        assert!(
            !status.is_server_error() || allowed_5xx,
            "{status} for {method} {}",
            target.split('?').next().unwrap_or("")
        );
        // Leave no flow behind for the next input.
        for (p, _) in &live {
            let _ = engine.logout(&AuthRequest::new(p.as_str()).key()).await;
        }
    });
});
