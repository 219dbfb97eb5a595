//! Encryption at rest: XChaCha20-Poly1305 with a random nonce per record, the record's key as
//! associated data (so a row copied under another key fails to open), and key-file handling.

use std::fmt;
use std::io::Write;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

use crate::error::{Error, ErrorKind, Result};

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;

/// Seals and opens stored records with one 256-bit key.
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer([redacted])")
    }
}

impl Sealer {
    /// A sealer for a raw 32-byte key.
    pub fn new(key: &[u8; 32]) -> Self {
        Sealer {
            cipher: XChaCha20Poly1305::new(key.into()),
        }
    }

    /// A sealer for a key written as base64 (44 characters), as in config or `KEYFOB_STORE__KEY`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when the text is not base64 of 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| bad_key())?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| bad_key())?;
        Ok(Self::new(&key))
    }

    /// A fresh random key, as base64.
    pub fn generate_key() -> String {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        STANDARD.encode(key)
    }

    /// Reads the key file at `path`, creating it with a fresh key (mode 0600) when missing.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when the file cannot be read, created or parsed.
    pub fn from_key_file(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| d.exists()) {
            check_private(dir)?;
        }
        if path.exists() {
            // A key another user planted (or can read) would open everything sealed with it.
            check_private(path)?;
        }
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_base64(&text).map_err(|_| {
                Error::new(
                    ErrorKind::Config,
                    format!(
                        "key file {} does not hold a base64 32-byte key",
                        path.display()
                    ),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate_key();
                match write_private(path, key.as_bytes()) {
                    Ok(()) => {
                        tracing::info!("created a new encryption key file");
                        Self::from_base64(&key)
                    }
                    // Another process created it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Self::from_key_file(path)
                    }
                    Err(e) => Err(Error::new(
                        ErrorKind::Config,
                        format!("cannot create key file {}", path.display()),
                    )
                    .with_source(e)),
                }
            }
            Err(e) => Err(Error::new(
                ErrorKind::Config,
                format!("cannot read key file {}", path.display()),
            )
            .with_source(e)),
        }
    }

    /// Encrypts `plaintext`, binding it to `aad`.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory buffers");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    /// Decrypts a record sealed with the same key and `aad`.
    ///
    /// # Errors
    /// [`ErrorKind::Store`] when the key is wrong or the record is corrupted.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
        if sealed.len() < 1 + NONCE_LEN + 16 || sealed[0] != VERSION {
            return Err(Error::new(
                ErrorKind::Store,
                "a stored record is corrupted (bad header)",
            ));
        }
        let (nonce, ct) = sealed[1..].split_at(NONCE_LEN);
        self.cipher.decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad }).map_err(|_| {
            Error::new(
                ErrorKind::Store,
                "cannot decrypt a stored record: the encryption key is wrong or the record is corrupted",
            )
        })
    }
}

/// Associated data binding a sealed record to where it is stored: `domain` (the store and its
/// format version), then each part with its length, so that no two lists of parts give the same
/// bytes (a `\0` or `/` inside a key cannot shift a boundary).
pub fn aad(domain: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut out = domain.to_vec();
    for part in parts {
        let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(part);
    }
    out
}

/// Associated data of a session record: its key.
pub fn session_aad(domain: &[u8], key: &crate::SessionKey) -> Vec<u8> {
    aad(
        domain,
        &[
            b"session",
            key.provider.as_bytes(),
            key.thread.as_bytes(),
            key.profile.as_bytes(),
        ],
    )
}

/// Associated data of a pending-flow record: its state hash, key and expiry (which stores keep in
/// plaintext too, so that editing it breaks the seal).
pub fn pending_aad(
    domain: &[u8],
    state_hash: &str,
    key: &crate::SessionKey,
    expires_at: i64,
) -> Vec<u8> {
    let expires_at = expires_at.to_be_bytes();
    aad(
        domain,
        &[
            b"pending",
            state_hash.as_bytes(),
            key.provider.as_bytes(),
            key.thread.as_bytes(),
            key.profile.as_bytes(),
            &expires_at,
        ],
    )
}

