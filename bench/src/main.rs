//! `bench`: measures the mock side by side with a bare-axum ceiling (and, with `--peers`, the mock
//! servers people use instead), and prints a table of figures and ratios.
//!
//! ```text
//! bash bench/run.sh [--peers] [--quick]
//! bash bench/run.sh soak [--minutes 10] [-- <mock-server flags>]
//! bash bench/run.sh state [--quick]
//! ```
//!
//! # Layout
//! - [`ceiling`]: the bare axum server answering the odometer body — the upper bound.
//! - [`process`]: starting a server, timing its cold start, reading its RSS.
//! - [`load`]: `wrk` for GET throughput; a Rust driver for refresh chains and Connect flows.
//! - [`flows`]: Connect walked over HTTP as a browser would.
//! - [`scale`]: fixture folders with 1 k, 10 k and 100 k vehicles.
//! - [`peers`]: json-server, Stoplight Prism and oauth2-mock-server from npm.
//! - [`report`]: the table, the ratios and the JSON file.
//! - [`soak`]: a long mixed load with RSS sampled every 10 s, its series and slope.
//! - [`state`]: what `--state FILE` costs (throughput, cold start, file size).

mod ceiling;
mod flows;
mod load;
mod peers;
mod process;
mod report;
mod scale;
mod soak;
mod state;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "bench", about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the ceiling: a bare axum handler returning the odometer body.
    Ceiling {
        #[arg(long, default_value = "127.0.0.1:0")]
        addr: std::net::SocketAddr,
    },
    /// Run every measurement and print the table.
    Run(RunArgs),
    /// Mixed load for minutes (flows, reads, commands, refreshes, journal queries), RSS sampled
    /// every 10 s: is memory flat after warm-up, and is nothing lost?
    Soak(soak::SoakArgs),
    /// GET and refresh throughput with and without `--state`, the cold start of a 100,000-vehicle
    /// state file, and the file's size per 10,000 users.
    State(state::StateArgs),
}

#[derive(Parser, Clone)]
pub(crate) struct RunArgs {
    /// Also measure json-server, Stoplight Prism and oauth2-mock-server (installed from npm).
    #[arg(long)]
    peers: bool,
    /// Shorter runs (2 s loads, fewer cold starts, no 100 k fixture) for a quick look.
    #[arg(long)]
    quick: bool,
    /// The release build of mock-server.
    #[arg(long, default_value = "target/release/mock-server")]
    mock: PathBuf,
    /// Where the JSON results go.
    #[arg(long, default_value = "bench/out/results.json")]
    out: PathBuf,
}

impl RunArgs {
    fn load_time(&self) -> Duration {
        Duration::from_secs(if self.quick { 2 } else { 8 })
    }

    fn cold_starts(&self) -> usize {
        if self.quick { 5 } else { 15 }
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new()?;
    match cli.command {
        Command::Ceiling { addr } => runtime.block_on(ceiling::serve(addr)),
        Command::Run(args) => runtime.block_on(report::run(args)),
        Command::Soak(args) => runtime.block_on(soak::run(args)),
        Command::State(args) => runtime.block_on(state::run(args)),
    }
}
