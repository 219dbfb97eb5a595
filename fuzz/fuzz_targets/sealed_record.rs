//! Decryption of stored records: `keyfob_core::crypto::Sealer::open` with a fixed key and AAD,
//! and `keyfob_core::record::decode_session` / `decode_pending`, on arbitrary bytes: a record or
//! a clean error, never a panic.
//!
//! The first byte picks the path: `S`/`P` open the rest as a sealed session/pending record
//! (under the fixed key and the AAD of [`session_key`]) and decode what opens; `s`/`p` decode
//! the rest as plaintext; anything else seals the rest, opens it again (which must give it
//! back) and decodes it both ways. Whatever decodes must encode and decode to the same record.
//!
//! `KEYFOB_FUZZ_SEAL=<file>` makes the target seal each plaintext seed given on its command
//! line into `<file>.sealed` at start-up (how `corpus/sealed_record/sealed-*` were made).
#![no_main]

use keyfob_core::SessionKey;
use keyfob_core::crypto::{Sealer, pending_aad, session_aad};
use keyfob_core::record::{decode_pending, decode_session, encode_pending, encode_session};
use libfuzzer_sys::fuzz_target;

const KEY: [u8; 32] = *b"keyfob-fuzz-fixed-key-32-bytes!!";
const DOMAIN: &[u8] = b"keyfob-fuzz/1";
const EXPIRES: i64 = 1_700_000_000;
const STATE_HASH: &str = "00ff";

fn session_key() -> SessionKey {
    SessionKey::new("github", "thread", "default")
}

fn check_session(plain: &[u8]) {
    if let Ok(s) = decode_session(plain, 7) {
        assert_eq!(s.version, 7);
        let again = decode_session(&encode_session(&s), 7).expect("an encoded session decodes");
        assert_eq!(
            encode_session(&again),
            encode_session(&s),
            "session round trip"
        );
        let _ = format!("{s:?}");
    }
}

fn check_pending(plain: &[u8]) {
    if let Ok(p) = decode_pending(plain) {
        let again = decode_pending(&encode_pending(&p)).expect("an encoded flow decodes");
        assert_eq!(
            encode_pending(&again),
            encode_pending(&p),
            "pending round trip"
        );
        let _ = format!("{p:?}");
    }
}

fn init() {
    let Ok(out) = std::env::var("KEYFOB_FUZZ_SEAL") else {
        return;
    };
    let sealer = Sealer::new(&KEY);
    let key = session_key();
    for arg in std::env::args().skip(1).filter(|a| !a.starts_with('-')) {
        let Ok(bytes) = std::fs::read(&arg) else {
            continue;
        };
        let (tag, aad) = match bytes.first() {
            Some(b's') => (b'S', session_aad(DOMAIN, &key)),
            Some(b'p') => (b'P', pending_aad(DOMAIN, STATE_HASH, &key, EXPIRES)),
            _ => continue,
        };
        let mut sealed = vec![tag];
        sealed.extend(sealer.seal(&aad, &bytes[1..]));
        let name = std::path::Path::new(&arg)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        std::fs::write(format!("{out}/sealed-{name}"), sealed).expect("write sealed seed");
    }
    std::process::exit(0);
}

fuzz_target!(init: init(), |data: &[u8]| {
    let sealer = Sealer::new(&KEY);
    let key = session_key();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode {
        b'S' => {
            if let Ok(plain) = sealer.open(&session_aad(DOMAIN, &key), rest) {
                check_session(&plain);
            }
        }
        b'P' => {
            let aad = pending_aad(DOMAIN, STATE_HASH, &key, EXPIRES);
            if let Ok(plain) = sealer.open(&aad, rest) {
                check_pending(&plain);
            }
        }
        b's' => check_session(rest),
        b'p' => check_pending(rest),
        _ => {
            let aad = session_aad(DOMAIN, &key);
            let sealed = sealer.seal(&aad, rest);
            assert_eq!(sealer.open(&aad, &sealed).expect("opens"), rest);
            // Under any other AAD it must not open.
            assert!(sealer.open(&pending_aad(DOMAIN, STATE_HASH, &key, EXPIRES), &sealed).is_err());
            check_session(rest);
            check_pending(rest);
        }
    }
});
