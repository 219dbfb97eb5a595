//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_clickup::PROVIDER,
    snapshots = [(
        "clickup-token",
        keyfob_testkit::expect![[r#"
        key check: GET https://api.clickup.com/api/v2/user
            authorization: <token>
            accept: */*
    "#]]
    ),]
);
