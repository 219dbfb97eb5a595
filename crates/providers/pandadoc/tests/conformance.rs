//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_pandadoc::PROVIDER,
    snapshots = [(
        "pandadoc-token",
        keyfob_testkit::expect![[r#"
        key check: GET https://api.pandadoc.com/public/v1/members/current
            authorization: API-Key <token>
            accept: */*
    "#]]
    ),]
);
