//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_sendgrid::PROVIDER,
    snapshots = [(
        "sendgrid-token",
        keyfob_testkit::expect![[r#"
            key check: GET https://api.sendgrid.com/v3/scopes
                authorization: Bearer <token>
                accept: */*
        "#]]
    ),]
);
