//! The protected server's token check against a real authorization server's keys (the testkit's
//! oidc-provider, which also mints tokens with chosen claims): what gets in, and why everything
//! else is refused.

use keyfob_mcp_server::auth::{Refusal, ResourceAuth, Subject};
use keyfob_testkit::{Idp, IdpOptions};
use serde_json::json;

const RESOURCE: &str = "http://127.0.0.1:9/mcp";

#[tokio::test]
async fn only_a_valid_token_for_this_server_gets_in() {
    let idp = Idp::start(IdpOptions::default()).await.unwrap();
    let auth = ResourceAuth::discover(idp.issuer(), RESOURCE, vec!["mcp:tools".into()])
        .await
        .unwrap();
    let token = |claims: serde_json::Value| {
        let mut c = json!({"sub": "user-7", "aud": RESOURCE, "scope": "mcp:tools other"});
        for (k, v) in claims.as_object().unwrap() {
            c[k] = v.clone();
        }
        idp.mint(c)
    };
    assert_eq!(
        auth.check(&token(json!({})).await).await,
        Ok(Subject {
            issuer: idp.issuer().to_owned(),
            subject: "user-7".into()
        })
    );
    let invalid = |why: &str| Err(Refusal::InvalidToken(why.into()));
    for (claims, refusal) in [
        (json!({"expires_in": -60}), invalid("the token has expired")),
        (
            json!({"aud": "http://127.0.0.1:9/other"}),
            invalid("the token is for another server"),
        ),
        (
            json!({"iss": "http://evil.example"}),
            invalid("the token is from another issuer"),
        ),
        (
            json!({"kid": "not-a-key-of-the-server"}),
            invalid("the token's key is unknown"),
        ),
        (
            json!({"typ": "JWT"}),
            invalid("the token is not an access token (typ at+jwt)"),
        ),
        (
            json!({"not_before_in": 600}),
            invalid("the token is not valid yet"),
        ),
        (json!({"scope": "other"}), Err(Refusal::InsufficientScope)),
    ] {
        assert_eq!(
            auth.check(&token(claims.clone()).await).await,
            refusal,
            "{claims}"
        );
    }
    // Tampered with: the payload of one token under the signature of another.
    let (a, b) = (token(json!({})).await, token(json!({"sub": "admin"})).await);
    let (a, b): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
    let forged = format!("{}.{}.{}", a[0], b[1], a[2]);
    assert_eq!(
        auth.check(&forged).await,
        invalid("the token does not verify")
    );
    assert_eq!(auth.check("not-a-jwt").await, invalid("not a JWT"));

    // The metadata (RFC 9728) names the authorization server and the scopes.
    let meta = auth.metadata();
    assert_eq!(meta["resource"], RESOURCE);
    assert_eq!(meta["authorization_servers"], json!([idp.issuer()]));
    assert_eq!(
        auth.metadata_url(),
        "http://127.0.0.1:9/.well-known/oauth-protected-resource/mcp"
    );
}

/// An issuer whose metadata names another issuer is refused at start.
#[tokio::test]
async fn an_issuer_is_taken_only_as_its_metadata_names_it() {
    let idp = Idp::start(IdpOptions::default()).await.unwrap();
    let e = ResourceAuth::discover(&format!("{}/", idp.issuer()), RESOURCE, vec![])
        .await
        .unwrap_err();
    assert!(e.contains("names the issuer"), "{e}");
}
