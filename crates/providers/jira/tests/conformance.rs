//! The conformance kit on this provider, with its OAuth2 requests pinned as its documentation
//! describes them (refresh with `UPDATE_EXPECT=1`, then review the diff).
keyfob_testkit::conformance!(
    keyfob_provider_jira::PROVIDER,
    snapshots = [(
        "jira-oauth2",
        keyfob_testkit::expect![[r#"
            authorize: GET https://auth.atlassian.com/authorize
                response_type=code
                client_id=client-1
                state=<state>
                redirect_uri=<callback>/auth/jira/oauth2/callback
                scope=offline_access read:jira-user read:jira-work read:me
                audience=api.atlassian.com
                prompt=consent
            exchange: POST https://auth.atlassian.com/oauth/token
                accept: application/json
                content-type: application/json
                client_id=client-1
                client_secret=<client_secret>
                code=<code>
                grant_type=authorization_code
                redirect_uri=<callback>/auth/jira/oauth2/callback
            userinfo: GET https://api.atlassian.com/me
                authorization: Bearer <access_token>
                accept: application/json
            refresh: POST https://auth.atlassian.com/oauth/token
                accept: application/json
                content-type: application/json
                client_id=client-1
                client_secret=<client_secret>
                grant_type=refresh_token
                refresh_token=<refresh_token>
            revoke: none
            device: none
        "#]]
    )]
);
