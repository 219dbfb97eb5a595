//! The conformance kit on this provider.
keyfob_testkit::conformance!(keyfob_provider_zeta_cloud::PROVIDER);
