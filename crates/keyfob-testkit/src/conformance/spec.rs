//! The checks on the spec itself: it is valid, and it is the one registered under its id.
//!
//! Invariants:
//! - An invalid spec fails with every problem `keyfob_core::spec::validate` found, not the first.
//! - An empty registry fails loudly (the provider crate registered nothing), and the registered
//!   provider must be this very `static`, not another with the same id.

use keyfob_core::spec::Provider;

/// The spec passes [`keyfob_core::spec::validate`].
pub fn spec_is_valid(provider: &'static Provider) {
    if let Err(problems) = keyfob_core::spec::validate(provider) {
        panic!(
            "provider `{}` has an invalid spec:\n- {}",
            provider.id,
            problems.join("\n- ")
        );
    }
}

/// The provider is in the registry (its crate is linked and registered), exactly once.
pub fn is_registered(provider: &'static Provider) {
    let all = keyfob_core::registry::all();
    assert!(
        !all.is_empty(),
        "the registry is empty: the provider crate registered nothing"
    );
    let found: Vec<_> = all.iter().filter(|p| p.id == provider.id).collect();
    assert_eq!(
        found.len(),
        1,
        "provider `{}` must be registered exactly once",
        provider.id
    );
    assert!(
        std::ptr::eq(*found[0], provider),
        "the registered `{}` is not this PROVIDER",
        provider.id
    );
}
