//! `--state FILE` with the real binary: what was answered survives `kill -9`, and a state file
//! the server cannot use is a clear start-up error that leaves the file as it was.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

mod support;

use support::BINARY;
const WEBHOOK: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";

/// A fresh state file path in the temporary folder (the file itself does not exist yet).
fn state_file() -> PathBuf {
    std::env::temp_dir().join(format!("mock-state-{}.db", uuid::Uuid::new_v4()))
}

/// A server process on a free port keeping its world in `file`.
struct Server {
    client: Arc<Client>,
    child: Child,
}

/// How to reach a server: its URL and an HTTP client.
struct Client {
    url: String,
    http: reqwest::Client,
}

impl std::ops::Deref for Server {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Server {
    async fn start(file: &Path) -> Server {
        let mut command = command(file);
        command.stderr(Stdio::null());
        Server::spawn(command).await
    }

    /// Runs `command` (a server) and reads its address from its first line.
    async fn spawn(command: Command) -> Server {
        let (child, url) = support::spawn(command).await;
        let http = reqwest::Client::builder().no_proxy().build().expect("client");
        Server {
            client: Arc::new(Client { url, http }),
            child,
        }
    }

    /// `kill -9`: no shutdown, no flush.
    async fn kill(mut self) {
        self.child.start_kill().expect("SIGKILL");
        self.child.wait().await.expect("the process ends");
    }

    /// SIGTERM, as a service manager or `docker stop` stops it: a graceful shutdown, exit code 0.
    async fn stop(mut self) {
        let pid = self.child.id().expect("a running process").to_string();
        let sent = Command::new("sh")
            .args(["-c", "kill -TERM \"$0\""])
            .arg(&pid)
            .status()
            .await
            .expect("sh runs");
        assert!(sent.success(), "SIGTERM sent");
        let status = self.child.wait().await.expect("the process ends");
        assert!(status.success(), "a graceful stop: {status}");
    }
}

impl Client {
    async fn admin(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let response = self
            .http
            .request(method, format!("{}{path}", self.url))
            .json(&body)
            .send()
            .await
            .expect("admin call");
        assert!(response.status().is_success(), "{path}: {}", response.status());
        response.json().await.expect("JSON")
    }

    async fn call(&self, method: reqwest::Method, path: &str, token: &str, body: Option<Value>) -> reqwest::Response {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("a call")
    }

    /// An odometer read, which the limits count against the app and the vehicle.
    async fn odometer(&self, car: &Car) -> StatusCode {
        let path = format!("/v2.0/vehicles/{}/odometer", car.vehicle);
        self.call(reqwest::Method::GET, &path, &car.access, None).await.status()
    }

    /// A user with a CHEVROLET connected by `POST /admin/authorize`.
    async fn connect_car(&self) -> Car {
        let connected = self
            .admin(
                reqwest::Method::POST,
                "/admin/authorize",
                json!({ "brand": "CHEVROLET" }),
            )
            .await;
        Car {
            access: text(&connected["access_token"]),
            vehicle: text(&connected["vehicle_ids"][0]),
        }
    }

