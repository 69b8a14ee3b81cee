//! Accepting connections, for the plain and the TLS listener alike: one loop that caps how many
//! connections are open, closes the slow and the idle ones, and drains the rest on shutdown.
//!
//! No routes here: [`serve`] hands every request to a service (the platform, for a
//! [`MockServer`](crate::MockServer)); a request to test control (`/admin`, `/dashboard`) carries
//! the peer's address as `ConnectInfo<SocketAddr>` (the admin API's loopback check reads it).
//!
//! # What a connection may do
//! A client that opens connections and then sends nothing, or half a request (slowloris), or a
//! body a byte at a time, must not hold the server's sockets for ever:
//! - the TLS handshake must end within [`Limits::header_read_timeout`] (10 s), and a connection
//!   with no request in flight must start one within 10 to 20 s (after it opens, or after its last
//!   answer): else it is asked to close (HTTP/2: GOAWAY), and dropped 10 s later if it has not. So
//!   a half-sent request head holds its socket 30 s at most, and an idle keep-alive connection,
//!   HTTP/1 or HTTP/2, closes after 10 to 20 s;
//! - a request body may pause at most [`Limits::body_read_timeout`] (10 s) between two chunks
//!   (the rule of nginx's `client_body_timeout`); past it, reading the body fails and the request
//!   is answered with the platform's error for an unreadable body (a 4xx);
//! - HTTP/2 pings a connection every 20 s and drops it when a ping goes unanswered for 20 s: a
//!   laptop that left the room's network;
//! - at most `--max-connections` (default [`DEFAULT_MAX_CONNECTIONS`]) are open at once, both
//!   listeners together. Past the cap, new connections wait in the kernel's accept queue until one
//!   closes: none is refused, so a burst of CI jobs is slowed, not failed, and a warning names the
//!   flag.
//!
//! On shutdown the listener closes, every connection finishes the requests it has in flight (and
//! then closes), and [`serve`] returns once the last one is gone.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use http_body::{Body as _, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::{Instant, Sleep};
use tokio_rustls::TlsAcceptor;
use tower::{Service, ServiceExt};

/// The default of `--max-connections`: well above what a test suite opens (a browser keeps about
/// six per host, a client pool a few dozen). Under the common soft limit of 1024 file descriptors
/// the process runs out of descriptors a little before the cap; accepting then fails and the loop
/// backs off, which makes new clients wait just the same.
pub const DEFAULT_MAX_CONNECTIONS: NonZeroUsize = NonZeroUsize::new(1024).expect("not zero");

/// HTTP/2 pings an otherwise quiet connection this often, and drops it when a ping is not
/// answered within [`H2_PING_TIMEOUT`]: a laptop that left the room's network.
const H2_PING_INTERVAL: Duration = Duration::from_secs(20);
const H2_PING_TIMEOUT: Duration = Duration::from_secs(20);

/// How long accepting pauses after an error such as running out of file descriptors, which would
/// otherwise repeat at once and spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(250);

/// The kernel's queue of connections not yet accepted (what `TcpListener::bind` uses).
const ACCEPT_QUEUE: u32 = 1024;

/// How often, at most, the "connection cap reached" warning is logged.
const CAP_WARNING_EVERY: Duration = Duration::from_secs(60);

/// The timeouts and the connection cap of [`serve`]. Clones share the cap, so the plain and the TLS
/// listener served with clones of one `Limits` count their connections together.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The TLS handshake must end within this, and a connection with no request in flight must
    /// start one: it is checked every `header_read_timeout`, so a connection that opens (or
    /// answers its last request) and sends nothing, or half a request head, is asked to close
    /// after one or two of them and dropped after two or three at most. Every real client writes
    /// a request head in one go; 10 s leaves a loaded CI runner ample room and frees a slowloris
    /// slot within 30 s at most, which is hyper's default. It is also the keep-alive time of
    /// HTTP/1 and HTTP/2.
    pub header_read_timeout: Duration,
    /// The longest pause between two chunks of a request body.
    pub body_read_timeout: Duration,
    /// At most this many connections are open at once.
    pub connections: ConnectionCap,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            connections: ConnectionCap::new(DEFAULT_MAX_CONNECTIONS.get()),
        }
    }
}

