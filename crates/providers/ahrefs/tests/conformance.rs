//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_ahrefs::PROVIDER,
    snapshots = [(
        "ahrefs-token",
        keyfob_testkit::expect![[r#"
        key check: GET https://api.ahrefs.com/v3/subscription-info/limits-and-usage
            authorization: Bearer <token>
            accept: */*
    "#]]
    ),]
);
