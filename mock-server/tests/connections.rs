//! The listeners under hostile or careless clients: half-sent requests, silent connections,
//! bodies that stop, idle keep-alive, the connection cap, and shutdown with requests in flight —
//! each on the plain listener and on the TLS one. Timeouts are shortened so the tests are quick;
//! every wait is on an event (a close, an answer), with a generous guard that only a failure hits.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use mock_server::MockServer;
use mock_server::net::{ConnectionCap, Limits};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

/// The header-read timeout of these tests.
const HEADER_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a test waits for something that should happen within a timeout or two; only a broken
/// server makes it wait this long.
const GUARD: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy)]
enum Listener {
    Plain,
    Tls,
}

trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// A platform served on port 0 with short timeouts; stopped (gracefully) by [`Served::stop`].
struct Served {
    addr: SocketAddr,
    listener: Listener,
    connector: TlsConnector,
    cap: ConnectionCap,
    server: tokio::sync::Mutex<Option<MockServer>>,
}

fn short_limits(max_connections: usize) -> Limits {
    Limits {
        header_read_timeout: HEADER_TIMEOUT,
        body_read_timeout: HEADER_TIMEOUT,
        connections: ConnectionCap::new(max_connections),
    }
}

impl Served {
    async fn start(listener: Listener, limits: Limits) -> Served {
        let cap = limits.connections.clone();
        let server = MockServer::builder().connection_limits(limits);
        // The TLS test talks to the HTTPS listener only; the plain one beside it stays idle.
        let server = match listener {
            Listener::Plain => server.start().await,
            Listener::Tls => server.tls().start().await,
        };
        let addr = match listener {
            Listener::Plain => server.addr(),
            Listener::Tls => server.tls_addr().expect("an HTTPS listener"),
        };
        Served {
            addr,
            listener,
            connector: trusting(server.ca_pem().unwrap_or_default()),
            cap,
            server: tokio::sync::Mutex::new(Some(server)),
        }
    }

    /// A connection, with the TLS handshake done on the TLS listener.
    async fn connect(&self) -> Pin<Box<dyn Io>> {
        let tcp = TcpStream::connect(self.addr).await.expect("connects");
        match self.listener {
            Listener::Plain => Box::pin(tcp),
            Listener::Tls => {
                let name = ServerName::try_from("api.smartcar.com").expect("a name");
                Box::pin(self.connector.connect(name, tcp).await.expect("a TLS handshake"))
            }
        }
    }

    /// `request` (raw HTTP/1.1, `Connection: close`) and the whole answer.
    async fn exchange(&self, request: &str) -> String {
        let mut io = self.connect().await;
        io.write_all(request.as_bytes()).await.expect("written");
        String::from_utf8_lossy(&until_closed(io).await).into_owned()
    }

    /// A JSON call over HTTP/1.1; its status and body.
    async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let body = body.map(|body| body.to_string()).unwrap_or_default();
        let authorization = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let answer = self
            .exchange(&format!(
                "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{authorization}\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ))
            .await;
        let status = answer
            .get(9..12)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("an HTTP answer: {answer:?}"));
        let json = answer
            .split_once("\r\n\r\n")
            .and_then(|(_, body)| serde_json::from_str(body).ok())
            .unwrap_or(Value::Null);
        (status, json)
    }

    /// Stops the server and waits for it to finish draining.
    async fn stop(&self) {
        let Some(server) = self.server.lock().await.take() else {
            return;
        };
        tokio::time::timeout(GUARD, server.shutdown())
            .await
            .expect("the server drains")
            .expect("a clean shutdown");
    }
}

