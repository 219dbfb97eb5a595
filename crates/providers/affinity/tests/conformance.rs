//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_affinity::PROVIDER,
    snapshots = [(
        "affinity-token",
        keyfob_testkit::expect![[r#"
        key check: GET https://api.affinity.co/v2/auth/whoami
            authorization: Bearer <token>
            accept: */*
    "#]]
    ),]
);
