//! HTTPS under Smartcar's real host names, for host mapping
//! (docs/contract/tutorial-flow.md#host-mapping).
//!
//! A browser started with
//! `--host-resolver-rules="MAP connect.smartcar.com:443 127.0.0.1:4443, MAP javascript-sdk.smartcar.com:443 127.0.0.1:4443"`
//! and `--ignore-certificate-errors` sends the unmodified `@smartcar/auth` to the mock: the
//! popup's address bar reads `https://connect.smartcar.com/…` and the redirect page's origin is
//! the real `https://javascript-sdk.smartcar.com`. The same router serves every host, since
//! Connect, auth, the API and the SDK's redirect page share no path.
//!
//! The certificates are made at start-up ([`self_signed`]): an authority for this run and the
//! server certificate it signs; nothing is read from disk. The authority's PEM can be written out
//! (`--tls-cert-out`) so that clients which check certificates (`curl --cacert`,
//! `NODE_EXTRA_CA_CERTS`, `REQUESTS_CA_BUNDLE`) trust it instead of being told to ignore errors;
//! `mock-server hosts` prints the settings per runtime.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::sync::Arc;

use axum::extract::Request;
use axum::response::Response;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tower::Service;

use crate::serving::{self, Limits};

/// Every name the certificate is valid for: the platform's hosts, then this machine.
pub(crate) const HOST_NAMES: &[&str] = &[
    "api.smartcar.com",
    "auth.smartcar.com",
    "connect.smartcar.com",
    "management.smartcar.com",
    "vehicle.api.smartcar.com",
    "javascript-sdk.smartcar.com",
    "localhost",
    "127.0.0.1",
];

/// The platform's host names (what the SDKs and `@smartcar/auth` call), for host mapping.
pub const SMARTCAR_HOSTS: &[&str] = HOST_NAMES.split_at(6).0;

/// The mock's certificates and key, all PEM: a certificate authority made for this run, and the
/// server certificate it signed.
#[derive(Clone)]
pub struct SelfSigned {
    /// What the server sends: its certificate, then the authority's.
    pub cert_pem: String,
    /// The server certificate's private key.
    pub key_pem: String,
    /// The authority alone: what a client trusts (`--tls-cert-out` writes it).
    pub ca_pem: String,
}

impl std::fmt::Debug for SelfSigned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelfSigned")
            .field("cert_pem", &self.cert_pem)
            .field("ca_pem", &self.ca_pem)
            .finish_non_exhaustive()
    }
}

/// A fresh authority and a server certificate for `HOST_NAMES` (Smartcar's host names and
/// localhost) signed by it (ECDSA P-256 keys, made with `ring`).
///
/// The usual shape of a local development authority (as mkcert makes them): what a user imports
/// is a CA, which every trust store takes as an authority (`certutil -t C,,`, the system store,
/// Java's keystore), and the server certificate carries the key identifiers strict verifiers
/// (OpenSSL's `X509_STRICT`, which Python 3.13 turns on) look for. It lives 397 days from yesterday:
/// Apple's platforms refuse longer-lived server certificates even from an authority the user trusts.
pub fn self_signed() -> Result<SelfSigned, rcgen::Error> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };

    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Smartcar mock CA (offline, made at start-up)");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate()?;
    let ca = ca_params.self_signed(&ca_key)?;
    let ca_pem = ca.pem();
    let issuer = Issuer::new(ca_params, ca_key);

    let names: Vec<String> = HOST_NAMES.iter().map(|name| (*name).to_owned()).collect();
    let mut params = CertificateParams::new(names)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "Smartcar mock (offline)");
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let now = time::OffsetDateTime::now_utc();
    if let (Some(from), Some(until)) = (
        now.checked_sub(time::Duration::days(1)),
        now.checked_add(time::Duration::days(397)),
    ) {
        params.not_before = from;
        params.not_after = until;
    }
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;
    Ok(SelfSigned {
        cert_pem: format!("{}{ca_pem}", cert.pem()),
        key_pem: key.serialize_pem(),
        ca_pem,
    })
}

