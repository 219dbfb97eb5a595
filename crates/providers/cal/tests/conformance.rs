//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_cal::PROVIDER,
    snapshots = [(
        "cal-token",
        keyfob_testkit::expect![[r#"
        key check: GET https://api.cal.com/v2/me
            authorization: Bearer <token>
            accept: */*
    "#]]
    ),]
);
