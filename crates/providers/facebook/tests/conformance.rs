//! The conformance kit on this provider, with its OAuth2 requests pinned as its documentation
//! describes them (refresh with `UPDATE_EXPECT=1`, then review the diff).
keyfob_testkit::conformance!(
    keyfob_provider_facebook::PROVIDER,
    snapshots = [(
        "facebook-oauth2",
        keyfob_testkit::expect![[r#"
            authorize: GET https://www.facebook.com/v25.0/dialog/oauth
                response_type=code
                client_id=client-1
                state=<state>
                redirect_uri=<callback>/auth/facebook/oauth2/callback
                scope=email,public_profile
            exchange: POST https://graph.facebook.com/v25.0/oauth/access_token
                accept: application/json
                content-type: application/x-www-form-urlencoded
                grant_type=authorization_code
                code=<code>
                client_id=client-1
                client_secret=<client_secret>
                redirect_uri=<callback>/auth/facebook/oauth2/callback
            userinfo: GET https://graph.facebook.com/v25.0/me?fields=id,name
                authorization: Bearer <access_token>
                accept: application/json
            refresh: none
            revoke: none
            device: none
        "#]]
    )]
);
