//! The conformance kit on this provider, with its OAuth2 requests pinned as its documentation
//! describes them (refresh with `UPDATE_EXPECT=1`, then review the diff).
keyfob_testkit::conformance!(
    keyfob_provider_mailchimp::PROVIDER,
    snapshots = [(
        "mailchimp-oauth2",
        keyfob_testkit::expect![[r#"
            authorize: GET https://login.mailchimp.com/oauth2/authorize
                response_type=code
                client_id=client-1
                state=<state>
                redirect_uri=<callback>/auth/mailchimp/oauth2/callback
            exchange: POST https://login.mailchimp.com/oauth2/token
                accept: application/json
                content-type: application/x-www-form-urlencoded
                grant_type=authorization_code
                code=<code>
                client_id=client-1
                client_secret=<client_secret>
                redirect_uri=<callback>/auth/mailchimp/oauth2/callback
            refresh: none
            revoke: none
            device: none
        "#]]
    )]
);
