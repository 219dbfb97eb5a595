//! The conformance kit on this provider, with its OAuth2 requests pinned as its documentation
//! describes them (refresh with `UPDATE_EXPECT=1`, then review the diff).
keyfob_testkit::conformance!(
    keyfob_provider_calendly::PROVIDER,
    snapshots = [(
        "calendly-oauth2",
        keyfob_testkit::expect![[r#"
            authorize: GET https://auth.calendly.com/oauth/authorize
                response_type=code
                client_id=client-1
                state=<state>
                code_challenge=<challenge>
                code_challenge_method=S256
                redirect_uri=<callback>/auth/calendly/oauth2/callback
            exchange: POST https://auth.calendly.com/oauth/token
                accept: application/json
                content-type: application/x-www-form-urlencoded
                authorization: Basic base64(client-1:<client_secret>)
                grant_type=authorization_code
                code=<code>
                code_verifier=<verifier>
                redirect_uri=<callback>/auth/calendly/oauth2/callback
            userinfo: GET https://api.calendly.com/users/me
                authorization: Bearer <access_token>
                accept: application/json
            refresh: POST https://auth.calendly.com/oauth/token
                accept: application/json
                content-type: application/x-www-form-urlencoded
                authorization: Basic base64(client-1:<client_secret>)
                grant_type=refresh_token
                refresh_token=<refresh_token>
            revoke: POST https://auth.calendly.com/oauth/revoke
                accept: application/json
                content-type: application/x-www-form-urlencoded
                token=<refresh_token>
                token_type_hint=refresh_token
                client_id=client-1
                client_secret=<client_secret>
            revoke: POST https://auth.calendly.com/oauth/revoke
                accept: application/json
                content-type: application/x-www-form-urlencoded
                token=<access_token>
                token_type_hint=access_token
                client_id=client-1
                client_secret=<client_secret>
            device: none
        "#]]
    )]
);
