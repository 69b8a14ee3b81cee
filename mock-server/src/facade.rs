//! [`MockServer`]: the platform started inside a Rust program or test, with no process to spawn.
//!
//! The builder says what the command line would (fixtures, apps, switches, caps, a TLS listener);
//! [`MockServerBuilder::start`] binds (port 0 unless told otherwise), serves in the background and
//! returns a handle. The handle drives test control in-process, through the same functions and
//! request types as the admin API (`/admin/…`) and the `mock-server` subcommands, and shuts the
//! server down when it is dropped.

use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::Method;
use axum::response::Response;
use serde_json::Value;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::util::Either;
use uuid::Uuid;

use crate::admin::AdminError;
use crate::admin::authorize::{self, AuthorizeRequest, Authorized, Code, Scope, Tokens};
use crate::admin::clock::{ClockAdvance, ClockSet};
use crate::admin::journal::JournalQuery;
use crate::admin::vehicles::StatePatch;
use crate::domain::faults::{ConnectFaultSpec, FaultSpec};
use crate::domain::fixtures::{App, FixtureError, Fixtures};
use crate::domain::limits::{LimitChange, LimitSettings};
use crate::domain::permissions::Permission;
use crate::domain::snapshot::Snapshot;
use crate::serving::{self, Limits};
use crate::state::{AppState, Settings};
use crate::tls::SelfSigned;
use crate::webhooks::DeliverySettings;
use crate::webhooks::client::ClientError;

/// A running platform: Connect, the token endpoint, the vehicle, management and compatibility
/// APIs, webhooks and test control on one listener (and optionally on an HTTPS one).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use mock_server::{App, MockServer};
///
/// let server = MockServer::builder()
///     .app(App::new("my-client", "my-secret").redirect_uri("https://myapp.test/cb"))
///     .auto_approve(true)
///     .start()
///     .await; // port 0; shuts down on drop
/// let token = server.authorize().brand("FORD").scope(["read_odometer"]).send().await?;
///
/// // The code under test, pointed at the mock:
/// # mock_server::net::install_crypto_provider();
/// let odometer: serde_json::Value = reqwest::Client::new()
///     .get(format!("{}/v2.0/vehicles/{}/odometer", server.uri(), token.vehicle_ids[0]))
///     .bearer_auth(&token.access_token)
///     .send()
///     .await?
///     .json()
///     .await?;
/// assert!(odometer["distance"].is_number());
/// # Ok(())
/// # }
/// ```
///
/// Dropping it starts a graceful shutdown: the listeners close and in-flight requests finish in
/// the background. [`MockServer::shutdown`] does the same and waits for it. With a state file,
/// both save the counters a last time (see [`MockServerBuilder::state_file`]).
pub struct MockServer {
    state: AppState,
    addr: SocketAddr,
    tls: Option<TlsListener>,
    stop: watch::Sender<()>,
    tasks: Vec<JoinHandle<io::Result<()>>>,
    /// With a state file: the thread that saves the counters once a second stops when this goes.
    _saver: Option<std::sync::mpsc::Sender<()>>,
}

/// How often a state file's counters (limit buckets and monthly counts, the firings fault rules
/// have left) are saved when they moved: counting is on the GET path, which never writes.
const SAVE_COUNTERS_EVERY: Duration = Duration::from_secs(1);

/// The HTTPS listener of a [`MockServer`] and the authority its certificate chains to.
struct TlsListener {
    addr: SocketAddr,
    certificate: SelfSigned,
}

/// How to start a [`MockServer`]; [`MockServer::builder`] makes one with the command line's
/// defaults (the built-in fixtures, `127.0.0.1:0`, no TLS).
#[must_use = "a builder does nothing until `start` is awaited"]
pub struct MockServerBuilder {
    fixtures: FixtureSource,
    apps: Vec<App>,
    settings: Settings,
    limits: Limits,
    clock: Option<OffsetDateTime>,
    listener: Bind,
    tls: Option<Bind>,
    scenarios: Vec<PathBuf>,
    state_file: Option<PathBuf>,
}

