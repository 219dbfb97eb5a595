//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_tavily::PROVIDER,
    snapshots = [(
        "tavily-token",
        keyfob_testkit::expect![[r#"
        key check: GET https://api.tavily.com/usage
            authorization: Bearer <token>
            accept: */*
    "#]]
    ),]
);
