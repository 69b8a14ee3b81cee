//! The command line: `mock-server` (or `mock-server serve`) runs the platform; the other
//! subcommands drive a running server's admin API and print its JSON answer.
//!
//! | subcommand | admin call |
//! |---|---|
//! | `health` | `GET /admin/health` |
//! | `token --brand FORD --scope read_odometer control_charge` | `POST /admin/authorize` |
//! | `fault add --path '/v2.0/vehicles/*/charge' --error VEHICLE_STATE:ASLEEP --times 2` | `POST /admin/faults` |
//! | `fault connect --app demo-client --error access_denied` | `POST /admin/faults/connect` |
//! | `fault list`, `fault remove 3`, `fault clear` | `GET`, `DELETE /admin/faults…` |
//! | `clock`, `clock advance 2h`, `clock set 2030-01-01T00:00:00Z`, `clock reset` | `/admin/clock…` |
//! | `vehicle list`, `vehicle show ID`, `vehicle set ID charge.isPluggedIn=true motion=DRIVING` | `/admin/vehicles…` |
//! | `vehicle trip ID driving --route city-loop`, `vehicle create --powertrain BEV --name …` | the simulator ([`simulator`]) |
//! | `limits`, `limits on`, `limits off` | `/admin/limits` |
//! | `journal --app demo-client --path '*/charge'` | `GET /admin/requests` |
//! | `reset [--app demo-client]` | `POST /admin/reset` |
//! | `snapshot save FILE [--app …]`, `snapshot load FILE [--app …]` | `GET`, `PUT /admin/snapshot` |
//!
//! `hosts [--tls-addr 127.0.0.1:443] [--tls-cert-out FILE]` calls nothing: it prints the hosts-file
//! lines that send Smartcar's host names to the mock's HTTPS listener, and how each runtime is told
//! to trust the mock's certificate (docs/zero-config.md).
//!
//! Every client subcommand takes `--server URL` (env `SMARTCAR_MOCK_SERVER`, default
//! `http://127.0.0.1:4000`) and `--admin-token` (env `SMARTCAR_MOCK_ADMIN_TOKEN`).

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use mock_server::ConnectErrorCode;
use mock_server::Scope;
use mock_server::{
    AppFilter, AuthorizeRequest, ClockAdvance, ClockSet, ConnectFaultSpec, ErrorName, FaultSpec, JournalQuery,
    LimitChange, StatePatch,
};
use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use crate::config::Config;

mod simulator;

/// An offline Smartcar platform: Connect, OAuth and the vehicle API on one port, plus test control.
#[derive(Debug, Parser)]
#[command(name = "mock-server", version, about, args_conflicts_with_subcommands = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
    /// With no subcommand, the server runs with these options.
    #[command(flatten)]
    pub(crate) serve: Config,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the platform (what `mock-server` alone does).
    Serve(Config),
    /// Is the server up? Prints its status and the time on its clock.
    Health(Target),
    /// Connect a user's vehicle(s) without a browser and print the tokens (or the code).
    Token(TokenArgs),
    /// Fault injection: API fault rules and Connect faults.
    Fault(FaultArgs),
    /// Read, advance or set the virtual clock.
    Clock(ClockArgs),
    /// Read and change vehicle state.
    Vehicle(VehicleArgs),
    /// Show or switch Smartcar's request limits.
    Limits(LimitsArgs),
    /// What the server received, newest first.
    Journal(JournalArgs),
    /// Forget one app's state (users, tokens, vehicles, faults, journal), or everything.
    Reset(ResetArgs),
    /// Save the world (or one app's part) to a JSON file, or replace it with one.
    Snapshot(SnapshotArgs),
    /// Print hosts-file lines mapping Smartcar's hosts to the mock's HTTPS listener, and how to
    /// trust its certificate: an app with no SMARTCAR_* variable then talks to the mock.
    Hosts(HostsArgs),
}

