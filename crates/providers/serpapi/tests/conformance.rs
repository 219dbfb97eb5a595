//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_serpapi::PROVIDER,
    snapshots = [(
        "serpapi-token",
        keyfob_testkit::expect![[r#"
        key check: GET https://serpapi.com/account.json?api_key=<token>
            accept: */*
    "#]]
    ),]
);
