//! `demo-backend`: parse the command line, start the mock in-process unless the platform is
//! elsewhere, bind, print the URL to open, serve until Ctrl-C.
//!
//! With no `SMARTCAR_*_ORIGIN` (or `--*-origin`) given, the whole flow is this one process: the
//! mock on its own port, with the built-in app, and this backend pointed at it.

use std::io::Write;
use std::net::SocketAddr;

use anyhow::Context;
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser};
use demo_backend::Config;
use mock_server::MockServer;
use reqwest::Url;
use tokio::net::TcpListener;

/// The tutorial's backend, with the Smartcar mock built in.
#[derive(Debug, Parser)]
#[command(name = "demo-backend", version, about)]
struct Cli {
    /// Address to listen on. Port 0 picks a free port; the first line printed says which.
    #[arg(long, env = "SMARTCAR_DEMO_ADDR", default_value = "127.0.0.1:8000")]
    addr: SocketAddr,

    /// Where the in-process mock listens (only when no `--*-origin` is given).
    #[arg(long, env = "SMARTCAR_MOCK_ADDR", default_value = "127.0.0.1:4000")]
    mock_addr: SocketAddr,

    /// The in-process mock's simulator trips run this many times faster than wall time (1–3600).
    #[arg(long, env = "SMARTCAR_MOCK_SIM_SPEED", default_value = "1")]
    sim_speed: mock_server::Speed,

    /// Keep the in-process mock's world in this SQLite file, so a connected car (its user,
    /// tokens and state) survives a restart of the backend.
    #[arg(long, env = "SMARTCAR_MOCK_STATE", value_name = "FILE")]
    mock_state: Option<std::path::PathBuf>,

    #[command(flatten)]
    config: Config,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();

    let matches = Cli::command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches)?;
    // A client that cannot be built (its TLS settings) stops the backend here, not on a request.
    demo_backend::smartcar::Smartcar::try_new(cli.config.clone()).context("the Smartcar client")?;
    let listener = TcpListener::bind(cli.addr)
        .await
        .with_context(|| format!("binding {}", cli.addr))?;
    let demo = browser_url(listener.local_addr()?)?;

    // Scripts read the port from this exact first line.
    println!("listening on http://{}", listener.local_addr()?);
    // The in-process mock serves as long as this handle lives: until the process ends.
    let _mock = if ["connect_origin", "auth_origin", "api_origin"]
        .iter()
        .any(|id| given(&matches, id))
    {
        None
    } else {
        let (mock, server) = start_mock(
            &mut cli.config,
            cli.mock_addr,
            &demo,
            given(&matches, "redirect_uri"),
            cli.sim_speed,
            cli.mock_state.as_deref(),
        )
        .await?;
        println!("Smartcar mock (in-process) on {}", mock.origin().ascii_serialization());
        Some(server)
    };
    println!("Open {demo} in a browser and click Connect.");
    std::io::stdout().flush()?;

    demo_backend::serve(listener, cli.config, mock_server::shutdown_signal()).await?;
    Ok(())
}

/// Whether the person set this option, by flag or environment, rather than leaving the default.
fn given(matches: &ArgMatches, id: &str) -> bool {
    matches
        .value_source(id)
        .is_some_and(|source| source != ValueSource::DefaultValue)
}

/// Starts the mock with its built-in fixtures on `addr` and points `config` at it. Unless the
/// person chose a redirect URI, the demo page's popup goes to the mock's JS SDK redirect page,
/// which posts back to `demo`. Whatever the redirect URI, the mock registers it for the app.
/// The mock's URL, and the mock: it serves until dropped.
async fn start_mock(
    config: &mut Config,
    addr: SocketAddr,
    demo: &Url,
    redirect_given: bool,
    sim_speed: mock_server::Speed,
    state_file: Option<&std::path::Path>,
) -> anyhow::Result<(Url, MockServer)> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the mock to {addr}"))?;
    let mock = browser_url(listener.local_addr()?)?;
    config.connect_origin = mock.clone();
    config.auth_origin = mock.clone();
    config.api_origin = mock.clone();
    if !redirect_given {
        // Written like the tutorial's `…/v2/redirect?app_origin=http://localhost:3000`: an origin
        // has no character that needs escaping in a query.
        let mut redirect_uri = mock.join("/v2/redirect")?;
        redirect_uri.set_query(Some(&["app_origin=", &demo.origin().ascii_serialization()].concat()));
        config.redirect_uri = redirect_uri;
    }

    let mut fixtures = mock_server::Fixtures::embedded().context("loading the mock's built-in fixtures")?;
    let mut app = fixtures
        .app(&config.client_id)
        .cloned()
        .with_context(|| format!("the built-in mock has no app {}", config.client_id))?;
    app.client_secret = config.client_secret.expose().to_owned();
    app.redirect_uris.push(config.redirect_uri.to_string());
    fixtures.upsert_app(app);

    let settings = mock_server::Settings {
        sim_speed,
        ..mock_server::Settings::default()
    };
    let mut server = MockServer::builder()
        .fixtures(fixtures)
        .settings(settings)
        .listener(listener);
    if let Some(file) = state_file {
        server = server.state_file(file);
    }
    let server = server.try_start().await.context("starting the in-process mock")?;
    Ok((mock, server))
}

/// How a browser on this machine reaches `addr`: `localhost` for loopback and wildcard
/// addresses, since the tutorial's registered URIs and `app_origin` values all say `localhost`
/// and `127.0.0.1` would be a different origin.
fn browser_url(addr: SocketAddr) -> anyhow::Result<Url> {
    let ip = addr.ip();
    let url = if ip.is_loopback() || ip.is_unspecified() {
        Url::parse(&format!("http://localhost:{}", addr.port()))?
    } else {
        Url::parse(&format!("http://{addr}"))?
    };
    Ok(url)
}