/// Which server to drive.
#[derive(Debug, Clone, Args)]
pub(crate) struct Target {
    /// The running mock's base URL.
    #[arg(
        long,
        env = "SMARTCAR_MOCK_SERVER",
        default_value = "http://127.0.0.1:4000",
        global = true
    )]
    pub(crate) server: String,
    /// The server's `--admin-token`, if it was started with one.
    #[arg(long, env = "SMARTCAR_MOCK_ADMIN_TOKEN", global = true)]
    pub(crate) admin_token: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct TokenArgs {
    #[command(flatten)]
    target: Target,
    /// The app (default: the first app of the fixtures).
    #[arg(long)]
    client_id: Option<String>,
    /// The brand, e.g. FORD (default: the app's default brand).
    #[arg(long)]
    brand: Option<String>,
    /// Permissions, space-separated or repeated (default: the app's default scope).
    #[arg(long, num_args = 1..)]
    scope: Vec<String>,
    /// The login, in the test-mode grammar (default: a new user each time).
    #[arg(long)]
    email: Option<String>,
    /// live, test or simulated (default: test).
    #[arg(long)]
    mode: Option<String>,
    /// A registered redirect URI of the app (default: its first).
    #[arg(long)]
    redirect_uri: Option<String>,
    /// Print the authorization code instead of exchanging it.
    #[arg(long)]
    code_only: bool,
}

#[derive(Debug, Args)]
pub(crate) struct FaultArgs {
    #[command(flatten)]
    target: Target,
    #[command(subcommand)]
    action: FaultAction,
}

#[derive(Debug, Subcommand)]
enum FaultAction {
    /// Add an API fault rule.
    Add(FaultAdd),
    /// The next authorization(s) of an app (or one login) end in a Connect error.
    Connect(FaultConnect),
    /// Every rule, with how often it fired.
    List(AppOption),
    /// Remove one rule.
    Remove { id: u64 },
    /// Remove every rule (of one app).
    Clear(AppOption),
}

#[derive(Debug, Args)]
struct FaultAdd {
    /// Only requests of this app (client id).
    #[arg(long)]
    app: Option<String>,
    /// Only requests of this user id.
    #[arg(long)]
    user: Option<Uuid>,
    /// Only requests for this vehicle id.
    #[arg(long)]
    vehicle: Option<Uuid>,
    /// Only this HTTP method.
    #[arg(long)]
    method: Option<String>,
    /// A path pattern: `*` within a segment, `**` across segments.
    #[arg(long)]
    path: Option<String>,
    /// A catalogue row, TYPE:CODE (e.g. VEHICLE_STATE:ASLEEP, AUTHENTICATION).
    #[arg(long)]
    error: Option<String>,
    /// Add `retry-after: <seconds>` to the answer.
    #[arg(long)]
    retry_after: Option<u64>,
    /// `2s` or a range `500ms..3s`.
    #[arg(long)]
    latency: Option<String>,
    /// Close the connection without an answer.
    #[arg(long)]
    drop: bool,
    /// Fire this many times (default: always).
    #[arg(long)]
    times: Option<u32>,
    /// Fire with this chance (0–1).
    #[arg(long)]
    probability: Option<f64>,
    /// Seed for the probability and latency ranges.
    #[arg(long)]
    seed: Option<u64>,
}

#[derive(Debug, Args)]
struct FaultConnect {
    /// The app whose next authorization fails.
    #[arg(long)]
    app: String,
    /// Only this login.
    #[arg(long)]
    email: Option<String>,
    /// access_denied, invalid_subscription, vehicle_incompatible, no_vehicles,
    /// configuration_error or server_error.
    #[arg(long, value_parser = connect_error)]
    error: ConnectErrorCode,
    /// How many authorizations fail (default 1).
    #[arg(long)]
    times: Option<u32>,
}

