//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_lever::PROVIDER,
    snapshots = [(
        "lever-token",
        keyfob_testkit::expect![[r#"
            key check: GET https://api.lever.co/v1/users?limit=1
                authorization: Basic base64(<token>:)
                accept: */*
        "#]]
    ),]
);
