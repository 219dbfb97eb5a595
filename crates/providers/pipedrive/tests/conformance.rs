//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_pipedrive::PROVIDER,
    snapshots = [(
        "pipedrive-token",
        keyfob_testkit::expect![[r#"
            key check: GET https://api.pipedrive.com/v1/users/me
                x-api-token: <token>
                accept: */*
        "#]]
    ),]
);