#[derive(Debug, Args)]
struct AppOption {
    /// Only this app (client id).
    #[arg(long)]
    app: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ClockArgs {
    #[command(flatten)]
    target: Target,
    #[command(subcommand)]
    action: Option<ClockAction>,
}

#[derive(Debug, Subcommand)]
enum ClockAction {
    /// The time on the server's clock (the default).
    Show,
    /// Move the clock forward: 2h, 61d, 11m, 90s.
    Advance { by: String },
    /// Set the clock to an RFC 3339 time.
    Set { now: String },
    /// Back to wall time.
    Reset,
}

#[derive(Debug, Args)]
pub(crate) struct VehicleArgs {
    #[command(flatten)]
    target: Target,
    #[command(subcommand)]
    action: VehicleAction,
}

#[derive(Debug, Subcommand)]
enum VehicleAction {
    /// Every connected vehicle (of one app).
    List(AppOption),
    /// One vehicle and its state.
    Show { id: String },
    /// Change state: `field.path=value` pairs (values are JSON, else text) or one JSON object.
    Set {
        id: String,
        #[arg(required = true)]
        changes: Vec<String>,
    },
    /// Start a trip profile (parked, driving, charging, commute), or show or stop the trip.
    Trip(simulator::TripArgs),
    /// The simulator's built-in routes.
    Routes,
    /// Every vehicle the simulator created or runs a trip on (of one app), with its trip.
    Simulated(AppOption),
    /// Create a simulated vehicle, already connected: its user, id and tokens.
    Create(simulator::CreateArgs),
}

#[derive(Debug, Args)]
pub(crate) struct LimitsArgs {
    #[command(flatten)]
    target: Target,
    #[command(subcommand)]
    action: Option<LimitsAction>,
}

#[derive(Debug, Subcommand)]
enum LimitsAction {
    /// The limits in force (the default).
    Show(AppOption),
    /// Switch the limits on, optionally changing them.
    On(LimitArgs),
    /// Switch the limits off.
    Off(AppOption),
}

#[derive(Debug, Args)]
struct LimitArgs {
    /// Only for this app (default: the server default).
    #[arg(long)]
    app: Option<String>,
    /// Requests an app may burst (120).
    #[arg(long)]
    app_capacity: Option<u32>,
    /// How many come back per minute (2).
    #[arg(long)]
    app_refill_per_minute: Option<f64>,
    /// Requests a vehicle may burst (30).
    #[arg(long)]
    vehicle_capacity: Option<u32>,
    /// Seconds for one vehicle request to come back (10).
    #[arg(long)]
    vehicle_refill_seconds: Option<u32>,
    /// Requests per vehicle per calendar month (500).
    #[arg(long)]
    monthly_vehicle_requests: Option<u32>,
}

#[derive(Debug, Args)]
pub(crate) struct JournalArgs {
    #[command(flatten)]
    target: Target,
    /// Only this app (client id).
    #[arg(long)]
    app: Option<String>,
    /// Only this vehicle id.
    #[arg(long)]
    vehicle: Option<Uuid>,
    /// Only this user id.
    #[arg(long)]
    user: Option<Uuid>,
    /// Only this HTTP method.
    #[arg(long)]
    method: Option<String>,
    /// A glob (`*/charge`) or any part of the path.
    #[arg(long)]
    path: Option<String>,
    /// `429` or `4xx`.
    #[arg(long)]
    status: Option<String>,
    /// An RFC 3339 time, or a duration ago on the virtual clock (`5m`).
    #[arg(long)]
    since: Option<String>,
    /// At most this many records.
    #[arg(long)]
    limit: Option<usize>,
}

#[derive(Debug, Args)]
pub(crate) struct ResetArgs {
    #[command(flatten)]
    target: Target,
    /// Only this app (default: everything, and the clock).
    #[arg(long)]
    app: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct SnapshotArgs {
    #[command(flatten)]
    target: Target,
    #[command(subcommand)]
    action: SnapshotAction,
}

#[derive(Debug, Subcommand)]
enum SnapshotAction {
    /// Write the world (or one app's part) to FILE as JSON (`-` for standard output).
    Save {
        file: PathBuf,
        /// Only this app (default: every app, the clock and the server-wide settings).
        #[arg(long)]
        app: Option<String>,
    },
    /// Replace the world (or one app's part) with the snapshot or scenario in FILE.
    Load {
        file: PathBuf,
        /// Only this app's part.
        #[arg(long)]
        app: Option<String>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct HostsArgs {
    /// The mock's HTTPS address (its --tls-addr). A hosts file maps names, not ports, so clients
    /// reach it only on port 443.
    #[arg(long, env = "SMARTCAR_MOCK_TLS_ADDR", default_value = "127.0.0.1:443")]
    tls_addr: SocketAddr,
    /// The file the mock writes its certificate authority to (its --tls-cert-out).
    #[arg(long, env = "SMARTCAR_MOCK_TLS_CERT_OUT")]
    tls_cert_out: Option<PathBuf>,
}

/// Runs a client subcommand and prints the server's JSON answer.
pub(crate) async fn run(command: Command) -> anyhow::Result<()> {
    let answer = match command {
        Command::Serve(_) => bail!("serve is not a client subcommand"),
        Command::Hosts(args) => return print(&hosts(args.tls_addr, args.tls_cert_out.as_deref())),
        Command::Health(target) => call(target.request(Method::GET, "/admin/health")?).await?,
        Command::Token(args) => {
            let target = &args.target;
            call(target.request(Method::POST, "/admin/authorize")?.json(&args.request())).await?
        }
        Command::Fault(args) => fault(args).await?,
        Command::Clock(args) => {
            let target = &args.target;
            let request = match args.action.unwrap_or(ClockAction::Show) {
                ClockAction::Show => target.request(Method::GET, "/admin/clock")?,
                ClockAction::Advance { by } => target
                    .request(Method::POST, "/admin/clock/advance")?
                    .json(&ClockAdvance { by }),
                ClockAction::Set { now } => target.request(Method::PUT, "/admin/clock")?.json(&ClockSet { now }),
                ClockAction::Reset => target.request(Method::DELETE, "/admin/clock")?,
            };
            call(request).await?
        }
        Command::Vehicle(args) => vehicle(args).await?,
        Command::Limits(args) => limits(args).await?,
        Command::Journal(args) => {
            let target = &args.target;
            call(target.request(Method::GET, "/admin/requests")?.query(&args.query())).await?
        }
        Command::Reset(args) => {
            let filter = AppFilter { app: args.app };
            call(args.target.request(Method::POST, "/admin/reset")?.query(&filter)).await?
        }
        Command::Snapshot(args) => return snapshot(args).await,
    };
    print(&serde_json::to_string_pretty(&answer)?)
}

fn print(text: &str) -> anyhow::Result<()> {
    match writeln!(std::io::stdout().lock(), "{text}") {
        // `mock-server journal | head` closes the pipe early; that is not a failure.
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        result => result.context("writing the answer"),
    }
}

/// The hosts-file lines for a mock whose HTTPS listener is `tls_addr`, then (as comments, so the
/// whole text can be appended to a hosts file) how each runtime trusts the certificate `cert`.
pub(crate) fn hosts(tls_addr: SocketAddr, cert: Option<&Path>) -> String {
    // A wildcard address listens on loopback too; a hosts file needs one address to dial.
    let ip = match tls_addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let port = tls_addr.port();
    let dial = SocketAddr::new(ip, port);
    let mut text = format!(
        "# Smartcar's hosts -> the mock's HTTPS listener ({tls_addr}). Append to /etc/hosts\n\
         # (Windows: C:\\Windows\\System32\\drivers\\etc\\hosts): mock-server hosts | sudo tee -a /etc/hosts\n"
    );
    if port != 443 {
        text.push_str(&format!(
            "# The mock listens on port {port}, but a hosts file maps names, not ports: clients dial 443.\n\
             # Start it with --tls-addr {ip_port}, or forward 443 to {port}: docker run -p 443:{port} ...,\n\
             # or socat TCP-LISTEN:443,fork,reuseaddr TCP:{dial}\n",
            ip_port = SocketAddr::new(tls_addr.ip(), 443),
        ));
    }
    for host in mock_server::net::SMARTCAR_HOSTS {
        text.push_str(&format!("{ip} {host}\n"));
    }
    let (cert, written) = match cert {
        Some(path) => (path.display().to_string(), "The mock writes a new authority there"),
        None => (
            "CA.pem".to_owned(),
            "Start the mock with --tls-cert-out CA.pem: it writes a new authority",
        ),
    };
    text.push_str(&format!(
        "#
# {written} at every start (trust it again after a restart).
# Trust the mock's certificate authority:
#   Node.js                  NODE_EXTRA_CA_CERTS={cert}
#   Python requests          REQUESTS_CA_BUNDLE={cert}   (replaces the default roots)
#   Python ssl/httpx/aiohttp, Go, Ruby, PHP, OpenSSL tools
#                            SSL_CERT_FILE={cert}   (replaces the default roots)
#   curl                     curl --cacert {cert}   (or CURL_CA_BUNDLE={cert})
#   Java (JDK 9+)            keytool -importcert -noprompt -cacerts -storepass changeit -alias smartcar-mock -file {cert}
#   Chrome/Chromium (Linux)  certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n smartcar-mock -i {cert}
#                            (or, with no hosts file: --host-resolver-rules=\"MAP *.smartcar.com:443 {dial}\" --ignore-certificate-errors)
#   Firefox                  Settings > Privacy & Security > Certificates > View Certificates > Authorities > Import
#   The whole machine        Debian/Ubuntu: cp {cert} /usr/local/share/ca-certificates/smartcar-mock.crt && update-ca-certificates
#                            macOS: security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain {cert}"
    ));
    text
}

/// A Connect error by the name the admin API reads (`access_denied`, …).
fn connect_error(text: &str) -> Result<ConnectErrorCode, String> {
    use serde::de::IntoDeserializer;
    let text: serde::de::value::StrDeserializer<'_, serde::de::value::Error> = text.into_deserializer();
    ConnectErrorCode::deserialize(text).map_err(|error| error.to_string())
}

impl TokenArgs {
    /// The body of `POST /admin/authorize`.
    fn request(&self) -> AuthorizeRequest {
        AuthorizeRequest {
            client_id: self.client_id.clone(),
            brand: self.brand.clone(),
            scope: (!self.scope.is_empty()).then(|| Scope::Text(self.scope.join(" "))),
            email: self.email.clone(),
            mode: self.mode.clone(),
            redirect_uri: self.redirect_uri.clone(),
            exchange: self.code_only.then_some(false),
        }
    }
}

impl FaultAdd {
    /// The body of `POST /admin/faults`.
    fn spec(self) -> FaultSpec {
        FaultSpec {
            app: self.app,
            user: self.user,
            vehicle: self.vehicle,
            method: self.method,
            path: self.path,
            error: self.error.map(ErrorName::Text),
            retry_after: self.retry_after,
            latency: self.latency,
            drop: self.drop,
            times: self.times,
            probability: self.probability,
            seed: self.seed,
        }
    }
}

impl JournalArgs {
    /// The query of `GET /admin/requests`.
    fn query(&self) -> JournalQuery {
        JournalQuery {
            app: self.app.clone(),
            claimed_app: None,
            vehicle: self.vehicle,
            user: self.user,
            method: self.method.clone(),
            path: self.path.clone(),
            status: self.status.clone(),
            since: self.since.clone(),
            limit: self.limit,
        }
    }
}

impl LimitArgs {
    /// The body of `PUT /admin/limits` that switches the limits on with these changes.
    fn switch_on(self) -> LimitChange {
        LimitChange {
            app: self.app,
            enabled: Some(true),
            app_capacity: self.app_capacity,
            app_refill_per_minute: self.app_refill_per_minute,
            vehicle_capacity: self.vehicle_capacity,
            vehicle_refill_seconds: self.vehicle_refill_seconds,
            monthly_vehicle_requests: self.monthly_vehicle_requests,
        }
    }
}

async fn fault(args: FaultArgs) -> anyhow::Result<Value> {
    let target = &args.target;
    let request = match args.action {
        FaultAction::Add(add) => target.request(Method::POST, "/admin/faults")?.json(&add.spec()),
        FaultAction::Connect(connect) => {
            let spec = ConnectFaultSpec {
                app: connect.app,
                email: connect.email,
                error: connect.error,
                times: connect.times,
            };
            target.request(Method::POST, "/admin/faults/connect")?.json(&spec)
        }
        FaultAction::List(app) => target
            .request(Method::GET, "/admin/faults")?
            .query(&AppFilter { app: app.app }),
        FaultAction::Remove { id } => target.request(Method::DELETE, &format!("/admin/faults/{id}"))?,
        FaultAction::Clear(app) => target
            .request(Method::DELETE, "/admin/faults")?
            .query(&AppFilter { app: app.app }),
    };
    call(request).await
}

async fn snapshot(args: SnapshotArgs) -> anyhow::Result<()> {
    let target = &args.target;
    match args.action {
        SnapshotAction::Save { file, app } => {
            let filter = AppFilter { app };
            let snapshot = call(target.request(Method::GET, "/admin/snapshot")?.query(&filter)).await?;
            let text = serde_json::to_string_pretty(&snapshot)? + "\n";
            if file == Path::new("-") {
                return print(text.trim_end());
            }
            std::fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
            print(&format!("saved to {}", file.display()))
        }
        SnapshotAction::Load { file, app } => {
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let filter = AppFilter { app };
            let request = target
                .request(Method::PUT, "/admin/snapshot")?
                .query(&filter)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(bytes);
            let answer = call(request)
                .await
                .with_context(|| format!("loading {}", file.display()))?;
            print(&serde_json::to_string_pretty(&answer)?)
        }
    }
}

async fn vehicle(args: VehicleArgs) -> anyhow::Result<Value> {
    let target = &args.target;
    let request = match args.action {
        VehicleAction::List(app) => target
            .request(Method::GET, "/admin/vehicles")?
            .query(&AppFilter { app: app.app }),
        VehicleAction::Show { id } => target.request(Method::GET, &vehicle_path(&id)?)?,
        VehicleAction::Set { id, changes } => target
            .request(Method::PATCH, &vehicle_path(&id)?)?
            .json(&state_patch(&changes)?),
        VehicleAction::Trip(trip) => return simulator::trip(target, trip).await,
        VehicleAction::Routes => return simulator::routes(target).await,
        VehicleAction::Simulated(app) => return simulator::list(target, app.app).await,
        VehicleAction::Create(create) => return simulator::create(target, create).await,
    };
    call(request).await
}

fn vehicle_path(id: &str) -> anyhow::Result<String> {
    let id = uuid::Uuid::try_parse(id).with_context(|| format!("{id:?} is not a vehicle id"))?;
    Ok(format!("/admin/vehicles/{id}"))
}

/// `charge.isPluggedIn=true motion=DRIVING` (or one JSON object) as a state change. Values are
/// JSON where they parse as JSON, else text.
pub(crate) fn state_patch(changes: &[String]) -> anyhow::Result<StatePatch> {
    if let [only] = changes
        && only.trim_start().starts_with('{')
    {
        let patch: Value = serde_json::from_str(only).context("the change is not a JSON object")?;
        return Ok(StatePatch::from(patch));
    }
    let mut patch = StatePatch::new();
    for change in changes {
        let Some((path, value)) = change.split_once('=') else {
            bail!("{change:?} is not field.path=value");
        };
        let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
        patch = patch.set(path, value);
    }
    Ok(patch)
}

async fn limits(args: LimitsArgs) -> anyhow::Result<Value> {
    let target = &args.target;
    let request = match args.action.unwrap_or(LimitsAction::Show(AppOption { app: None })) {
        LimitsAction::Show(app) => target
            .request(Method::GET, "/admin/limits")?
            .query(&AppFilter { app: app.app }),
        LimitsAction::On(change) => target.request(Method::PUT, "/admin/limits")?.json(&change.switch_on()),
        LimitsAction::Off(app) => {
            let change = LimitChange {
                app: app.app,
                enabled: Some(false),
                ..LimitChange::default()
            };
            target.request(Method::PUT, "/admin/limits")?.json(&change)
        }
    };
    call(request).await
}

impl Target {
    /// A call of the admin API at `path`, with the admin token when one was given.
    fn request(&self, method: Method, path: &str) -> anyhow::Result<reqwest::RequestBuilder> {
        mock_server::net::install_crypto_provider();
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .context("building the HTTP client")?;
        let url = format!("{}{path}", self.server.trim_end_matches('/'));
        let request = client.request(method, url);
        Ok(match &self.admin_token {
            Some(token) => request.bearer_auth(token),
            None => request,
        })
    }
}

/// Sends one admin call: the JSON answer, or an error carrying the server's message.
async fn call(request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
    let (client, request) = request.build_split();
    let request = request.context("writing the request")?;
    let url = request.url().clone();
    let response = client
        .execute(request)
        .await
        .with_context(|| format!("calling {url} (is the mock running? --server / SMARTCAR_MOCK_SERVER)"))?;
    let status = response.status();
    let text = response.text().await.context("reading the answer")?;
    let answer: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if !status.is_success() {
        let message = answer
            .get("message")
            .and_then(Value::as_str)
            .map_or_else(|| answer.to_string(), str::to_owned);
        bail!("{status}: {message}");
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_changes_build_a_nested_state_patch() {
        let changes = [
            "charge.isPluggedIn=true",
            "charge.state=CHARGING",
            "odometer.distance=12.5",
        ]
        .map(String::from);

        assert_eq!(
            state_patch(&changes).expect("a patch").as_json(),
            &serde_json::json!({ "charge": { "isPluggedIn": true, "state": "CHARGING" }, "odometer": { "distance": 12.5 } })
        );
    }

    #[test]
    fn hosts_maps_every_smartcar_host_to_the_tls_address_and_names_the_certificate() {
        let addr = "127.0.0.1:443".parse().expect("an address");

        let text = hosts(addr, Some(Path::new("/tmp/mock-ca.pem")));

        let mapped: Vec<&str> = text.lines().filter(|line| !line.starts_with('#')).collect();
        assert_eq!(
            mapped,
            [
                "127.0.0.1 api.smartcar.com",
                "127.0.0.1 auth.smartcar.com",
                "127.0.0.1 connect.smartcar.com",
                "127.0.0.1 management.smartcar.com",
                "127.0.0.1 vehicle.api.smartcar.com",
                "127.0.0.1 javascript-sdk.smartcar.com",
            ]
        );
        for setting in [
            "NODE_EXTRA_CA_CERTS=/tmp/mock-ca.pem",
            "REQUESTS_CA_BUNDLE=/tmp/mock-ca.pem",
            "SSL_CERT_FILE=/tmp/mock-ca.pem",
            "keytool -importcert -noprompt -cacerts -storepass changeit -alias smartcar-mock -file /tmp/mock-ca.pem",
            "certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n smartcar-mock -i /tmp/mock-ca.pem",
        ] {
            assert!(text.contains(setting), "{setting} missing from:\n{text}");
        }
        assert!(!text.contains("forward 443"), "{text}");
    }

    #[test]
    fn hosts_for_a_wildcard_address_on_another_port_dial_loopback_and_say_how_to_forward() {
        let addr = "0.0.0.0:4443".parse().expect("an address");

        let text = hosts(addr, None);

        assert!(text.contains("\n127.0.0.1 api.smartcar.com\n"), "{text}");
        assert!(
            text.contains("--tls-addr 0.0.0.0:443, or forward 443 to 4443"),
            "{text}"
        );
        assert!(
            text.contains("socat TCP-LISTEN:443,fork,reuseaddr TCP:127.0.0.1:4443"),
            "{text}"
        );
        assert!(text.contains("Start the mock with --tls-cert-out CA.pem"), "{text}");
    }

    #[test]
    fn the_connection_cap_is_a_serve_option_and_cannot_be_zero() {
        let capped = Cli::try_parse_from(["mock-server", "--max-connections", "2"]).expect("parses");
        let default = Cli::try_parse_from(["mock-server"]).expect("parses");
        let zero = Cli::try_parse_from(["mock-server", "--max-connections", "0"]);

        assert_eq!(capped.serve.max_connections.get(), 2);
        assert_eq!(default.serve.max_connections, mock_server::net::DEFAULT_MAX_CONNECTIONS);
        assert!(zero.is_err());
    }

    #[test]
    fn no_subcommand_means_serve_with_the_given_options() {
        let cli = Cli::try_parse_from(["mock-server", "--addr", "127.0.0.1:0", "--auto-approve"]).expect("parses");

        assert!(cli.command.is_none());
        assert!(cli.serve.auto_approve);
    }

    #[test]
    fn a_token_subcommand_takes_a_space_separated_scope() {
        let cli = Cli::try_parse_from([
            "mock-server",
            "token",
            "--brand",
            "FORD",
            "--scope",
            "read_odometer",
            "control_charge",
        ])
        .expect("parses");

        let Some(Command::Token(args)) = cli.command else {
            panic!("a token command");
        };
        assert_eq!(args.scope, ["read_odometer", "control_charge"]);
    }

    #[test]
    fn a_token_subcommand_sends_the_admin_apis_authorize_request() {
        let cli = Cli::try_parse_from([
            "mock-server",
            "token",
            "--brand",
            "FORD",
            "--scope",
            "read_odometer",
            "control_charge",
            "--code-only",
        ])
        .expect("parses");

        let Some(Command::Token(args)) = cli.command else {
            panic!("a token command");
        };
        assert_eq!(
            serde_json::to_value(args.request()).expect("JSON"),
            serde_json::json!({ "brand": "FORD", "scope": "read_odometer control_charge", "exchange": false })
        );
    }

    #[test]
    fn a_connect_fault_takes_the_connect_errors_by_their_names_only() {
        let known = Cli::try_parse_from([
            "mock-server",
            "fault",
            "connect",
            "--app",
            "a",
            "--error",
            "no_vehicles",
        ]);
        let unknown = Cli::try_parse_from(["mock-server", "fault", "connect", "--app", "a", "--error", "nope"]);

        assert!(known.is_ok());
        let error = unknown.expect_err("not a Connect error").to_string();
        assert!(error.contains("access_denied"), "{error}");
    }
}
