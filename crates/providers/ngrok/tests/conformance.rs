//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_ngrok::PROVIDER,
    snapshots = [(
        "ngrok-token",
        keyfob_testkit::expect![[r#"
        key check: GET https://api.ngrok.com/api_keys?limit=1
            ngrok-version: 2
            authorization: Bearer <token>
            accept: */*
    "#]]
    ),]
);