impl Limits {
    /// The default timeouts with a cap of `max_connections`.
    pub fn with_max_connections(max_connections: usize) -> Self {
        Limits {
            connections: ConnectionCap::new(max_connections),
            ..Limits::default()
        }
    }
}

/// A count of open connections with a ceiling, shared by its clones.
#[derive(Debug, Clone)]
pub struct ConnectionCap {
    permits: Arc<Semaphore>,
    max: usize,
    last_warning: Arc<std::sync::Mutex<Option<Instant>>>,
}

impl ConnectionCap {
    /// A cap of `max` connections (at least one).
    pub fn new(max: usize) -> Self {
        let max = max.clamp(1, Semaphore::MAX_PERMITS);
        ConnectionCap {
            permits: Arc::new(Semaphore::new(max)),
            max,
            last_warning: Arc::default(),
        }
    }

    /// The ceiling.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Connections open now (accepted and not yet closed).
    pub fn open(&self) -> usize {
        self.max.saturating_sub(self.permits.available_permits())
    }

    /// A slot for the next connection, waiting for one to close when all are taken.
    async fn slot(&self) -> OwnedSemaphorePermit {
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return permit;
        }
        self.warn_full();
        match self.permits.clone().acquire_owned().await {
            Ok(permit) => permit,
            // The semaphore is never closed.
            Err(_) => std::future::pending().await,
        }
    }

    fn warn_full(&self) {
        let Ok(mut last) = self.last_warning.lock() else {
            return;
        };
        let now = Instant::now();
        if last.is_none_or(|at| now.saturating_duration_since(at) >= CAP_WARNING_EVERY) {
            *last = Some(now);
            tracing::warn!(
                "{} connections are open, the cap set by --max-connections (SMARTCAR_MOCK_MAX_CONNECTIONS); \
                 new connections wait until one closes",
                self.max
            );
        }
    }
}

/// The timeouts a connection task needs (the cap stays with the accept loop).
#[derive(Debug, Clone, Copy)]
struct Timeouts {
    header_read: Duration,
    body_read: Duration,
}

/// Serves `app` on `listener`, over TLS when `tls` is given (HTTP/1.1 and HTTP/2 either way),
/// under `limits`, until `shutdown` completes; then stops accepting, lets every open connection
/// finish the requests it has in flight, and returns when the last one has closed.
pub async fn serve<S>(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: S,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let timeouts = Timeouts {
        header_read: limits.header_read_timeout,
        body_read: limits.body_read_timeout,
    };
    // Each connection task holds a receiver: the send starts their graceful shutdown, and
    // `closed()` completes when the last task has dropped its receiver.
    let (stop, stopped) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = limits.connections.slot() => slot,
            () = &mut shutdown => break,
        };
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) if is_connection_error(&error) => continue,
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed; pausing briefly");
                    tokio::select! {
                        () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                        () = &mut shutdown => break,
                    }
                }
            },
            () = &mut shutdown => break,
        };
        tokio::spawn(connection(
            tcp,
            peer,
            tls.clone(),
            app.clone(),
            timeouts,
            stopped.clone(),
            slot,
        ));
    }
    // Closing the listening socket first: a client that connects now is refused at once instead of
    // waiting in the accept queue for a server that is leaving.
    drop(listener);
    drop(stopped);
    let _ = stop.send(());
    stop.closed().await;
    Ok(())
}

