//! `mock-server`: parse the command line; run a client subcommand ([`cli`]), or load fixtures and
//! serve the platform (a [`MockServer`]) until Ctrl-C or SIGTERM.
//!
//! The flags live here, not in the library (as ripgrep keeps its flags out of its library
//! crates): [`config`] is the serve flags, [`cli`] the subcommands that drive a running server's
//! admin API with the library's typed requests.

mod cli;
mod config;

use std::io::Write;

use anyhow::Context;
use clap::Parser;
use mock_server::MockServer;
use mock_server::net;

use crate::cli::{Cli, Command};

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
        Some(command) => return cli::run(command).await,
    };
    // Bound here, so that an address that cannot be had is named with its flag.
    let mut server = MockServer::builder()
        .fixtures(config.fixtures()?)
        .settings(config.settings())
        // One cap for both listeners: it stands for the process's sockets.
        .max_connections(config.max_connections.get())
        .listener(net::bind(config.addr, "--addr")?);
    if let Some(file) = &config.state {
        server = server.state_file(file);
    }
    for scenario in &config.scenarios {
        server = server.scenario(scenario);
    }
    if let Some(addr) = config.tls_addr {
        server = server.tls_listener(net::bind(addr, "--tls-addr")?);
    }
    let server = server.try_start().await?;

    // Scripts read the port from this exact first line.
    println!("listening on http://{}", server.addr());
    if let Some(tls_addr) = server.tls_addr() {
        // Written before the line that says HTTPS is up, so a script that waits for it can trust it.
        if let (Some(path), Some(ca_pem)) = (&config.tls_cert_out, server.ca_pem()) {
            std::fs::write(path, ca_pem).with_context(|| format!("writing {}", path.display()))?;
        }
        println!("listening on https://{tls_addr}");
    }
    std::io::stdout().flush()?;

    mock_server::shutdown_signal().await;
    server.shutdown().await?;
    Ok(())
}
