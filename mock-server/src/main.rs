//! `mock-server`: parse the command line; run a client subcommand ([`mock_server::cli`]), or load
//! fixtures, bind and serve until Ctrl-C or SIGTERM.
//!
//! Kept apart from `lib.rs` so tests can start the same server in-process with `serve`.

use std::io::Write;

use anyhow::Context;
use clap::Parser;
use mock_server::AppState;
use mock_server::cli::{Cli, Command};
use mock_server::serving::{self, Limits};

// A request allocates a few dozen small blocks across two worker threads; mimalloc's per-thread
// free lists serve them at about half glibc's cost (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();

    let cli = Cli::parse();
    let config = match cli.command {
        None => cli.serve,
        Some(Command::Serve(config)) => config,
        Some(command) => return mock_server::cli::run(command).await,
    };
    let fixtures = config.fixtures()?;
    let state = AppState::try_with_settings(fixtures, config.settings())?;
    let listener = serving::bind(config.addr, "--addr")?;

    // Scripts read the port from this exact first line.
    println!("listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;

    // One cap for both listeners: it stands for the process's sockets.
    let limits = Limits::with_max_connections(config.max_connections.get());
    let (stop, stopped) = tokio::sync::watch::channel(());
    let when_stopped = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.changed().await;
        }
    };
    let tls = match config.tls_addr {
        Some(addr) => Some(tokio::spawn(serve_tls(
            addr,
            config.tls_cert_out.clone(),
            state.clone(),
            limits.clone(),
            when_stopped(),
        )?)),
        None => None,
    };
    tokio::spawn(async move {
        mock_server::shutdown_signal().await;
        let _ = stop.send(());
    });

    mock_server::serve_with(listener, state, limits, when_stopped()).await?;
    if let Some(tls) = tls {
        tls.await??;
    }
    Ok(())
}

/// Binds `addr` and serves the same platform over HTTPS with fresh certificates, the authority's
/// written to `cert_out` when asked, so host-mapped browsers and tools reach the mock.
fn serve_tls(
    addr: std::net::SocketAddr,
    cert_out: Option<std::path::PathBuf>,
    state: AppState,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<impl std::future::Future<Output = anyhow::Result<()>>> {
    let certificate = mock_server::tls::self_signed().context("making the HTTPS certificate")?;
    if let Some(path) = &cert_out {
        std::fs::write(path, &certificate.ca_pem).with_context(|| format!("writing {}", path.display()))?;
    }
    let acceptor = mock_server::tls::acceptor(&certificate.cert_pem, &certificate.key_pem)?;
    let listener = serving::bind(addr, "--tls-addr")?;
    println!("listening on https://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    Ok(async move {
        serving::serve(listener, Some(acceptor), mock_server::platform(state), limits, shutdown).await?;
        Ok(())
    })
}
