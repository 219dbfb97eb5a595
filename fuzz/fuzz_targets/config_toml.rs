//! The config loader, `keyfob_core::Config::from_toml`, on arbitrary text: a config or a clean
//! error, never a panic. What parses is then read the way the engine reads it.
#![no_main]

use keyfob_core::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = Config::from_toml(text) else {
        return;
    };
    // Parsing validated it; validating again must agree.
    config.validate().expect("a loaded config validates");
    let _ = format!("{config:?}");
    for id in config.auth.keys().chain(config.providers.keys()) {
        let p = config.provider(id);
        let _ = format!("{p:?}");
    }
    let _ = config.home();
});
