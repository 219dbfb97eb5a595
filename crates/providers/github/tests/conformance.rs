//! The conformance kit on this provider, with its OAuth2 requests pinned as its documentation
//! describes them (refresh with `UPDATE_EXPECT=1`, then review the diff).
keyfob_testkit::conformance!(
    keyfob_provider_github::PROVIDER,
    snapshots = [
        (
            "github-oauth2",
            keyfob_testkit::expect![[r#"
                authorize: GET https://github.com/login/oauth/authorize
                    response_type=code
                    client_id=client-1
                    state=<state>
                    code_challenge=<challenge>
                    code_challenge_method=S256
                    redirect_uri=<callback>/auth/github/oauth2/callback
                    scope=repo
                exchange: POST https://github.com/login/oauth/access_token
                    accept: application/json
                    content-type: application/x-www-form-urlencoded
                    grant_type=authorization_code
                    code=<code>
                    code_verifier=<verifier>
                    client_id=client-1
                    client_secret=<client_secret>
                    redirect_uri=<callback>/auth/github/oauth2/callback
                userinfo: GET https://api.github.com/user
                    authorization: Bearer <access_token>
                    accept: application/json
                refresh: POST https://github.com/login/oauth/access_token
                    accept: application/json
                    content-type: application/x-www-form-urlencoded
                    grant_type=refresh_token
                    refresh_token=<refresh_token>
                    client_id=client-1
                    client_secret=<client_secret>
                revoke: DELETE https://api.github.com/applications/client-1/token
                    authorization: Basic base64(client-1:<client_secret>)
                    content-type: application/json
                    accept: application/json
                    access_token=<access_token>
                device: POST https://github.com/login/device/code
                    accept: application/json
                    content-type: application/x-www-form-urlencoded
                    scope=repo
                    client_id=client-1
                    client_secret=<client_secret>
                device token: POST https://github.com/login/oauth/access_token
                    accept: application/json
                    content-type: application/x-www-form-urlencoded
                    grant_type=urn:ietf:params:oauth:grant-type:device_code
                    device_code=<device_code>
                    client_id=client-1
                    client_secret=<client_secret>
                userinfo: GET https://api.github.com/user
                    authorization: Bearer <access_token>
                    accept: application/json
            "#]]
        ),
        (
            "github-token",
            keyfob_testkit::expect![[r#"
            key check: GET https://api.github.com/user
                authorization: Bearer <token>
                accept: */*
        "#]]
        ),
    ]
);