enum FixtureSource {
    Embedded,
    Dir(PathBuf),
    Given(Box<Fixtures>),
}

enum Bind {
    Addr(SocketAddr),
    Listener(TcpListener),
}

/// Why a [`MockServer`] could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("loading the fixtures: {0}")]
    Fixtures(#[from] FixtureError),
    #[error("building the webhook client: {0}")]
    WebhookClient(#[from] ClientError),
    #[error("setting the clock: {0}")]
    Clock(#[from] crate::domain::clock::OutOfRange),
    #[error("making the HTTPS certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("listening: {0}")]
    Io(#[from] io::Error),
    /// A scenario file that could not be read or loaded: the file, the JSON path in it, what was
    /// expected.
    #[error("scenario {file}: {message}")]
    Scenario { file: String, message: String },
    /// The state file cannot be used (locked, read-only, corrupt, another schema version).
    #[error(transparent)]
    State(#[from] crate::store::StateError),
}

impl MockServer {
    /// A builder with the defaults of `mock-server` started with no options, but on port 0.
    pub fn builder() -> MockServerBuilder {
        MockServerBuilder {
            fixtures: FixtureSource::Embedded,
            apps: Vec::new(),
            settings: Settings::default(),
            limits: Limits::default(),
            clock: None,
            listener: Bind::Addr(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))),
            tls: None,
            scenarios: Vec::new(),
            state_file: None,
        }
    }

    /// The built-in fixtures on port 0: `MockServer::builder().start()`.
    pub async fn start() -> MockServer {
        MockServer::builder().start().await
    }

    /// The base URL, `http://127.0.0.1:<port>` (a wildcard address is dialled on loopback).
    pub fn uri(&self) -> String {
        format!("http://{}", dialable(self.addr))
    }

    /// The address the plain listener is bound to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The HTTPS base URL, `https://127.0.0.1:<port>`, when a TLS listener was asked for.
    pub fn tls_uri(&self) -> Option<String> {
        self.tls.as_ref().map(|tls| format!("https://{}", dialable(tls.addr)))
    }

    /// The address of the HTTPS listener, when one was asked for.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls.as_ref().map(|tls| tls.addr)
    }

    /// The PEM of the authority the HTTPS certificate chains to: what a client trusts
    /// (`reqwest::Certificate::from_pem`, `NODE_EXTRA_CA_CERTS`, `--tls-cert-out`).
    pub fn ca_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|tls| tls.certificate.ca_pem.as_str())
    }

    /// The state every handler reaches the domain through: the world, the clock, test control.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Signs a user in and connects their vehicles, as `POST /admin/authorize` does, without a
    /// browser or an HTTP call. Unset fields take that call's defaults: the first app (the first
    /// one given to [`MockServerBuilder::app`], else the fixtures' first), its default brand and
    /// scope, a new test-mode user, the app's first redirect URI.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = mock_server::MockServer::start().await;
    ///
    /// let tokens = server.authorize().brand("TESLA").email("2-vehicles@smartcar.com").send().await?;
    /// let code = server.authorize().brand("FORD").code().await?;
    ///
    /// assert_eq!(tokens.vehicle_ids.len(), 2);
    /// assert_eq!(tokens.expires_in, 7200);
    /// assert!(!code.code.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub fn authorize(&self) -> Authorize<'_> {
        Authorize {
            server: self,
            request: AuthorizeRequest::default(),
        }
    }

    /// The time on the platform's clock (wall time unless moved).
    pub fn now(&self) -> OffsetDateTime {
        self.state.clock.now()
    }

    /// Moves the clock forward, as `POST /admin/clock/advance` does: codes, tokens, data ages and
    /// limits all age at once. The new time.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    ///
    /// let server = mock_server::MockServer::start().await;
    /// let before = server.now();
    ///
    /// let after = server.advance_clock(Duration::from_secs(2 * 3600))?;
    ///
    /// assert!(after - before >= time::Duration::hours(2));
    /// # Ok(())
    /// # }
    /// ```
    pub fn advance_clock(&self, by: Duration) -> Result<OffsetDateTime, AdminError> {
        self.kept(crate::admin::clock::advance(&self.state.clock, &ClockAdvance::from(by)))
    }

    /// Sets the clock, as `PUT /admin/clock` does. The new time.
    pub fn set_clock(&self, now: OffsetDateTime) -> Result<OffsetDateTime, AdminError> {
        self.kept(crate::admin::clock::set(&self.state.clock, &ClockSet::from(now)))
    }

    /// Back to wall time, as `DELETE /admin/clock` does.
    pub fn reset_clock(&self) {
        self.state.clock.reset();
        crate::admin::snapshot::persist_control(&self.state);
    }

    /// With a state file, keeps the test-control part on disk after a change succeeded, before
    /// returning (as the admin API does before it answers).
    fn kept<T>(&self, result: Result<T, AdminError>) -> Result<T, AdminError> {
        if result.is_ok() {
            crate::admin::snapshot::persist_control(&self.state);
        }
        result
    }

    /// Adds an API fault rule, as `POST /admin/faults` does; the rule as that call answers it
    /// (with its `id`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use mock_server::{ErrorName, FaultSpec};
    ///
    /// let server = mock_server::MockServer::start().await;
    /// let rule = server.add_fault(FaultSpec {
    ///     path: Some("**/odometer".to_owned()),
    ///     error: Some(ErrorName::Text("VEHICLE_STATE:ASLEEP".to_owned())),
    ///     times: Some(1),
    ///     ..FaultSpec::default()
    /// })?;
    ///
    /// assert_eq!(rule["error"]["code"], "ASLEEP");
    /// server.remove_fault(rule["id"].as_u64().unwrap_or_default())?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn add_fault(&self, spec: FaultSpec) -> Result<Value, AdminError> {
        self.kept(crate::admin::faults::add(&self.state, spec))
    }

    /// Makes the next authorization(s) of an app end in a Connect error, as
    /// `POST /admin/faults/connect` does.
    pub fn add_connect_fault(&self, spec: ConnectFaultSpec) -> Result<Value, AdminError> {
        self.kept(crate::admin::faults::add_connect(&self.state, spec))
    }

    /// Removes one rule, API or Connect, as `DELETE /admin/faults/{id}` does.
    pub fn remove_fault(&self, id: u64) -> Result<(), AdminError> {
        self.kept(crate::admin::faults::remove(&self.state, id))
    }

    /// Every fault rule (of one app), as `GET /admin/faults` shows them.
    pub fn faults(&self, app: Option<&str>) -> Value {
        crate::admin::faults::list(&self.state, app)
    }

    /// Changes Smartcar's request limits, as `PUT /admin/limits` does; the settings in force after.
    pub fn change_limits(&self, change: LimitChange) -> Result<LimitSettings, AdminError> {
        self.kept(crate::admin::limits::change(&self.state, change))
    }

    /// Every connected vehicle (of one app), as `GET /admin/vehicles` shows them.
    pub fn vehicles(&self, app: Option<&str>) -> Vec<Value> {
        crate::admin::vehicles::list(&self.state, app)
    }

    /// One vehicle and its state, as `GET /admin/vehicles/{id}` shows it.
    pub fn vehicle(&self, id: Uuid) -> Result<Value, AdminError> {
        crate::admin::vehicles::show(&self.state, id)
    }

    /// Changes a vehicle's state, as `PATCH /admin/vehicles/{id}` does; the vehicle after.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use mock_server::StatePatch;
    ///
    /// let server = mock_server::MockServer::start().await;
    /// let tokens = server.authorize().brand("TESLA").send().await?;
    ///
    /// let vehicle = server.patch_vehicle(
    ///     tokens.vehicle_ids[0],
    ///     &StatePatch::new().set("charge.isPluggedIn", true),
    /// )?;
    ///
    /// assert_eq!(vehicle["state"]["charge"]["isPluggedIn"], true);
    /// # Ok(())
    /// # }
    /// ```
    pub fn patch_vehicle(&self, id: Uuid, patch: &StatePatch) -> Result<Value, AdminError> {
        crate::admin::vehicles::patch(&self.state, id, patch)
    }

    /// What the platform received, newest first, as `GET /admin/requests` shows it.
    pub fn requests(&self, query: &JournalQuery) -> Result<Vec<Value>, AdminError> {
        crate::admin::journal::find(&self.state, query)
    }

    /// The whole world (`None`) or one app's part as a snapshot (`GET /admin/snapshot`).
    pub fn snapshot(&self, app: Option<&str>) -> Result<Snapshot, AdminError> {
        crate::admin::snapshot::save(&self.state, app)
    }

    /// Replaces the whole world (`None`) or one app's part with `snapshot` (`PUT /admin/snapshot`).
    pub fn load_snapshot(&self, app: Option<&str>, snapshot: &Snapshot) -> Result<(), AdminError> {
        crate::admin::snapshot::load(&self.state, app, snapshot)
            .map_err(|error| AdminError::BadRequest(error.to_string()))
    }

    /// Forgets what one app (or every app, and the clock) did, as `POST /admin/reset` does.
    pub fn reset(&self, app: Option<&str>) -> Result<(), AdminError> {
        self.kept(crate::admin::reset(&self.state, app))
    }

    /// Closes the listeners, lets in-flight requests finish, and returns once they have (and,
    /// with a state file, once what they counted is on disk); the first error a listener ended
    /// with, if any.
    pub async fn shutdown(mut self) -> io::Result<()> {
        let _ = self.stop.send(());
        let mut outcome = Ok(());
        for task in std::mem::take(&mut self.tasks) {
            let ended = task.await.unwrap_or_else(|error| Err(io::Error::other(error)));
            if outcome.is_ok() {
                outcome = ended;
            }
        }
        crate::admin::snapshot::persist_counters(&self.state);
        outcome
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        // The listeners' tasks see the signal and drain on their own.
        let _ = self.stop.send(());
        // What was counted until now (requests still draining may count after it). Nothing to do
        // after `shutdown` or without a state file.
        crate::admin::snapshot::persist_counters(&self.state);
    }
}

