//! The conformance kit on this provider, with its OAuth2 requests pinned as its documentation
//! describes them (refresh with `UPDATE_EXPECT=1`, then review the diff).
keyfob_testkit::conformance!(
    keyfob_provider_zoom::PROVIDER,
    snapshots = [(
        "zoom-oauth2",
        keyfob_testkit::expect![[r#"
            authorize: GET https://zoom.us/oauth/authorize
                response_type=code
                client_id=client-1
                state=<state>
                code_challenge=<challenge>
                code_challenge_method=S256
                redirect_uri=<callback>/auth/zoom/oauth2/callback
            exchange: POST https://zoom.us/oauth/token
                accept: application/json
                content-type: application/x-www-form-urlencoded
                authorization: Basic base64(client-1:<client_secret>)
                grant_type=authorization_code
                code=<code>
                code_verifier=<verifier>
                redirect_uri=<callback>/auth/zoom/oauth2/callback
            userinfo: GET https://api.zoom.us/v2/users/me
                authorization: Bearer <access_token>
                accept: application/json
            refresh: POST https://zoom.us/oauth/token
                accept: application/json
                content-type: application/x-www-form-urlencoded
                authorization: Basic base64(client-1:<client_secret>)
                grant_type=refresh_token
                refresh_token=<refresh_token>
            revoke: POST https://zoom.us/oauth/revoke
                accept: application/json
                content-type: application/x-www-form-urlencoded
                authorization: Basic base64(client-1:<client_secret>)
                token=<refresh_token>
                token_type_hint=refresh_token
            revoke: POST https://zoom.us/oauth/revoke
                accept: application/json
                content-type: application/x-www-form-urlencoded
                authorization: Basic base64(client-1:<client_secret>)
                token=<access_token>
                token_type_hint=access_token
            device: none
        "#]]
    )]
);
