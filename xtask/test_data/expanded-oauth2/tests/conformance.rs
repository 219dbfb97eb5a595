//! The conformance kit on this provider. The snapshot pins the authorize URL and the token
//! requests: fill it with `UPDATE_EXPECT=1 cargo test -p keyfob-provider-zeta-cloud` and
//! check every line against the provider's documentation.
keyfob_testkit::conformance!(
    keyfob_provider_zeta_cloud::PROVIDER,
    snapshots = [("zeta-cloud-oauth2", keyfob_testkit::expect![[""]])]
);
