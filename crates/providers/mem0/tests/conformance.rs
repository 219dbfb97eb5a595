//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_mem0::PROVIDER,
    snapshots = [(
        "mem0-token",
        keyfob_testkit::expect![[r#"
        key check: GET https://api.mem0.ai/v1/ping/
            authorization: Token <token>
            accept: */*
    "#]]
    )]
);
