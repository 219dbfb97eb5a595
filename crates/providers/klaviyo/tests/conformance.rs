//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_klaviyo::PROVIDER,
    snapshots = [(
        "klaviyo-token",
        keyfob_testkit::expect![[r#"
        key check: GET https://a.klaviyo.com/api/accounts
            revision: 2026-10-15
            accept: application/vnd.api+json
            authorization: Klaviyo-API-Key <token>
    "#]]
    ),]
);
