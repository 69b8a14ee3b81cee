//! Soak: a long run of mixed load against the release mock, with its resident memory sampled
//! every 10 s, to show memory stays flat after warm-up and nothing a client was given is lost.
//!
//! ```text
//! bash bench/run.sh soak [--minutes 10] [-- <extra mock-server flags, e.g. --max-users 10000>]
//! ```
//!
//! Workers mix what a long-lived shared mock sees: complete Connect flows (a new user each),
//! reads, lock/unlock and charge commands, refresh grants and journal queries. Every token pair a
//! worker holds is used again and again, so "nothing lost" means no request made with a token the
//! mock handed out is refused as unknown or expired while it should still be valid.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::process::Command;

use crate::flows::{self, CLIENT_ID, CLIENT_SECRET};
use crate::process::{self, Address};

/// Concurrent workers: enough to keep both cores busy, few enough that the sampler is on time.
const WORKERS: usize = 32;
/// Token pairs kept in the shared pool; older ones are retired (not lost: simply no longer used).
const POOL: usize = 256;
/// How often RSS is sampled.
const SAMPLE_EVERY: Duration = Duration::from_secs(10);

#[derive(clap::Args, Clone)]
pub(crate) struct SoakArgs {
    /// How long the mixed load runs.
    #[arg(long, default_value_t = 10)]
    minutes: u64,
    /// Samples before this many minutes count as warm-up and are left out of the slope.
    #[arg(long, default_value_t = 2)]
    warm_up_minutes: u64,
    /// The release build of mock-server.
    #[arg(long, default_value = "target/release/mock-server")]
    mock: std::path::PathBuf,
    /// Where the JSON series goes.
    #[arg(long, default_value = "bench/out/soak.json")]
    out: std::path::PathBuf,
    /// Extra flags for the mock (after `--`), e.g. `--max-users 10000`.
    #[arg(last = true)]
    mock_args: Vec<String>,
}

/// One token pair and its vehicle, as the pool keeps it.
#[derive(Debug, Clone)]
struct Held {
    access: String,
    refresh: String,
    vehicle: String,
}

#[derive(Default)]
struct Counters {
    flows: AtomicU64,
    reads: AtomicU64,
    commands: AtomicU64,
    refreshes: AtomicU64,
    journal: AtomicU64,
    /// Requests whose answer was not one the mock may give (a 5xx, a dropped connection, a bad body).
    failures: AtomicU64,
    /// Tokens the mock handed out and then refused while they should still be valid.
    lost: AtomicU64,
}

#[derive(Debug, Serialize)]
struct Sample {
    seconds: u64,
    rss_mib: f64,
    operations: u64,
}

#[derive(Debug, Serialize)]
struct Report {
    minutes: u64,
    mock_args: Vec<String>,
    samples: Vec<Sample>,
    /// Least-squares slope of RSS after warm-up, MiB per minute.
    slope_mib_per_minute: f64,
    flows: u64,
    reads: u64,
    commands: u64,
    refreshes: u64,
    journal_queries: u64,
    failures: u64,
    lost: u64,
}

