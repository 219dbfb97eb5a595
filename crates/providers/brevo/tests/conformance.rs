//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_brevo::PROVIDER,
    snapshots = [(
        "brevo-token",
        keyfob_testkit::expect![[r#"
        key check: GET https://api.brevo.com/v3/account
            api-key: <token>
            accept: */*
    "#]]
    ),]
);
