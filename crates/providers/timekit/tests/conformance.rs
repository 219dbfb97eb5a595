//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_timekit::PROVIDER,
    snapshots = [(
        "timekit-token",
        keyfob_testkit::expect![[r#"
        key check: GET https://api.timekit.io/v2/app
            authorization: Basic base64(:<token>)
            accept: */*
    "#]]
    ),]
);