pub(crate) async fn run(args: SoakArgs) -> anyhow::Result<()> {
    let mut command = Command::new(&args.mock);
    command.args(["--addr", "127.0.0.1:0"]).args(&args.mock_args);
    process::without_app_from_env(&mut command);
    let probe = "/admin/health";
    let (mock, _) = process::start(command, Address::Announced, probe).await?;
    let base = mock.base.clone();
    let http = flows::client();

    // Seed the pool with cars that take commands.
    let pool = Arc::new(Mutex::new(VecDeque::with_capacity(POOL)));
    for _ in 0..WORKERS {
        let held = authorize(&http, &base).await?;
        pool.lock().expect("pool").push_back(held);
    }
    let counters = Arc::new(Counters::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for worker in 0..WORKERS as u64 {
        let (http, base, pool, counters, stop) =
            (http.clone(), base.clone(), pool.clone(), counters.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = worker << 40;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                one_operation(n, &http, &base, &pool, &counters).await;
            }
        }));
    }

    let started = Instant::now();
    let total = Duration::from_secs(args.minutes * 60);
    let mut samples = Vec::new();
    let operations = |c: &Counters| {
        c.flows.load(Ordering::Relaxed)
            + c.reads.load(Ordering::Relaxed)
            + c.commands.load(Ordering::Relaxed)
            + c.refreshes.load(Ordering::Relaxed)
            + c.journal.load(Ordering::Relaxed)
    };
    loop {
        let sample = Sample {
            seconds: started.elapsed().as_secs(),
            rss_mib: mock.rss_mib(),
            operations: operations(&counters),
        };
        eprintln!(
            "soak: {:>4} s  rss {:>6.1} MiB  operations {:>9}  failures {}  lost {}",
            sample.seconds,
            sample.rss_mib,
            sample.operations,
            counters.failures.load(Ordering::Relaxed),
            counters.lost.load(Ordering::Relaxed)
        );
        samples.push(sample);
        if started.elapsed() >= total {
            break;
        }
        tokio::time::sleep(
            SAMPLE_EVERY
                .min(total.saturating_sub(started.elapsed()))
                .max(Duration::from_millis(1)),
        )
        .await;
    }
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }

    let warm = args.warm_up_minutes * 60;
    let after: Vec<(f64, f64)> = samples
        .iter()
        .filter(|s| s.seconds >= warm)
        .map(|s| (s.seconds as f64 / 60.0, s.rss_mib))
        .collect();
    let report = Report {
        minutes: args.minutes,
        mock_args: args.mock_args.clone(),
        slope_mib_per_minute: slope(&after),
        samples,
        flows: counters.flows.load(Ordering::Relaxed),
        reads: counters.reads.load(Ordering::Relaxed),
        commands: counters.commands.load(Ordering::Relaxed),
        refreshes: counters.refreshes.load(Ordering::Relaxed),
        journal_queries: counters.journal.load(Ordering::Relaxed),
        failures: counters.failures.load(Ordering::Relaxed),
        lost: counters.lost.load(Ordering::Relaxed),
    };
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.out, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "soak {} min: flows {}, reads {}, commands {}, refreshes {}, journal queries {}; failures {}, lost {}",
        report.minutes,
        report.flows,
        report.reads,
        report.commands,
        report.refreshes,
        report.journal_queries,
        report.failures,
        report.lost
    );
    println!("rss (MiB) every 10 s:");
    println!(
        "{}",
        report
            .samples
            .iter()
            .map(|s| format!("{:.1}", s.rss_mib))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "slope after {} min warm-up: {:+.3} MiB/min   (series in {})",
        args.warm_up_minutes,
        report.slope_mib_per_minute,
        args.out.display()
    );
    drop(mock);
    Ok(())
}

/// A car with every permission the mix needs, through test control (no browser).
async fn authorize(http: &reqwest::Client, base: &str) -> anyhow::Result<Held> {
    let answer: Value = http
        .post(format!("{base}/admin/authorize"))
        .json(&json!({
            "brand": "CHEVROLET",
            "scope": "read_vehicle_info read_odometer read_location read_battery read_charge control_security control_charge",
        }))
        .send()
        .await?
        .json()
        .await?;
    Ok(Held {
        access: answer["access_token"].as_str().context("access_token")?.to_owned(),
        refresh: answer["refresh_token"].as_str().context("refresh_token")?.to_owned(),
        vehicle: answer["vehicle_ids"][0].as_str().context("a vehicle")?.to_owned(),
    })
}

/// Picks a pair from the pool (round robin), leaving it there.
fn pick(pool: &Mutex<VecDeque<Held>>, n: u64) -> Option<Held> {
    let pool = pool.lock().expect("pool");
    if pool.is_empty() {
        return None;
    }
    let index = usize::try_from(n % pool.len() as u64).unwrap_or(0);
    pool.get(index).cloned()
}

fn keep(pool: &Mutex<VecDeque<Held>>, held: Held) {
    let mut pool = pool.lock().expect("pool");
    pool.push_back(held);
    while pool.len() > POOL {
        pool.pop_front();
    }
}

