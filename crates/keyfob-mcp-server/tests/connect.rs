//! The connect gate of a protected server, against the testkit's oidc-provider acting as the
//! MCP server's authorization server: a user's login link opens only after that user signed in
//! there, and every wrong turn (another browser, a replay, a denial, a forged pass, an answer
//! from another issuer, no way to register) gets a page that says what to do, with the flow
//! left open for its user.

use std::sync::Arc;

use keyfob_callback::Options;
use keyfob_core::{AuthRequest, Config, Engine, Ensured, MemoryStore};
use keyfob_mcp_server::auth::{ResourceAuth, Subject};
use keyfob_mcp_server::connect::ConnectGate;
use keyfob_testkit::{Browser, Idp, IdpOptions};

use keyfob_provider_notion as _;

const RESOURCE: &str = "http://127.0.0.1:9/mcp";

struct Setup {
    idp: Idp,
    engine: Engine,
    _server: keyfob_callback::Server,
}

async fn setup(idp: IdpOptions) -> Setup {
    let idp = Idp::start(idp).await.unwrap();
    let auth = ResourceAuth::discover(idp.issuer(), RESOURCE, vec!["mcp:tools".into()])
        .await
        .unwrap();
    let engine = Engine::builder()
        .config(Config::from_toml("[auth.notion]\nverify_key = false\n").unwrap())
        .store(Arc::new(MemoryStore::new()))
        .build()
        .unwrap();
    let gate = ConnectGate::new(Arc::new(auth), engine.clone(), None);
    let options = Options {
        gate: Some(Arc::new(gate)),
        ..Options::default()
    };
    let server =
        keyfob_callback::start_with(engine.clone(), "127.0.0.1:0".parse().unwrap(), options)
            .await
            .unwrap();
    Setup {
        idp,
        engine,
        _server: server,
    }
}

fn with_resource() -> IdpOptions {
    IdpOptions {
        mcp_resource: Some(RESOURCE.into()),
        ..IdpOptions::default()
    }
}

impl Setup {
    /// A login link for Notion in the sessions of `thread`.
    async fn link_in(&self, thread: &str) -> String {
        self.link_in_profile(thread, "default").await
    }

    async fn link_in_profile(&self, thread: &str, profile: &str) -> String {
        let req = AuthRequest::new("notion")
            .handler("notion-token")
            .thread(thread)
            .profile(profile);
        match self.engine.ensure(&req).await.unwrap() {
            Ensured::Prompt(p) => p.url,
            Ensured::Ready(_) => panic!("no login asked"),
        }
    }

    /// A login link for Notion in the sessions of the authorization server's user `subject`.
    async fn link_for(&self, subject: &str) -> String {
        self.link_in(&self.thread_of(subject)).await
    }

    fn thread_of(&self, subject: &str) -> String {
        keyfob_mcp_server::user_thread(&Subject {
            issuer: self.idp.issuer().to_owned(),
            subject: subject.to_owned(),
        })
    }

    /// Whether the flow of `link` is still unbound: a fresh browser opening it is sent to sign
    /// in (not refused as "opened in another browser").
    async fn still_open(&self, link: &str) -> bool {
        Browser::new()
            .open_link(link)
            .await
            .is_ok_and(|to| to.starts_with(self.idp.issuer()))
    }
}

/// Opens `link` in `browser` and approves the sign-in as user-1: the callback URL.
async fn sign_in(idp: &Idp, browser: &Browser, link: &str) -> String {
    let to = browser.open_link(link).await.unwrap();
    assert!(
        to.starts_with(idp.issuer()),
        "the link sends to sign in: {to}"
    );
    assert!(
        to.contains("resource=") && to.contains("code_challenge="),
        "{to}"
    );
    browser.approve(&to).await.unwrap()
}

