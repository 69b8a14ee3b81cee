//! The getting-started tutorial's backend: a real HTTP client of the Smartcar platform, with the
//! routes the official tutorial backends have and a page of its own to try the popup flow.
//!
//! # Layout
//! - [`config`]: the settings, with the official SDKs' `SMARTCAR_*` variable names.
//! - [`smartcar`]: the only module that knows the platform's URLs and wire types.
//! - [`tokens`]: the connected owner's tokens and the `/login` states in flight, behind handles.
//! - [`routes`]: `GET /login`, `GET /exchange`, `GET /vehicle`.
//! - [`page`]: `GET /`, the demo page with the Connect button.
//! - [`error`]: `AppError`, the JSON every failing route answers.
//! - [`cors`]: which browser origins may read the answers.
//!
//! Every response to an allowed origin — `http://localhost:3000`, the backend's own, and those
//! configured — carries `Access-Control-Allow-Origin`, redirects and errors too, so the unchanged
//! React tutorial on another origin can call it
//! (docs/contract/tutorial-flow.md#the-tutorials-backends); other sites get none.

pub mod config;
pub mod cors;
pub mod error;
pub mod page;
pub mod routes;
pub mod smartcar;
pub mod tokens;

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

pub use config::Config;

use smartcar::Smartcar;
use tokens::{LoginStates, TokenStore};

/// What every handler can reach. Cheap to clone: handles all the way down.
#[derive(Debug, Clone)]
pub struct AppState {
    pub smartcar: Smartcar,
    pub tokens: TokenStore,
    pub logins: LoginStates,
}

/// The whole backend as one router, for a backend bound to `address` (its own origin may call it).
pub fn app(config: Config, address: SocketAddr) -> Router {
    let cors = cors::layer(address, &config.allowed_origins);
    let state = AppState {
        smartcar: Smartcar::new(config),
        tokens: TokenStore::default(),
        logins: LoginStates::default(),
    };
    Router::new()
        .merge(page::router())
        .merge(routes::router())
        // Outside the routes, so preflights, redirects, errors and unknown paths all get it.
        .layer(cors)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves the backend on `listener` until `shutdown` completes, with the mock's connection
/// handling (header and body timeouts, a connection cap, graceful shutdown).
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = app(config, listener.local_addr()?);
    let limits = mock_server::net::Limits::default();
    mock_server::net::serve(listener, None, app, limits, shutdown).await
}