/// Saves the counters every [`SAVE_COUNTERS_EVERY`] when they moved, on a thread of its own (a
/// save waits for its commit), until the returned sender is dropped.
fn save_counters_every_second(state: &AppState) -> io::Result<std::sync::mpsc::Sender<()>> {
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let state = state.clone();
    std::thread::Builder::new()
        .name("state-counters".to_owned())
        .spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(SAVE_COUNTERS_EVERY) {
                crate::admin::snapshot::persist_counters(&state);
            }
        })?;
    Ok(stop)
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer")
            .field("addr", &self.addr)
            .field("tls_addr", &self.tls_addr())
            .finish_non_exhaustive()
    }
}

/// A wildcard address listens on loopback too, and a client needs one address to dial.
fn dialable(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

impl MockServerBuilder {
    /// Loads `apps.json`, `brands.json` and `accounts.json` from this folder at start
    /// (`--fixtures`) instead of the built-in fixtures.
    pub fn fixtures_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.fixtures = FixtureSource::Dir(dir.into());
        self
    }

    /// Starts from these fixtures instead of the built-in ones.
    pub fn fixtures(mut self, fixtures: Fixtures) -> Self {
        self.fixtures = FixtureSource::Given(Box::new(fixtures));
        self
    }

    /// Registers `app`, replacing a fixture app with the same client id (`--client-id` and
    /// friends). The first app given is the default of [`MockServer::authorize`].
    pub fn app(mut self, app: App) -> Self {
        self.apps.push(app);
        self
    }

    /// `GET /oauth/authorize` redirects back with a code at once, with no pages
    /// (`--auto-approve`).
    pub fn auto_approve(mut self, on: bool) -> Self {
        self.settings.auto_approve = on;
        self
    }

    /// Starts with Smartcar's request limits on (`--limits`).
    pub fn limits(mut self, on: bool) -> Self {
        self.settings.limits = on;
        self
    }

    /// Requests the journal keeps per app; 0 turns it off (`--journal-size`).
    pub fn journal_size(mut self, records: usize) -> Self {
        self.settings.journal_size = records;
        self
    }

    /// Users each app keeps before the least recently used is forgotten (`--max-users`, at least 1).
    pub fn max_users(mut self, users: usize) -> Self {
        self.settings.max_users = users.max(1);
        self
    }

    /// The admin API needs this bearer token and answers any address (`--admin-token`).
    pub fn admin_token(mut self, token: impl Into<String>) -> Self {
        self.settings.admin_token = Some(token.into());
        self
    }

    /// How long a used refresh token keeps working.
    pub fn refresh_grace(mut self, grace: time::Duration) -> Self {
        self.settings.refresh_grace = grace;
        self
    }

    /// Webhook delivery's timeout, retries, backoff and trusted certificates (`--ca-cert`).
    pub fn webhook_delivery(mut self, delivery: DeliverySettings) -> Self {
        self.settings.webhook_delivery = delivery;
        self
    }

    /// Every behaviour switch at once, as the command line gathers them.
    pub fn settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// Loads this scenario file at start, after the fixtures (`--scenario`); call it again for
    /// more files, loaded together in the order given.
    pub fn scenario(mut self, file: impl Into<PathBuf>) -> Self {
        self.scenarios.push(file.into());
        self
    }

    /// Keeps the world in this SQLite file (`--state`): started again on the same file, the
    /// server has the users, vehicles, tokens and settings it had. Scenarios load only into a
    /// new (empty) file. A change made through [`MockServer`]'s methods (the clock, fault rules,
    /// limits, a reset) is in the file before the method returns, as one made through the admin
    /// API is before it answers. What the limits count and how often fault rules fire is saved
    /// once a second (when it moved) and at shutdown or drop, not before each answer.
    pub fn state_file(mut self, file: impl Into<PathBuf>) -> Self {
        self.state_file = Some(file.into());
        self
    }

    /// Starts the clock at `now` instead of wall time.
    pub fn clock_at(mut self, now: OffsetDateTime) -> Self {
        self.clock = Some(now);
        self
    }

    /// Open connections allowed at once, both listeners together (`--max-connections`).
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.limits = Limits::with_max_connections(connections);
        self
    }

    /// The timeouts and connection cap of the listeners ([`serving::Limits`]). A clone of the
    /// cap can watch how many connections are open.
    pub fn connection_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Listens on `addr` (`--addr`) instead of `127.0.0.1:0`.
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.listener = Bind::Addr(addr);
        self
    }

    /// Serves on a listener bound beforehand: when the address must be known before the server
    /// is configured (a redirect URI that names it).
    pub fn listener(mut self, listener: TcpListener) -> Self {
        self.listener = Bind::Listener(listener);
        self
    }

    /// Also serves HTTPS on `127.0.0.1:0` under Smartcar's real host names, with a certificate
    /// made at start ([`MockServer::ca_pem`] is its authority).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = mock_server::MockServer::builder().tls().start().await;
    ///
    /// # mock_server::net::install_crypto_provider();
    /// let authority = reqwest::Certificate::from_pem(server.ca_pem().unwrap_or_default().as_bytes())?;
    /// let client = reqwest::Client::builder().tls_certs_merge([authority]).build()?;
    /// let health = client.get(format!("{}/admin/health", server.tls_uri().unwrap_or_default())).send().await?;
    ///
    /// assert_eq!(health.status(), 200);
    /// # Ok(())
    /// # }
    /// ```
    pub fn tls(self) -> Self {
        self.tls_addr(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
    }

    /// Also serves HTTPS on `addr` (`--tls-addr`).
    pub fn tls_addr(mut self, addr: SocketAddr) -> Self {
        self.tls = Some(Bind::Addr(addr));
        self
    }

    /// Also serves HTTPS on a listener bound beforehand.
    pub fn tls_listener(mut self, listener: TcpListener) -> Self {
        self.tls = Some(Bind::Listener(listener));
        self
    }

    /// Starts the server. Panics where [`MockServerBuilder::try_start`] would fail (a port in
    /// use, fixtures that do not load): in a test, that is the failure to report.
    pub async fn start(self) -> MockServer {
        match self.try_start().await {
            Ok(server) => server,
            Err(error) => panic!("the mock server did not start: {error}"),
        }
    }

    /// Loads the fixtures, binds the listener(s) and serves in the background.
    pub async fn try_start(self) -> Result<MockServer, StartError> {
        let mut fixtures = match self.fixtures {
            FixtureSource::Embedded => Fixtures::embedded()?,
            FixtureSource::Dir(dir) => Fixtures::load(&dir)?,
            FixtureSource::Given(fixtures) => *fixtures,
        };
        // Each app goes to the front, so the first one given ends up first: the default app.
        for app in self.apps.into_iter().rev() {
            fixtures.upsert_app(app);
        }
        let mut settings = self.settings;
        let opened = match &self.state_file {
            Some(file) => Some(crate::store::open(file)?),
            None => None,
        };
        let restored = opened.map(|opened| {
            settings.store = Some(Arc::new(opened.store));
            (opened.snapshot, opened.counters, opened.empty)
        });
        let state = AppState::try_with_settings(fixtures, settings)?;
        if let Some(now) = self.clock {
            state.clock.set(now)?;
        }
        match restored {
            Some((snapshot, counters, false)) => {
                crate::admin::snapshot::restore(&state, snapshot).map_err(|error| crate::store::StateError {
                    file: self.state_file.clone().unwrap_or_default(),
                    message: format!("does not load: {error}"),
                })?;
                if let Some(counters) = counters {
                    crate::admin::snapshot::restore_counters(&state, counters);
                }
            }
            _ => load_scenarios(&state, &self.scenarios)?,
        }
        let saver = if state.world.has_store() {
            Some(save_counters_every_second(&state)?)
        } else {
            None
        };
        let listener = bind(self.listener).await?;
        let addr = listener.local_addr()?;
        let tls = match self.tls {
            Some(tls) => {
                let listener = bind(tls).await?;
                let certificate = crate::tls::self_signed()?;
                let acceptor = crate::tls::acceptor(&certificate.cert_pem, &certificate.key_pem)?;
                Some((listener, certificate, acceptor))
            }
            None => None,
        };

        let (stop, _) = watch::channel(());
        let stopped = |stop: &watch::Sender<()>| {
            let mut stopped = stop.subscribe();
            async move {
                // Ends on the signal, and when the handle is gone.
                let _ = stopped.changed().await;
            }
        };
        let mut tasks = vec![tokio::spawn(serving::serve(
            listener,
            None,
            service(&state),
            self.limits.clone(),
            stopped(&stop),
        ))];
        let tls = match tls {
            Some((listener, certificate, acceptor)) => {
                let tls_addr = listener.local_addr()?;
                tasks.push(tokio::spawn(serving::serve(
                    listener,
                    Some(acceptor),
                    service(&state),
                    self.limits,
                    stopped(&stop),
                )));
                Some(TlsListener {
                    addr: tls_addr,
                    certificate,
                })
            }
            None => None,
        };
        Ok(MockServer {
            state,
            addr,
            tls,
            stop,
            tasks,
            _saver: saver,
        })
    }
}

