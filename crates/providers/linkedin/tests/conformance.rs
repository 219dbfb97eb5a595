//! The conformance kit on this provider, with its OAuth2 requests pinned as its documentation
//! describes them (refresh with `UPDATE_EXPECT=1`, then review the diff).
keyfob_testkit::conformance!(
    keyfob_provider_linkedin::PROVIDER,
    snapshots = [(
        "linkedin-oauth2",
        keyfob_testkit::expect![[r#"
            authorize: GET https://www.linkedin.com/oauth/v2/authorization
                response_type=code
                client_id=client-1
                state=<state>
                redirect_uri=<callback>/auth/linkedin/oauth2/callback
                scope=email openid profile
            exchange: POST https://www.linkedin.com/oauth/v2/accessToken
                accept: application/json
                content-type: application/x-www-form-urlencoded
                grant_type=authorization_code
                code=<code>
                client_id=client-1
                client_secret=<client_secret>
                redirect_uri=<callback>/auth/linkedin/oauth2/callback
            userinfo: GET https://api.linkedin.com/v2/userinfo
                authorization: Bearer <access_token>
                accept: application/json
            refresh: POST https://www.linkedin.com/oauth/v2/accessToken
                accept: application/json
                content-type: application/x-www-form-urlencoded
                grant_type=refresh_token
                refresh_token=<refresh_token>
                client_id=client-1
                client_secret=<client_secret>
            revoke: none
            device: none
        "#]]
    )]
);
