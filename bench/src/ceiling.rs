//! The ceiling: the least work a server can do to answer `GET /v2.0/vehicles/{id}/odometer` with
//! the same body as the mock. The mock's figures are read as a fraction of this one's.

use std::io::Write;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

pub(crate) const BODY: &str = r#"{"distance":52340.5}"#;

pub(crate) async fn serve(addr: std::net::SocketAddr) -> anyhow::Result<()> {
    let app = Router::new()
        .route("/v2.0/vehicles/{id}/odometer", get(odometer))
        .route("/health", get(odometer));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    axum::serve(listener, app).await?;
    Ok(())
}

async fn odometer() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json; charset=utf-8")], BODY)
}
