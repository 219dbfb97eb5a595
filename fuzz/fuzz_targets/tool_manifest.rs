//! The tool-manifest parser, `keyfob::ToolManifest::from_toml`, on arbitrary text against a
//! catalog (GitHub, Notion, Slack, Basic auth, plus the names of every provider crate): a
//! manifest or a clean error, never a panic.
#![no_main]

use std::sync::OnceLock;

use keyfob::ToolManifest;
use keyfob::registry::Catalog;
use libfuzzer_sys::fuzz_target;

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        std::hint::black_box(keyfob::providers::ENABLED);
        Catalog::compiled(keyfob::providers::KNOWN)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(manifest) = ToolManifest::from_toml(text, catalog()) else {
        return;
    };
    // What a loaded manifest promises: its auth names a provider the catalog has.
    if let Some(auth) = manifest.auth() {
        catalog()
            .provider(&auth.provider)
            .expect("a loaded manifest names a known provider");
    }
    let _ = manifest.into_tool();
});
