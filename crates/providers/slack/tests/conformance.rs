//! The conformance kit on this provider, with its OAuth2 requests pinned as its documentation
//! describes them (refresh with `UPDATE_EXPECT=1`, then review the diff).
keyfob_testkit::conformance!(
    keyfob_provider_slack::PROVIDER,
    snapshots = [
        (
            "slack-oauth2",
            keyfob_testkit::expect![[r#"
                authorize: GET https://slack.com/oauth/v2/authorize
                    response_type=code
                    client_id=client-1
                    state=<state>
                    redirect_uri=<callback>/auth/slack/oauth2/callback
                    user_scope=channels:history,channels:read,chat:write,groups:history,groups:read,im:history,mpim:history,reactions:read,reactions:write
                exchange: POST https://slack.com/api/oauth.v2.access
                    accept: application/json
                    content-type: application/x-www-form-urlencoded
                    authorization: Basic base64(client-1:<client_secret>)
                    grant_type=authorization_code
                    code=<code>
                    redirect_uri=<callback>/auth/slack/oauth2/callback
                userinfo: GET https://slack.com/api/auth.test
                    authorization: Bearer <access_token>
                    accept: application/json
                refresh: POST https://slack.com/api/oauth.v2.access
                    accept: application/json
                    content-type: application/x-www-form-urlencoded
                    authorization: Basic base64(client-1:<client_secret>)
                    grant_type=refresh_token
                    refresh_token=<refresh_token>
                revoke: POST https://slack.com/api/auth.revoke
                    authorization: Bearer <access_token>
                    accept: application/json
                device: none
            "#]]
        ),
        (
            "slack-token",
            keyfob_testkit::expect![[r#"
            key check: POST https://slack.com/api/auth.test
                authorization: Bearer <token>
                accept: */*
        "#]]
        ),
    ]
);
