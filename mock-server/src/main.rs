//! `mock-server`: parse the command line, load fixtures, bind, serve until Ctrl-C or SIGTERM.
//!
//! Kept apart from `lib.rs` so tests can start the same server in-process with `serve`.

use std::io::Write;

use anyhow::Context;
use clap::Parser;
use mock_server::{AppState, config::Config};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();

    let config = Config::parse();
    let fixtures = config.fixtures()?;
    let listener = TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("binding {}", config.addr))?;

    // Scripts read the port from this exact first line.
    println!("listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;

    mock_server::serve(listener, AppState::new(fixtures), shutdown_signal()).await?;
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM, so in-flight requests finish before the process exits.
async fn shutdown_signal() {
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
