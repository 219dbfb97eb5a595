//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_neon::PROVIDER,
    snapshots = [(
        "neon-token",
        keyfob_testkit::expect![[r#"
        key check: GET https://console.neon.tech/api/v2/users/me
            accept: application/json
            authorization: Bearer <token>
    "#]]
    ),]
);