/// A client that trusts only the server's certificate.
fn trusting(cert_pem: &str) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(cert_pem.as_bytes()) {
        roots.add(cert.expect("a PEM certificate")).expect("a trust anchor");
    }
    let config = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("default versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// Everything the server sends until it closes the connection (a reset counts as a close).
async fn until_closed(mut io: impl AsyncRead + Unpin) -> Vec<u8> {
    let read = async {
        let mut received = Vec::new();
        loop {
            match io.read_buf(&mut received).await {
                Ok(0) | Err(_) => return received,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(GUARD, read)
        .await
        .expect("the server closes the connection")
}

/// Sent by hyper, if anything, when it gives up on a request head.
fn nothing_or_a_timeout_answer(received: &[u8]) -> bool {
    received.is_empty() || received.starts_with(b"HTTP/1.1 408")
}

async fn half_sent_requests_are_closed_by_the_header_timeout(listener: Listener) {
    let served = Served::start(listener, short_limits(1024)).await;
    let mut clients = Vec::new();
    for _ in 0..200 {
        let mut io = served.connect().await;
        io.write_all(b"GET /v2.0/vehicles HT")
            .await
            .expect("half a request line");
        clients.push(tokio::spawn(until_closed(io)));
    }

    for client in clients {
        let received = client.await.expect("no panic");
        assert!(
            nothing_or_a_timeout_answer(&received),
            "{:?}",
            String::from_utf8_lossy(&received)
        );
    }
    served.stop().await;
}

#[tokio::test]
async fn two_hundred_half_sent_requests_are_closed_by_the_header_timeout() {
    half_sent_requests_are_closed_by_the_header_timeout(Listener::Plain).await;
}

#[tokio::test]
async fn two_hundred_half_sent_requests_over_tls_are_closed_by_the_header_timeout() {
    half_sent_requests_are_closed_by_the_header_timeout(Listener::Tls).await;
}

#[tokio::test]
async fn connections_that_send_nothing_or_part_of_a_preface_are_closed_too() {
    for listener in [Listener::Plain, Listener::Tls] {
        let served = Served::start(listener, short_limits(1024)).await;
        // Silent before the TLS handshake, silent after it, and half an HTTP/2 preface.
        let silent_tcp = TcpStream::connect(served.addr).await.expect("connects");
        let silent = served.connect().await;
        let mut preface = served.connect().await;
        preface.write_all(b"PRI * HTTP/2.0\r\n").await.expect("written");

        assert_eq!(until_closed(silent_tcp).await, b"", "{listener:?}");
        assert_eq!(until_closed(silent).await, b"", "{listener:?}");
        assert_eq!(until_closed(preface).await, b"", "{listener:?}");
        served.stop().await;
    }
}

#[tokio::test]
async fn a_body_that_stops_coming_is_refused_and_its_connection_closed() {
    for listener in [Listener::Plain, Listener::Tls] {
        let served = Served::start(listener, short_limits(1024)).await;

        let answer = served
            .exchange(
                "POST /oauth/token HTTP/1.1\r\nHost: localhost\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=",
            )
            .await;

        assert!(answer.starts_with("HTTP/1.1 4"), "{listener:?}: {answer}");
        served.stop().await;
    }
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    for listener in [Listener::Plain, Listener::Tls] {
        let served = Served::start(listener, short_limits(1024)).await;
        let mut io = served.connect().await;

        io.write_all(b"GET /v2.0/user HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .expect("written");
        let received = String::from_utf8_lossy(&until_closed(io).await).into_owned();

        assert!(received.starts_with("HTTP/1.1 401"), "{listener:?}: {received}");
        assert_eq!(received.matches("HTTP/1.1").count(), 1, "{listener:?}: {received}");
        served.stop().await;
    }
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed_after_the_header_timeout() {
    for listener in [Listener::Plain, Listener::Tls] {
        let served = Served::start(listener, short_limits(1024)).await;
        let io = served.connect().await;
        let (mut sender, connection) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(io),
        )
        .await
        .expect("an HTTP/2 handshake");
        let connection = tokio::spawn(connection);

        let response = sender
            .send_request(
                hyper::Request::get("http://localhost/v2.0/user")
                    .body(axum::body::Body::empty())
                    .expect("a request"),
            )
            .await
            .expect("an answer");
        let closed = tokio::time::timeout(GUARD, connection).await;

        assert_eq!(response.status(), 401, "{listener:?}");
        assert!(closed.is_ok(), "{listener:?}: the server closes the idle connection");
        served.stop().await;
    }
}

/// With a cap of two, two half-sent requests hold both places: a third client is answered only
/// once the header timeout has closed one of them. The check is on the order of events — when the
/// third answer arrives, a first connection is already closed — so no timing is assumed.
async fn the_connection_cap_holds_until_a_connection_closes(listener: Listener) {
    let served = Served::start(listener, short_limits(2)).await;
    let mut holders = Vec::new();
    for _ in 0..2 {
        let mut io = served.connect().await;
        io.write_all(b"GET /v2.0/vehicles HT")
            .await
            .expect("half a request line");
        holders.push(io);
    }
    // Over TLS the holders' handshakes prove they were accepted; over plain TCP, the accept queue
    // hands connections out in order, so the third is behind them either way.
    let third = served.exchange("GET /v2.0/user HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");

    let answer = tokio::time::timeout(GUARD, third)
        .await
        .expect("the third is served in the end");
    let open_at_answer = served.cap.open();
    let mut closed = 0;
    for holder in &mut holders {
        let mut byte = [0u8; 1];
        // Already closed by then: the read ends at once. Still open: the guard would expire.
        if let Ok(Ok(0) | Err(_)) = tokio::time::timeout(Duration::ZERO, holder.read(&mut byte)).await {
            closed += 1;
        }
    }

    assert!(answer.starts_with("HTTP/1.1 401"), "{listener:?}: {answer}");
    assert!(
        closed >= 1,
        "{listener:?}: the third was answered while both holders were open"
    );
    assert!(open_at_answer <= 2, "{listener:?}: {open_at_answer} open");
    served.stop().await;
}

#[tokio::test]
async fn the_connection_cap_holds_until_a_connection_closes_on_the_plain_listener() {
    the_connection_cap_holds_until_a_connection_closes(Listener::Plain).await;
}

#[tokio::test]
async fn the_connection_cap_holds_until_a_connection_closes_on_the_tls_listener() {
    the_connection_cap_holds_until_a_connection_closes(Listener::Tls).await;
}

/// A hundred odometer reads held in flight by a fault's latency; shutdown starts while every one
/// of them is waiting, and every one still gets its whole answer.
async fn shutdown_answers_every_request_in_flight(listener: Listener) {
    const IN_FLIGHT: usize = 100;
    let served = Arc::new(
        Served::start(
            listener,
            Limits {
                header_read_timeout: Duration::from_secs(10),
                ..short_limits(1024)
            },
        )
        .await,
    );
    let (status, tokens) = served
        .call(
            "POST",
            "/admin/authorize",
            None,
            Some(json!({ "scope": ["read_odometer"] })),
        )
        .await;
    assert_eq!(status, 200, "{tokens}");
    let token = tokens["access_token"].as_str().expect("a token").to_owned();
    let vehicle = tokens["vehicle_ids"][0].as_str().expect("a vehicle").to_owned();
    let (status, rule) = served
        .call(
            "POST",
            "/admin/faults",
            None,
            Some(json!({ "path": "**/odometer", "latency": "1s" })),
        )
        .await;
    assert_eq!(status, 200, "{rule}");

    let mut reads = Vec::new();
    for _ in 0..IN_FLIGHT {
        let (served, token, path) = (
            served.clone(),
            token.clone(),
            format!("/v2.0/vehicles/{vehicle}/odometer"),
        );
        reads.push(tokio::spawn(async move {
            served.call("GET", &path, Some(&token), None).await
        }));
    }
    // Every read has reached the fault (and is sleeping in it) before shutdown starts.
    loop {
        let (_, rules) = served.call("GET", "/admin/faults", None, None).await;
        if rules["rules"][0]["fired"].as_u64() == Some(IN_FLIGHT as u64) {
            break;
        }
        tokio::task::yield_now().await;
    }
    let stopping = tokio::spawn({
        let served = served.clone();
        async move { served.stop().await }
    });

    for read in reads {
        let (status, body) = read.await.expect("no panic");
        assert_eq!(status, 200, "{listener:?}: {body}");
        assert!(body["distance"].is_number(), "{listener:?}: {body}");
    }
    stopping.await.expect("the server drained and stopped");
}

#[tokio::test]
async fn shutdown_answers_every_request_in_flight_on_the_plain_listener() {
    shutdown_answers_every_request_in_flight(Listener::Plain).await;
}

#[tokio::test]
async fn shutdown_answers_every_request_in_flight_on_the_tls_listener() {
    shutdown_answers_every_request_in_flight(Listener::Tls).await;
}
