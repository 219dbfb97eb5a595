//! The conformance kit on this provider, with its OAuth2 requests pinned as its documentation
//! describes them (refresh with `UPDATE_EXPECT=1`, then review the diff).
keyfob_testkit::conformance!(
    keyfob_provider_reddit::PROVIDER,
    snapshots = [(
        "reddit-oauth2",
        keyfob_testkit::expect![[r#"
            authorize: GET https://www.reddit.com/api/v1/authorize
                response_type=code
                client_id=client-1
                state=<state>
                redirect_uri=<callback>/auth/reddit/oauth2/callback
                scope=account identity read
                duration=permanent
            exchange: POST https://www.reddit.com/api/v1/access_token
                accept: application/json
                content-type: application/x-www-form-urlencoded
                authorization: Basic base64(client-1:<client_secret>)
                grant_type=authorization_code
                code=<code>
                redirect_uri=<callback>/auth/reddit/oauth2/callback
            userinfo: GET https://oauth.reddit.com/api/v1/me
                authorization: Bearer <access_token>
                accept: application/json
            refresh: POST https://www.reddit.com/api/v1/access_token
                accept: application/json
                content-type: application/x-www-form-urlencoded
                authorization: Basic base64(client-1:<client_secret>)
                grant_type=refresh_token
                refresh_token=<refresh_token>
            revoke: POST https://www.reddit.com/api/v1/revoke_token
                accept: application/json
                content-type: application/x-www-form-urlencoded
                authorization: Basic base64(client-1:<client_secret>)
                token=<refresh_token>
                token_type_hint=refresh_token
            revoke: POST https://www.reddit.com/api/v1/revoke_token
                accept: application/json
                content-type: application/x-www-form-urlencoded
                authorization: Basic base64(client-1:<client_secret>)
                token=<access_token>
                token_type_hint=access_token
            device: none
        "#]]
    )]
);
