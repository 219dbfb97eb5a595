//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_happyrobot::PROVIDER,
    snapshots = [(
        "happyrobot-token",
        keyfob_testkit::expect![[r#"
        key check: GET https://platform.happyrobot.ai/api/v2/api-key/describe
            authorization: Bearer <token>
            accept: */*
    "#]]
    ),]
);
