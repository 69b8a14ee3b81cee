//! Load: `wrk` (a real load generator) for GET throughput and latency; a Rust driver for work
//! `wrk` cannot script — refresh-token chains and complete Connect flows.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use tokio::process::Command;

use crate::flows::{self, CLIENT_ID, CLIENT_SECRET};

/// Connections for every load, as the issue asks.
pub(crate) const CONNECTIONS: usize = 64;

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct Throughput {
    pub(crate) per_second: f64,
    pub(crate) p50_ms: Option<f64>,
    pub(crate) p99_ms: Option<f64>,
    pub(crate) errors: u64,
}

/// `wrk -t2 -c64 -d<secs> --latency` against `url`, with headers and an optional Lua script.
pub(crate) async fn wrk(
    url: &str,
    headers: &[String],
    duration: Duration,
    script: Option<&str>,
) -> anyhow::Result<Throughput> {
    let mut command = Command::new("wrk");
    command
        .args([
            "-t2",
            &format!("-c{CONNECTIONS}"),
            &format!("-d{}s", duration.as_secs()),
            "--latency",
        ])
        .arg(url);
    for header in headers {
        command.args(["-H", header]);
    }
    if let Some(script) = script {
        command.args(["-s", script]);
    }
    let output = command.output().await.context("running wrk (apt-get install wrk)")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!("wrk failed: {text}");
    }
    let rps = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("Requests/sec:"))
        .and_then(|value| value.trim().parse::<f64>().ok())
        .context("wrk printed Requests/sec")?;
    let percentile = |p: &str| {
        text.lines().find_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some(p))
                .then(|| words.next().and_then(parse_duration_ms))
                .flatten()
        })
    };
    let errors = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    Ok(Throughput {
        per_second: rps,
        p50_ms: percentile("50%"),
        p99_ms: percentile("99%"),
        errors,
    })
}

/// wrk prints `812.00us`, `1.20ms`, `1.01s`.
fn parse_duration_ms(text: &str) -> Option<f64> {
    let (number, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|n| n * scale)
}

/// Refresh grants: 64 chains, each request spending the refresh token the previous one returned,
/// so every grant uses a token never used before.
pub(crate) async fn refresh_chains(base: &str, first: Vec<String>, duration: Duration) -> anyhow::Result<Throughput> {
    let http = flows::client();
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for token in first {
        let (http, done, errors, stop, url) = (
            http.clone(),
            done.clone(),
            errors.clone(),
            stop.clone(),
            format!("{base}/oauth/token"),
        );
        tasks.push(tokio::spawn(async move {
            let mut token = token;
            while !stop.load(Ordering::Relaxed) {
                let response = http
                    .post(&url)
                    .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
                    .form(&[("grant_type", "refresh_token"), ("refresh_token", token.as_str())])
                    .send()
                    .await;
                let body: Option<serde_json::Value> = match response {
                    Ok(response) if response.status().is_success() => response.json().await.ok(),
                    _ => None,
                };
                match body.and_then(|body| body["refresh_token"].as_str().map(str::to_owned)) {
                    Some(next) => {
                        token = next;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    None => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
            }
        }));
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    for task in tasks {
        let _ = task.await;
    }
    Ok(Throughput {
        per_second: done.load(Ordering::Relaxed) as f64 / elapsed,
        errors: errors.load(Ordering::Relaxed),
        ..Throughput::default()
    })
}

/// Complete Connect-to-odometer flows (5 pages, exchange, vehicles, odometer) from 64 workers.
pub(crate) async fn connect_flows(base: &str, duration: Duration) -> anyhow::Result<Throughput> {
    let http = flows::client();
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..CONNECTIONS as u64 {
        let (http, done, errors, stop, base) = (
            http.clone(),
            done.clone(),
            errors.clone(),
            stop.clone(),
            base.to_owned(),
        );
        tasks.push(tokio::spawn(async move {
            let mut n = worker << 32;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                match flows::connect(&http, &base, &flows::test_login(n)).await {
                    Ok(_) => done.fetch_add(1, Ordering::Relaxed),
                    Err(_) => errors.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    for task in tasks {
        let _ = task.await;
    }
    Ok(Throughput {
        per_second: done.load(Ordering::Relaxed) as f64 / elapsed,
        errors: errors.load(Ordering::Relaxed),
        ..Throughput::default()
    })
}

/// `count` independent refresh tokens from one grant: a refresh token may be reused within its
/// grace period, and each use starts a new chain.
pub(crate) async fn refresh_tokens(base: &str, seed: &str, count: usize) -> anyhow::Result<Vec<String>> {
    let http = flows::client();
    let mut tokens = Vec::with_capacity(count);
    for _ in 0..count {
        let body: serde_json::Value = http
            .post(format!("{base}/oauth/token"))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", seed)])
            .send()
            .await?
            .json()
            .await?;
        tokens.push(body["refresh_token"].as_str().context("refresh_token")?.to_owned());
    }
    Ok(tokens)
}
