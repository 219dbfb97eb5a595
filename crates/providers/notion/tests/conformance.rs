//! The conformance kit on this provider, with its OAuth2 requests pinned as its documentation
//! describes them (refresh with `UPDATE_EXPECT=1`, then review the diff).
keyfob_testkit::conformance!(
    keyfob_provider_notion::PROVIDER,
    snapshots = [
        (
            "notion-oauth2",
            keyfob_testkit::expect![[r#"
                authorize: GET https://api.notion.com/v1/oauth/authorize
                    response_type=code
                    client_id=client-1
                    state=<state>
                    redirect_uri=<callback>/auth/notion/oauth2/callback
                    owner=user
                exchange: POST https://api.notion.com/v1/oauth/token
                    accept: application/json
                    authorization: Basic base64(client-1:<client_secret>)
                    content-type: application/json
                    code=<code>
                    grant_type=authorization_code
                    redirect_uri=<callback>/auth/notion/oauth2/callback
                refresh: POST https://api.notion.com/v1/oauth/token
                    accept: application/json
                    authorization: Basic base64(client-1:<client_secret>)
                    content-type: application/json
                    grant_type=refresh_token
                    refresh_token=<refresh_token>
                revoke: POST https://api.notion.com/v1/oauth/revoke
                    content-type: application/json
                    authorization: Basic base64(client-1:<client_secret>)
                    notion-version: 2025-09-03
                    accept: application/json
                    token=<access_token>
                device: none
            "#]]
        ),
        (
            "notion-token",
            keyfob_testkit::expect![[r#"
            key check: GET https://api.notion.com/v1/users/me
                notion-version: 2022-06-28
                authorization: Bearer <token>
                accept: */*
        "#]]
        ),
    ]
);
