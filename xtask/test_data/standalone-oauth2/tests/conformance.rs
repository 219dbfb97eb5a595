//! The conformance kit on this provider. The snapshot pins the authorize URL and the token
//! requests: fill it with `UPDATE_EXPECT=1 cargo test -p keyfob-provider-acme-ext` and
//! check every line against the provider's documentation.
keyfob_testkit::conformance!(
    keyfob_provider_acme_ext::PROVIDER,
    snapshots = [("acme-ext-oauth2", keyfob_testkit::expect![[""]])]
);
