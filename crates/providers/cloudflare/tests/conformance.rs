//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_cloudflare::PROVIDER,
    snapshots = [(
        "cloudflare-token",
        keyfob_testkit::expect![[r#"
            key check: GET https://api.cloudflare.com/client/v4/user/tokens/verify
                authorization: Bearer <token>
                accept: */*
            key check (cfat_…): GET https://api.cloudflare.com/client/v4/accounts/{account_id}/tokens/verify
                authorization: Bearer cfat_<token>
                accept: */*
        "#]]
    ),]
);