/// Hex SHA-256 of `text` (fingerprints, never of a secret that is low in entropy).
pub fn sha256_hex(text: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Refuses a file or directory of keyfob's data that another user could have planted or can
/// reach: it must belong to the effective user, a file must be closed to group and others
/// (mode `0600`), a directory must not be writable by them. The error names the fix.
///
/// # Errors
/// [`ErrorKind::Config`] naming the path, its owner or mode, and what to run.
pub fn check_private(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path).map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("cannot read the permissions of {}", path.display()),
            )
            .with_source(e)
        })?;
        let me = rustix::process::geteuid().as_raw();
        if meta.uid() != me {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "{} belongs to another user (uid {}, you are uid {me}); keyfob keeps secrets \
                     there, so it must be yours: remove it, or point KEYFOB_HOME (or [store] \
                     key_file / path) somewhere of your own",
                    path.display(),
                    meta.uid()
                ),
            ));
        }
        let (open, fix) = if meta.is_dir() {
            (meta.mode() & 0o022, "700")
        } else {
            (meta.mode() & 0o077, "600")
        };
        if open != 0 {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "{} is open to other users (mode {:o}); run `chmod {fix} {}`",
                    path.display(),
                    meta.mode() & 0o777,
                    path.display()
                ),
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn bad_key() -> Error {
    Error::new(
        ErrorKind::Config,
        "the encryption key must be base64 of exactly 32 bytes",
    )
}

/// Creates `path` with owner-only permissions holding `bytes`, atomically: the bytes go to a
/// private temporary file that is then hard-linked into place, so a concurrent reader never sees
/// a half-written key. Fails with `AlreadyExists` when another process won the race. Missing
/// directories are created owner-only (0700).
///
/// # Errors
/// The directory or file cannot be created or written.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(dir)?;
    }
    let mut suffix = [0u8; 8];
    rand::rng().fill_bytes(&mut suffix);
    let hex = hex::encode(suffix);
    let tmp = path.with_extension(format!("tmp-{hex}"));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let written = opts.open(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    linked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_failures() {
        let s = Sealer::from_base64(&Sealer::generate_key()).unwrap();
        let sealed = s.seal(b"github/default/default", b"sentinel");
        assert!(!sealed.windows(8).any(|w| w == b"sentinel"));
        assert_eq!(
            s.open(b"github/default/default", &sealed).unwrap(),
            b"sentinel"
        );
        assert_eq!(
            s.open(b"slack/default/default", &sealed)
                .unwrap_err()
                .kind(),
            ErrorKind::Store
        );
        let other = Sealer::from_base64(&Sealer::generate_key()).unwrap();
        assert!(
            other
                .open(b"github/default/default", &sealed)
                .unwrap_err()
                .to_string()
                .contains("key is wrong")
        );
        assert_eq!(
            s.open(b"x", b"garbage").unwrap_err().kind(),
            ErrorKind::Store
        );
        assert_eq!(
            Sealer::from_base64("short").unwrap_err().kind(),
            ErrorKind::Config
        );
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = std::env::temp_dir().join(format!("keyfob-key-{}", std::process::id()));
        let path = dir.join("key");
        let _ = std::fs::remove_dir_all(&dir);
        let a = Sealer::from_key_file(&path).unwrap();
        let b = Sealer::from_key_file(&path).unwrap();
        assert_eq!(b.open(b"k", &a.seal(b"k", b"v")).unwrap(), b"v");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let dir_mode = std::fs::metadata(&dir).unwrap().permissions().mode();
            assert_eq!(dir_mode & 0o777, 0o700, "the data directory is private");
        }
        // Racing first runs agree on one key.
        let racers = std::env::temp_dir().join(format!("keyfob-key-race-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&racers);
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let p = racers.join("key");
                std::thread::spawn(move || Sealer::from_key_file(&p).unwrap())
            })
            .collect();
        let sealers: Vec<Sealer> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let sealed = sealers[0].seal(b"k", b"v");
        assert!(
            sealers.iter().all(|s| s.open(b"k", &sealed).is_ok()),
            "one key for all"
        );
        std::fs::remove_dir_all(&racers).unwrap();
        std::fs::write(&path, "not a key").unwrap();
        assert_eq!(
            Sealer::from_key_file(&path).unwrap_err().kind(),
            ErrorKind::Config
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
