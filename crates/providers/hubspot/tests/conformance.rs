//! The conformance kit on this provider, with its OAuth2 requests pinned as its documentation
//! describes them (refresh with `UPDATE_EXPECT=1`, then review the diff).
keyfob_testkit::conformance!(
    keyfob_provider_hubspot::PROVIDER,
    snapshots = [
        (
            "hubspot-oauth2",
            keyfob_testkit::expect![[r#"
                authorize: GET https://app.hubspot.com/oauth/authorize
                    response_type=code
                    client_id=client-1
                    state=<state>
                    code_challenge=<challenge>
                    code_challenge_method=S256
                    redirect_uri=<callback>/auth/hubspot/oauth2/callback
                    scope=oauth
                exchange: POST https://api.hubapi.com/oauth/v3/token
                    accept: application/json
                    content-type: application/x-www-form-urlencoded
                    grant_type=authorization_code
                    code=<code>
                    code_verifier=<verifier>
                    client_id=client-1
                    client_secret=<client_secret>
                    redirect_uri=<callback>/auth/hubspot/oauth2/callback
                refresh: POST https://api.hubapi.com/oauth/v3/token
                    accept: application/json
                    content-type: application/x-www-form-urlencoded
                    grant_type=refresh_token
                    refresh_token=<refresh_token>
                    client_id=client-1
                    client_secret=<client_secret>
                revoke: none
                device: none
            "#]]
        ),
        (
            "hubspot-token",
            keyfob_testkit::expect![[r#"
            key check: GET https://api.hubapi.com/integrations/v1/me
                authorization: Bearer <token>
                accept: */*
        "#]]
        ),
    ]
);
