//! The conformance kit on this provider. The snapshot pins the key check's request: fill it
//! with `UPDATE_EXPECT=1 cargo test -p keyfob-provider-beta-ext` and check every line
//! against the provider's documentation.
keyfob_testkit::conformance!(
    keyfob_provider_beta_ext::PROVIDER,
    snapshots = [("beta-ext-token", keyfob_testkit::expect![[""]])]
);