/// One operation of the mix: 5 % flows, 55 % reads, 15 % commands, 15 % refreshes, 10 % journal.
async fn one_operation(n: u64, http: &reqwest::Client, base: &str, pool: &Mutex<VecDeque<Held>>, counters: &Counters) {
    let roll = n.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 57; // 0..128, well mixed
    let roll = roll * 100 / 128;
    let failed = || counters.failures.fetch_add(1, Ordering::Relaxed);
    match roll {
        0..5 => match flows::connect(http, base, &flows::test_login(n)).await {
            Ok(_) => {
                counters.flows.fetch_add(1, Ordering::Relaxed);
                if n.is_multiple_of(4)
                    && let Ok(held) = authorize(http, base).await
                {
                    keep(pool, held);
                }
            }
            Err(_) => {
                failed();
            }
        },
        5..60 => {
            let Some(held) = pick(pool, n) else { return };
            let path = ["odometer", "location", "battery", "charge"][usize::try_from(n % 4).unwrap_or(0)];
            let answer = http
                .get(format!("{base}/v2.0/vehicles/{}/{path}", held.vehicle))
                .bearer_auth(&held.access)
                .send()
                .await;
            judge(answer, counters, &counters.reads).await;
        }
        60..75 => {
            let Some(held) = pick(pool, n) else { return };
            let (path, body) = if n.is_multiple_of(2) {
                (
                    "security",
                    json!({ "action": if n.is_multiple_of(4) { "LOCK" } else { "UNLOCK" } }),
                )
            } else {
                ("charge", json!({ "action": if n % 4 == 1 { "START" } else { "STOP" } }))
            };
            let answer = http
                .post(format!("{base}/v2.0/vehicles/{}/{path}", held.vehicle))
                .bearer_auth(&held.access)
                .json(&body)
                .send()
                .await;
            judge(answer, counters, &counters.commands).await;
        }
        75..90 => {
            // Take the pair out, so no other worker spends its refresh token meanwhile.
            let taken = {
                let mut pool = pool.lock().expect("pool");
                pool.pop_front()
            };
            let Some(held) = taken else { return };
            let answer = http
                .post(format!("{base}/oauth/token"))
                .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", held.refresh.as_str()),
                ])
                .send()
                .await;
            match answer {
                Ok(response) if response.status().is_success() => match response.json::<Value>().await {
                    Ok(body) => {
                        counters.refreshes.fetch_add(1, Ordering::Relaxed);
                        let text = |key: &str| body[key].as_str().map(str::to_owned);
                        if let (Some(access), Some(refresh)) = (text("access_token"), text("refresh_token")) {
                            keep(
                                pool,
                                Held {
                                    access,
                                    refresh,
                                    vehicle: held.vehicle,
                                },
                            );
                        }
                    }
                    Err(_) => {
                        failed();
                    }
                },
                Ok(response) if response.status().is_client_error() => {
                    counters.lost.fetch_add(1, Ordering::Relaxed);
                }
                _ => {
                    failed();
                }
            }
        }
        _ => {
            let answer = http
                .get(format!("{base}/admin/requests?limit=50&status=4xx"))
                .send()
                .await;
            let read = match answer {
                Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
                Err(_) => false,
            };
            if read {
                counters.journal.fetch_add(1, Ordering::Relaxed);
            } else {
                failed();
            }
        }
    }
}

/// A read or command with a held token: 2xx counts; 401 means the token was lost; a vehicle
/// answer such as 409 (a command the car refuses) is fine; a 5xx or no answer is a failure.
async fn judge(answer: reqwest::Result<reqwest::Response>, counters: &Counters, ok: &AtomicU64) {
    match answer {
        Ok(response) => {
            let status = response.status();
            let body_read = response.bytes().await.is_ok();
            if !body_read || status.is_server_error() {
                counters.failures.fetch_add(1, Ordering::Relaxed);
            } else if status == reqwest::StatusCode::UNAUTHORIZED {
                counters.lost.fetch_add(1, Ordering::Relaxed);
            } else {
                ok.fetch_add(1, Ordering::Relaxed);
            }
        }
        Err(_) => {
            counters.failures.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Least-squares slope of `(x, y)` points; 0 with fewer than two.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let covariance: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    let variance: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    if variance == 0.0 { 0.0 } else { covariance / variance }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slope_of_a_line_is_its_gradient() {
        let points = [(0.0, 10.0), (1.0, 12.0), (2.0, 14.0)];

        assert!((slope(&points) - 2.0).abs() < 1e-9);
    }

    #[test]
    fn a_flat_series_has_no_slope() {
        assert_eq!(slope(&[(0.0, 5.0), (1.0, 5.0), (2.0, 5.0)]), 0.0);
    }
}
