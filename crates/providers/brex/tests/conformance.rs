//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_brex::PROVIDER,
    snapshots = [(
        "brex-token",
        keyfob_testkit::expect![[r#"
        key check: GET https://platform.brexapis.com/v2/users/me
            authorization: Bearer <token>
            accept: */*
    "#]]
    ),]
);