/// Serves `app` over TLS (HTTP/1.1 and HTTP/2) on `listener` with the default
/// [`Limits`] until `shutdown` completes, then waits for open connections to finish their
/// requests. A bad certificate or key is an `InvalidInput` error before anything is accepted.
///
/// `app` is any axum-style service, so a router wrapped in layers (e.g. path normalisation)
/// serves exactly as it does over plain HTTP.
pub async fn serve_tls<S>(
    listener: TcpListener,
    app: S,
    cert_pem: &str,
    key_pem: &str,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let acceptor = acceptor(cert_pem, key_pem)?;
    serving::serve(listener, Some(acceptor), app, Limits::default(), shutdown).await
}

/// The TLS side of a listener for [`serving::serve`]: `cert_pem` (the chain, leaf first) and its
/// `key_pem`. A bad certificate or key is an `InvalidInput` error.
pub(crate) fn acceptor(cert_pem: &str, key_pem: &str) -> io::Result<TlsAcceptor> {
    Ok(TlsAcceptor::from(Arc::new(server_config(cert_pem, key_pem)?)))
}

/// rustls with the `ring` provider, offering HTTP/2 and HTTP/1.1 by ALPN.
fn server_config(cert_pem: &str, key_pem: &str) -> io::Result<ServerConfig> {
    let invalid = |what: &str, error: &dyn std::fmt::Display| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("{what}: {error}"))
    };
    let certs = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| invalid("the TLS certificate is not PEM", &error))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|error| invalid("the TLS private key is not PEM", &error))?;
    let mut config = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|error| invalid("the TLS protocol versions", &error))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|error| invalid("the TLS certificate and key do not fit", &error))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::TlsConnector;
    use tokio_rustls::rustls::ClientConfig;
    use tokio_rustls::rustls::pki_types::ServerName;

    use super::*;

    /// A client that trusts only `cert_pem`, as `curl --cacert` would after `--tls-cert-out`.
    fn client_trusting(cert_pem: &str) -> TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(cert_pem.as_bytes()) {
            roots
                .add(cert.expect("a PEM certificate"))
                .expect("a usable trust anchor");
        }
        let config = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("default versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        TlsConnector::from(Arc::new(config))
    }

    #[tokio::test]
    async fn every_smartcar_host_name_is_served_with_a_certificate_a_client_can_trust() {
        let certificate = self_signed().expect("a certificate");
        let connector = client_trusting(&certificate.ca_pem);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let addr = listener.local_addr().expect("an address");
        let app = Router::new().route("/hello", get(|| async { "hello over TLS" }));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            serve_tls(listener, app, &certificate.cert_pem, &certificate.key_pem, async {
                let _ = stopped.await;
            })
            .await
        });

        for host in HOST_NAMES {
            let tcp = tokio::net::TcpStream::connect(addr).await.expect("connects");
            let name = ServerName::try_from(*host).expect("a server name").to_owned();
            let mut tls = connector
                .connect(name, tcp)
                .await
                .unwrap_or_else(|error| panic!("{host}: {error}"));
            tls.write_all(format!("GET /hello HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes())
                .await
                .expect("a request is written");
            let mut response = String::new();
            tls.read_to_string(&mut response).await.expect("a response");

            assert!(response.starts_with("HTTP/1.1 200"), "{host}: {response}");
            assert!(response.ends_with("hello over TLS"), "{host}: {response}");
        }

        stop.send(()).expect("the server is running");
        server.await.expect("no panic").expect("a clean shutdown");
    }

    #[tokio::test]
    async fn a_key_that_is_not_pem_is_refused_before_serving() {
        let certificate = self_signed().expect("a certificate");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");

        let error = serve_tls(
            listener,
            Router::new(),
            &certificate.cert_pem,
            "not a key",
            std::future::pending(),
        )
        .await
        .expect_err("refused");

        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    }
}