    /// Waits until the server says every count so far is in its file (saved once a second).
    async fn counters_saved(&self) {
        let saved = async {
            let mut every = tokio::time::interval(std::time::Duration::from_millis(20));
            loop {
                every.tick().await;
                let health = self.admin(reqwest::Method::GET, "/admin/health", json!({})).await;
                if health["countersSaved"] == json!(true) {
                    return;
                }
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(10), saved)
            .await
            .expect("the counters are saved within 10 s");
    }

    async fn token(&self, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}/oauth/token", self.url))
            .basic_auth("demo-client", Some("demo-secret"))
            .form(form)
            .send()
            .await
            .expect("token request")
    }
}

/// A connected vehicle and the access token that reads it.
struct Car {
    access: String,
    vehicle: String,
}

/// Walks Connect's pages over HTTP as a browser would (preamble, brand, sign-in, Allow) for the
/// built-in demo app: the code it redirects back with, and the redirect URI.
async fn connect(url: &str, brand: &str, scope: &str) -> (String, String) {
    const REDIRECT_URI: &str = "https://example.com/auth";
    let http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let flow = |page: &str| {
        let marker = r#"name="flow" value=""#;
        let start = page.find(marker).expect("the page has a flow field") + marker.len();
        let end = page[start..].find('"').expect("closing quote") + start;
        page[start..end].to_owned()
    };
    let query = [
        ("response_type", "code"),
        ("client_id", "demo-client"),
        ("redirect_uri", REDIRECT_URI),
        ("mode", "test"),
        ("scope", scope),
    ];
    let mut page = http
        .get(format!("{url}/oauth/authorize"))
        .query(&query)
        .send()
        .await
        .expect("the preamble")
        .text()
        .await
        .expect("its text");
    let username = format!("{}@email.com", uuid::Uuid::new_v4());
    let steps: [(&str, Vec<(&str, &str)>); 3] = [
        ("/connect/brand", vec![]),
        ("/connect/login", vec![("make", brand)]),
        (
            "/connect/sign-in",
            vec![("username", &username), ("password", "password")],
        ),
    ];
    for (action, fields) in steps {
        let flow = flow(&page);
        let mut form = vec![("flow", flow.as_str())];
        form.extend(fields);
        page = http
            .post(format!("{url}{action}"))
            .form(&form)
            .send()
            .await
            .expect("a Connect step")
            .text()
            .await
            .expect("its page");
    }
    let flow = flow(&page);
    let done = http
        .post(format!("{url}/connect/grant"))
        .form(&[("flow", flow.as_str()), ("decision", "allow")])
        .send()
        .await
        .expect("Allow");
    assert_eq!(
        done.status(),
        reqwest::StatusCode::FOUND,
        "Connect ends with a redirect"
    );
    let location = url::Url::parse(done.headers()["location"].to_str().expect("ascii")).expect("a URL");
    let code = location
        .query_pairs()
        .find(|(name, _)| name == "code")
        .map(|(_, code)| code.into_owned())
        .expect("a code");
    (code, REDIRECT_URI.to_owned())
}

fn command(file: &Path) -> Command {
    let mut command = support::command();
    command.arg("--state").arg(file).env_remove("RUST_BACKTRACE");
    command
}

/// Starts the binary on `file` expecting it to refuse; its error output.
async fn refusal(file: &Path) -> String {
    let output = command(file).output().await.expect("the binary runs");
    assert!(
        !output.status.success(),
        "it started: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not text"))
        .to_owned()
}

/// Connect (its pages), exchange, a command and a subscription; `kill -9`; a restart on the file.
#[tokio::test]
async fn what_was_answered_before_kill_9_is_there_after_a_restart() {
    let file = state_file();
    let server = Server::start(&file).await;
    let (code, redirect_uri) = connect(&server.url, "FORD", "read_vehicle_info read_security control_security").await;
    let exchanged: Value = server
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect_uri),
        ])
        .await
        .json()
        .await
        .expect("tokens");
    let access = text(&exchanged["access_token"]);
    let refresh = text(&exchanged["refresh_token"]);
    let vehicles: Value = server
        .call(reqwest::Method::GET, "/v2.0/vehicles", &access, None)
        .await
        .json()
        .await
        .expect("vehicles");
    let vehicle = text(&vehicles["vehicles"][0]);
    let locked = server
        .call(
            reqwest::Method::POST,
            &format!("/v2.0/vehicles/{vehicle}/security"),
            &access,
            Some(json!({ "action": "UNLOCK" })),
        )
        .await;
    assert_eq!(locked.status(), StatusCode::OK);
    let subscribed = server
        .call(
            reqwest::Method::POST,
            &format!("/v2.0/vehicles/{vehicle}/webhooks/{WEBHOOK}"),
            &access,
            None,
        )
        .await;
    assert_eq!(subscribed.status(), StatusCode::OK);

    server.kill().await;
    let server = Server::start(&file).await;

    let security: Value = server
        .call(
            reqwest::Method::GET,
            &format!("/v2.0/vehicles/{vehicle}/security"),
            &access,
            None,
        )
        .await
        .json()
        .await
        .expect("security");
    assert_eq!(security["isLocked"], false, "the command's change is there: {security}");
    let snapshot = server.admin(reqwest::Method::GET, "/admin/snapshot", json!({})).await;
    assert_eq!(
        snapshot["apps"]["demo-client"]["webhooks"][0]["vehicles"],
        json!([vehicle]),
        "the subscription is there"
    );
    let refreshed = server
        .token(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
        .await;
    assert_eq!(refreshed.status(), StatusCode::OK, "the refresh token works");
    let reused = server
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect_uri),
        ])
        .await;
    assert_eq!(reused.status(), StatusCode::BAD_REQUEST);
    let revoked = server.call(reqwest::Method::GET, "/v2.0/vehicles", &access, None).await;
    assert_eq!(
        revoked.status(),
        StatusCode::UNAUTHORIZED,
        "the code is still used: its reuse revoked the tokens of its first exchange"
    );
    server.kill().await;
    let _ = std::fs::remove_file(&file);
}

