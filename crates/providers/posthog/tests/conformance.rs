//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_posthog::PROVIDER,
    snapshots = [(
        "posthog-token",
        keyfob_testkit::expect![[r#"
        key check: GET {base_url}/api/users/@me/
            authorization: Bearer <token>
            accept: */*
    "#]]
    ),]
);
