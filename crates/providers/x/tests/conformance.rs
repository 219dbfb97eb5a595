//! The conformance kit on this provider, with its OAuth2 requests pinned as its documentation
//! describes them (refresh with `UPDATE_EXPECT=1`, then review the diff).
keyfob_testkit::conformance!(
    keyfob_provider_x::PROVIDER,
    snapshots = [(
        "x-oauth2",
        keyfob_testkit::expect![[r#"
            authorize: GET https://x.com/i/oauth2/authorize
                response_type=code
                client_id=client-1
                state=<state>
                code_challenge=<challenge>
                code_challenge_method=S256
                redirect_uri=<callback>/auth/x/oauth2/callback
                scope=offline.access tweet.read users.read
            exchange: POST https://api.x.com/2/oauth2/token
                accept: application/json
                content-type: application/x-www-form-urlencoded
                authorization: Basic base64(client-1:<client_secret>)
                grant_type=authorization_code
                code=<code>
                code_verifier=<verifier>
                redirect_uri=<callback>/auth/x/oauth2/callback
            userinfo: GET https://api.x.com/2/users/me
                authorization: Bearer <access_token>
                accept: application/json
            refresh: POST https://api.x.com/2/oauth2/token
                accept: application/json
                content-type: application/x-www-form-urlencoded
                authorization: Basic base64(client-1:<client_secret>)
                grant_type=refresh_token
                refresh_token=<refresh_token>
            revoke: POST https://api.x.com/2/oauth2/revoke
                accept: application/json
                content-type: application/x-www-form-urlencoded
                authorization: Basic base64(client-1:<client_secret>)
                token=<refresh_token>
                token_type_hint=refresh_token
            revoke: POST https://api.x.com/2/oauth2/revoke
                accept: application/json
                content-type: application/x-www-form-urlencoded
                authorization: Basic base64(client-1:<client_secret>)
                token=<access_token>
                token_type_hint=access_token
            device: none
        "#]]
    )]
);
