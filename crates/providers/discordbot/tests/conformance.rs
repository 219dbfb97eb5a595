//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_discordbot::PROVIDER,
    snapshots = [(
        "discordbot-token",
        keyfob_testkit::expect![[r#"
        key check: GET https://discord.com/api/v10/users/@me
            authorization: Bot <token>
            accept: */*
    "#]]
    ),]
);
