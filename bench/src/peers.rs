//! The mock servers people reach for instead, installed from npm into a scratch folder and asked
//! to do the same work: json-server and Stoplight Prism serve the odometer body; oauth2-mock-server
//! grants tokens.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Serialize;
use tokio::process::Command;

use crate::ceiling::BODY;
use crate::load::{self, Throughput};
use crate::process::{self, Address};

const PACKAGES: &[&str] = &[
    "json-server@0.17.4",
    "@stoplight/prism-cli@5.16.0",
    "oauth2-mock-server@9.3.0",
];

#[derive(Debug, Serialize)]
pub(crate) struct PeerFigures {
    pub(crate) name: &'static str,
    pub(crate) cold_start_ms: f64,
    /// GET of the odometer body, or a refresh-token grant for oauth2-mock-server.
    pub(crate) work: &'static str,
    pub(crate) throughput: Throughput,
    pub(crate) idle_rss_mib: f64,
    pub(crate) loaded_rss_mib: f64,
}

struct Peer {
    name: &'static str,
    bin: &'static str,
    args: fn(&Path, u16) -> Vec<String>,
    probe: &'static str,
    work: &'static str,
    /// GET this path, or (for a token server) POST the form in `token_script`.
    get: Option<&'static str>,
}

const PEERS: &[Peer] = &[
    Peer {
        name: "json-server",
        bin: "json-server",
        args: |dir, port| {
            vec![
                "--port".into(),
                port.to_string(),
                "--quiet".into(),
                dir.join("db.json").display().to_string(),
            ]
        },
        probe: "/odometer",
        work: "GET odometer body",
        get: Some("/odometer"),
    },
    Peer {
        name: "Stoplight Prism",
        bin: "prism",
        args: |dir, port| {
            vec![
                "mock".into(),
                "-p".into(),
                port.to_string(),
                dir.join("openapi.json").display().to_string(),
            ]
        },
        probe: "/v2.0/vehicles/x/odometer",
        work: "GET odometer body",
        get: Some("/v2.0/vehicles/x/odometer"),
    },
    Peer {
        name: "oauth2-mock-server",
        bin: "oauth2-mock-server",
        args: |_, port| vec!["-p".into(), port.to_string()],
        probe: "/.well-known/openid-configuration",
        work: "refresh-token grant",
        get: None,
    },
];

/// Installs the peers (once) and writes their inputs.
fn prepare(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    if !dir.join("node_modules/.bin/prism").exists() {
        let status = std::process::Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix"])
            .arg(dir)
            .args(PACKAGES)
            .status()
            .context("npm install of the peers")?;
        if !status.success() {
            bail!("npm install of the peers failed");
        }
    }
    std::fs::write(dir.join("db.json"), format!(r#"{{"odometer":{BODY}}}"#))?;
    let openapi = serde_json::json!({
        "openapi": "3.0.0",
        "info": { "title": "odometer", "version": "1" },
        "paths": { "/v2.0/vehicles/{id}/odometer": { "get": {
            "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
            "responses": { "200": { "description": "odometer", "content": { "application/json": {
                "example": serde_json::from_str::<serde_json::Value>(BODY)? } } } } } } }
    });
    std::fs::write(dir.join("openapi.json"), serde_json::to_vec(&openapi)?)?;
    std::fs::write(
        dir.join("token.lua"),
        "wrk.method = \"POST\"\nwrk.body = \"grant_type=refresh_token&refresh_token=abc&client_id=x\"\n\
         wrk.headers[\"Content-Type\"] = \"application/x-www-form-urlencoded\"\n",
    )?;
    Ok(())
}

pub(crate) async fn measure(dir: PathBuf, load_time: Duration, cold_starts: usize) -> anyhow::Result<Vec<PeerFigures>> {
    prepare(&dir)?;
    let mut figures = Vec::new();
    for peer in PEERS {
        let command = |port: u16| {
            let mut command = Command::new(dir.join("node_modules/.bin").join(peer.bin));
            command.args((peer.args)(&dir, port));
            command
        };
        let cold = process::median_cold_start(
            cold_starts,
            || {
                let port = process::free_port();
                (command(port), Address::Port(port))
            },
            peer.probe,
        )
        .await?;
        let port = process::free_port();
        let (server, _) = process::start(command(port), Address::Port(port), peer.probe).await?;
        let idle = server.rss_mib();
        let throughput = match peer.get {
            Some(path) => load::wrk(&format!("{}{path}", server.base), &[], load_time, None).await?,
            None => {
                let script = dir.join("token.lua").display().to_string();
                load::wrk(&format!("{}/token", server.base), &[], load_time, Some(&script)).await?
            }
        };
        figures.push(PeerFigures {
            name: peer.name,
            cold_start_ms: cold.as_secs_f64() * 1000.0,
            work: peer.work,
            throughput,
            idle_rss_mib: idle,
            loaded_rss_mib: server.rss_mib(),
        });
    }
    Ok(figures)
}
