//! An offline Smartcar platform: Connect, the token endpoint and the vehicle API on one listener.
//!
//! Start it inside a test or program with [`MockServer`]; `mock-server --help` runs it as a process.
//!
//! # Layout
//! - [`MockServer`]: the platform started in-process, and test control through typed requests
//!   ([`AuthorizeRequest`], [`FaultSpec`], [`StatePatch`], [`ClockAdvance`], [`LimitChange`], …:
//!   the same types the admin API reads). Only the facade, those types and [`net`] are public;
//!   every module below is crate-private, its vocabulary re-exported here where a caller needs
//!   it ([`Snapshot`], [`VehicleState`], [`Speed`], …).
//! - `domain`: what the platform is and does, with no HTTP in it — fixtures, the vehicle model
//!   and its command rules, the world (users, vehicles, grants, codes, tokens), the clock, the
//!   error catalogue, signing in, the login grammar, and test control's stores (faults, limits,
//!   journal, the webhook registry and its change-diff). The modules below parse a request, call
//!   the domain and render its answer.
//! - `connect`: the Connect pages (`GET /oauth/authorize` and the steps behind it).
//! - `oauth`: the token endpoint (`POST /oauth/token`).
//! - `vehicles`: the vehicle API (`/v{ver}/user`, `/v{ver}/vehicles/…`).
//! - `compatibility`: the compatibility API (`/v{ver}/compatibility`, `…/matrix`).
//! - `webhooks`: the webhook routes and the sender ([`Webhooks`]: signed deliveries, retries,
//!   their log).
//! - `management`: the management API (`/v{ver}/management/connections`).
//! - `error`: Smartcar's v1/v2/v3 error envelopes, rendered from the catalogue.
//! - `pipeline`: the one layer every request passes: request id, caller (its token resolved
//!   once), faults, limits, the journal.
//! - `request`: request ids and the JSON content type every response shares.
//! - `credentials`: the app behind a Basic or AMT credential, the version segment, queries.
//! - `sdk_redirect`: the JS SDK's redirect page (`GET /v2/redirect`), served offline.
//! - `tls`: HTTPS under Smartcar's real host names, for browser host mapping.
//! - `serving`: accepting connections for both listeners: timeouts, a cap, graceful shutdown.
//! - [`net`]: what of those two (and of the webhook sender's HTTPS client) the binary, the demo
//!   backend and tests use.
//! - `admin`: test control under `/admin` (not Smartcar); `caller`: who a request is from,
//!   read from its credentials.
//! - `dashboard`: the live dashboard under `/dashboard` (not Smartcar), driving `/admin`.
//! - `state`: [`AppState`], the handle every handler reaches the domain through, and the
//!   [`Settings`] a [`MockServer`] starts with.

pub(crate) mod admin;
pub(crate) mod caller;
pub(crate) mod compatibility;
pub(crate) mod connect;
pub(crate) mod credentials;
pub(crate) mod dashboard;
pub(crate) mod domain;
pub(crate) mod error;
mod facade;
pub(crate) mod management;
pub(crate) mod oauth;
pub(crate) mod pipeline;
pub(crate) mod request;
pub(crate) mod sdk_redirect;
pub(crate) mod serving;
pub(crate) mod state;
pub(crate) mod store;
pub(crate) mod tls;
pub(crate) mod vehicles;
pub(crate) mod webhooks;

use axum::Router;
use tower::Layer;
use tower_http::normalize_path::{NormalizePath, NormalizePathLayer};
use tower_http::trace::TraceLayer;

pub use domain::fixtures::{App, Fixtures};
/// Requests the journal keeps per app unless told otherwise (`--journal-size`).
pub use domain::journal::DEFAULT_SIZE as DEFAULT_JOURNAL_SIZE;

