//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_dailybot::PROVIDER,
    snapshots = [(
        "dailybot-token",
        keyfob_testkit::expect![[r#"
        key check: GET https://api.dailybot.com/v1/me/
            accept: application/json
            x-api-key: <token>
    "#]]
    ),]
);
