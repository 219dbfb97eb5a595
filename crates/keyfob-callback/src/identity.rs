//! How a running `keyfob serve` proves to a `keyfob login` that it is this user's keyfob, with
//! this configuration, before `login` sends the user's browser (and a typed key) to it.
//!
//! `serve` draws a random 256-bit key and writes it, with a fingerprint of its configuration and
//! its pid, to `<home>/run/server-<port>.json` (directory 0700, file 0600: only the same user
//! reads it). `GET /health?challenge=<nonce>` answers
//! `HMAC-SHA256(key, "keyfob-server-v1" ‖ nonce ‖ fingerprint)`. `login` reads the file, sends a
//! fresh nonce and compares: a program of another user on the port cannot read the key, a
//! leftover file of a stopped server does not match the program now on the port, and a keyfob of
//! the same user with another configuration answers for another fingerprint.
//!
//! Invariants: the key never leaves the file and the server's memory; a proof is good for one
//! nonce only; nothing here trusts the file's content without checking its owner and mode.

use std::fmt;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// A server's proof key and the fingerprint of the configuration it serves.
#[derive(Clone)]
pub struct Identity {
    key: [u8; 32],
    fingerprint: String,
    pid: u32,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("fingerprint", &self.fingerprint)
            .field("pid", &self.pid)
            .finish_non_exhaustive()
    }
}

/// What `login` learns from the server on a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// This user's keyfob with this configuration.
    Ours,
    /// This user's keyfob, started with another configuration (its pid).
    OtherConfig(u32),
    /// Something else: no identity file for the port, a stale one, or a wrong answer.
    Foreign,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct File {
    key: String,
    fingerprint: String,
    pid: u32,
}

impl Identity {
    /// A fresh key for a server of the configuration `fingerprint`.
    pub fn new(fingerprint: &str) -> Self {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Identity {
            key,
            fingerprint: fingerprint.to_owned(),
            pid: std::process::id(),
        }
    }

    /// The proof for `challenge`.
    pub fn answer(&self, challenge: &str) -> String {
        self.mac(challenge, &self.fingerprint)
    }

    fn mac(&self, challenge: &str, fingerprint: &str) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length");
        for part in [
            b"keyfob-server-v1".as_slice(),
            challenge.as_bytes(),
            fingerprint.as_bytes(),
        ] {
            mac.update(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
            mac.update(part);
        }
        hex::encode(mac.finalize().into_bytes())
    }

    /// Where the identity of the server on `port` lives.
    pub fn path(home: &Path, port: u16) -> PathBuf {
        home.join("run").join(format!("server-{port}.json"))
    }

    /// Writes the identity for `port` (directory 0700, file 0600, replacing an older one).
    ///
    /// # Errors
    /// [`keyfob_core::ErrorKind::Config`] when the file cannot be written.
    pub fn write(&self, home: &Path, port: u16) -> keyfob_core::Result<PathBuf> {
        let path = Self::path(home, port);
        let file = File {
            key: hex::encode(self.key),
            fingerprint: self.fingerprint.clone(),
            pid: self.pid,
        };
        let bytes = serde_json::to_vec(&file).expect("an identity always serializes");
        if let Some(dir) = path.parent() {
            crate::tls::create_private_dir(dir)?;
        }
        crate::tls::write_atomically(&path, &bytes, 0o600)?;
        Ok(path)
    }

    /// Reads the identity for `port`; `None` when there is none, or it is not owned by this
    /// user, open to others, or unreadable.
    pub fn read(home: &Path, port: u16) -> Option<Identity> {
        let path = Self::path(home, port);
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let meta = std::fs::symlink_metadata(&path).ok()?;
            if !meta.is_file()
                || meta.uid() != rustix::process::geteuid().as_raw()
                || meta.mode() & 0o077 != 0
            {
                tracing::warn!(path = %path.display(), "ignoring a server identity file that is not private to this user");
                return None;
            }
        }
        let file: File = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
        let key: [u8; 32] = hex::decode(&file.key).ok()?.try_into().ok()?;
        Some(Identity {
            key,
            fingerprint: file.fingerprint,
            pid: file.pid,
        })
    }

    /// Judges a server's `proof` for `challenge`, from this (file's) identity and the
    /// fingerprint of the caller's own configuration.
    pub fn judge(&self, challenge: &str, proof: &str, ours: &str) -> Verdict {
        use subtle::ConstantTimeEq;
        let expected = self.mac(challenge, &self.fingerprint);
        if !bool::from(expected.as_bytes().ct_eq(proof.as_bytes())) {
            return Verdict::Foreign;
        }
        if self.fingerprint == ours {
            Verdict::Ours
        } else {
            Verdict::OtherConfig(self.pid)
        }
    }
}

/// A fresh challenge: 16 random bytes, hex.
pub fn challenge() -> String {
    let mut nonce = [0u8; 16];
    rand::rng().fill_bytes(&mut nonce);
    hex::encode(nonce)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proofs_bind_the_key_the_challenge_and_the_fingerprint() {
        let server = Identity::new("fp-a");
        let c = challenge();
        let proof = server.answer(&c);
        assert_eq!(server.judge(&c, &proof, "fp-a"), Verdict::Ours);
        assert_eq!(
            server.judge(&c, &proof, "fp-b"),
            Verdict::OtherConfig(std::process::id())
        );
        assert_eq!(server.judge(&challenge(), &proof, "fp-a"), Verdict::Foreign);
        let impostor = Identity::new("fp-a");
        assert_eq!(
            server.judge(&c, &impostor.answer(&c), "fp-a"),
            Verdict::Foreign
        );
    }

    #[test]
    fn the_file_is_private_and_read_back() {
        let home = tempfile::tempdir().unwrap();
        let id = Identity::new("fp");
        let path = id.write(home.path(), 8975).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            let c = challenge();
            let read = Identity::read(home.path(), 8975).unwrap();
            assert_eq!(read.judge(&c, &id.answer(&c), "fp"), Verdict::Ours);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(
                Identity::read(home.path(), 8975).is_none(),
                "0644 is not trusted"
            );
        }
        assert!(Identity::read(home.path(), 1).is_none());
    }
}
