//! The `mock-server` binary: serving with no subcommand, and every test-control capability through
//! the CLI subcommands against a running server (`--server URL`).

use std::process::Stdio;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

mod support;

use support::BINARY;

/// A server process on a free port; killed when dropped.
struct Server {
    url: String,
    child: Child,
    http: reqwest::Client,
}

impl Server {
    async fn start(flags: &[&str]) -> Server {
        let mut command = support::command();
        command.args(flags).stderr(Stdio::null());
        Server::of(command).await
    }

    /// The server `command` starts (`support::command()` with the test's own settings).
    async fn of(command: Command) -> Server {
        let (child, url) = support::spawn(command).await;
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Server { url, child, http }
    }

    /// Runs `mock-server <args> --server <url>`; exit success and stdout (as JSON when it is).
    async fn cli(&self, args: &[&str]) -> (bool, Value, String) {
        let output = Command::new(BINARY)
            .args(args)
            .args(["--server", &self.url])
            .env_remove("SMARTCAR_MOCK_ADMIN_TOKEN")
            .output()
            .await
            .expect("the CLI runs");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
        (output.status.success(), json, stderr)
    }

    /// A CLI call that must succeed; its JSON output.
    async fn cli_ok(&self, args: &[&str]) -> Value {
        let (ok, json, stderr) = self.cli(args).await;
        assert!(ok, "mock-server {args:?} failed: {stderr}");
        json
    }

    async fn token(&self, scope: &[&str]) -> (String, String, String) {
        let mut args = vec!["token", "--brand", "CHEVROLET", "--scope"];
        args.extend_from_slice(scope);
        let answer = self.cli_ok(&args).await;
        let text = |key: &str| answer[key].as_str().expect("text").to_owned();
        (
            text("access_token"),
            text("refresh_token"),
            answer["vehicle_ids"][0].as_str().expect("a vehicle").to_owned(),
        )
    }

    async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET")
    }
}

#[tokio::test]
async fn with_no_subcommand_the_binary_serves_and_says_where_first() {
    let server = Server::start(&[]).await;

    let health = server.cli_ok(&["health"]).await;

    assert!(server.url.starts_with("http://127.0.0.1:"), "{}", server.url);
    assert_eq!(health["status"], "ok");
}

/// Reads skip the router on the hot path; with request logging asked for, they must still be
/// logged like every other request.
#[tokio::test]
async fn with_debug_logging_a_vehicle_read_is_logged_too() {
    let mut command = support::command();
    command.env("RUST_LOG", "debug").stderr(Stdio::piped());
    let mut server = Server::of(command).await;
    let mut log = BufReader::new(server.child.stderr.take().expect("piped stderr")).lines();
    let (token, _, vehicle) = server.token(&["read_odometer"]).await;
    let path = format!("/v2.0/vehicles/{vehicle}/odometer");

    let read = server.get(&path, &token).await;

    assert_eq!(read.status(), StatusCode::OK);
    let logged = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while let Ok(Some(line)) = log.next_line().await {
            if line.contains(&path) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(logged, Ok(true), "no log line names {path}");
}

#[tokio::test]
async fn token_prints_tokens_for_the_brand_and_scope() {
    let server = Server::start(&[]).await;

    let answer = server
        .cli_ok(&["token", "--brand", "FORD", "--scope", "read_odometer", "control_charge"])
        .await;
    let vehicle = answer["vehicle_ids"][0].as_str().expect("a vehicle");
    let token = answer["access_token"].as_str().expect("a token");
    let permissions: Value = server
        .get(&format!("/v2.0/vehicles/{vehicle}/permissions"), token)
        .await
        .json()
        .await
        .expect("json");

    assert_eq!(answer["expires_in"], 7200);
    assert!(answer["refresh_token"].is_string() && answer["user_id"].is_string());
    assert_eq!(permissions["permissions"], json!(["read_odometer", "control_charge"]));
}

#[tokio::test]
async fn a_fault_added_for_two_requests_is_served_twice_then_gone() {
    let server = Server::start(&[]).await;
    let (token, _, vehicle) = server.token(&["read_odometer"]).await;

    server
        .cli_ok(&[
            "fault",
            "add",
            "--path",
            "*/odometer",
            "--error",
            "VEHICLE_STATE:ASLEEP",
            "--times",
            "2",
        ])
        .await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(
            server
                .get(&format!("/v2.0/vehicles/{vehicle}/odometer"), &token)
                .await
                .status(),
        );
    }
    let listed = server.cli_ok(&["fault", "list"]).await;

    assert_eq!(statuses, [StatusCode::CONFLICT, StatusCode::CONFLICT, StatusCode::OK]);
    assert_eq!(listed["rules"], json!([]), "a spent rule leaves the rule book");
}

#[tokio::test]
async fn the_same_seed_gives_the_same_faults_on_two_servers() {
    let mut sequences = Vec::new();
    for _ in 0..2 {
        let server = Server::start(&[]).await;
        let (token, _, vehicle) = server.token(&["read_odometer"]).await;
        server
            .cli_ok(&[
                "fault",
                "add",
                "--error",
                "UPSTREAM:NO_RESPONSE",
                "--probability",
                "0.5",
                "--seed",
                "11",
            ])
            .await;
        let mut sequence = Vec::new();
        for _ in 0..12 {
            let status = server
                .get(&format!("/v2.0/vehicles/{vehicle}/odometer"), &token)
                .await
                .status();
            sequence.push(status.as_u16());
        }
        sequences.push(sequence);
    }

    assert_eq!(sequences[0], sequences[1]);
}

