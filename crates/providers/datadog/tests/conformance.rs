//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_datadog::PROVIDER,
    snapshots = [(
        "datadog-token",
        keyfob_testkit::expect![[r#"
            key check: GET https://api.datadoghq.com/api/v1/validate
                dd-api-key: <token>
                accept: */*
        "#]]
    ),]
);
