//! The conformance kit on this provider, with its OAuth2 requests pinned as its documentation
//! describes them (refresh with `UPDATE_EXPECT=1`, then review the diff).
keyfob_testkit::conformance!(
    keyfob_provider_asana::PROVIDER,
    snapshots = [(
        "asana-oauth2",
        keyfob_testkit::expect![[r#"
            authorize: GET https://app.asana.com/-/oauth_authorize
                response_type=code
                client_id=client-1
                state=<state>
                code_challenge=<challenge>
                code_challenge_method=S256
                redirect_uri=<callback>/auth/asana/oauth2/callback
                scope=projects:read tasks:read users:read workspaces:read
            exchange: POST https://app.asana.com/-/oauth_token
                accept: application/json
                content-type: application/x-www-form-urlencoded
                grant_type=authorization_code
                code=<code>
                code_verifier=<verifier>
                client_id=client-1
                client_secret=<client_secret>
                redirect_uri=<callback>/auth/asana/oauth2/callback
            userinfo: GET https://app.asana.com/api/1.0/users/me
                authorization: Bearer <access_token>
                accept: application/json
            refresh: POST https://app.asana.com/-/oauth_token
                accept: application/json
                content-type: application/x-www-form-urlencoded
                grant_type=refresh_token
                refresh_token=<refresh_token>
                client_id=client-1
                client_secret=<client_secret>
            revoke: POST https://app.asana.com/-/oauth_revoke
                accept: application/json
                content-type: application/x-www-form-urlencoded
                token=<refresh_token>
                token_type_hint=refresh_token
                client_id=client-1
                client_secret=<client_secret>
            revoke: POST https://app.asana.com/-/oauth_revoke
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
