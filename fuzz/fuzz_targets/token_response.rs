//! The token-response normalizer (`oauth::normalize`, through `keyfob_core::fuzzing`) and,
//! behind it, the `oauth2` crate's parser typed like the engine's: whatever a token endpoint
//! answers, the result is a token or a clean error, never a panic.
//!
//! Input (text, so that seeds are readable): a first line `<provider> <status> <content type>`
//! (`github` has no hooks, `slack` has its `authed_user` hook), then the body.
#![no_main]

use keyfob_core::fuzzing::{self, Parsed};
use keyfob_core::{Handler, OAuth2Spec};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn spec(id: &str) -> &'static OAuth2Spec {
    // Names the facade's provider list, which is what links the provider crates.
    std::hint::black_box(keyfob::providers::ENABLED);
    let provider = keyfob_core::registry::get(id).expect("provider linked");
    provider
        .handlers
        .iter()
        .find_map(|h| match h {
            Handler::OAuth2(o) => Some(*o),
            Handler::Token(_) => None,
        })
        .expect("an OAuth2 handler")
}

fuzz_target!(|data: &[u8]| {
    let (line, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&[][..], data),
    };
    let line = String::from_utf8_lossy(line);
    let mut words = line.split(' ');
    let spec = spec(if words.next() == Some("slack") {
        "slack"
    } else {
        "github"
    });
    // Statuses hyper can hand over: 100..=999.
    let status = words
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|s| (100..=999).contains(s))
        .unwrap_or(200);
    let ct = words.collect::<Vec<_>>().join(" ");

    let (out_status, json) = fuzzing::normalize(status, &ct, body, spec);
    let Value::Object(obj) = &json else {
        panic!("the normalizer returned a non-object");
    };
    if out_status == 200 {
        // A success always has a token and a string token type, in RFC 6749 shapes.
        assert!(
            obj.get("access_token")
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty()),
            "200 without an access_token"
        );
        assert!(obj.get("token_type").is_some_and(Value::is_string));
        assert!(obj.get("scope").is_none_or(Value::is_string));
        assert!(obj.get("refresh_token").is_none_or(Value::is_string));
    } else {
        // A failure always carries a string error code for the oauth2 crate to report.
        assert!(
            obj.get("error").is_some_and(Value::is_string),
            "a failure without a string `error`"
        );
    }
    match fuzzing::exchange(status, &ct, body, spec) {
        Parsed::Token { .. } => assert_eq!(out_status, 200, "a token from a failure"),
        Parsed::ServerError(_) | Parsed::Parse(_) | Parsed::Other(_) => {}
    }
});
