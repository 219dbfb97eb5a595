//! Certificates for the tests' TLS servers, generated per test with rcgen.

use std::path::PathBuf;

/// Certificates for a TLS server (`redis-server`, PostgreSQL): a CA, the server's (for 127.0.0.1 and localhost) and
/// a client's, all signed by the CA, as PEM files in a temporary directory.
#[derive(Debug)]
pub struct TlsFiles {
    dir: tempfile::TempDir,
}

impl TlsFiles {
    /// Generates them.
    ///
    /// # Panics
    /// When generating or writing fails.
    pub fn generate() -> TlsFiles {
        let dir = tempfile::tempdir().expect("a temp dir for certificates");
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "keyfob test CA");
        let ca_key = rcgen::KeyPair::generate().expect("CA key");
        let ca = rcgen::CertifiedIssuer::self_signed(ca, ca_key).expect("CA");
        let write = |name: &str, pem: String| {
            std::fs::write(dir.path().join(name), pem).expect("write a certificate");
        };
        write("ca.pem", ca.pem());
        for (name, hosts) in [
            (
                "server",
                vec!["127.0.0.1".to_owned(), "localhost".to_owned()],
            ),
            ("client", vec!["keyfob-client".to_owned()]),
        ] {
            let key = rcgen::KeyPair::generate().expect("key");
            let cert = rcgen::CertificateParams::new(hosts)
                .expect("params")
                .signed_by(&key, &ca)
                .expect("sign");
            write(&format!("{name}.pem"), cert.pem());
            write(&format!("{name}-key.pem"), key.serialize_pem());
        }
        TlsFiles { dir }
    }

    /// The path of `name` (`ca.pem`, `server.pem`, `server-key.pem`, `client.pem`,
    /// `client-key.pem`).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Lets a server running as another user (PostgreSQL as `nobody` under root) read them:
    /// the directory open to all, the server's key its own with mode 0600 (PostgreSQL refuses
    /// a key others can read).
    pub(crate) fn share_with(&self, uid: u32, gid: u32) {
        use std::os::unix::fs::PermissionsExt;
        let open = std::fs::Permissions::from_mode(0o755);
        std::fs::set_permissions(self.dir.path(), open).expect("chmod the certificates");
        let key = self.path("server-key.pem");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        if std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").expect("/proc"))
            == 0
        {
            std::os::unix::fs::chown(&key, Some(uid), Some(gid)).expect("chown the server key");
        }
    }
}