/// What a writer was told succeeded, to be found after the restart.
#[derive(Default)]
struct Acknowledged {
    /// Writes answered so far.
    answered: usize,
    /// Access tokens answered by an exchange or a refresh.
    tokens: Vec<String>,
    /// vehicle → the last odometer value answered by a state change.
    odometers: std::collections::HashMap<String, f64>,
}

#[tokio::test]
async fn every_answered_write_survives_a_kill_at_a_random_moment_of_2000() {
    let file = state_file();
    let process = Server::start(&file).await;
    let server = Arc::clone(&process.client);
    let acknowledged = Arc::new(Mutex::new(Acknowledged::default()));
    let writers = 8;
    let per_writer = 250;
    let mut tasks = Vec::new();
    for writer in 0..writers {
        let server = Arc::clone(&server);
        let acknowledged = Arc::clone(&acknowledged);
        tasks.push(tokio::spawn(async move {
            let connected = server
                .admin(
                    reqwest::Method::POST,
                    "/admin/authorize",
                    json!({ "brand": "KIA", "email": format!("writer-{writer}@example.com") }),
                )
                .await;
            let vehicle = text(&connected["vehicle_ids"][0]);
            let mut refresh = text(&connected["refresh_token"]);
            {
                let mut acknowledged = acknowledged.lock().expect("lock");
                acknowledged.tokens.push(text(&connected["access_token"]));
                acknowledged.answered += 1;
            }
            for i in 1..per_writer {
                let Ok(response) = (if i % 2 == 0 {
                    server
                        .http
                        .post(format!("{}/oauth/token", server.url))
                        .basic_auth("demo-client", Some("demo-secret"))
                        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh.as_str())])
                        .send()
                        .await
                } else {
                    server
                        .http
                        .patch(format!("{}/admin/vehicles/{vehicle}", server.url))
                        .json(&json!({ "odometer": { "distance": f64::from(i) } }))
                        .send()
                        .await
                }) else {
                    return;
                };
                if !response.status().is_success() {
                    return;
                }
                let Ok(body) = response.json::<Value>().await else {
                    return;
                };
                let mut acknowledged = acknowledged.lock().expect("lock");
                acknowledged.answered += 1;
                if i % 2 == 0 {
                    refresh = text(&body["refresh_token"]);
                    acknowledged.tokens.push(text(&body["access_token"]));
                } else {
                    acknowledged.odometers.insert(vehicle.clone(), f64::from(i));
                }
            }
        }));
    }
    // A moment somewhere in the run: after a random number of answered writes.
    let kill_after = 200 + rand::random::<u32>() as usize % 1600;
    loop {
        let done = acknowledged.lock().expect("lock").answered;
        if done >= kill_after || tasks.iter().all(tokio::task::JoinHandle::is_finished) {
            break;
        }
        tokio::task::yield_now().await;
    }
    process.kill().await;
    for task in tasks {
        let _ = task.await;
    }

    let restarted = Server::start(&file).await;
    let acknowledged = Arc::try_unwrap(acknowledged)
        .map_err(|_| ())
        .expect("the writers are done")
        .into_inner()
        .expect("lock");
    for token in &acknowledged.tokens {
        let response = restarted
            .call(reqwest::Method::GET, "/v2.0/vehicles", token, None)
            .await;
        assert_eq!(response.status(), StatusCode::OK, "an answered token pair is there");
    }
    let vehicles = restarted
        .admin(reqwest::Method::GET, "/admin/vehicles", json!({}))
        .await;
    for (vehicle, distance) in &acknowledged.odometers {
        let found = vehicles["vehicles"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|car| car["id"] == json!(vehicle))
            .unwrap_or_else(|| panic!("vehicle {vehicle} is there"));
        let stored = found["state"]["odometer"]["distance"].as_f64().expect("a distance");
        // The write in flight at the kill may have landed too (one later than answered).
        assert!(
            stored == *distance || stored == distance + 2.0,
            "{vehicle}: {stored} for {distance}"
        );
    }
    restarted.kill().await;
    let _ = std::fs::remove_file(&file);
}

