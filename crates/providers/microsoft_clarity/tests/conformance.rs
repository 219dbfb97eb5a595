//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_microsoft_clarity::PROVIDER,
    snapshots = [(
        "microsoft-clarity-token",
        keyfob_testkit::expect![[r#"
        key check: GET https://www.clarity.ms/export-data/api/v1/project-live-insights?numOfDays=1
            authorization: Bearer <token>
            accept: */*
    "#]]
    ),]
);
