//! HTTPS under Smartcar's real host names, for host mapping (tutorial-flow.md §1 B, §4).
//!
//! A browser started with
//! `--host-resolver-rules="MAP connect.smartcar.com:443 127.0.0.1:4443, MAP javascript-sdk.smartcar.com:443 127.0.0.1:4443"`
//! and `--ignore-certificate-errors` sends the unmodified `@smartcar/auth` to the mock: the
//! popup's address bar reads `https://connect.smartcar.com/…` and the redirect page's origin is
//! the real `https://javascript-sdk.smartcar.com`. The same router serves every host, since
//! Connect, auth, the API and the SDK's redirect page share no path.
//!
//! The certificate is made at start-up ([`self_signed`]); nothing is read from disk. Its PEM can
//! be written out so that tools which check certificates (`curl --cacert`,
//! `NODE_EXTRA_CA_CERTS`) trust it instead of being told to ignore errors.

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
pub const HOST_NAMES: &[&str] = &[
    "connect.smartcar.com",
    "auth.smartcar.com",
    "api.smartcar.com",
    "vehicle.api.smartcar.com",
    "management.smartcar.com",
    "javascript-sdk.smartcar.com",
    "localhost",
    "127.0.0.1",
];

/// A certificate and its private key, both PEM.
#[derive(Clone)]
pub struct SelfSigned {
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for SelfSigned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelfSigned")
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

/// A fresh self-signed certificate for [`HOST_NAMES`] (an ECDSA P-256 key, made with `ring`).
pub fn self_signed() -> Result<SelfSigned, rcgen::Error> {
    let names: Vec<String> = HOST_NAMES.iter().map(|name| (*name).to_owned()).collect();
    let mut params = rcgen::CertificateParams::new(names)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Smartcar mock (offline)");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok(SelfSigned {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
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
pub fn acceptor(cert_pem: &str, key_pem: &str) -> io::Result<TlsAcceptor> {
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
        let connector = client_trusting(&certificate.cert_pem);
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
