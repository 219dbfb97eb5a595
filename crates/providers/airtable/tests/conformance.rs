//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_airtable::PROVIDER,
    snapshots = [(
        "airtable-token",
        keyfob_testkit::expect![[r#"
        key check: GET https://api.airtable.com/v0/meta/whoami
            authorization: Bearer <token>
            accept: */*
    "#]]
    ),]
);
