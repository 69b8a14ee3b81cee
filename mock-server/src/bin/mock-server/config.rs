//! The command line: where to listen, which fixtures, and an app to register without files.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Parser;
use mock_server::{App, Fixtures};

/// An offline Smartcar platform: Connect, OAuth and the vehicle API on one port.
#[derive(Debug, Parser)]
#[command(name = "mock-server", version, about)]
pub(crate) struct Config {
    /// Address to listen on. Port 0 picks a free port; the first line printed says which.
    #[arg(long, env = "SMARTCAR_MOCK_ADDR", default_value = "127.0.0.1:4000")]
    pub(crate) addr: SocketAddr,

    /// Folder holding apps.json, brands.json and accounts.json (default: the fixtures built in).
    #[arg(long, env = "SMARTCAR_MOCK_FIXTURES")]
    pub(crate) fixtures: Option<PathBuf>,

    /// Registers (or updates) an app with this client id, so a pipeline can reuse its settings.
    #[arg(long, env = "SMARTCAR_CLIENT_ID")]
    pub(crate) client_id: Option<String>,

    /// The secret of the `--client-id` app.
    #[arg(long, env = "SMARTCAR_CLIENT_SECRET", requires = "client_id")]
    pub(crate) client_secret: Option<String>,

    /// A redirect URI of the `--client-id` app; repeat for several (comma-separated in the env).
    #[arg(
        long = "redirect-uri",
        env = "SMARTCAR_REDIRECT_URI",
        value_delimiter = ',',
        requires = "client_id"
    )]
    pub(crate) redirect_uris: Vec<String>,

    /// The application management token of the `--client-id` app.
    #[arg(long, env = "SMARTCAR_AMT", requires = "client_id")]
    pub(crate) amt: Option<String>,

    /// `GET /oauth/authorize` redirects back with a code at once (no pages): SDK flows need no browser.
    #[arg(long, env = "SMARTCAR_MOCK_AUTO_APPROVE")]
    pub(crate) auto_approve: bool,

    /// Opens the admin API (`/admin`) to any address, behind `Authorization: Bearer <token>`.
    /// Without it, the admin API answers loopback only.
    #[arg(long, env = "SMARTCAR_MOCK_ADMIN_TOKEN")]
    pub(crate) admin_token: Option<String>,

    /// Starts with Smartcar's request limits on (120 per app refilling 2 a minute, a per-vehicle
    /// throttle, a monthly quota per vehicle).
    #[arg(long, env = "SMARTCAR_MOCK_LIMITS")]
    pub(crate) limits: bool,

    /// Requests the journal (`GET /admin/requests`) keeps per app; 0 turns it off.
    #[arg(long, env = "SMARTCAR_MOCK_JOURNAL_SIZE", default_value_t = mock_server::DEFAULT_JOURNAL_SIZE)]
    pub(crate) journal_size: usize,

    /// Keep the world in this SQLite file (created if missing): users, vehicles and their state,
    /// grants, codes, tokens, webhook subscriptions, limits, fault rules and the clock survive a
    /// restart, even `kill -9`. One process per file. Without it, everything lives in memory.
    #[arg(long = "state", env = "SMARTCAR_MOCK_STATE", value_name = "FILE")]
    pub(crate) state: Option<PathBuf>,

    /// A scenario file (JSON, as `GET /admin/snapshot` writes) to load at start, after the
    /// fixtures: users, vehicles and their state, tokens. Repeat for several (comma-separated in
    /// the env); their users add up.
    #[arg(
        long = "scenario",
        env = "SMARTCAR_MOCK_SCENARIO",
        value_delimiter = ',',
        value_name = "FILE"
    )]
    pub(crate) scenarios: Vec<PathBuf>,

    /// Users each app keeps; signing in one more forgets the least recently used one with its
    /// vehicles, grants and tokens, so a long-running mock has a memory ceiling (~2 KiB a user).
    #[arg(
        long,
        env = "SMARTCAR_MOCK_MAX_USERS",
        default_value_t = mock_server::DEFAULT_MAX_USERS,
        value_parser = at_least_one
    )]
    pub(crate) max_users: usize,

    /// Simulator trips run this many times faster than wall time (1 to 3600): `--sim-speed 60`
    /// drives a 30-minute trip in 30 seconds. Clock advances move trips as much either way.
    #[arg(long, env = "SMARTCAR_MOCK_SIM_SPEED", default_value = "1")]
    pub(crate) sim_speed: mock_server::Speed,

    /// Also serve HTTPS here under Smartcar's real host names, for a browser that maps
    /// `connect.smartcar.com` and `javascript-sdk.smartcar.com` to this mock. Off by default.
    #[arg(long, env = "SMARTCAR_MOCK_TLS_ADDR")]
    pub(crate) tls_addr: Option<SocketAddr>,

    /// Write the HTTPS certificate (PEM) here, so `curl --cacert` or `NODE_EXTRA_CA_CERTS` trust it.
    #[arg(long, env = "SMARTCAR_MOCK_TLS_CERT_OUT", requires = "tls_addr")]
    pub(crate) tls_cert_out: Option<PathBuf>,

    /// Also trust the certificates in this PEM file (beside the system's) when delivering
    /// webhooks to `https://` receivers: a local receiver's CA or self-signed certificate.
    #[arg(long, env = "SMARTCAR_CA_CERT", value_name = "FILE", value_parser = mock_server::net::parse_ca_cert)]
    pub(crate) ca_cert: Option<mock_server::net::CaCert>,

    /// Open connections allowed at once, both listeners together; past it, new connections wait
    /// until one closes.
    #[arg(long, env = "SMARTCAR_MOCK_MAX_CONNECTIONS", default_value_t = mock_server::net::DEFAULT_MAX_CONNECTIONS)]
    pub(crate) max_connections: std::num::NonZeroUsize,
}

