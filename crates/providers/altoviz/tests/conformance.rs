//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_altoviz::PROVIDER,
    snapshots = [(
        "altoviz-token",
        keyfob_testkit::expect![[r#"
        key check: GET https://api.altoviz.com/hello
            x-api-key: <token>
            accept: */*
    "#]]
    ),]
);
