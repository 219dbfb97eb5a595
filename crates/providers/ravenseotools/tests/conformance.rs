//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_ravenseotools::PROVIDER,
    snapshots = [(
        "ravenseotools-token",
        keyfob_testkit::expect![[r#"
        key check: GET https://api.raventools.com/api?method=profile_info&format=json&key=<token>
            accept: */*
    "#]]
    ),]
);