impl Config {
    /// The behaviour switches of the command line.
    pub(crate) fn settings(&self) -> mock_server::Settings {
        mock_server::Settings {
            auto_approve: self.auto_approve,
            admin_token: self.admin_token.clone(),
            limits: self.limits,
            journal_size: self.journal_size,
            webhook_delivery: mock_server::DeliverySettings {
                ca_cert: self.ca_cert.clone(),
                ..mock_server::DeliverySettings::default()
            },
            max_users: self.max_users,
            sim_speed: self.sim_speed,
            ..mock_server::Settings::default()
        }
    }

    /// The fixtures to start from, with the command line's app applied.
    pub(crate) fn fixtures(&self) -> anyhow::Result<Fixtures> {
        let mut fixtures = match &self.fixtures {
            Some(dir) => Fixtures::load(dir).with_context(|| format!("loading fixtures from {}", dir.display()))?,
            None => Fixtures::embedded().context("loading the built-in fixtures")?,
        };
        if let Some(app) = self.command_line_app(&fixtures)? {
            fixtures.upsert_app(app);
        }
        Ok(fixtures)
    }

    /// `--client-id` and friends as an app: an existing app keeps what is not overridden; a new
    /// one needs a secret and a redirect URI and may use every permission by default.
    fn command_line_app(&self, fixtures: &Fixtures) -> anyhow::Result<Option<App>> {
        let Some(client_id) = self.client_id.clone() else {
            return Ok(None);
        };
        let redirect_uris: Vec<String> = self
            .redirect_uris
            .iter()
            .filter(|uri| !uri.is_empty())
            .cloned()
            .collect();
        let mut app = match fixtures.app(&client_id) {
            Some(existing) => existing.clone(),
            None => {
                let Some(client_secret) = self.client_secret.clone() else {
                    bail!("--client-id {client_id} is not in the fixtures, so it needs --client-secret");
                };
                if redirect_uris.is_empty() {
                    bail!("--client-id {client_id} is not in the fixtures, so it needs at least one --redirect-uri");
                }
                App::new(client_id.clone(), client_secret)
            }
        };
        if let Some(secret) = &self.client_secret {
            app.client_secret.clone_from(secret);
        }
        if !redirect_uris.is_empty() {
            app.redirect_uris = redirect_uris;
        }
        if let Some(amt) = &self.amt {
            app.amt.clone_from(amt);
        }
        Ok(Some(app))
    }
}

/// A count that must not be zero (`--max-users 0` would forget every user at once).
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(error) => Err(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> Config {
        Config::try_parse_from(std::iter::once("mock-server").chain(args.iter().copied())).expect("arguments parse")
    }

    #[test]
    fn a_new_client_id_registers_an_app() {
        let fixtures = config(&[
            "--client-id",
            "ci-app",
            "--client-secret",
            "s3cret",
            "--redirect-uri",
            "http://localhost:9000/cb",
            "--redirect-uri",
            "https://example.com/auth",
        ])
        .fixtures()
        .expect("fixtures");

        let app = fixtures.app("ci-app").expect("registered");
        assert_eq!(app.client_secret, "s3cret");
        assert_eq!(
            app.redirect_uris,
            ["http://localhost:9000/cb", "https://example.com/auth"]
        );
    }

    #[test]
    fn an_existing_client_id_keeps_what_is_not_overridden() {
        let fixtures = config(&["--client-id", "demo-client", "--client-secret", "other"])
            .fixtures()
            .expect("fixtures");

        let app = fixtures.app("demo-client").expect("still there");
        assert_eq!(app.client_secret, "other");
        assert!(app.redirect_uris.contains(&"https://example.com/auth".to_owned()));
    }

    #[test]
    fn a_new_client_id_without_a_secret_is_refused() {
        let error = config(&["--client-id", "ci-app"])
            .fixtures()
            .expect_err("needs a secret");

        assert!(error.to_string().contains("needs --client-secret"), "{error}");
    }
}
