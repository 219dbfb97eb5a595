//! The conformance kit on this provider.
keyfob_testkit::conformance!(keyfob_provider_exa::PROVIDER);
