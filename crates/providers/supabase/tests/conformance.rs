//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_supabase::PROVIDER,
    snapshots = [(
        "supabase-token",
        keyfob_testkit::expect![[r#"
        key check: GET https://api.supabase.com/v1/projects
            authorization: Bearer <token>
            accept: */*
    "#]]
    ),]
);
