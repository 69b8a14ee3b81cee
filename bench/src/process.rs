//! Starting a server under measurement: the time from `spawn` to its first successful answer,
//! and its resident memory.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// A running server; killed when dropped.
pub(crate) struct Server {
    child: Child,
    pub(crate) base: String,
}

impl Server {
    /// Kills the server and returns once the whole process has exited (every thread, so every
    /// file it held is closed): the parent hears of an exit only then.
    pub(crate) async fn kill(mut self) {
        let _ = self.child.kill().await;
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    /// Resident set size in MiB, from `/proc/<pid>/status`.
    pub(crate) fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kib| kib / 1024.0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// How a server tells us its address.
pub(crate) enum Address {
    /// It prints `listening on http://HOST:PORT` first (the mock, the ceiling).
    Announced,
    /// It listens on this port (the peers).
    Port(u16),
}

/// Starts `command` and waits for a 2xx on `probe`; returns the server and the cold-start time.
pub(crate) async fn start(mut command: Command, address: Address, probe: &str) -> anyhow::Result<(Server, Duration)> {
    let started = Instant::now();
    command.stdout(Stdio::piped()).stderr(Stdio::null()).kill_on_drop(true);
    let mut child = command.spawn().context("spawning the server")?;
    let base = match address {
        Address::Announced => {
            let stdout = child.stdout.take().context("stdout")?;
            let mut line = String::new();
            let mut reader = BufReader::new(stdout);
            tokio::time::timeout(Duration::from_secs(60), reader.read_line(&mut line))
                .await
                .context("waiting for the listening line")??;
            let base = line
                .trim()
                .strip_prefix("listening on ")
                .context("first line is `listening on …`")?
                .to_owned();
            // Keep draining stdout so the server never blocks on a full pipe.
            tokio::spawn(async move { while reader.read_line(&mut String::new()).await.is_ok_and(|n| n > 0) {} });
            base
        }
        Address::Port(port) => format!("http://127.0.0.1:{port}"),
    };
    let host = base.trim_start_matches("http://").to_owned();
    let deadline = started + Duration::from_secs(60);
    loop {
        if probe_ok(&host, probe).await {
            return Ok((Server { child, base }, started.elapsed()));
        }
        if Instant::now() > deadline {
            bail!("{base}{probe} did not answer 2xx within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// One raw HTTP/1.1 GET; true on a 2xx status line.
async fn probe_ok(host: &str, path: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(host).await else {
        return false;
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await.is_ok() && head.starts_with(b"HTTP/1.1 2")
}

/// A port that was free a moment ago (for peers that cannot pick their own).
/// The mock must not pick up an app from the caller's environment (`SMARTCAR_CLIENT_ID`, …).
pub(crate) fn without_app_from_env(command: &mut Command) {
    for name in [
        "SMARTCAR_CLIENT_ID",
        "SMARTCAR_CLIENT_SECRET",
        "SMARTCAR_REDIRECT_URI",
        "SMARTCAR_AMT",
    ] {
        command.env_remove(name);
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_or(0, |a| a.port())
}

/// The median of several cold starts of the same command.
pub(crate) async fn median_cold_start(
    times: usize,
    make: impl Fn() -> (Command, Address),
    probe: &str,
) -> anyhow::Result<Duration> {
    let mut samples = Vec::with_capacity(times);
    for _ in 0..times {
        let (command, address) = make();
        let (server, elapsed) = start(command, address, probe).await?;
        drop(server);
        samples.push(elapsed);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    samples.sort();
    Ok(samples[samples.len() / 2])
}