#[tokio::test]
async fn a_second_process_on_the_same_file_refuses_to_start() {
    let file = state_file();
    let first = Server::start(&file).await;

    let error = refusal(&file).await;

    assert!(
        error.contains(&format!("state file {}: is locked", file.display())),
        "{error}"
    );
    first.kill().await;
    let _ = std::fs::remove_file(&file);
}

/// A read-only state file: refused, named, left as it was. Root writes to any file, so as root the
/// binary runs as `nobody` (by `setpriv`, util-linux).
#[tokio::test]
async fn a_read_only_file_is_refused_naming_it() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let file = state_file();
    Server::start(&file).await.kill().await;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o444)).expect("read-only");
    let before = std::fs::read(&file).expect("the file");
    let as_root = std::fs::metadata("/proc/self").expect("/proc/self").uid() == 0;
    let mut run = if as_root {
        let mut run = Command::new("setpriv");
        run.args(["--reuid=65534", "--regid=65534", "--clear-groups", BINARY]);
        run
    } else {
        Command::new(BINARY)
    };
    run.args(["--addr", "127.0.0.1:0", "--state"])
        .arg(&file)
        .env_remove("SMARTCAR_MOCK_SCENARIO")
        .env_remove("RUST_BACKTRACE");

    let output = run.output().await.expect("the binary runs");

    let error = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "it started");
    assert!(
        error.contains(&format!("state file {}: is read-only", file.display())),
        "{error}"
    );
    assert_eq!(std::fs::read(&file).expect("still there"), before);
    let _ = std::fs::remove_file(&file);
}

#[tokio::test]
async fn a_file_that_is_not_sqlite_is_refused_and_left_as_it_was() {
    let file = state_file();
    let garbage = b"these are not the bytes of a SQLite database, not even close; ".repeat(100);
    std::fs::write(&file, &garbage).expect("a file");

    let error = refusal(&file).await;

    assert!(
        error.contains(&format!("state file {}: is not a SQLite database", file.display())),
        "{error}"
    );
    assert!(!error.contains("panicked"), "{error}");
    assert_eq!(std::fs::read(&file).expect("still there"), garbage);
    let _ = std::fs::remove_file(&file);
}

#[tokio::test]
async fn a_file_of_another_schema_version_is_refused_naming_the_file_and_the_version() {
    let file = state_file();
    Server::start(&file).await.kill().await;
    {
        let connection = rusqlite::Connection::open(&file).expect("the file opens");
        connection
            .execute("UPDATE schema_version SET version = 0", [])
            .expect("an update");
    }

    let error = refusal(&file).await;

    assert!(
        error.contains(&format!(
            "state file {}: has schema version 0, written by an older mock-server; there is no migration from it; \
             this build reads version 2",
            file.display()
        )),
        "{error}"
    );
    let _ = std::fs::remove_file(&file);
}

