//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_lever_sandbox::PROVIDER,
    snapshots = [(
        "lever-sandbox-token",
        keyfob_testkit::expect![[r#"
        key check: GET https://api.sandbox.lever.co/v1/users?limit=1
            authorization: Basic base64(<token>:)
            accept: */*
    "#]]
    ),]
);