/// The platform as served. With a state file, a change to test control or to webhooks also
/// keeps the test-control part on disk before it is answered; without one, the platform as it is.
fn service(state: &AppState) -> Either<crate::Platform, KeepControl> {
    let platform = crate::platform(state.clone());
    if !state.world.has_store() {
        return Either::Left(platform);
    }
    Either::Right(KeepControl {
        inner: platform,
        state: state.clone(),
    })
}

/// Writes the test-control part to the state file after a successful change of it. A plain
/// service rather than `middleware::from_fn`, so reads pass through with one boxed future and no
/// more (a GET with `--state` runs as fast as without).
#[derive(Clone)]
struct KeepControl {
    inner: crate::Platform,
    state: AppState,
}

impl tower::Service<Request> for KeepControl {
    type Response = Response;
    type Error = Infallible;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Infallible>> {
        tower::Service::<Request>::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let method = request.method();
        let path = request.uri().path();
        let changes_control = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
            && (path.starts_with("/admin")
                || path.contains("/webhooks")
                || path.contains("/management")
                || *method == Method::DELETE);
        let answer = tower::Service::<Request>::call(&mut self.inner, request);
        if !changes_control {
            return Box::pin(answer);
        }
        let state = self.state.clone();
        Box::pin(async move {
            let response = answer.await?;
            if response.status().is_success() {
                crate::admin::snapshot::persist_control(&state);
            }
            Ok(response)
        })
    }
}

