//! One run: every measurement, in order, then the table, the ratios and the JSON file.

use std::time::Duration;

use serde::Serialize;
use tokio::process::Command;

use crate::RunArgs;
use crate::flows::{self, Login};
use crate::load::{self, Throughput};
use crate::peers::{self, PeerFigures};
use crate::process::{self, Address};
use crate::scale;

const MOCK_PROBE: &str = "/oauth/authorize?response_type=code&client_id=demo-client&mode=test";

#[derive(Debug, Default, Serialize)]
struct Results {
    date: String,
    machine: String,
    ceiling_cold_start_ms: f64,
    ceiling_get: Throughput,
    mock_cold_start_ms: f64,
    mock_get: Throughput,
    mock_refresh_grants: Throughput,
    mock_connect_flows: Throughput,
    mock_idle_rss_mib: f64,
    mock_loaded_rss_mib: f64,
    scale: Vec<ScaleFigures>,
    peers: Vec<PeerFigures>,
}

#[derive(Debug, Serialize)]
struct ScaleFigures {
    vehicles: usize,
    cold_start_ms: f64,
    idle_rss_mib: f64,
    get: Throughput,
}

fn mock_command(args: &RunArgs, fixtures: Option<&std::path::Path>) -> Command {
    let mut command = Command::new(&args.mock);
    command.args(["--addr", "127.0.0.1:0"]);
    if let Some(dir) = fixtures {
        command.arg("--fixtures").arg(dir);
    }
    crate::process::without_app_from_env(&mut command);
    command
}