/// A peer that gave up between connecting and being accepted: nothing to do but accept the next.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// One connection, from the TLS handshake (when there is one) to its close. `_slot` is its place
/// under the cap, given back when this returns, after the socket is closed.
async fn connection<S>(
    tcp: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    app: S,
    timeouts: Timeouts,
    mut stopped: watch::Receiver<()>,
    _slot: OwnedSemaphorePermit,
) where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    // Answers are written whole; Nagle's algorithm would only hold the last segment back.
    let _ = tcp.set_nodelay(true);
    let Some(acceptor) = tls else {
        return drive(tcp, peer, app, timeouts, stopped).await;
    };
    let handshake = tokio::time::timeout(timeouts.header_read, acceptor.accept(tcp));
    let tls = tokio::select! {
        biased;
        done = handshake => match done {
            Ok(Ok(tls)) => tls,
            Ok(Err(error)) => {
                tracing::debug!(%peer, %error, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        },
        // Nothing is in flight before the handshake is done: nothing to drain.
        _ = stopped.changed() => return,
    };
    drive(tls, peer, app, timeouts, stopped).await;
}

/// Serves HTTP on `io` until the peer leaves, a timeout closes it, or shutdown has drained it.
async fn drive<I, S>(io: I, peer: SocketAddr, app: S, timeouts: Timeouts, mut stopped: watch::Receiver<()>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let activity = Arc::new(Activity::default());
    let service = {
        let activity = activity.clone();
        let shutting_down = ShuttingDown(stopped.clone());
        hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let in_flight = InFlight::begin(&activity);
            // A request without a body (most GETs) gets the empty body, which costs no allocation.
            let mut request = request.map(|body| {
                if body.is_end_stream() {
                    Body::empty()
                } else {
                    Body::new(PatientBody::new(body, timeouts.body_read))
                }
            });
            // Only test control reads the peer (loopback check) and the shutdown signal (the
            // dashboard's event stream); the platform's routes do not pay for them. Without them
            // the admin guard refuses, so a path that reaches it some other way fails closed.
            if crate::pipeline::is_test_control(request.uri().path()) {
                request.extensions_mut().insert(ConnectInfo(peer));
                request.extensions_mut().insert(shutting_down.clone());
            }
            let response = app.clone().oneshot(request);
            async move {
                let response = response.await;
                drop(in_flight);
                response
            }
        })
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // The watchdog below is the header-read timeout. Hyper's own arms and drops a timer for every
    // request, which cost 3 to 4 % of the GET and token throughput on the benchmark.
    builder.http1().header_read_timeout(None);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(H2_PING_INTERVAL)
        .keep_alive_timeout(H2_PING_TIMEOUT);
    let mut connection = pin!(builder.serve_connection_with_upgrades(TokioIo::new(io), service));

    // Every `header_read` the watchdog looks: a connection with no request in flight that has
    // started and finished none since the last look is asked to close (HTTP/1: at once, unless a
    // response is still being written; HTTP/2: GOAWAY, so the client knows what was not served).
    // One that is still open and quiet at the next look is dropped: HTTP/1 waits for a half-sent
    // head even when asked to close, and so does the protocol sniffing before the first bytes.
    let mut watchdog = pin!(tokio::time::sleep(timeouts.header_read));
    let mut events_at_last_look = 0;
    let mut asked_to_close = false;
    loop {
        tokio::select! {
            // The connection first, so a request that has just arrived counts before the
            // watchdog looks.
            biased;
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%peer, %error, "connection closed with an error");
                }
                return;
            }
            _ = stopped.changed(), if !asked_to_close => {
                connection.as_mut().graceful_shutdown();
                asked_to_close = true;
            }
            () = &mut watchdog => {
                let events = activity.events.load(Ordering::Relaxed);
                let quiet = activity.in_flight.load(Ordering::Relaxed) == 0 && events == events_at_last_look;
                if quiet && asked_to_close {
                    tracing::debug!(%peer, "dropping a connection that sent no request in time");
                    return;
                }
                if quiet {
                    connection.as_mut().graceful_shutdown();
                    asked_to_close = true;
                }
                events_at_last_look = events;
                watchdog.as_mut().reset(Instant::now() + timeouts.header_read);
            }
        }
    }
}

/// In every request's extensions: completes when the server starts shutting down. A response
/// that never ends by itself (the dashboard's event stream) ends on it, so that shutdown need not
/// wait for the connection's watchdog to drop it.
#[derive(Debug, Clone)]
pub(crate) struct ShuttingDown(watch::Receiver<()>);

impl ShuttingDown {
    /// Completes once shutdown has begun (or the server is gone).
    pub(crate) async fn wait(mut self) {
        let _ = self.0.changed().await;
    }
}

/// What a connection is doing, for its watchdog: requests started or finished so far (any change
/// is activity), and in flight now.
#[derive(Debug, Default)]
struct Activity {
    events: AtomicU64,
    in_flight: AtomicUsize,
}

/// One request in flight on a connection, from the service call until its response is ready (or
/// the request is dropped).
struct InFlight(Arc<Activity>);

impl InFlight {
    fn begin(activity: &Arc<Activity>) -> Self {
        activity.events.fetch_add(1, Ordering::Relaxed);
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.events.fetch_add(1, Ordering::Relaxed);
    }
}

