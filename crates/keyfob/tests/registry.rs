//! The registry holds exactly the providers whose features are on: no crate is silently
//! unlinked, none is registered twice, and every spec is valid.

use keyfob::providers::{ENABLED, KNOWN};
use keyfob::registry;

#[test]
fn registry_equals_enabled_features() {
    let registered: Vec<&str> = registry::all().iter().map(|p| p.id).collect();
    let enabled: Vec<&str> = ENABLED.iter().map(|p| p.id).collect();
    let by_feature: Vec<&str> = KNOWN
        .iter()
        .copied()
        .filter(|id| match *id {
            "github" => cfg!(feature = "github"),
            "notion" => cfg!(feature = "notion"),
            "slack" => cfg!(feature = "slack"),
            other => panic!("provider {other} has no feature check here; run cargo xtask codegen"),
        })
        .collect();
    assert_eq!(
        registered, enabled,
        "inventory registrations differ from the facade's link list"
    );
    assert_eq!(
        enabled, by_feature,
        "the link list differs from the enabled features"
    );
}

#[test]
fn ids_unique_and_specs_valid() {
    let all = registry::all();
    let mut ids: Vec<_> = all.iter().map(|p| p.id).collect();
    ids.dedup();
    assert_eq!(ids.len(), all.len(), "duplicate provider ids");
    for p in all {
        if let Err(problems) = keyfob::spec::validate(p) {
            panic!("provider {} is invalid: {problems:?}", p.id);
        }
    }
}

#[test]
fn disabled_or_unknown_providers_say_what_to_do() {
    let engine = keyfob::builder().build().unwrap();
    let e = engine.catalog().provider("nosuch").unwrap_err();
    assert_eq!(e.kind(), keyfob::ErrorKind::UnknownProvider);
    assert!(e.to_string().contains("enabled providers:"), "{e}");
    for id in KNOWN {
        if registry::get(id).is_none() {
            let e = engine.catalog().provider(id).unwrap_err();
            assert!(
                e.to_string().contains(&format!("Cargo feature `{id}`")),
                "{e}"
            );
        }
    }
}
