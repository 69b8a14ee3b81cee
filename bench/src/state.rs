//! `bench state`: what `--state FILE` costs. GET and refresh-grant throughput with and without a
//! state file in the same run, the cold start of a server whose state file holds 100,000
//! vehicles, and the file's size per 10,000 users.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde_json::{Value, json};
use tokio::process::Command;

use crate::flows;
use crate::load::{self, Throughput};
use crate::process::{self, Address};

const PROBE: &str = "/oauth/authorize?response_type=code&client_id=demo-client&mode=test";

#[derive(clap::Parser, Clone)]
pub(crate) struct StateArgs {
    /// Shorter runs (2 s loads, a 10,000-vehicle file instead of 100,000).
    #[arg(long)]
    quick: bool,
    /// The release build of mock-server.
    #[arg(long, default_value = "target/release/mock-server")]
    mock: PathBuf,
}

pub(crate) async fn run(args: StateArgs) -> anyhow::Result<()> {
    let load_time = Duration::from_secs(if args.quick { 2 } else { 8 });
    let dir = std::env::temp_dir().join(format!("bench-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;

    println!("| load | in memory | --state | ratio |");
    println!("|---|---|---|---|");
    let memory = throughput(&args, None, load_time).await?;
    let file = dir.join("throughput.db");
    let stored = throughput(&args, Some(&file), load_time).await?;
    for (name, without, with) in [
        ("GET /odometer (req/s)", &memory.0, &stored.0),
        ("refresh grant (req/s)", &memory.1, &stored.1),
    ] {
        println!(
            "| {name} | {:.0} (p99 {:.2} ms) | {:.0} (p99 {:.2} ms) | {:.2} |",
            without.per_second,
            without.p99_ms.unwrap_or(0.0),
            with.per_second,
            with.p99_ms.unwrap_or(0.0),
            with.per_second / without.per_second.max(1.0)
        );
    }

    let users = 10_000;
    let size = dir.join("size.db");
    let scenario = dir.join("users.json");
    write_scenario(&scenario, users, 1)?;
    let (server, _) = process::start(mock(&args, &size, Some(&scenario)), Address::Announced, PROBE).await?;
    stop(server).await;
    println!(
        "\nstate file for {users} users (1 vehicle, 1 token pair each): {:.1} MiB",
        file_size(&size) / 1024.0 / 1024.0
    );

    let vehicles = if args.quick { 10_000 } else { 100_000 };
    // Two vehicles a user keeps the token pairs under the 50,000 the server remembers.
    let big = dir.join("cold.db");
    let scenario = dir.join("fleet.json");
    write_scenario(&scenario, vehicles / 2, 2)?;
    let (server, loaded) = process::start(mock(&args, &big, Some(&scenario)), Address::Announced, PROBE).await?;
    stop(server).await;
    let mut samples = Vec::new();
    for _ in 0..3 {
        let (server, elapsed) = process::start(mock(&args, &big, None), Address::Announced, PROBE).await?;
        stop(server).await;
        samples.push(elapsed);
    }
    samples.sort();
    let cold = samples[1];
    println!(
        "cold start with {vehicles} vehicles in the state file: {} ms (first load from a scenario: {} ms; file {:.1} MiB)",
        cold.as_millis(),
        loaded.as_millis(),
        file_size(&big) / 1024.0 / 1024.0
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Kills the server and waits until it has let go of its state file (the next one would find it
/// locked). Waiting for the process, not for its main thread to be a zombie: a writer thread in
/// the middle of a commit keeps the file open after the main thread is gone.
async fn stop(server: process::Server) {
    server.kill().await;
}

/// GET and refresh-grant throughput of one server, with or without a state file.
async fn throughput(
    args: &StateArgs,
    file: Option<&Path>,
    load_time: Duration,
) -> anyhow::Result<(Throughput, Throughput)> {
    let mut command = Command::new(&args.mock);
    command.args(["--addr", "127.0.0.1:0"]);
    if let Some(file) = file {
        command.arg("--state").arg(file);
    }
    clean(&mut command);
    let (server, _) = process::start(command, Address::Announced, PROBE).await?;
    let http = flows::client();
    let car = flows::connect(&http, &server.base, &flows::test_login(0)).await?;
    let odometer = format!("{}/v2.0/vehicles/{}/odometer", server.base, car.vehicle_id);
    let bearer = format!("Authorization: Bearer {}", car.access_token);
    let get = load::wrk(&odometer, std::slice::from_ref(&bearer), load_time, None).await?;
    let seeds = load::refresh_tokens(&server.base, &car.refresh_token, 2 * load::CONNECTIONS).await?;
    let refresh = load::refresh_grants(&server.base, &seeds, load_time).await?;
    Ok((get, refresh))
}

fn mock(args: &StateArgs, file: &Path, scenario: Option<&Path>) -> Command {
    let mut command = Command::new(&args.mock);
    command.args(["--addr", "127.0.0.1:0", "--state"]).arg(file);
    if let Some(scenario) = scenario {
        command.arg("--scenario").arg(scenario);
    }
    clean(&mut command);
    command
}

/// No app, state file or scenario from the caller's environment.
fn clean(command: &mut Command) {
    crate::process::without_app_from_env(command);
    command
        .env_remove("SMARTCAR_MOCK_STATE")
        .env_remove("SMARTCAR_MOCK_SCENARIO");
}

/// A scenario of `users` users of the demo app, each with `vehicles` FORDs and a token pair.
fn write_scenario(path: &Path, users: usize, vehicles: usize) -> anyhow::Result<()> {
    let users: Vec<Value> = (0..users)
        .map(|user| {
            let cars: Vec<Value> = (0..vehicles)
                .map(|car| json!({ "brand": "FORD", "vin": format!("3FMTK3SU5N{:07}", user * vehicles + car) }))
                .collect();
            json!({
                "login": format!("user-{user}@example.com"),
                "vehicles": cars,
                "grants": [{ "tokens": [{
                    "accessToken": uuid_for(user, 0xa),
                    "refreshToken": uuid_for(user, 0xf),
                }] }],
            })
        })
        .collect();
    let scenario = json!({ "version": 1, "apps": { "demo-client": { "users": users } } });
    std::fs::write(path, serde_json::to_vec(&scenario)?).with_context(|| format!("writing {}", path.display()))
}

fn uuid_for(user: usize, kind: u8) -> String {
    format!("00000000-0000-4000-8{kind:03x}-{user:012x}")
}

/// The file and its write-ahead log, in bytes.
fn file_size(file: &Path) -> f64 {
    let size = |path: PathBuf| std::fs::metadata(path).map_or(0, |meta| meta.len());
    let mut wal = file.as_os_str().to_owned();
    wal.push("-wal");
    (size(file.to_path_buf()) + size(PathBuf::from(wal))) as f64
}