/// A request body that fails when its next chunk is more than `timeout` in coming: the rule of
/// nginx's `client_body_timeout`, and of tower-http's `TimeoutBody`, except that the timer is armed
/// only while the body waits. Nearly every body arrives with its request head, so reading it costs
/// no timer at all (with `TimeoutBody`, two per request: one per poll that finds a frame ready).
struct PatientBody {
    body: Incoming,
    timeout: Duration,
    waiting: Option<Pin<Box<Sleep>>>,
}

impl PatientBody {
    fn new(body: Incoming, timeout: Duration) -> Self {
        PatientBody {
            body,
            timeout,
            waiting: None,
        }
    }
}

impl http_body::Body for PatientBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(cx) {
            this.waiting = None;
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        let timeout = this.timeout;
        let waiting = this
            .waiting
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match waiting.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimedOut(timeout))))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Why a request body could not be read.
#[derive(Debug, thiserror::Error)]
#[error("the request body paused for longer than {0:?} between two chunks")]
struct BodyTimedOut(Duration);

/// Binds `addr` for the flag `flag`, with an error that says what to do when it cannot: a
/// privileged port needs privileges, and an address in use needs the other server stopped.
///
/// As `TcpListener::bind` does, with its accept queue of 1024: where connections past the cap wait.
pub fn bind(addr: SocketAddr, flag: &str) -> anyhow::Result<TcpListener> {
    let explain = |error: io::Error| anyhow::anyhow!(bind_error(&error, addr, flag));
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(explain)?;
    socket.set_reuseaddr(true).map_err(explain)?;
    socket.bind(addr).map_err(explain)?;
    socket.listen(ACCEPT_QUEUE).map_err(explain)
}

/// Why `addr` could not be bound, and what to do about it.
pub(crate) fn bind_error(error: &io::Error, addr: SocketAddr, flag: &str) -> String {
    let port = addr.port();
    match error.kind() {
        io::ErrorKind::PermissionDenied => format!(
            "cannot listen on {addr} ({flag}): permission denied. Ports below 1024 need privileges: run \
             as root (a container's default user is), or grant the binary the right once with \
             `sudo setcap cap_net_bind_service=+ep $(command -v mock-server)`, or lower the first \
             unprivileged port (`sudo sysctl net.ipv4.ip_unprivileged_port_start={port}`); or listen \
             on a free port ({flag} {ip}:4443) and forward {port} to it (`docker run -p {port}:4443`, \
             `socat TCP-LISTEN:{port},fork,reuseaddr TCP:127.0.0.1:4443`)",
            ip = addr.ip(),
        ),
        io::ErrorKind::AddrInUse => format!(
            "cannot listen on {addr} ({flag}): the address is already in use by another server \
             (`ss -ltnp 'sport = :{port}'` shows which); stop it, or pick another address with {flag}"
        ),
        io::ErrorKind::AddrNotAvailable => format!(
            "cannot listen on {addr} ({flag}): {ip} is not an address of this machine; use 127.0.0.1 \
             (this machine only) or 0.0.0.0 (every interface)",
            ip = addr.ip(),
        ),
        _ => format!("cannot listen on {addr} ({flag}): {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_privileged_port_says_how_to_get_the_right_or_avoid_it() {
        let addr: SocketAddr = "127.0.0.1:443".parse().expect("an address");
        let error = io::Error::from(io::ErrorKind::PermissionDenied);

        let message = bind_error(&error, addr, "--tls-addr");

        assert!(
            message.starts_with("cannot listen on 127.0.0.1:443 (--tls-addr): permission denied"),
            "{message}"
        );
        assert!(message.contains("setcap cap_net_bind_service=+ep"), "{message}");
        assert!(message.contains("--tls-addr 127.0.0.1:4443"), "{message}");
    }

    #[tokio::test]
    async fn an_address_in_use_says_which_and_how_to_find_the_other_server() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        let addr = taken.local_addr().expect("an address");

        let error = bind(addr, "--tls-addr").expect_err("already taken");

        let message = error.to_string();
        assert!(
            message.contains(&format!("cannot listen on {addr} (--tls-addr)")),
            "{message}"
        );
        assert!(message.contains("already in use"), "{message}");
        assert!(message.contains(&format!("sport = :{}", addr.port())), "{message}");
    }

    #[test]
    fn a_cap_of_zero_is_a_cap_of_one() {
        assert_eq!(ConnectionCap::new(0).max(), 1);
    }
}
