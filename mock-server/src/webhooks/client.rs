//! The HTTP client deliveries go out on: plain HTTP, or HTTPS by rustls with the `ring` provider,
//! trusting this machine's root certificates plus those of `--ca-cert` (a local receiver's CA, or
//! a self-signed receiver's own certificate).
//!
//! The rustls configuration is handed to reqwest ready-made rather than left to reqwest's
//! platform verifier, because that verifier refuses to build on a machine with no system
//! certificates (a slim container): the mock must still start there and deliver over HTTP, and
//! an HTTPS delivery then fails with the certificate error in the delivery log.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

/// Extra trust anchors, read from a PEM file (`--ca-cert FILE`): the mock's webhook client and
/// the demo backend's platform client both take them.
#[derive(Clone, PartialEq, Eq)]
pub struct CaCert {
    path: PathBuf,
    certificates: Vec<CertificateDer<'static>>,
}

impl fmt::Debug for CaCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaCert")
            .field("path", &self.path)
            .field("certificates", &self.certificates.len())
            .finish()
    }
}

impl CaCert {
    /// Every certificate of the PEM file at `path`. The error names the file and what is wrong.
    pub fn read(path: &Path) -> Result<CaCert, String> {
        let pem = std::fs::read(path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        CaCert::from_pem(&pem, path)
    }

    /// Every certificate of `pem`, which came from `path` (named in errors). Other PEM sections
    /// (a private key beside the certificate) are skipped.
    pub fn from_pem(pem: &[u8], path: &Path) -> Result<CaCert, String> {
        let certificates = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| format!("{} is not PEM: {error}", path.display()))?;
        if certificates.is_empty() {
            return Err(format!(
                "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            ));
        }
        for (n, certificate) in certificates.iter().enumerate() {
            // What the client will do with it later, done now so a bad file fails at start-up.
            RootCertStore::empty().add(certificate.clone()).map_err(|error| {
                format!(
                    "certificate {} of {} cannot be trusted as a CA: {error}",
                    n.saturating_add(1),
                    path.display()
                )
            })?;
        }
        Ok(CaCert {
            path: path.to_owned(),
            certificates,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn certificates(&self) -> &[CertificateDer<'static>] {
        &self.certificates
    }
}

/// For clap: `--ca-cert FILE` read and checked while the command line is parsed.
pub fn parse_ca_cert(path: &str) -> Result<CaCert, String> {
    CaCert::read(Path::new(path))
}

/// Makes `ring` the process's rustls provider unless one is installed. reqwest is built without
/// a provider of its own (`rustls-no-provider`, to keep aws-lc out), so a plain
/// `reqwest::Client::builder().build()` panics in a process where nothing has done this;
/// building a [`super::Webhooks`] does it, and so must a program that builds a client first.
pub fn install_crypto_provider() {
    // `Err` means some provider is installed already, which is all that is needed.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The system's root certificates, read once per process (a few hundred files' worth of
/// parsing). Unreadable or missing ones leave the store short, not the mock down.
static SYSTEM_ROOTS: LazyLock<RootCertStore> = LazyLock::new(|| {
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::debug!(%error, "a system root certificate could not be loaded");
    }
    let mut roots = RootCertStore::empty();
    let (_, ignored) = roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        tracing::warn!("no system root certificates were found: HTTPS deliveries will trust only --ca-cert");
    } else if ignored > 0 {
        tracing::debug!(ignored, "some system root certificates are unusable");
    }
    roots
});

/// rustls with `ring`, trusting the system's roots and `ca`'s certificates, speaking HTTP/1.1.
pub fn tls_config(ca: Option<&CaCert>) -> Result<ClientConfig, rustls::Error> {
    let mut roots = SYSTEM_ROOTS.clone();
    for certificate in ca.into_iter().flat_map(|ca| ca.certificates.iter()) {
        roots.add(certificate.clone())?;
    }
    let mut config = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Why the delivery client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the webhook client's TLS settings")]
    Tls(#[from] rustls::Error),
    #[error("building the webhook client")]
    Http(#[from] reqwest::Error),
}

/// The client every delivery of one [`super::Webhooks`] shares: no proxy from the environment
/// (receivers are usually local), no redirects (a 3xx is a failed attempt, as on Smartcar).
pub(crate) fn build(ca: Option<&CaCert>) -> Result<reqwest::Client, ClientError> {
    install_crypto_provider();
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config(ca)?)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem_of_a_fresh_certificate() -> String {
        crate::tls::self_signed().expect("a certificate").ca_pem
    }

    #[test]
    fn a_pem_certificate_is_read_with_its_path() {
        let pem = pem_of_a_fresh_certificate();

        let ca = CaCert::from_pem(pem.as_bytes(), Path::new("/tmp/receiver.pem")).expect("a CA");

        assert_eq!(ca.path(), Path::new("/tmp/receiver.pem"));
        assert_eq!(ca.certificates.len(), 1, "the authority --tls-cert-out writes");
    }

    #[test]
    fn a_missing_file_is_named_in_the_error() {
        let error = parse_ca_cert("/no/such/dir/ca.pem").expect_err("no file");

        assert!(error.starts_with("cannot read /no/such/dir/ca.pem:"), "{error}");
    }

    #[test]
    fn a_file_without_a_certificate_says_so() {
        let key = crate::tls::self_signed().expect("a certificate").key_pem;

        for text in ["", "hello", key.as_str()] {
            let error = CaCert::from_pem(text.as_bytes(), Path::new("ca.pem")).expect_err("no certificate");

            assert_eq!(
                error, "ca.pem holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_certificate_that_is_not_x509_is_refused_with_the_file_name() {
        let pem = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";

        let error = CaCert::from_pem(pem.as_bytes(), Path::new("ca.pem")).expect_err("not X.509");

        assert!(
            error.starts_with("certificate 1 of ca.pem cannot be trusted as a CA"),
            "{error}"
        );
    }

    #[test]
    fn the_client_builds_with_and_without_an_extra_ca() {
        let ca = CaCert::from_pem(pem_of_a_fresh_certificate().as_bytes(), Path::new("ca.pem")).expect("a CA");

        assert!(build(None).is_ok());
        assert!(build(Some(&ca)).is_ok());
    }
}