fn ceiling_command() -> Command {
    let mut command = Command::new(std::env::current_exe().expect("own path"));
    command.arg("ceiling");
    command
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

pub(crate) async fn run(args: RunArgs) -> anyhow::Result<()> {
    let load_time = args.load_time();
    let mut results = Results {
        date: String::from_utf8_lossy(&std::process::Command::new("date").arg("-u").arg("+%F").output()?.stdout)
            .trim()
            .to_owned(),
        machine: format!(
            "{} cores, {}",
            std::thread::available_parallelism()?.get(),
            std::env::consts::ARCH
        ),
        ..Results::default()
    };

    eprintln!("ceiling: cold start, GET throughput");
    results.ceiling_cold_start_ms = ms(process::median_cold_start(
        args.cold_starts(),
        || (ceiling_command(), Address::Announced),
        "/health",
    )
    .await?);
    let (ceiling, _) = process::start(ceiling_command(), Address::Announced, "/health").await?;
    results.ceiling_get = load::wrk(
        &format!("{}/v2.0/vehicles/x/odometer", ceiling.base),
        &[],
        load_time,
        None,
    )
    .await?;
    drop(ceiling);

    eprintln!("mock: cold start, GET, refresh grants, Connect flows, memory");
    results.mock_cold_start_ms = ms(process::median_cold_start(
        args.cold_starts(),
        || (mock_command(&args, None), Address::Announced),
        MOCK_PROBE,
    )
    .await?);
    let (mock, _) = process::start(mock_command(&args, None), Address::Announced, MOCK_PROBE).await?;
    results.mock_idle_rss_mib = mock.rss_mib();
    let http = flows::client();
    let car = flows::connect(&http, &mock.base, &flows::test_login(0)).await?;
    let odometer = format!("{}/v2.0/vehicles/{}/odometer", mock.base, car.vehicle_id);
    let bearer = format!("Authorization: Bearer {}", car.access_token);
    results.mock_get = load::wrk(&odometer, std::slice::from_ref(&bearer), load_time, None).await?;
    let seeds = load::refresh_tokens(&mock.base, &car.refresh_token, 2 * load::CONNECTIONS).await?;
    results.mock_refresh_grants = load::refresh_grants(&mock.base, &seeds, load_time).await?;
    results.mock_connect_flows = load::connect_flows(&mock.base, load_time).await?;
    results.mock_loaded_rss_mib = mock.rss_mib();
    drop(mock);

    let sizes: &[usize] = if args.quick {
        &[1_000, 10_000]
    } else {
        &[1_000, 10_000, 100_000]
    };
    for &vehicles in sizes {
        eprintln!("mock with {vehicles} fixture vehicles");
        let dir = scale::write(
            &std::path::Path::new("bench/out").join(format!("fixtures-{vehicles}")),
            vehicles,
        )?;
        let cold =
            process::median_cold_start(3, || (mock_command(&args, Some(&dir)), Address::Announced), MOCK_PROBE).await?;
        let (mock, _) = process::start(mock_command(&args, Some(&dir)), Address::Announced, MOCK_PROBE).await?;
        let idle = mock.rss_mib();
        let login = Login {
            mode: "live",
            make: "CHEVROLET",
            username: scale::username(0),
            password: scale::PASSWORD,
        };
        let car = flows::connect(&http, &mock.base, &login).await?;
        let url = format!("{}/v2.0/vehicles/{}/odometer", mock.base, car.vehicle_id);
        let get = load::wrk(
            &url,
            &[format!("Authorization: Bearer {}", car.access_token)],
            load_time,
            None,
        )
        .await?;
        results.scale.push(ScaleFigures {
            vehicles,
            cold_start_ms: ms(cold),
            idle_rss_mib: idle,
            get,
        });
    }

    if args.peers {
        eprintln!("peers: json-server, Stoplight Prism, oauth2-mock-server");
        results.peers = peers::measure(std::path::PathBuf::from("bench/out/peers"), load_time, 5).await?;
    }

    print_table(&results);
    if let Some(parent) = args.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&args.out, serde_json::to_string_pretty(&results)?)?;
    println!("\nwritten to {}", args.out.display());
    Ok(())
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

fn print_table(r: &Results) {
    let opt = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
    let get_ratio = r.mock_get.per_second / r.ceiling_get.per_second;
    println!("\n{} · {}\n", r.date, r.machine);
    println!(
        "{:<44} {:>12} {:>12} {:>8}  target",
        "figure", "mock", "ceiling", "ratio"
    );
    println!("{:-<44} {:->12} {:->12} {:->8}  ------", "", "", "", "");
    println!(
        "{:<44} {:>12.1} {:>12.1} {:>8.2}  ≤ 15 ms: {}",
        "cold start to first answer, median (ms)",
        r.mock_cold_start_ms,
        r.ceiling_cold_start_ms,
        r.mock_cold_start_ms / r.ceiling_cold_start_ms,
        verdict(r.mock_cold_start_ms <= 15.0)
    );
    println!(
        "{:<44} {:>12.0} {:>12.0} {:>8.2}  ≥ 0.60: {}",
        "GET odometer, 64 connections (req/s)",
        r.mock_get.per_second,
        r.ceiling_get.per_second,
        get_ratio,
        verdict(get_ratio >= 0.60)
    );
    println!(
        "{:<44} {:>12} {:>12}",
        "GET p50 (ms)",
        opt(r.mock_get.p50_ms),
        opt(r.ceiling_get.p50_ms)
    );
    // The p99 is read against the ceiling's in the same run: on a shared machine both move.
    let p99_ratio = r
        .mock_get
        .p99_ms
        .zip(r.ceiling_get.p99_ms)
        .map(|(mock, ceiling)| mock / ceiling);
    println!(
        "{:<44} {:>12} {:>12} {:>8}  ≤ 1.5 × ceiling: {}",
        "GET p99 (ms)",
        opt(r.mock_get.p99_ms),
        opt(r.ceiling_get.p99_ms),
        p99_ratio.map(|ratio| format!("{ratio:.2}")).unwrap_or_default(),
        verdict(p99_ratio.is_some_and(|ratio| ratio <= 1.5))
    );
    println!(
        "{:<44} {:>12.0} {:>12} {:>8}  ≥ 30000: {}",
        "refresh grants (fresh token each, req/s)",
        r.mock_refresh_grants.per_second,
        "",
        "",
        verdict(r.mock_refresh_grants.per_second >= 30_000.0)
    );
    println!(
        "{:<44} {:>12.0} {:>12} {:>8}  ≥ 3000: {}",
        "Connect-to-odometer flows (flows/s)",
        r.mock_connect_flows.per_second,
        "",
        "",
        verdict(r.mock_connect_flows.per_second >= 3_000.0)
    );
    println!(
        "{:<44} {:>12.1} {:>12} {:>8}  ≤ 15 MiB: {}",
        "idle RSS (MiB)",
        r.mock_idle_rss_mib,
        "",
        "",
        verdict(r.mock_idle_rss_mib <= 15.0)
    );
    println!(
        "{:<44} {:>12.1} {:>12} {:>8}  ≤ 64 MiB: {}",
        "RSS after the whole load (MiB)",
        r.mock_loaded_rss_mib,
        "",
        "",
        verdict(r.mock_loaded_rss_mib <= 64.0)
    );
    for s in &r.scale {
        let ratio = s.get.per_second / r.mock_get.per_second;
        println!(
            "{:<44} {:>12.1} {:>12} {:>8}  {}",
            format!("{} vehicles: cold start (ms)", s.vehicles),
            s.cold_start_ms,
            "",
            "",
            if s.vehicles == 100_000 {
                format!("≤ 1000 ms: {}", verdict(s.cold_start_ms <= 1000.0))
            } else {
                String::new()
            }
        );
        println!(
            "{:<44} {:>12.0} {:>12} {:>8.2}  {}",
            format!("{} vehicles: GET (req/s), ÷ default", s.vehicles),
            s.get.per_second,
            "",
            ratio,
            if s.vehicles == 100_000 {
                format!("≥ 0.90: {}", verdict(ratio >= 0.9))
            } else {
                String::new()
            }
        );
        println!(
            "{:<44} {:>12.1}",
            format!("{} vehicles: idle RSS (MiB)", s.vehicles),
            s.idle_rss_mib
        );
    }
    if !r.peers.is_empty() {
        println!(
            "\n{:<20} {:>10} {:>12} {:>10} {:>10}  work",
            "peer", "start ms", "req/s", "RSS MiB", "mock ÷"
        );
        for p in &r.peers {
            let mock_rate = if p.work.contains("grant") {
                r.mock_refresh_grants.per_second
            } else {
                r.mock_get.per_second
            };
            println!(
                "{:<20} {:>10.1} {:>12.0} {:>10.1} {:>10.1}  {}",
                p.name,
                p.cold_start_ms,
                p.throughput.per_second,
                p.loaded_rss_mib,
                mock_rate / p.throughput.per_second,
                p.work
            );
        }
    }
    if r.mock_get.errors + r.ceiling_get.errors + r.mock_refresh_grants.errors + r.mock_connect_flows.errors > 0 {
        println!(
            "\nerrors: GET {} / ceiling {} / refresh {} / flows {}",
            r.mock_get.errors, r.ceiling_get.errors, r.mock_refresh_grants.errors, r.mock_connect_flows.errors
        );
    }
}
