//! The conformance kit on this provider, with its OAuth2 requests pinned as its documentation
//! describes them (refresh with `UPDATE_EXPECT=1`, then review the diff).
keyfob_testkit::conformance!(
    keyfob_provider_google::PROVIDER,
    snapshots = [(
        "google-oauth2",
        keyfob_testkit::expect![[r#"
            authorize: GET https://accounts.google.com/o/oauth2/v2/auth
                response_type=code
                client_id=client-1
                state=<state>
                code_challenge=<challenge>
                code_challenge_method=S256
                redirect_uri=<callback>/auth/google/oauth2/callback
                scope=email openid profile
                include_granted_scopes=true
                access_type=offline
                prompt=consent
            exchange: POST https://oauth2.googleapis.com/token
                accept: application/json
                content-type: application/x-www-form-urlencoded
                grant_type=authorization_code
                code=<code>
                code_verifier=<verifier>
                client_id=client-1
                client_secret=<client_secret>
                redirect_uri=<callback>/auth/google/oauth2/callback
            userinfo: GET https://openidconnect.googleapis.com/v1/userinfo
                authorization: Bearer <access_token>
                accept: application/json
            refresh: POST https://oauth2.googleapis.com/token
                accept: application/json
                content-type: application/x-www-form-urlencoded
                grant_type=refresh_token
                refresh_token=<refresh_token>
                client_id=client-1
                client_secret=<client_secret>
            revoke: POST https://oauth2.googleapis.com/revoke
                accept: application/json
                content-type: application/x-www-form-urlencoded
                token=<refresh_token>
                token_type_hint=refresh_token
                client_id=client-1
                client_secret=<client_secret>
            revoke: POST https://oauth2.googleapis.com/revoke
                accept: application/json
                content-type: application/x-www-form-urlencoded
                token=<access_token>
                token_type_hint=access_token
                client_id=client-1
                client_secret=<client_secret>
            device: POST https://oauth2.googleapis.com/device/code
                accept: application/json
                content-type: application/x-www-form-urlencoded
                scope=email openid profile
                client_id=client-1
                client_secret=<client_secret>
            device token: POST https://oauth2.googleapis.com/token
                accept: application/json
                content-type: application/x-www-form-urlencoded
                grant_type=urn:ietf:params:oauth:grant-type:device_code
                device_code=<device_code>
                client_id=client-1
                client_secret=<client_secret>
            userinfo: GET https://openidconnect.googleapis.com/v1/userinfo
                authorization: Bearer <access_token>
                accept: application/json
        "#]]
    )]
);
