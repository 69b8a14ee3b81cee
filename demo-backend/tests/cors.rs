//! Which browser origins may read the backend's answers: the React tutorial's
//! (`http://localhost:3000`), the backend's own at the port it bound, and those configured with
//! `--allow-origin` / `SMARTCAR_ALLOWED_ORIGINS` — on every kind of response — and no other.
//!
//! None of these routes reaches the platform, so no mock is started: the origins point at a port
//! nothing listens on.

use std::process::Stdio;

use demo_backend::config::Mode;
use reqwest::{Method, StatusCode, Url, header};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::Command;

const TUTORIAL: &str = "http://localhost:3000";

/// Nothing listens there; the routes under test never call the platform.
const NO_PLATFORM: &str = "http://127.0.0.1:9";

/// A response of each kind the tutorial can meet: a page, an error, a redirect, an unknown path.
const RESPONSES: [(&str, StatusCode); 4] = [
    ("/", StatusCode::OK),
    ("/vehicle", StatusCode::UNAUTHORIZED),
    ("/login", StatusCode::FOUND),
    ("/nowhere", StatusCode::NOT_FOUND),
];

fn config(allowed_origins: &[&str]) -> demo_backend::Config {
    let platform = Url::parse(NO_PLATFORM).expect("a URL");
    demo_backend::Config {
        client_id: "demo-client".to_owned(),
        client_secret: "demo-secret".into(),
        redirect_uri: Url::parse("http://localhost:8000/exchange").expect("a URL"),
        connect_origin: platform.clone(),
        auth_origin: platform.clone(),
        api_origin: platform,
        mode: Mode::Test,
        scope: vec!["read_vehicle_info".to_owned()],
        ca_cert: None,
        allowed_origins: allowed_origins
            .iter()
            .map(|origin| origin.parse().expect("an origin"))
            .collect(),
    }
}

/// Serves the backend on a free loopback port; returns its port.
async fn start(allowed_origins: &[&str]) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let port = listener.local_addr().expect("an address").port();
    tokio::spawn(demo_backend::serve(
        listener,
        config(allowed_origins),
        std::future::pending(),
    ));
    port
}

fn client() -> reqwest::Client {
    // reqwest brings no crypto provider of its own (the workspace's `rustls-no-provider`).
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .expect("a client")
}

/// `GET path` as a page on `origin` would `fetch` it.
async fn get_from(port: u16, origin: &str, path: &str) -> reqwest::Response {
    client()
        .get(format!("http://127.0.0.1:{port}{path}"))
        .header(header::ORIGIN, origin)
        .send()
        .await
        .expect("the backend answers")
}

/// The preflight a browser sends before a `fetch` with a custom header.
async fn preflight_from(port: u16, origin: &str) -> reqwest::Response {
    client()
        .request(Method::OPTIONS, format!("http://127.0.0.1:{port}/vehicle"))
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "x-requested-with")
        .send()
        .await
        .expect("the backend answers")
}

fn allowed_origin(response: &reqwest::Response) -> Option<&str> {
    response
        .headers()
        .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        .map(|value| value.to_str().expect("ASCII"))
}

#[tokio::test]
async fn the_tutorials_origin_may_read_every_kind_of_response() {
    let port = start(&[]).await;

    for (path, status) in RESPONSES {
        let response = get_from(port, TUTORIAL, path).await;

        assert_eq!(response.status(), status, "{path}");
        assert_eq!(allowed_origin(&response), Some(TUTORIAL), "{path}");
        let vary = response.headers()[header::VARY].to_str().expect("ASCII");
        assert!(vary.contains("origin"), "a cache must keep answers per origin: {vary}");
    }
}

#[tokio::test]
async fn a_preflight_from_the_tutorials_origin_is_allowed() {
    let port = start(&[]).await;

    let response = preflight_from(port, TUTORIAL).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(allowed_origin(&response), Some(TUTORIAL));
    assert_eq!(response.headers()[header::ACCESS_CONTROL_ALLOW_METHODS], "GET,HEAD");
    assert_eq!(
        response.headers()[header::ACCESS_CONTROL_ALLOW_HEADERS],
        "x-requested-with"
    );
}