/// Reads and checks every scenario file on its own (so an error names its file), then loads them
/// together: the later file's users join the earlier's, its settings win.
fn load_scenarios(state: &AppState, files: &[PathBuf]) -> Result<(), StartError> {
    if files.is_empty() {
        return Ok(());
    }
    let mut merged = Snapshot::default();
    for file in files {
        let failed = |message: String| StartError::Scenario {
            file: file.display().to_string(),
            message,
        };
        let bytes = std::fs::read(file).map_err(|error| failed(format!("could not read it: {error}")))?;
        let snapshot = crate::domain::snapshot::parse(&bytes).map_err(|error| failed(error.to_string()))?;
        snapshot
            .resolve(&state.fixtures, state.clock.now())
            .map_err(|error| failed(error.to_string()))?;
        merged.merge(snapshot);
    }
    crate::admin::snapshot::load(state, None, &merged).map_err(|error| StartError::Scenario {
        file: files
            .iter()
            .map(|file| file.display().to_string())
            .collect::<Vec<_>>()
            .join(" + "),
        message: error.to_string(),
    })
}

async fn bind(bind: Bind) -> io::Result<TcpListener> {
    match bind {
        Bind::Addr(addr) => TcpListener::bind(addr).await,
        Bind::Listener(listener) => Ok(listener),
    }
}

