//! The conformance kit on this provider, with its OAuth2 requests pinned as its documentation
//! describes them (refresh with `UPDATE_EXPECT=1`, then review the diff).
keyfob_testkit::conformance!(
    keyfob_provider_bitbucket::PROVIDER,
    snapshots = [(
        "bitbucket-oauth2",
        keyfob_testkit::expect![[r#"
            authorize: GET https://bitbucket.org/site/oauth2/authorize
                response_type=code
                client_id=client-1
                state=<state>
                redirect_uri=<callback>/auth/bitbucket/oauth2/callback
            exchange: POST https://bitbucket.org/site/oauth2/access_token
                accept: application/json
                content-type: application/x-www-form-urlencoded
                authorization: Basic base64(client-1:<client_secret>)
                grant_type=authorization_code
                code=<code>
                redirect_uri=<callback>/auth/bitbucket/oauth2/callback
            userinfo: GET https://api.bitbucket.org/2.0/user
                authorization: Bearer <access_token>
                accept: application/json
            refresh: POST https://bitbucket.org/site/oauth2/access_token
                accept: application/json
                content-type: application/x-www-form-urlencoded
                authorization: Basic base64(client-1:<client_secret>)
                grant_type=refresh_token
                refresh_token=<refresh_token>
            revoke: none
            device: none
        "#]]
    )]
);