#[tokio::test]
async fn the_user_the_link_is_for_gets_through_once() {
    let s = setup(with_resource()).await;
    let link = s.link_for("user-1").await;
    let browser = Browser::new();
    let back = sign_in(&s.idp, &browser, &link).await;
    let start = browser.redirect_of(&back).await.unwrap();
    assert!(start.contains("&connect="), "{start}");
    let page = browser.open_link(&start).await.unwrap();
    assert!(page.contains("/auth/notion/token?state="), "{page}");
    // The sign-in's answer and the pass are single-use.
    let (status, text) = browser.get(&back).await.unwrap();
    assert_eq!(status, 400);
    assert!(text.contains("unknown, used or expired"), "{text}");
    let again = browser.open_link(&start).await.unwrap();
    assert!(again.starts_with(s.idp.issuer()), "{again}");
}

#[tokio::test]
async fn another_user_is_refused_and_the_link_stays_open() {
    let s = setup(with_resource()).await;
    let link = s.link_for("user-2").await;
    let browser = Browser::new();
    let back = sign_in(&s.idp, &browser, &link).await;
    let (status, text) = browser.get(&back).await.unwrap();
    assert_eq!(status, 403);
    assert!(text.contains("made for another user"), "{text}");
    assert!(!text.contains("user-2"), "{text}");
    assert!(s.still_open(&link).await);
}

#[tokio::test]
async fn the_sign_in_belongs_to_the_browser_that_started_it() {
    let s = setup(with_resource()).await;
    let link = s.link_for("user-1").await;
    let back = sign_in(&s.idp, &Browser::new(), &link).await;
    let (status, text) = Browser::new().get(&back).await.unwrap();
    assert_eq!(status, 403);
    assert!(text.contains("started in another browser"), "{text}");
    assert!(s.still_open(&link).await);
}

#[tokio::test]
async fn a_denied_sign_in_or_another_issuers_answer_is_refused() {
    let s = setup(with_resource()).await;
    let link = s.link_for("user-1").await;
    let browser = Browser::new();
    let to = browser.open_link(&link).await.unwrap();
    let denied = browser.deny(&to).await.unwrap();
    let (status, text) = browser.get(&denied).await.unwrap();
    assert_eq!(status, 403);
    assert!(text.contains("did not sign you in"), "{text}");

    let back = sign_in(&s.idp, &browser, &link).await;
    let issuer =
        url::form_urlencoded::byte_serialize(s.idp.issuer().as_bytes()).collect::<String>();
    let mixed = back.replace(&issuer, "http%3A%2F%2Fevil.example");
    assert_ne!(mixed, back);
    let (status, text) = browser.get(&mixed).await.unwrap();
    assert_eq!(status, 400);
    assert!(text.contains("another authorization server"), "{text}");
    assert!(s.still_open(&link).await);
}

#[tokio::test]
async fn a_forged_pass_leads_to_the_sign_in() {
    let s = setup(with_resource()).await;
    let link = s.link_for("user-1").await;
    let browser = Browser::new();
    // The browser holds a sign-in cookie, but the pass is made up.
    let _ = browser.open_link(&link).await.unwrap();
    let to = browser
        .open_link(&format!("{link}&connect=made-up"))
        .await
        .unwrap();
    assert!(to.starts_with(s.idp.issuer()), "{to}");
    assert!(s.still_open(&link).await);
}