#[tokio::test]
async fn a_connect_fault_makes_the_next_token_request_fail_with_its_error() {
    let server = Server::start(&[]).await;

    server
        .cli_ok(&[
            "fault",
            "connect",
            "--app",
            "demo-client",
            "--error",
            "vehicle_incompatible",
        ])
        .await;
    let (ok, _, stderr) = server.cli(&["token"]).await;
    let (next_ok, _, _) = server.cli(&["token"]).await;

    assert!(!ok);
    assert!(stderr.contains("409") && stderr.contains("not compatible"), "{stderr}");
    assert!(next_ok, "the fault was for one authorization");
}

#[tokio::test]
async fn advancing_the_clock_expires_the_token_and_the_refresh_still_works() {
    let server = Server::start(&[]).await;
    let (token, refresh, _) = server.token(&["read_odometer"]).await;

    let clock = server.cli_ok(&["clock", "advance", "2h"]).await;
    let expired: Value = server.get("/v2.0/user", &token).await.json().await.expect("json");
    let refreshed = server
        .http
        .post(format!("{}/oauth/token", server.url))
        .basic_auth("demo-client", Some("demo-secret"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh.as_str())])
        .send()
        .await
        .expect("refresh");

    assert!(clock["offset_seconds"].as_i64().is_some_and(|s| s >= 7200), "{clock}");
    assert_eq!(expired["type"], "AUTHENTICATION");
    assert_eq!(refreshed.status(), StatusCode::OK);
}

#[tokio::test]
async fn vehicle_set_changes_what_the_api_reads() {
    let server = Server::start(&[]).await;
    let (token, _, vehicle) = server.token(&["read_charge"]).await;

    server
        .cli_ok(&[
            "vehicle",
            "set",
            &vehicle,
            "charge.isPluggedIn=true",
            "charge.state=CHARGING",
        ])
        .await;
    let shown = server.cli_ok(&["vehicle", "show", &vehicle]).await;
    let charge: Value = server
        .get(&format!("/v2.0/vehicles/{vehicle}/charge"), &token)
        .await
        .json()
        .await
        .expect("json");

    assert_eq!(charge, json!({ "isPluggedIn": true, "state": "CHARGING" }));
    assert_eq!(shown["state"]["charge"]["state"], "CHARGING");
}

#[tokio::test]
async fn limits_on_answer_429_with_retry_after_and_recover_as_the_clock_advances() {
    let server = Server::start(&[]).await;
    let (token, _, vehicle) = server.token(&["read_odometer"]).await;
    let path = format!("/v2.0/vehicles/{vehicle}/odometer");

    server.cli_ok(&["limits", "on", "--app-capacity", "2"]).await;
    server.get(&path, &token).await;
    server.get(&path, &token).await;
    let limited = server.get(&path, &token).await;
    server.cli_ok(&["clock", "advance", "30s"]).await;
    let recovered = server.get(&path, &token).await;

    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().contains_key("retry-after"));
    assert_eq!(recovered.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_journal_shows_what_the_app_sent_and_why_it_failed() {
    let server = Server::start(&[]).await;
    let (token, _, vehicle) = server.token(&["read_odometer"]).await;
    server.get(&format!("/v2.0/vehicles/{vehicle}/location"), &token).await;

    let journal = server
        .cli_ok(&["journal", "--app", "demo-client", "--path", "*/location"])
        .await;

    let record = &journal["requests"][0];
    assert_eq!(record["status"], 403);
    assert_eq!(
        record["reason"],
        "scope read_location was not granted (granted: read_odometer)"
    );
}

#[tokio::test]
async fn reset_of_one_app_ends_its_tokens() {
    let server = Server::start(&[]).await;
    let (token, _, _) = server.token(&["read_odometer"]).await;

    server.cli_ok(&["reset", "--app", "demo-client"]).await;
    let after = server.get("/v2.0/user", &token).await;

    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_admin_token_is_needed_once_the_server_has_one() {
    let server = Server::start(&["--admin-token", "s3cret"]).await;

    let (without, _, stderr) = server.cli(&["health"]).await;
    let with = server.cli_ok(&["health", "--admin-token", "s3cret"]).await;

    assert!(!without);
    assert!(stderr.contains("401"), "{stderr}");
    assert_eq!(with["status"], "ok");
}

#[tokio::test]
async fn auto_approve_answers_the_authorize_url_with_a_code() {
    let server = Server::start(&["--auto-approve"]).await;

    let response = server
        .http
        .get(format!("{}/oauth/authorize", server.url))
        .query(&[
            ("response_type", "code"),
            ("client_id", "demo-client"),
            ("redirect_uri", "https://example.com/auth"),
            ("make", "FORD"),
        ])
        .send()
        .await
        .expect("authorize");

    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()["location"].to_str().expect("ascii");
    assert!(location.starts_with("https://example.com/auth?code="), "{location}");
}

#[tokio::test]
async fn a_tls_address_in_use_is_named_with_how_to_find_the_other_server() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = taken.local_addr().expect("an address").to_string();

    let output = Command::new(BINARY)
        .args(["--addr", "127.0.0.1:0", "--tls-addr", &addr])
        .env_remove("SMARTCAR_MOCK_TLS_CERT_OUT")
        .output()
        .await
        .expect("the binary runs");

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains(&format!(
            "cannot listen on {addr} (--tls-addr): the address is already in use"
        )),
        "{stderr}"
    );
}
