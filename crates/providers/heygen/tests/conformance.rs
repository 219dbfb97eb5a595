//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_heygen::PROVIDER,
    snapshots = [(
        "heygen-token",
        keyfob_testkit::expect![[r#"
        key check: GET https://api.heygen.com/v1/user/me
            x-api-key: <token>
            accept: */*
    "#]]
    ),]
);