#[tokio::test]
async fn a_pass_opens_only_its_own_link_in_its_own_browser() {
    let s = setup(with_resource()).await;
    let link = s.link_for("user-1").await;
    // The same user's login for another profile: another flow.
    let other_link = s.link_in_profile(&s.thread_of("user-1"), "work").await;
    assert_ne!(link, other_link);
    let browser = Browser::new();
    let back = sign_in(&s.idp, &browser, &link).await;
    let start = browser.redirect_of(&back).await.unwrap();
    let pass = start.split("&connect=").nth(1).unwrap();
    // Another browser (holding a sign-in cookie of its own) with the pass: sent to sign in.
    let thief = Browser::new();
    let _ = thief.open_link(&other_link).await.unwrap();
    let to = thief.open_link(&start).await.unwrap();
    assert!(to.starts_with(s.idp.issuer()), "{to}");
    // The same browser with the pass on another link: sent to sign in too.
    let browser = Browser::new();
    let back = sign_in(&s.idp, &browser, &link).await;
    let start = browser.redirect_of(&back).await.unwrap();
    let pass_two = start.split("&connect=").nth(1).unwrap();
    assert_ne!(pass, pass_two);
    let to = browser
        .open_link(&format!("{other_link}&connect={pass_two}"))
        .await
        .unwrap();
    assert!(to.starts_with(s.idp.issuer()), "{to}");
    assert!(s.still_open(&link).await && s.still_open(&other_link).await);
}

#[tokio::test]
async fn links_of_other_threads_open_as_before() {
    let s = setup(with_resource()).await;
    let link = s.link_in("default").await;
    let page = Browser::new().open_link(&link).await.unwrap();
    assert!(page.contains("/auth/notion/token?state="), "{page}");
}

#[tokio::test]
async fn without_dynamic_registration_the_page_says_what_to_configure() {
    // The testkit's IdP offers dynamic registration only as an MCP server's authorization server.
    let s = setup(IdpOptions::default()).await;
    let link = s.link_for("user-1").await;
    let err = Browser::new()
        .open_link(&link)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("502")
            && err.contains("offers no dynamic client registration")
            && err.contains("--auth-client-id")
            && err.contains("/connect/callback"),
        "{err}"
    );
}

#[tokio::test]
async fn only_the_gate_opens_a_users_link() {
    // A callback server without the gate (a `keyfob serve` on the same store) is refused by the
    // engine itself.
    let s = setup(with_resource()).await;
    let link = s.link_for("user-1").await;
    let state = keyfob_testkit::state_of(&link);
    let refused = s
        .engine
        .open_link(
            "notion",
            Some(&state),
            &keyfob_core::engine::LinkCookies::none(),
        )
        .await
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("open it with the server that gave it to you"),
        "{refused}"
    );
    assert!(s.still_open(&link).await);
}

#[tokio::test]
async fn a_browser_with_two_sign_in_cookies_is_refused() {
    let s = setup(with_resource()).await;
    let link = s.link_for("user-1").await;
    let resp = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&link)
        .header("cookie", "keyfob-connect=planted; keyfob-connect=mine")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("two keyfob sign-in cookies")
    );
}

#[tokio::test]
async fn a_link_keeps_its_newest_sign_ins_only() {
    let s = setup(with_resource()).await;
    let link = s.link_for("user-1").await;
    let browser = Browser::new();
    let back = sign_in(&s.idp, &browser, &link).await;
    // Eight more sign-ins for the same link (scripts without cookies) push the first one out.
    for _ in 0..8 {
        let _ = Browser::new().open_link(&link).await.unwrap();
    }
    let (status, text) = browser.get(&back).await.unwrap();
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("unknown, used or expired"), "{text}");
}

#[tokio::test]
async fn an_answer_without_the_issuer_is_refused_when_the_server_always_names_it() {
    let s = setup(with_resource()).await;
    let metadata: serde_json::Value = reqwest::get(format!(
        "{}/.well-known/openid-configuration",
        s.idp.issuer()
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(
        metadata["authorization_response_iss_parameter_supported"], true,
        "the test IdP names itself in every answer (RFC 9207)"
    );
    let link = s.link_for("user-1").await;
    let browser = Browser::new();
    let back = sign_in(&s.idp, &browser, &link).await;
    let mut url = url::Url::parse(&back).unwrap();
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "iss")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut().clear().extend_pairs(kept);
    let (status, text) = browser.get(url.as_str()).await.unwrap();
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("another authorization server"), "{text}");
}
