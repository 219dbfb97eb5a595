//! The facade built with `github` on and the real provider `stripe` off (this crate's
//! dev-dependency, which trybuild's project copies): naming stripe fails to compile, through
//! `#[keyfob::tool(auth_provider = "stripe")]` and through the typed handle
//! `keyfob::providers::stripe::PROVIDER`, while the same code naming github compiles, so the
//! failures come from the feature alone (with `stripe` on, the `disabled_*` cases would compile
//! and this test would fail). An id that no crate has fails the same way.

#[test]
fn a_disabled_or_unknown_provider_does_not_compile() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/enabled_*.rs");
    t.compile_fail("tests/ui/disabled_*.rs");
    t.compile_fail("tests/ui/unknown_*.rs");
}
