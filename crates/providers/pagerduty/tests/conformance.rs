//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_pagerduty::PROVIDER,
    snapshots = [(
        "pagerduty-token",
        keyfob_testkit::expect![[r#"
        key check: GET https://api.pagerduty.com/abilities
            accept: application/vnd.pagerduty+json;version=2
            authorization: Token token=<token>
    "#]]
    ),]
);
