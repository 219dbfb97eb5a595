//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_zinc::PROVIDER,
    snapshots = [(
        "zinc-token",
        keyfob_testkit::expect![[r#"
        key check: GET https://api.zinc.com/orders
            authorization: Bearer <token>
            accept: */*
    "#]]
    ),]
);
