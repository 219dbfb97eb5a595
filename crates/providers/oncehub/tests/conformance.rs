//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_oncehub::PROVIDER,
    snapshots = [(
        "oncehub-token",
        keyfob_testkit::expect![[r#"
        key check: GET https://api.oncehub.com/v2/test
            api-key: <token>
            accept: */*
    "#]]
    ),]
);