/// Serving HTTP and HTTPS the way the platform does (bounded connections, read timeouts, graceful
/// shutdown), for the binary, the demo backend and tests that serve something of their own, and
/// the TLS pieces an HTTPS client of the mock needs.
pub mod net {
    pub use crate::serving::{ConnectionCap, DEFAULT_MAX_CONNECTIONS, Limits, bind, serve};
    pub use crate::tls::{SMARTCAR_HOSTS, SelfSigned, self_signed, serve_tls};
    pub use crate::webhooks::client::{CaCert, ClientError, install_crypto_provider, parse_ca_cert, tls_config};
}
pub use facade::{Authorize, MockServer, MockServerBuilder, StartError};
// The typed admin requests and answers: what the admin API deserialises, the CLI sends and the
// facade takes.
pub use admin::authorize::{AuthorizeRequest, Code, Scope, Tokens};
pub use admin::clock::{ClockAdvance, ClockSet};
pub use admin::journal::JournalQuery;
pub use admin::simulator::CreateVehicle;
pub use admin::vehicles::StatePatch;
pub use admin::{AdminError, AppFilter};
pub use domain::faults::{ConnectFaultSpec, ErrorName, FaultSpec};
pub use domain::limits::{LimitChange, LimitSettings};
pub use domain::sign_in::{ConnectErrorCode, MAX_PASSWORD_BYTES};
pub use domain::simulator::simulation::Speed;
pub use domain::simulator::trip::{Profile, RouteChoice, TripRequest};
pub use domain::snapshot::Snapshot;
pub use domain::vehicle::{Motion, Powertrain, VehicleState};
pub use domain::world::DEFAULT_MAX_USERS;
pub use state::{AppState, Settings};
pub use store::StateError;
pub use webhooks::{DeliverySettings, Webhooks};

/// Request bodies above this are refused with a Smartcar-shaped error.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The platform's routes as one router. Unknown routes get Smartcar's 404. The pipeline goes
/// around the router as a whole ([`platform`]).
fn routes(state: AppState) -> Router {
    let router = Router::new()
        .merge(connect::router())
        .merge(oauth::router())
        .merge(sdk_redirect::router())
        .merge(management::router())
        .merge(compatibility::router())
        .merge(webhooks::router())
        .merge(vehicles::router())
        .nest("/admin", admin::router(state.clone()))
        .nest("/dashboard", dashboard::router(state.clone()))
        .fallback(vehicles::unknown_route)
        .method_not_allowed_fallback(vehicles::unknown_route);
    // Per-request spans cost ~10% of a small GET's time: only when someone will read them.
    let router = if request_logging_on() {
        router.layer(TraceLayer::new_for_http())
    } else {
        router
    };
    router.with_state(state)
}

/// Whether `RUST_LOG` asks for debug output, the level `TraceLayer` logs requests at.
pub(crate) fn request_logging_on() -> bool {
    tracing::level_filters::LevelFilter::current() >= tracing::Level::DEBUG
}

/// The platform as it is served: a trailing `/` is optional on every route
/// (docs/contract/api.md#hosts-and-paths), so paths are normalised first; then the request
/// pipeline (request id, caller, faults, limits, journal, the body limit); then the routes.
pub(crate) type Platform = NormalizePath<pipeline::Pipeline<Router>>;

/// The platform as one service ([`Platform`]). The layers wrap the router once, not each route
/// (`Router::layer` would box every route and clone it for every request).
pub(crate) fn platform(state: AppState) -> Platform {
    let pipeline = pipeline::PipelineLayer::new(state.clone()).layer(routes(state));
    NormalizePathLayer::trim_trailing_slash().layer(pipeline)
}

/// The platform's answer to `request` as if it came from `peer`, which `serving` tells test
/// control (the admin guard's loopback check reads it).
#[cfg(test)]
pub(crate) async fn answer_from(
    state: AppState,
    mut request: axum::extract::Request,
    peer: &str,
) -> axum::response::Response {
    use tower::ServiceExt;
    let peer: std::net::SocketAddr = peer.parse().expect("an address");
    request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
    platform(state).oneshot(request).await.expect("an answer")
}

/// Completes on Ctrl-C or SIGTERM, so in-flight requests finish before the process exits.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
