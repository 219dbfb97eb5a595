//! The conformance kit on this provider.
keyfob_testkit::conformance!(
    keyfob_provider_stripe::PROVIDER,
    snapshots = [(
        "stripe-token",
        keyfob_testkit::expect![[r#"
        key check: GET https://api.stripe.com/v1/balance
            authorization: Bearer <token>
            accept: */*
    "#]]
    ),]
);
