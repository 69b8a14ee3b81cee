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
//!
//! Every response carries `Access-Control-Allow-Origin: *` — redirects and errors too — so the
//! unchanged React tutorial on another origin can call it (tutorial-flow.md §3).

pub mod config;
pub mod error;
pub mod page;
pub mod routes;
pub mod smartcar;
pub mod tokens;

use std::future::Future;

use axum::Router;
use tokio::net::TcpListener;
use tower_http::cors::CorsLayer;
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

/// The whole backend as one router.
pub fn app(config: Config) -> Router {
    let state = AppState {
        smartcar: Smartcar::new(config),
        tokens: TokenStore::default(),
        logins: LoginStates::default(),
    };
    Router::new()
        .merge(page::router())
        .merge(routes::router())
        // `permissive` answers preflights too and puts `*` on every response, whatever its status.
        .layer(CorsLayer::permissive())
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
    let limits = mock_server::serving::Limits::default();
    mock_server::serving::serve(listener, None, app(config), limits, shutdown).await
}
