//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_elevenlabs::PROVIDER,
    snapshots = [(
        "elevenlabs-token",
        keyfob_testkit::expect![[r#"
        key check: GET https://api.elevenlabs.io/v1/user
            xi-api-key: <token>
            accept: */*
    "#]]
    ),]
);
