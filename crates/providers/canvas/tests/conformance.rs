//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_canvas::PROVIDER,
    snapshots = [(
        "canvas-token",
        keyfob_testkit::expect![[r#"
        key check: GET {base_url}/api/v1/users/self
            authorization: Bearer <token>
            accept: */*
    "#]]
    ),]
);