#[tokio::test]
async fn a_foreign_origin_may_read_no_response() {
    let port = start(&[]).await;

    for (path, status) in RESPONSES {
        let response = get_from(port, "https://evil.example", path).await;

        assert_eq!(response.status(), status, "{path}");
        assert_eq!(allowed_origin(&response), None, "{path}");
    }
}

#[tokio::test]
async fn a_preflight_from_a_foreign_origin_is_not_allowed() {
    let port = start(&[]).await;

    let response = preflight_from(port, "https://evil.example").await;

    assert_eq!(allowed_origin(&response), None);
}

#[tokio::test]
async fn an_origin_that_only_resembles_an_allowed_one_is_foreign() {
    let port = start(&[]).await;

    for origin in [
        "http://localhost:30000",
        "http://localhost:300",
        "http://localhost",
        "https://localhost:3000",
        "http://localhost:3000.evil.example",
        "http://127.0.0.1:3000",
        "null",
    ] {
        let response = get_from(port, origin, "/vehicle").await;

        assert_eq!(allowed_origin(&response), None, "{origin}");
    }
}

#[tokio::test]
async fn the_backends_own_origin_is_allowed_at_the_port_it_bound() {
    let port = start(&[]).await;

    for origin in [format!("http://localhost:{port}"), format!("http://127.0.0.1:{port}")] {
        let response = get_from(port, &origin, "/vehicle").await;

        assert_eq!(allowed_origin(&response), Some(origin.as_str()));
    }
    let other_port = if port == 8000 { 8001 } else { 8000 };
    let response = get_from(port, &format!("http://localhost:{other_port}"), "/vehicle").await;
    assert_eq!(
        allowed_origin(&response),
        None,
        "only the bound port is the backend's own"
    );
}

#[tokio::test]
async fn a_configured_origin_is_allowed_besides_the_defaults() {
    let port = start(&["https://workshop.example/", "http://192.168.1.20:3000"]).await;

    for origin in ["https://workshop.example", "http://192.168.1.20:3000", TUTORIAL] {
        let response = get_from(port, origin, "/vehicle").await;

        assert_eq!(allowed_origin(&response), Some(origin));
    }
}

/// The built binary with `args` and `env`, pointed away from the in-process mock; returns its
/// port, and the child (killed when dropped).
async fn start_binary(args: &[&str], env: &[(&str, &str)]) -> (u16, tokio::process::Child) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_demo-backend"));
    command
        .args(["--addr", "127.0.0.1:0", "--api-origin", NO_PLATFORM])
        .args(args)
        .env_remove("SMARTCAR_ALLOWED_ORIGINS")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("the binary starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next_line().await.expect("stdout reads").expect("a first line");
    // Keep reading: the backend prints more, and a closed pipe would stop it.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let port = first
        .strip_prefix("listening on http://127.0.0.1:")
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line: {first}"));
    (port, child)
}

#[tokio::test]
async fn the_allow_origin_flag_can_be_repeated() {
    let (port, _backend) = start_binary(
        &[
            "--allow-origin",
            "https://a.example",
            "--allow-origin",
            "https://b.example",
        ],
        &[],
    )
    .await;

    for origin in ["https://a.example", "https://b.example", TUTORIAL] {
        let response = get_from(port, origin, "/vehicle").await;

        assert_eq!(allowed_origin(&response), Some(origin));
    }
}

#[tokio::test]
async fn the_allowed_origins_variable_is_comma_separated() {
    let (port, _backend) = start_binary(
        &[],
        &[("SMARTCAR_ALLOWED_ORIGINS", "https://a.example, https://b.example")],
    )
    .await;

    for origin in ["https://a.example", "https://b.example"] {
        let response = get_from(port, origin, "/vehicle").await;

        assert_eq!(allowed_origin(&response), Some(origin));
    }
    let response = get_from(port, "https://c.example", "/vehicle").await;
    assert_eq!(allowed_origin(&response), None);
}

#[tokio::test]
async fn an_allowed_origin_that_is_not_an_origin_stops_the_backend_with_the_reason() {
    let output = Command::new(env!("CARGO_BIN_EXE_demo-backend"))
        .args([
            "--addr",
            "127.0.0.1:0",
            "--api-origin",
            NO_PLATFORM,
            "--allow-origin",
            "*",
        ])
        .env_remove("SMARTCAR_ALLOWED_ORIGINS")
        .output()
        .await
        .expect("the binary runs");

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("`*` is not an origin"), "{stderr}");
}