#[tokio::test]
async fn a_sqlite_file_of_another_program_is_refused() {
    let file = state_file();
    {
        let connection = rusqlite::Connection::open(&file).expect("a new file");
        connection
            .execute("CREATE TABLE invoices (id INTEGER)", [])
            .expect("a table");
    }

    let error = refusal(&file).await;

    assert!(
        error.contains("is a SQLite file but not a mock-server state file (its tables: invoices)"),
        "{error}"
    );
    let _ = std::fs::remove_file(&file);
}

#[tokio::test]
async fn users_forgotten_at_the_cap_are_deleted_from_the_file_too() {
    let file = state_file();
    let mut child = command(&file)
        .args(["--max-users", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut first)
        .await
        .expect("a first line");
    let url = first.trim().trim_start_matches("listening on ").to_owned();
    let http = reqwest::Client::builder().no_proxy().build().expect("client");
    for user in 0..3 {
        let response = http
            .post(format!("{url}/admin/authorize"))
            .json(&json!({ "brand": "FORD", "email": format!("user-{user}@example.com") }))
            .send()
            .await
            .expect("authorize");
        assert_eq!(response.status(), StatusCode::OK);
    }
    child.start_kill().expect("SIGKILL");
    child.wait().await.expect("the process ends");

    let connection = rusqlite::Connection::open(&file).expect("the file opens");
    let logins: Vec<String> = connection
        .prepare("SELECT doc FROM users ORDER BY seq")
        .and_then(|mut query| query.query_map([], |row| row.get::<_, String>(0))?.collect())
        .expect("rows");
    let logins: Vec<String> = logins
        .iter()
        .map(|doc| text(&serde_json::from_str::<Value>(doc).expect("JSON")["login"]))
        .collect();
    assert_eq!(logins, ["user-1@example.com", "user-2@example.com"]);
    let _ = std::fs::remove_file(&file);
}

#[tokio::test]
async fn snapshot_save_and_load_from_the_command_line_bring_a_world_back() {
    let file = state_file();
    let server = Server::start(&file).await;
    let connected = server
        .admin(reqwest::Method::POST, "/admin/authorize", json!({ "brand": "TESLA" }))
        .await;
    let access = text(&connected["access_token"]);
    let saved = std::env::temp_dir().join(format!("snapshot-{}.json", uuid::Uuid::new_v4()));
    let cli = |args: &[&str]| {
        let mut command = Command::new(BINARY);
        command.args(args).args(["--server", &server.url]);
        command
    };

    let save = cli(&["snapshot", "save"])
        .arg(&saved)
        .output()
        .await
        .expect("the CLI runs");
    assert!(save.status.success(), "{}", String::from_utf8_lossy(&save.stderr));
    server.admin(reqwest::Method::POST, "/admin/reset", json!({})).await;
    let forgotten = server.call(reqwest::Method::GET, "/v2.0/vehicles", &access, None).await;
    assert_eq!(forgotten.status(), StatusCode::UNAUTHORIZED);
    let load = cli(&["snapshot", "load"])
        .arg(&saved)
        .output()
        .await
        .expect("the CLI runs");
    assert!(load.status.success(), "{}", String::from_utf8_lossy(&load.stderr));

    let back = server.call(reqwest::Method::GET, "/v2.0/vehicles", &access, None).await;
    assert_eq!(back.status(), StatusCode::OK);
    server.kill().await;
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_file(&saved);
}

/// A webhook receiver on a free port: every request's body, in order; answers `{}`.
async fn receiver() -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let (sent, received) = tokio::sync::mpsc::unbounded_channel();
    let app = axum::Router::new().fallback(move |body: String| {
        let sent = sent.clone();
        async move {
            let _ = sent.send(body);
            axum::Json(json!({}))
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let url = format!("http://{}/hook", listener.local_addr().expect("an address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

#[tokio::test]
async fn a_subscription_delivers_after_kill_9_and_a_restart() {
    let (url, mut received) = receiver().await;
    let file = state_file();
    let server = Server::start(&file).await;
    server
        .admin(
            reqwest::Method::PUT,
            "/admin/snapshot?app=demo-client",
            json!({ "apps": { "demo-client": { "webhooks": [{ "id": WEBHOOK, "callbackUrl": url }] } } }),
        )
        .await;
    let connected = server
        .admin(
            reqwest::Method::POST,
            "/admin/authorize",
            json!({ "brand": "CHEVROLET", "scope": "read_vehicle_info read_odometer" }),
        )
        .await;
    let access = text(&connected["access_token"]);
    let vehicle = text(&connected["vehicle_ids"][0]);
    let subscribed = server
        .call(
            reqwest::Method::POST,
            &format!("/v2.0/vehicles/{vehicle}/webhooks/{WEBHOOK}"),
            &access,
            None,
        )
        .await;
    assert_eq!(subscribed.status(), StatusCode::OK);
    server.kill().await;
    while received.try_recv().is_ok() {}

    let server = Server::start(&file).await;
    server
        .admin(
            reqwest::Method::PATCH,
            &format!("/admin/vehicles/{vehicle}"),
            json!({ "odometer": { "distance": 99999.5 } }),
        )
        .await;

    let delivery = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            let body = received.recv().await.expect("the receiver runs");
            if body.contains(&vehicle) && body.contains("VEHICLE_STATE") {
                return body;
            }
        }
    })
    .await
    .expect("a delivery about the vehicle within 10 s");
    assert!(delivery.contains("odometer"), "{delivery}");
    server.kill().await;
    let _ = std::fs::remove_file(&file);
}

/// Limits on, a monthly quota of 5 per vehicle; three requests of it used.
async fn three_of_five_used(server: &Server) -> Car {
    server
        .admin(
            reqwest::Method::PUT,
            "/admin/limits",
            json!({ "enabled": true, "monthly_vehicle_requests": 5 }),
        )
        .await;
    let car = server.connect_car().await;
    for i in 0..3 {
        assert_eq!(server.odometer(&car).await, StatusCode::OK, "request {i}");
    }
    car
}

/// Three more reads of the car's odometer: their statuses.
async fn three_more(server: &Server, car: &Car) -> Vec<StatusCode> {
    let mut answers = Vec::new();
    for _ in 0..3 {
        answers.push(server.odometer(car).await);
    }
    answers
}

#[tokio::test]
async fn the_monthly_quota_goes_on_where_it_stood_after_a_graceful_restart() {
    let file = state_file();
    let server = Server::start(&file).await;
    let car = three_of_five_used(&server).await;

    server.stop().await;
    let server = Server::start(&file).await;

    let over = StatusCode::from_u16(430).expect("a status");
    assert_eq!(
        three_more(&server, &car).await,
        [StatusCode::OK, StatusCode::OK, over],
        "3 of 5 were used before the restart"
    );
    server.kill().await;
    let _ = std::fs::remove_file(&file);
}

#[tokio::test]
async fn counts_saved_before_a_kill_9_are_there_after_the_restart() {
    let file = state_file();
    let server = Server::start(&file).await;
    let car = three_of_five_used(&server).await;
    server.counters_saved().await;

    server.kill().await;
    let server = Server::start(&file).await;

    let over = StatusCode::from_u16(430).expect("a status");
    assert_eq!(
        three_more(&server, &car).await,
        [StatusCode::OK, StatusCode::OK, over],
        "3 of 5 were used and saved before the kill"
    );
    server.kill().await;
    let _ = std::fs::remove_file(&file);
}

#[tokio::test]
async fn a_fault_rule_that_fired_twice_of_three_fires_once_more_after_a_graceful_restart() {
    let file = state_file();
    let server = Server::start(&file).await;
    let car = server.connect_car().await;
    server
        .admin(
            reqwest::Method::POST,
            "/admin/faults",
            json!({ "path": "**/odometer", "error": "VEHICLE_STATE:ASLEEP", "times": 3 }),
        )
        .await;
    for i in 0..2 {
        assert_eq!(server.odometer(&car).await, StatusCode::CONFLICT, "firing {i}");
    }

    server.stop().await;
    let server = Server::start(&file).await;

    let answers = [server.odometer(&car).await, server.odometer(&car).await];
    assert_eq!(answers, [StatusCode::CONFLICT, StatusCode::OK], "one firing was left");
    server.kill().await;
    let _ = std::fs::remove_file(&file);
}

#[tokio::test]
async fn a_version_1_file_is_migrated_and_keeps_its_users() {
    let file = state_file();
    let server = Server::start(&file).await;
    let car = server.connect_car().await;
    server.stop().await;
    {
        let connection = rusqlite::Connection::open(&file).expect("the file opens");
        connection
            .execute_batch("DROP TABLE counters; UPDATE schema_version SET version = 1;")
            .expect("a version-1 file");
    }

    let server = Server::start(&file).await;

    assert_eq!(
        server.odometer(&car).await,
        StatusCode::OK,
        "the user and their token are there"
    );
    server.stop().await;
    let connection = rusqlite::Connection::open(&file).expect("the file opens");
    let version: i64 = connection
        .query_row("SELECT version FROM schema_version", [], |row| row.get(0))
        .expect("a version");
    let counters = connection.query_row("SELECT COUNT(*) FROM counters", [], |row| row.get::<_, i64>(0));
    assert_eq!(version, 2, "migrated");
    assert!(counters.is_ok(), "the counters table is there: {counters:?}");
    let _ = std::fs::remove_file(&file);
}

/// A commit that fails (here: the file may grow no further, `ulimit -f`, with `SIGXFSZ` ignored
/// so the write fails with `EFBIG` instead of killing the process) stops the server with exit code
/// 74 before any answer claims the write; what was answered before is in the file.
#[tokio::test]
async fn a_failed_commit_stops_the_server_with_74_and_keeps_every_answered_write() {
    let file = state_file();
    // 2048 blocks of 512 bytes (the unit of dash, and of bash as sh): 1 MiB, about 17 users.
    let mut limited = Command::new("sh");
    limited
        .args(["-c", "trap '' XFSZ; ulimit -f 2048; exec \"$0\" \"$@\"", BINARY])
        .args(["--addr", "127.0.0.1:0", "--state"])
        .arg(&file)
        .env_remove("SMARTCAR_MOCK_ADMIN_TOKEN")
        .env_remove("SMARTCAR_MOCK_SCENARIO")
        .stderr(Stdio::piped());
    let mut server = Server::spawn(limited).await;
    let mut stderr = server.child.stderr.take().expect("piped stderr");
    let errors = tokio::spawn(async move {
        let mut text = String::new();
        let _ = tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut text).await;
        text
    });

    let mut answered = Vec::new();
    for user in 0.. {
        assert!(user < 10_000, "the file limit was never reached");
        let Ok(response) = server
            .http
            .post(format!("{}/admin/authorize", server.url))
            .json(&json!({ "brand": "FORD", "email": format!("user-{user}@example.com") }))
            .send()
            .await
        else {
            break;
        };
        assert_eq!(response.status(), StatusCode::OK, "user {user}");
        let Ok(body) = response.json::<Value>().await else {
            break;
        };
        answered.push(text(&body["access_token"]));
    }
    let status = server.child.wait().await.expect("the process ends");
    let errors = errors.await.expect("stderr read");

    assert_eq!(status.code(), Some(74), "{status}: {errors}");
    assert!(
        errors.contains(&format!("state file {}: a write failed", file.display())),
        "{errors}"
    );
    assert!(
        answered.len() > 1,
        "some writes were answered before the limit: {}",
        answered.len()
    );
    let restarted = Server::start(&file).await;
    for token in &answered {
        let response = restarted
            .call(reqwest::Method::GET, "/v2.0/vehicles", token, None)
            .await;
        assert_eq!(response.status(), StatusCode::OK, "an answered user is there");
    }
    restarted.kill().await;
    let _ = std::fs::remove_file(&file);
}
