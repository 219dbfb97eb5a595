//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_workiom::PROVIDER,
    snapshots = [(
        "workiom-token",
        keyfob_testkit::expect![[r#"
        key check: GET https://api.workiom.com/api/services/app/Apps/GetAll
            x-api-key: <token>
            accept: */*
    "#]]
    ),]
);