/// A browser-free authorization being written; [`MockServer::authorize`] starts one.
#[must_use = "an authorization does nothing until `send` or `code` is awaited"]
pub struct Authorize<'a> {
    server: &'a MockServer,
    request: AuthorizeRequest,
}

impl Authorize<'_> {
    /// The app, by client id.
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.request.client_id = Some(client_id.into());
        self
    }

    /// The brand, e.g. `FORD`.
    pub fn brand(mut self, brand: impl Into<String>) -> Self {
        self.request.brand = Some(brand.into());
        self
    }

    /// The permissions, e.g. `["read_odometer", "control_charge"]`.
    pub fn scope<I, S>(mut self, scope: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.request.scope = Some(Scope::List(scope.into_iter().map(Into::into).collect()));
        self
    }

    /// The login, in the test-mode grammar in test mode (`2-vehicles@smartcar.com`,
    /// `<VIN>@bev.smartcar.com`, …).
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.request.email = Some(email.into());
        self
    }

    /// `live`, `test` or `simulated`.
    pub fn mode(mut self, mode: impl Into<String>) -> Self {
        self.request.mode = Some(mode.into());
        self
    }

    /// A registered redirect URI of the app.
    pub fn redirect_uri(mut self, redirect_uri: impl Into<String>) -> Self {
        self.request.redirect_uri = Some(redirect_uri.into());
        self
    }

    /// Connects and exchanges the code: the user's tokens and vehicles.
    pub async fn send(mut self) -> Result<Tokens, AdminError> {
        self.request.exchange = None;
        match authorize::authorize(&self.server.state, self.request)? {
            Authorized::Tokens(tokens) => Ok(tokens),
            Authorized::Code(_) => Err(AdminError::BadRequest("a code was made instead of tokens".to_owned())),
        }
    }

    /// Connects and stops at the authorization code, for a test of the token exchange.
    pub async fn code(mut self) -> Result<Code, AdminError> {
        self.request.exchange = Some(false);
        match authorize::authorize(&self.server.state, self.request)? {
            Authorized::Code(code) => Ok(code),
            Authorized::Tokens(_) => Err(AdminError::BadRequest("tokens were made instead of a code".to_owned())),
        }
    }
}

