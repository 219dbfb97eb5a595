//! TLS to PostgreSQL, on rustls (ring) like keyfob's other TLS connections.
//!
//! The url decides: `sslmode=require` connects over TLS or not at all. libpq's `verify-ca` and
//! `verify-full` are read as `require`, since keyfob always checks the server's certificate
//! (against the system's roots or `[store] tls_ca`) and its host name, which libpq's `require`
//! does not. Without `sslmode`, or with `disable` or `prefer`, the connection is plain, as
//! before (keyfob never falls back from TLS to plain text once TLS was asked for).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use keyfob_core::{Error, ErrorKind, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// The TLS files of a PostgreSQL connection (`[store] tls_ca`, `tls_cert`, `tls_key`): none
/// means the system's roots and no client certificate.
#[derive(Clone, Debug, Default)]
pub struct Tls {
    /// A CA certificate (PEM) to trust instead of the system's roots.
    pub ca: Option<PathBuf>,
    /// A client certificate (PEM), for servers that ask for one.
    pub cert: Option<PathBuf>,
    /// Its private key (PEM).
    pub key: Option<PathBuf>,
}

/// How connections are made: plain, or TLS with these checks.
#[derive(Clone)]
pub(crate) enum Connector {
    Plain,
    Rustls(MakeRustlsConnect),
}

/// Parses `url`, reading libpq's `sslmode=verify-ca` and `verify-full` as `require`.
pub(crate) fn parse(url: &str) -> Result<tokio_postgres::Config> {
    let url = url
        .replace("sslmode=verify-full", "sslmode=require")
        .replace("sslmode=verify-ca", "sslmode=require");
    url.parse().map_err(|_| {
        Error::new(
            ErrorKind::Config,
            "the PostgreSQL URL does not parse: write it as \
             postgres://user:password@host:port/database[?sslmode=require]",
        )
    })
}

impl Tls {
    /// The connector for `config`: TLS when it asks for `sslmode=require`.
    pub(crate) fn connector(&self, config: &tokio_postgres::Config) -> Result<Connector> {
        let files = self.ca.is_some() || self.cert.is_some() || self.key.is_some();
        if config.get_ssl_mode() != SslMode::Require {
            if files {
                return Err(Error::new(
                    ErrorKind::Config,
                    "[store] tls_ca, tls_cert and tls_key are for a TLS connection: add \
                     sslmode=require to the PostgreSQL url",
                ));
            }
            return Ok(Connector::Plain);
        }
        let mut roots = rustls::RootCertStore::empty();
        match &self.ca {
            Some(ca) => {
                for cert in certificates(ca, "CA certificate ([store] tls_ca)")? {
                    roots.add(cert).map_err(|e| invalid(ca, &e.to_string()))?;
                }
            }
            None => {
                let native = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(native.certs);
                if roots.is_empty() {
                    return Err(Error::new(
                        ErrorKind::Config,
                        "this machine has no CA certificates to check the PostgreSQL server's \
                         with: set [store] tls_ca",
                    ));
                }
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::new(ErrorKind::Config, format!("TLS set-up: {e}")))?
            .with_root_certificates(roots);
        let config = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                let chain = certificates(cert, "client certificate ([store] tls_cert)")?;
                let private = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                    invalid(
                        key,
                        &format!("not a PEM private key ([store] tls_key): {e}"),
                    )
                })?;
                builder
                    .with_client_auth_cert(chain, private)
                    .map_err(|e| invalid(cert, &e.to_string()))?
            }
            (None, None) => builder.with_no_client_auth(),
            _ => {
                return Err(Error::new(
                    ErrorKind::Config,
                    "[store] tls_cert and tls_key go together: set both, or neither",
                ));
            }
        };
        Ok(Connector::Rustls(MakeRustlsConnect::new(config)))
    }
}

/// The PEM certificates of `path`, at least one.
fn certificates(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let read = std::fs::read(path).map_err(|e| {
        Error::new(
            ErrorKind::Config,
            format!("cannot read the {what} {}: {e}", path.display()),
        )
    })?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&read)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| invalid(path, &format!("not a PEM {what}: {e}")))?;
    if certs.is_empty() {
        return Err(invalid(path, &format!("no PEM {what} in it")));
    }
    Ok(certs)
}

fn invalid(path: &Path, why: &str) -> Error {
    Error::new(ErrorKind::Config, format!("{}: {why}", path.display()))
}

/// A hint for a TLS failure's text: which setting fixes it.
pub(crate) fn hint(text: &str) -> &'static str {
    if text.contains("server does not support TLS") {
        " (the server has TLS off: turn on ssl there, or drop sslmode=require from the url)"
    } else if text.contains("CertificateRequired") {
        " (the server wants a client certificate: set [store] tls_cert and tls_key)"
    } else if text.contains("UnknownIssuer") || text.contains("invalid peer certificate") {
        " (the server's certificate is not trusted or names another host: set [store] tls_ca \
         to the CA that signed it, and connect by a name the certificate holds)"
    } else {
        ""
    }
}
