//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_agentql::PROVIDER,
    snapshots = [(
        "agentql-token",
        keyfob_testkit::expect![[r#"
        key check: GET https://api.agentql.com/v1/usage?api_key=<token>
            accept: */*
    "#]]
    ),]
);