impl App {
    /// An app with this client id and secret that may use every permission, with no redirect URI
    /// yet, a fresh management token and CHEVROLET as its default brand.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> App {
        let client_id = client_id.into();
        App {
            name: format!("App {client_id}"),
            client_id,
            client_secret: client_secret.into(),
            redirect_uris: Vec::new(),
            default_scope: Permission::ALL.to_vec(),
            amt: Uuid::new_v4().to_string(),
            default_brand: "CHEVROLET".to_owned(),
            webhooks: Vec::new(),
        }
    }

    /// Adds a redirect URI; the first one is the default where a request names none.
    #[must_use]
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> App {
        self.redirect_uris.push(uri.into());
        self
    }

    /// The application management token (management API credentials, webhook signing key).
    #[must_use]
    pub fn amt(mut self, amt: impl Into<String>) -> App {
        self.amt = amt.into();
        self
    }

    /// The brand Connect uses when none was chosen.
    #[must_use]
    pub fn default_brand(mut self, make: impl Into<String>) -> App {
        self.default_brand = make.into();
        self
    }

    /// The permissions granted when a Connect URL carries no `scope`.
    #[must_use]
    pub fn default_scope(mut self, scope: impl IntoIterator<Item = Permission>) -> App {
        self.default_scope = scope.into_iter().collect();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_shut_down_server_stops_listening() {
        let server = MockServer::start().await;
        let addr = server.addr();

        server.shutdown().await.expect("a clean shutdown");

        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }

    /// A store that keeps what it was handed, to see what reached it.
    #[derive(Debug, Default)]
    struct Recording(std::sync::Mutex<Vec<crate::domain::store::Write>>);

    impl crate::domain::store::StateStore for Recording {
        fn write(&self, batch: Vec<crate::domain::store::Write>) -> crate::domain::store::Ticket {
            self.0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .extend(batch);
            crate::domain::store::Ticket::done()
        }
    }

    #[tokio::test]
    async fn a_clock_moved_through_the_facade_reaches_the_store_before_the_call_returns() {
        let store = Arc::new(Recording::default());
        let settings = Settings {
            store: Some(store.clone()),
            ..Settings::default()
        };
        let server = MockServer::builder().settings(settings).start().await;

        server
            .advance_clock(Duration::from_secs(48 * 3600))
            .expect("a sound step");

        let writes = store.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let offset = writes.iter().rev().find_map(|write| match write {
            crate::domain::store::Write::Control(doc) => crate::domain::snapshot::parse(doc.as_bytes())
                .ok()
                .and_then(|snapshot| snapshot.clock_offset_ms),
            _ => None,
        });
        assert!(offset.is_some_and(|ms| ms >= 48 * 3600 * 1000), "{offset:?}");
    }

    #[tokio::test]
    async fn a_dropped_server_stops_listening_too() {
        let server = MockServer::start().await;
        let addr = server.addr();

        drop(server);

        // The listener closes as the serving task sees the signal: poll until it has.
        let closed = async {
            while tokio::net::TcpStream::connect(addr).await.is_ok() {
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), closed)
            .await
            .expect("the listener closes");
    }

    #[tokio::test]
    async fn fixtures_that_do_not_load_are_a_start_error() {
        let outcome = MockServer::builder()
            .fixtures_dir("/nonexistent/fixtures")
            .try_start()
            .await;

        assert!(matches!(outcome, Err(StartError::Fixtures(_))), "{outcome:?}");
    }

    #[tokio::test]
    async fn the_first_app_given_is_the_default_of_authorize() {
        let server = MockServer::builder()
            .app(App::new("first", "s").redirect_uri("https://first.test/cb"))
            .app(App::new("second", "s").redirect_uri("https://second.test/cb"))
            .start()
            .await;

        let tokens = server.authorize().send().await.expect("tokens");

        assert_eq!(tokens.client_id, "first");
    }

    #[tokio::test]
    async fn the_clock_can_start_at_a_given_time() {
        let at = time::macros::datetime!(2030-01-01 00:00:00 UTC);

        let server = MockServer::builder().clock_at(at).start().await;

        assert!(server.now() - at < time::Duration::minutes(1));
    }
}
