//! Webhooks that really deliver (docs/contract/webhooks.md): subscriptions, the
//! VERIFY handshake, signed events and what they carry, retries with backoff, the delivery log,
//! HTTPS receivers and `--ca-cert`, and the bounds on deliveries — against a receiver each test
//! starts on port 0.
//!
//! Signatures are checked with HMAC-SHA256 written here from the rule in
//! docs/contract/webhooks.md#signing: the official Rust SDK's `hash_challenge` swaps key and
//! message, so it cannot verify what Python's `verify_payload` and Node's `verifyPayload` do (those
//! run in tests/sdk/python and tests/sdk/node).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use mock_server::DeliverySettings;
use mock_server::Settings;
use mock_server::net::parse_ca_cert;
use mock_server::{Fixtures, MockServer};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc};

use crate::support::{Connect, TestEnv};

const AMT: &str = "demo-amt";
/// The demo app's current-format webhook and its legacy one (fixtures/apps.json).
const WEBHOOK: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
const LEGACY_WEBHOOK: &str = "0b6a1c1e-3f57-4d1a-9f0e-5b2c4d8e9a10";
/// How long a test waits for something that should happen at once.
const PATIENCE: Duration = Duration::from_secs(10);

/// Lower-case hex HMAC-SHA256, written here from the rule in docs/contract/webhooks.md#signing
/// rather than taken from the server.
fn hmac_hex(key: &str, message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(message);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// How the receiver answers.
#[derive(Clone)]
enum Behaviour {
    /// 200 with the right challenge answer (and `{}` to events).
    Correct,
    /// 200 with a made-up challenge answer.
    WrongChallenge,
    /// 500 for the first `n` requests, then correct.
    FailFirst(usize),
    /// Never answers.
    Hang,
    /// Answers correctly once the gate opens.
    Hold(Arc<Gate>),
}

/// Holds the requests that reach it until it is opened, counting how many it holds at once.
struct Gate {
    held: AtomicUsize,
    most: AtomicUsize,
    /// Never given a permit: closing it releases every waiter.
    open: Semaphore,
}

impl Gate {
    fn new() -> Arc<Gate> {
        Arc::new(Gate {
            held: AtomicUsize::new(0),
            most: AtomicUsize::new(0),
            open: Semaphore::new(0),
        })
    }

    async fn pass(&self) {
        let now = self.held.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        // Fails (and so returns) once the gate is opened.
        let _ = self.open.acquire().await;
        self.held.fetch_sub(1, Ordering::SeqCst);
    }

    fn open(&self) {
        self.open.close();
    }
}

struct Received {
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON delivery")
    }
}

struct ReceiverState {
    behaviour: Behaviour,
    count: AtomicUsize,
    sent: mpsc::UnboundedSender<Received>,
}

async fn receive(State(state): State<Arc<ReceiverState>>, headers: HeaderMap, body: Bytes) -> Response {
    let n = state.count.fetch_add(1, Ordering::SeqCst);
    let payload: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let _ = state.sent.send(Received { headers, body });
    let challenge = payload["data"]["challenge"]
        .as_str()
        .or(payload["payload"]["challenge"].as_str())
        .map(str::to_owned);
    let correct = || match &challenge {
        Some(challenge) => axum::Json(json!({ "challenge": hmac_hex(AMT, challenge.as_bytes()) })).into_response(),
        None => axum::Json(json!({})).into_response(),
    };
    match &state.behaviour {
        Behaviour::Correct => correct(),
        Behaviour::WrongChallenge => axum::Json(json!({ "challenge": "not-the-answer" })).into_response(),
        Behaviour::FailFirst(failures) if n < *failures => (StatusCode::INTERNAL_SERVER_ERROR, "down").into_response(),
        Behaviour::FailFirst(_) => correct(),
        Behaviour::Hang => std::future::pending().await,
        Behaviour::Hold(gate) => {
            gate.pass().await;
            correct()
        }
    }
}

fn receiver_app(behaviour: Behaviour) -> (Router, mpsc::UnboundedReceiver<Received>) {
    let (sent, received) = mpsc::unbounded_channel();
    let state = Arc::new(ReceiverState {
        behaviour,
        count: AtomicUsize::new(0),
        sent,
    });
    (Router::new().fallback(receive).with_state(state), received)
}

/// A receiver on port 0: its URL and the channel its requests arrive on.
async fn receiver(behaviour: Behaviour) -> (String, mpsc::UnboundedReceiver<Received>) {
    let (app, received) = receiver_app(behaviour);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hooks"), received)
}

/// A receiver on port 0 over HTTPS, with a fresh self-signed certificate for `localhost`: its
/// URL, the channel its requests arrive on, and its certificate (PEM).
async fn https_receiver(behaviour: Behaviour) -> (String, mpsc::UnboundedReceiver<Received>, String) {
    let (app, received) = receiver_app(behaviour);
    let certificate = mock_server::net::self_signed().expect("a certificate");
    let cert_pem = certificate.cert_pem.clone();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        mock_server::net::serve_tls(
            listener,
            app,
            &certificate.cert_pem,
            &certificate.key_pem,
            std::future::pending(),
        )
        .await
    });
    (format!("https://localhost:{port}/hooks"), received, cert_pem)
}

/// A PEM file in the temporary folder, removed when dropped.
struct PemFile(PathBuf);

impl PemFile {
    fn new(pem: &str) -> PemFile {
        let path = std::env::temp_dir().join(format!("receiver-{}.pem", uuid::Uuid::new_v4()));
        std::fs::write(&path, pem).expect("the PEM file is written");
        PemFile(path)
    }
}

impl Drop for PemFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The mock with the demo app's webhooks pointed at `url`, delivering with `delivery` settings.
async fn mock(url: &str, delivery: DeliverySettings) -> TestEnv {
    let mut fixtures = Fixtures::embedded().expect("fixtures");
    for app in &mut fixtures.apps {
        for webhook in &mut app.webhooks {
            webhook.callback_url = url.to_owned();
        }
    }
    let settings = Settings {
        webhook_delivery: delivery,
        ..Settings::default()
    };
    TestEnv::with(MockServer::builder().fixtures(fixtures).settings(settings)).await
}

/// Fast retries so failing receivers are quick to test.
fn quick() -> DeliverySettings {
    DeliverySettings {
        timeout: Duration::from_millis(300),
        retries: 3,
        backoff: Duration::from_millis(10),
        ..DeliverySettings::default()
    }
}

/// One attempt, with all the time it needs: for tests where the outcome is not about timing.
fn once() -> DeliverySettings {
    DeliverySettings {
        timeout: PATIENCE,
        retries: 0,
        ..DeliverySettings::default()
    }
}

async fn next(received: &mut mpsc::UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(PATIENCE, received.recv())
        .await
        .expect("a delivery arrives in time")
        .expect("the receiver is running")
}

/// `GET /v2.0/webhooks/{id}/deliveries` with the AMT.
async fn log(env: &TestEnv, webhook: &str) -> Value {
    env.http
        .get(env.url(&format!("/v2.0/webhooks/{webhook}/deliveries")))
        .bearer_auth(AMT)
        .send()
        .await
        .expect("log")
        .json()
        .await
        .expect("json")
}

/// Polls the log until the delivery `id` is no longer pending.
async fn settled(env: &TestEnv, webhook: &str, id: &str) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let log = log(env, webhook).await;
        let delivery = log["deliveries"]
            .as_array()
            .and_then(|all| all.iter().find(|d| d["deliveryId"] == id))
            .cloned();
        if let Some(delivery) = delivery.filter(|d| d["state"] != "pending") {
            return delivery;
        }
        assert!(Instant::now() < deadline, "delivery {id} still pending: {log}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn verify(env: &TestEnv, webhook: &str) -> String {
    let body: Value = env
        .http
        .post(env.url(&format!("/v2.0/webhooks/{webhook}/verify")))
        .bearer_auth(AMT)
        .send()
        .await
        .expect("verify")
        .json()
        .await
        .expect("json");
    body["deliveryId"].as_str().expect("a delivery id").to_owned()
}

async fn subscribe(env: &TestEnv, token: &str, vehicle: &str, webhook: &str) -> reqwest::Response {
    env.http
        .post(env.url(&format!("/v2.0/vehicles/{vehicle}/webhooks/{webhook}")))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .send()
        .await
        .expect("subscribe")
}

const SCOPE: &str = "read_vehicle_info read_odometer";

#[tokio::test]
async fn a_verify_answered_right_verifies_the_webhook() {
    let (url, mut received) = receiver(Behaviour::Correct).await;
    let env = mock(&url, quick()).await;

    let id = verify(&env, WEBHOOK).await;

    let request = next(&mut received).await;
    let event = request.json();
    assert_eq!(event["eventType"], "VERIFY");
    assert!(event["data"]["challenge"].is_string(), "{event}");
    assert_eq!(event["meta"]["webhookId"], WEBHOOK);
    assert_eq!(event["meta"]["deliveryId"], id.as_str());
    let delivery = settled(&env, WEBHOOK, &id).await;
    assert_eq!(delivery["state"], "delivered");
    assert_eq!(delivery["attempts"].as_array().map(Vec::len), Some(1));
    assert_eq!(delivery["attempts"][0]["statusCode"], 200);
    assert_eq!(log(&env, WEBHOOK).await["verified"], true);
}

#[tokio::test]
async fn a_wrong_challenge_answer_fails_and_says_so() {
    let (url, _received) = receiver(Behaviour::WrongChallenge).await;
    let env = mock(&url, quick()).await;

    let id = verify(&env, WEBHOOK).await;

    let delivery = settled(&env, WEBHOOK, &id).await;
    assert_eq!(delivery["state"], "failed");
    let error = delivery["attempts"][0]["error"].as_str().expect("an error");
    assert!(error.starts_with("wrong challenge answer"), "{error}");
    assert_eq!(log(&env, WEBHOOK).await["verified"], false);
}

#[tokio::test]
async fn a_legacy_webhook_is_verified_with_the_version_two_payload() {
    let (url, mut received) = receiver(Behaviour::Correct).await;
    let env = mock(&url, quick()).await;

    let id = verify(&env, LEGACY_WEBHOOK).await;

    let event = next(&mut received).await.json();
    assert_eq!(event["version"], "2.0");
    assert_eq!(event["eventName"], "verify");
    assert_eq!(event["webhookId"], LEGACY_WEBHOOK);
    assert!(event["payload"]["challenge"].is_string(), "{event}");
    assert_eq!(settled(&env, LEGACY_WEBHOOK, &id).await["state"], "delivered");
}

#[tokio::test]
async fn subscribing_answers_with_the_ids_and_sends_a_signed_first_delivery() {
    let (url, mut received) = receiver(Behaviour::Correct).await;
    let env = mock(&url, quick()).await;
    let (tokens, vehicle) = env.connect_vehicle("CHEVROLET", SCOPE).await;

    let response = subscribe(&env, &tokens.access_token, &vehicle, WEBHOOK).await;

    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body, json!({ "webhookId": WEBHOOK, "vehicleId": vehicle }));
    let request = next(&mut received).await;
    let signature = request.headers["sc-signature"].to_str().expect("text");
    assert_eq!(signature, hmac_hex(AMT, &request.body));
    let event = request.json();
    assert_eq!(
        serde_json::to_vec(&event).expect("compact"),
        request.body.to_vec(),
        "compact JSON"
    );
    assert_eq!(event["eventType"], "VEHICLE_STATE");
    assert_eq!(event["triggers"], json!([{ "type": "FIRST_DELIVERY" }]));
    assert_eq!(event["data"]["vehicle"]["id"], vehicle.as_str());
    assert_eq!(event["data"]["vehicle"]["make"], "CHEVROLET");
    let codes: Vec<&str> = event["data"]["signals"]
        .as_array()
        .expect("signals")
        .iter()
        .filter_map(|s| s["code"].as_str())
        .collect();
    assert!(codes.contains(&"odometer-traveleddistance"), "{codes:?}");
}

#[tokio::test]
async fn a_state_change_is_sent_as_a_signal_update() {
    let (url, mut received) = receiver(Behaviour::Correct).await;
    let env = mock(&url, quick()).await;
    let (tokens, vehicle) = env.connect_vehicle("CHEVROLET", SCOPE).await;
    subscribe(&env, &tokens.access_token, &vehicle, WEBHOOK).await;
    next(&mut received).await;

    let id = uuid::Uuid::parse_str(&vehicle).expect("uuid");
    env.state.world.update_vehicle(id, |v| {
        if let Some(odometer) = std::sync::Arc::make_mut(&mut v.state).odometer.as_mut() {
            odometer.distance += 12.5;
        }
        Ok::<(), ()>(())
    });

    let event = next(&mut received).await.json();
    assert_eq!(event["eventType"], "VEHICLE_STATE");
    assert_eq!(
        event["triggers"],
        json!([{ "type": "SIGNAL_UPDATED", "signal": {
            "code": "odometer-traveleddistance", "name": "TraveledDistance", "group": "Odometer" } }])
    );
}

#[tokio::test]
async fn a_legacy_webhook_gets_vehicle_api_responses_under_event_name_dynamic() {
    let (url, mut received) = receiver(Behaviour::Correct).await;
    let env = mock(&url, quick()).await;
    let (tokens, vehicle) = env.connect_vehicle("CHEVROLET", SCOPE).await;

    subscribe(&env, &tokens.access_token, &vehicle, LEGACY_WEBHOOK).await;

    let request = next(&mut received).await;
    assert_eq!(
        request.headers["sc-signature"].to_str().expect("text"),
        hmac_hex(AMT, &request.body)
    );
    let event = request.json();
    assert_eq!(event["version"], "2.0");
    assert_eq!(event["eventName"], "dynamic");
    let item = &event["payload"]["vehicles"][0];
    assert_eq!(item["vehicleId"], vehicle.as_str());
    let odometer = item["data"]
        .as_array()
        .and_then(|data| data.iter().find(|d| d["path"] == "/odometer"))
        .expect("an odometer item");
    assert_eq!(odometer["code"], 200);
    assert!(odometer["body"]["distance"].is_number(), "{odometer}");
}

#[tokio::test]
async fn a_vehicle_without_a_signal_gets_a_vehicle_error() {
    let (url, mut received) = receiver(Behaviour::Correct).await;
    let env = mock(&url, quick()).await;
    let (tokens, vehicle) = env
        .connect_vehicle("FORD", "read_vehicle_info read_odometer read_fuel")
        .await;

    subscribe(&env, &tokens.access_token, &vehicle, WEBHOOK).await;

    let first = next(&mut received).await.json();
    let second = next(&mut received).await.json();
    let error = [first, second]
        .into_iter()
        .find(|event| event["eventType"] == "VEHICLE_ERROR")
        .expect("a VEHICLE_ERROR");
    assert_eq!(error["data"]["errors"][0]["type"], "COMPATIBILITY");
    assert_eq!(error["data"]["errors"][0]["state"], "ERROR");
    let signals = error["data"]["errors"][0]["signals"].as_array().expect("signals");
    assert!(
        signals.contains(&json!("internalcombustionengine-fuellevel")),
        "{error}"
    );
}

#[tokio::test]
async fn a_receiver_that_fails_twice_gets_a_third_attempt_that_succeeds() {
    let (url, mut received) = receiver(Behaviour::FailFirst(2)).await;
    let env = mock(&url, quick()).await;

    let id = verify(&env, WEBHOOK).await;

    for _ in 0..3 {
        next(&mut received).await;
    }
    let delivery = settled(&env, WEBHOOK, &id).await;
    assert_eq!(delivery["state"], "delivered");
    let attempts = delivery["attempts"].as_array().expect("attempts");
    let statuses: Vec<&Value> = attempts.iter().map(|a| &a["statusCode"]).collect();
    assert_eq!(statuses, [&json!(500), &json!(500), &json!(200)]);
    let error = attempts[0]["error"].as_str().expect("an error");
    assert!(error.starts_with("status:") && error.contains("500"), "{error}");
    assert_eq!(attempts[2]["error"], Value::Null);
    assert_eq!(attempts[0]["response"], "down");
}

#[tokio::test]
async fn a_receiver_that_never_answers_gets_four_attempts_and_no_more() {
    let (url, mut received) = receiver(Behaviour::Hang).await;
    let env = mock(&url, quick()).await;

    let id = verify(&env, WEBHOOK).await;

    let delivery = settled(&env, WEBHOOK, &id).await;
    assert_eq!(delivery["state"], "failed");
    let attempts = delivery["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 4, "one attempt and three retries");
    for attempt in attempts {
        let error = attempt["error"].as_str().expect("an error");
        assert!(error.starts_with("timeout"), "{error}");
    }
    let mut arrived = 0;
    while received.try_recv().is_ok() {
        arrived += 1;
    }
    assert_eq!(arrived, 4);
}

#[tokio::test]
async fn delivery_never_delays_an_api_response() {
    let (url, mut received) = receiver(Behaviour::Hang).await;
    // Smartcar's own timeout: a hanging receiver holds each attempt for 15 seconds.
    let env = mock(&url, DeliverySettings::default()).await;
    let (tokens, vehicle) = env.connect_vehicle("CHEVROLET", SCOPE).await;

    let started = Instant::now();
    let response = subscribe(&env, &tokens.access_token, &vehicle, WEBHOOK).await;
    let odometer = env
        .get(&format!("/v2.0/vehicles/{vehicle}/odometer"), &tokens.access_token)
        .await;
    let took = started.elapsed();

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(odometer.status(), StatusCode::OK);
    next(&mut received).await;
    assert!(took < Duration::from_secs(5), "the API waited {took:?}");
}

#[tokio::test]
async fn subscribing_to_another_apps_or_no_webhook_is_a_validation_error() {
    let env = TestEnv::start().await;
    let (tokens, vehicle) = env.connect_vehicle("CHEVROLET", SCOPE).await;

    for webhook in [
        "00000000-0000-4000-8000-000000000000",
        "3d1f0a52-8c4b-4e9b-a2f7-6e5d4c3b2a19",
    ] {
        let response = subscribe(&env, &tokens.access_token, &vehicle, webhook).await;

        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["type"], "VALIDATION");
        assert_eq!(body["code"], Value::Null);
    }
}

#[tokio::test]
async fn unsubscribing_needs_the_amt_before_anything_else() {
    let env = TestEnv::start().await;

    let response = env
        .http
        .delete(env.url("/v2.0/vehicles/not-a-vehicle/webhooks/not-a-webhook"))
        .bearer_auth("not-the-amt")
        .json(&json!({}))
        .send()
        .await
        .expect("unsubscribe");

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["type"], "AUTHENTICATION");
}

#[tokio::test]
async fn after_unsubscribing_changes_are_no_longer_sent() {
    let (url, mut received) = receiver(Behaviour::Correct).await;
    let env = mock(&url, quick()).await;
    let (tokens, vehicle) = env.connect_vehicle("CHEVROLET", SCOPE).await;
    subscribe(&env, &tokens.access_token, &vehicle, WEBHOOK).await;
    next(&mut received).await;

    let response = env
        .http
        .delete(env.url(&format!("/v2.0/vehicles/{vehicle}/webhooks/{WEBHOOK}")))
        .bearer_auth(AMT)
        .json(&json!({}))
        .send()
        .await
        .expect("unsubscribe");
    let id = uuid::Uuid::parse_str(&vehicle).expect("uuid");
    env.state.world.with_vehicle(id, |v| {
        if let Some(odometer) = std::sync::Arc::make_mut(&mut v.state).odometer.as_mut() {
            odometer.distance += 1.5;
        }
    });
    env.state.webhooks.announce(id);

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.expect("json"),
        json!({ "status": "success" })
    );
    let deliveries = log(&env, WEBHOOK).await["deliveries"].as_array().map(Vec::len);
    assert_eq!(deliveries, Some(1), "only the first delivery");
    assert_eq!(log(&env, WEBHOOK).await["subscribedVehicles"], json!([]));
}

#[tokio::test]
async fn pointing_a_webhook_elsewhere_verifies_it_there() {
    let (url, mut received) = receiver(Behaviour::Correct).await;
    let env = TestEnv::start().await;

    let response = env
        .http
        .put(env.url(&format!("/v2.0/webhooks/{WEBHOOK}")))
        .bearer_auth(AMT)
        .json(&json!({ "callbackUrl": url }))
        .send()
        .await
        .expect("put");

    assert_eq!(response.status(), StatusCode::OK);
    let event = next(&mut received).await.json();
    assert_eq!(event["eventType"], "VERIFY");
    assert_eq!(log(&env, WEBHOOK).await["callbackUrl"], url.as_str());
}

#[tokio::test]
async fn the_delivery_log_needs_the_owning_apps_amt() {
    let env = TestEnv::start().await;

    let response = env
        .http
        .get(env.url(&format!("/v2.0/webhooks/{WEBHOOK}/deliveries")))
        .bearer_auth("sdk-test-amt")
        .send()
        .await
        .expect("log");

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn odd_requests_to_the_platform_routes_never_get_a_5xx() {
    let env = TestEnv::start().await;
    let (tokens, vehicle) = env.connect_vehicle("CHEVROLET", SCOPE).await;
    let basic_amt = "Basic ZGVmYXVsdDpkZW1vLWFtdA=="; // default:demo-amt
    let basic_client = "Basic ZGVtby1jbGllbnQ6ZGVtby1zZWNyZXQ="; // demo-client:demo-secret
    let bearer = format!("Bearer {}", tokens.access_token);
    let amt = format!("Bearer {AMT}");
    let cases: Vec<(reqwest::Method, String, &str, &[u8])> = vec![
        (
            reqwest::Method::GET,
            "/v2.0/management/connections?limit=99999999999999999999".into(),
            basic_amt,
            b"",
        ),
        (
            reqwest::Method::GET,
            "/v2.0/management/connections?cursor=%FF%00".into(),
            basic_amt,
            b"",
        ),
        (
            reqwest::Method::GET,
            "/v2.0/management/connections?user_id=%00".into(),
            basic_amt,
            b"",
        ),
        (
            reqwest::Method::DELETE,
            "/v2.0/management/connections?vehicle_id=x&user_id=".into(),
            basic_amt,
            b"",
        ),
        (
            reqwest::Method::GET,
            "/v2.0/management/connections".into(),
            "Basic %%%",
            b"",
        ),
        (
            reqwest::Method::GET,
            "/vX/management/connections".into(),
            basic_amt,
            b"",
        ),
        (
            reqwest::Method::GET,
            "/v2.0/compatibility?vin=%FF&scope=%00".into(),
            basic_client,
            b"",
        ),
        (
            reqwest::Method::GET,
            "/v2.0/compatibility?vin=A&country=%E0%A4".into(),
            basic_client,
            b"",
        ),
        (
            reqwest::Method::GET,
            "/v2.0/compatibility?vin=5YJ&mode=simulated".into(),
            basic_client,
            b"",
        ),
        (
            reqwest::Method::GET,
            "/v2.0/compatibility/matrix?region=US&type=ROCKET".into(),
            basic_client,
            b"",
        ),
        (
            reqwest::Method::POST,
            format!("/v2.0/vehicles/{vehicle}/webhooks/%00"),
            &bearer,
            b"{not json",
        ),
        (
            reqwest::Method::DELETE,
            format!("/v2.0/vehicles/%00/webhooks/{WEBHOOK}"),
            &amt,
            b"\xff",
        ),
        (
            reqwest::Method::PUT,
            format!("/v2.0/webhooks/{WEBHOOK}"),
            &amt,
            b"{not json",
        ),
        (
            reqwest::Method::PUT,
            format!("/v2.0/webhooks/{WEBHOOK}"),
            &amt,
            br#"{"callbackUrl":"file:///etc/passwd"}"#,
        ),
        (reqwest::Method::GET, "/v2.0/webhooks/%00/deliveries".into(), &amt, b""),
        (
            reqwest::Method::POST,
            "/v2.0/webhooks/not-a-webhook/verify".into(),
            &amt,
            b"",
        ),
    ];

    for (method, path, authorization, body) in cases {
        let response = env
            .http
            .request(method.clone(), env.url(&path))
            .header("authorization", authorization)
            .body(body.to_vec())
            .send()
            .await
            .expect("the server answers");

        let status = response.status();
        assert!(!status.is_server_error(), "{method} {path} answered {status}");
        assert!(response.headers().contains_key("sc-request-id"), "{method} {path}");
    }
}

#[tokio::test]
async fn a_disconnected_vehicle_is_no_longer_sent_events() {
    let (url, mut received) = receiver(Behaviour::Correct).await;
    let env = mock(&url, quick()).await;
    let (tokens, vehicle) = env.connect_vehicle("CHEVROLET", SCOPE).await;
    subscribe(&env, &tokens.access_token, &vehicle, WEBHOOK).await;
    next(&mut received).await;
    let id = uuid::Uuid::parse_str(&vehicle).expect("uuid");
    let user = env.state.world.with_vehicle(id, |v| v.user).expect("the vehicle");

    env.state.world.disconnect(user, id);
    env.state.world.with_vehicle(id, |v| {
        if let Some(odometer) = std::sync::Arc::make_mut(&mut v.state).odometer.as_mut() {
            odometer.distance += 1.5;
        }
    });
    env.state.webhooks.announce(id);

    let log = log(&env, WEBHOOK).await;
    assert_eq!(
        log["deliveries"].as_array().map(Vec::len),
        Some(1),
        "only the first delivery"
    );
    assert_eq!(log["subscribedVehicles"], json!([]));
}

#[tokio::test]
async fn a_state_change_through_test_control_is_sent_as_a_signal_update() {
    let (url, mut received) = receiver(Behaviour::Correct).await;
    let env = mock(&url, quick()).await;
    let (tokens, vehicle) = env.connect_vehicle("CHEVROLET", SCOPE).await;
    subscribe(&env, &tokens.access_token, &vehicle, WEBHOOK).await;
    next(&mut received).await;

    let patched = env
        .http
        .patch(env.url(&format!("/admin/vehicles/{vehicle}")))
        .json(&json!({ "odometer": { "distance": 99999.5 } }))
        .send()
        .await
        .expect("PATCH");

    assert_eq!(patched.status(), StatusCode::OK);
    let event = next(&mut received).await.json();
    assert_eq!(event["eventType"], "VEHICLE_STATE");
    assert_eq!(event["triggers"][0]["type"], "SIGNAL_UPDATED");
}

/// The event types in a webhook's log, oldest first.
async fn logged_events(env: &TestEnv, webhook: &str) -> Vec<String> {
    log(env, webhook).await["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .filter_map(|delivery| delivery["eventType"].as_str().map(str::to_owned))
        .collect()
}

fn signal_codes(event: &Value) -> Vec<&str> {
    event["data"]["signals"]
        .as_array()
        .expect("signals")
        .iter()
        .filter_map(|signal| signal["code"].as_str())
        .collect()
}

/// Changes the vehicle's state as `change` says and lets the webhooks hear of it at once.
fn change_state(env: &TestEnv, vehicle: &str, change: impl FnOnce(&mut mock_server::VehicleState)) {
    let id = uuid::Uuid::parse_str(vehicle).expect("uuid");
    env.state
        .world
        .with_vehicle(id, |v| change(Arc::make_mut(&mut v.state)))
        .expect("the vehicle");
    env.state.webhooks.announce(id);
}

#[tokio::test]
async fn events_carry_only_the_signals_the_grant_permits() {
    let (url, mut received) = receiver(Behaviour::Correct).await;
    let env = mock(&url, quick()).await;
    let (tokens, vehicle) = env
        .connect_vehicle("CHEVROLET", "read_vehicle_info read_odometer read_location")
        .await;

    subscribe(&env, &tokens.access_token, &vehicle, WEBHOOK).await;

    let first = next(&mut received).await;
    assert_eq!(
        first.headers["sc-signature"].to_str().expect("text"),
        hmac_hex(AMT, &first.body)
    );
    let first = first.json();
    assert_eq!(first["eventType"], "VEHICLE_STATE");
    assert_eq!(
        signal_codes(&first),
        ["odometer-traveleddistance", "location-preciselocation"]
    );
    assert_eq!(first["meta"]["signalCount"], 2);
    // Signals the grant leaves out are not errors either: nothing but the state was sent.
    assert_eq!(logged_events(&env, WEBHOOK).await, ["VEHICLE_STATE"]);
}

#[tokio::test]
async fn a_change_to_signals_the_grant_leaves_out_sends_nothing() {
    let (url, mut received) = receiver(Behaviour::Correct).await;
    let env = mock(&url, quick()).await;
    let (tokens, vehicle) = env.connect_vehicle("CHEVROLET", SCOPE).await;
    subscribe(&env, &tokens.access_token, &vehicle, WEBHOOK).await;
    next(&mut received).await;

    change_state(&env, &vehicle, |state| {
        if let Some(battery) = state.battery.as_mut() {
            battery.range += 7.0;
        }
        if let Some(location) = state.location.as_mut() {
            location.latitude += 0.01;
        }
    });
    let after_ungranted = logged_events(&env, WEBHOOK).await;
    change_state(&env, &vehicle, |state| {
        if let Some(odometer) = state.odometer.as_mut() {
            odometer.distance += 3.0;
        }
        if let Some(location) = state.location.as_mut() {
            location.latitude += 0.01;
        }
    });

    assert_eq!(after_ungranted, ["VEHICLE_STATE"], "no event for ungranted signals");
    let update = next(&mut received).await.json();
    assert_eq!(update["triggers"][0]["type"], "SIGNAL_UPDATED");
    assert_eq!(update["triggers"].as_array().map(Vec::len), Some(1), "{update}");
    assert_eq!(signal_codes(&update), ["odometer-traveleddistance"]);
}

#[tokio::test]
async fn a_legacy_webhook_carries_only_the_granted_paths() {
    let (url, mut received) = receiver(Behaviour::Correct).await;
    let env = mock(&url, quick()).await;
    let (tokens, vehicle) = env.connect_vehicle("CHEVROLET", SCOPE).await;

    subscribe(&env, &tokens.access_token, &vehicle, LEGACY_WEBHOOK).await;

    let event = next(&mut received).await.json();
    let paths: Vec<&str> = event["payload"]["vehicles"][0]["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|item| item["path"].as_str())
        .collect();
    assert_eq!(paths, ["/odometer"]);
}

#[tokio::test]
async fn a_vehicle_of_an_error_test_login_sends_that_error_as_a_vehicle_error() {
    let (url, mut received) = receiver(Behaviour::Correct).await;
    let env = mock(&url, quick()).await;
    let code = env
        .code(&Connect {
            scope: Some(SCOPE),
            username: "VEHICLE_STATE.UNKNOWN@smartcar.com".to_owned(),
            ..Connect::default()
        })
        .await;
    let tokens = env.exchange(&code).await;
    let vehicles: Value = env
        .get("/v2.0/vehicles", &tokens.access_token)
        .await
        .json()
        .await
        .expect("json");
    let vehicle = vehicles["vehicles"][0].as_str().expect("a vehicle").to_owned();
    let read: Value = env
        .get(&format!("/v2.0/vehicles/{vehicle}/odometer"), &tokens.access_token)
        .await
        .json()
        .await
        .expect("json");

    subscribe(&env, &tokens.access_token, &vehicle, WEBHOOK).await;

    assert_eq!(logged_events(&env, WEBHOOK).await, ["VEHICLE_STATE", "VEHICLE_ERROR"]);
    let state = next(&mut received).await.json();
    assert_eq!(state["eventType"], "VEHICLE_STATE");
    assert_eq!(state["data"]["signals"], json!([]));
    let request = next(&mut received).await;
    assert_eq!(
        request.headers["sc-signature"].to_str().expect("text"),
        hmac_hex(AMT, &request.body)
    );
    let error = request.json();
    assert_eq!(error["eventType"], "VEHICLE_ERROR");
    assert_eq!(
        error["data"]["errors"],
        json!([{
            "type": read["type"],
            "code": read["code"],
            "description": error["data"]["errors"][0]["description"],
            "state": "ERROR",
            "signals": ["odometer-traveleddistance"],
        }])
    );
    assert_eq!(
        (&read["type"], &read["code"]),
        (&json!("VEHICLE_STATE"), &json!("UNKNOWN"))
    );
}

#[tokio::test]
async fn a_webhook_is_delivered_over_https_to_a_receiver_trusted_with_ca_cert() {
    let (url, mut received, cert_pem) = https_receiver(Behaviour::Correct).await;
    let pem_file = PemFile::new(&cert_pem);
    let ca_cert = parse_ca_cert(&pem_file.0.to_string_lossy()).expect("the receiver's certificate");
    let env = mock(
        &url,
        DeliverySettings {
            ca_cert: Some(ca_cert),
            ..once()
        },
    )
    .await;

    let id = verify(&env, WEBHOOK).await;

    let request = next(&mut received).await;
    assert_eq!(
        request.headers["sc-signature"].to_str().expect("text"),
        hmac_hex(AMT, &request.body)
    );
    let delivery = settled(&env, WEBHOOK, &id).await;
    assert_eq!(delivery["state"], "delivered", "{delivery}");
    assert_eq!(delivery["callbackUrl"], url.as_str());
    assert_eq!(log(&env, WEBHOOK).await["verified"], true);
}

#[tokio::test]
async fn an_https_receiver_the_mock_does_not_trust_is_refused_and_the_log_says_why() {
    let (url, mut received, _) = https_receiver(Behaviour::Correct).await;
    let env = mock(&url, once()).await;

    let id = verify(&env, WEBHOOK).await;

    let delivery = settled(&env, WEBHOOK, &id).await;
    assert_eq!(delivery["state"], "failed");
    let error = delivery["attempts"][0]["error"].as_str().expect("an error");
    assert!(
        error.starts_with("could not deliver:") && error.contains("certificate"),
        "{error}"
    );
    assert!(received.try_recv().is_err(), "nothing reached the receiver");
}

/// A receiver that answers a VERIFY rightly and then streams spaces after the JSON until the
/// connection is dropped. The counter says how many bytes it wrote.
async fn endless_receiver() -> (String, Arc<AtomicU64>, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
    let addr = listener.local_addr().expect("addr");
    let written = Arc::new(AtomicU64::new(0));
    let counter = written.clone();
    let task = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("a delivery");
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        // Headers, then a body of `content-length` bytes.
        let body = loop {
            let n = socket.read(&mut buffer).await.expect("the request");
            assert!(n > 0, "the request ended early");
            request.extend_from_slice(&buffer[..n]);
            let text = String::from_utf8_lossy(&request).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let length: usize = text[..end]
                    .lines()
                    .find_map(|line| {
                        line.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(str::to_owned)
                    })
                    .and_then(|value| value.trim().parse().ok())
                    .expect("a content-length");
                if request.len() >= end + 4 + length {
                    break request[end + 4..end + 4 + length].to_vec();
                }
            }
        };
        let event: Value = serde_json::from_slice(&body).expect("a JSON event");
        let challenge = event["data"]["challenge"].as_str().expect("a VERIFY");
        let answer = json!({ "challenge": hmac_hex(AMT, challenge.as_bytes()) }).to_string();
        let head = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{answer}");
        if socket.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let spaces = vec![b' '; 64 * 1024];
        while socket.write_all(&spaces).await.is_ok() {
            counter.fetch_add(spaces.len() as u64, Ordering::SeqCst);
        }
    });
    (format!("http://{addr}/hooks"), written, task)
}

#[tokio::test]
async fn a_receiver_that_replies_without_end_is_read_no_further_than_a_few_kib() {
    let (url, written, receiver) = endless_receiver().await;
    let env = mock(&url, quick()).await;

    let id = verify(&env, WEBHOOK).await;

    let delivery = settled(&env, WEBHOOK, &id).await;
    assert_eq!(delivery["state"], "delivered", "{delivery}");
    assert_eq!(delivery["attempts"].as_array().map(Vec::len), Some(1));
    let reply = delivery["attempts"][0]["response"].as_str().expect("the reply");
    assert!(reply.starts_with(r#"{"challenge":""#), "{reply}");
    assert!(reply.chars().count() <= 2000, "the log keeps 2000 characters");
    // The mock dropped the connection: the endless writer stopped, far short of endless.
    tokio::time::timeout(PATIENCE, receiver)
        .await
        .expect("the receiver's writes fail once the mock hangs up")
        .expect("no panic");
    let megabytes = written.load(Ordering::SeqCst) / (1024 * 1024);
    assert!(megabytes < 64, "{megabytes} MiB went out before the mock hung up");
}

#[tokio::test]
async fn many_deliveries_at_once_stay_under_the_concurrency_cap() {
    const CAP: usize = 3;
    const DELIVERIES: usize = 10;
    let gate = Gate::new();
    let (url, _received) = receiver(Behaviour::Hold(gate.clone())).await;
    let env = mock(
        &url,
        DeliverySettings {
            max_in_flight: CAP,
            ..once()
        },
    )
    .await;

    let mut ids = Vec::new();
    for _ in 0..DELIVERIES {
        ids.push(verify(&env, WEBHOOK).await);
    }

    // Every delivery is now either held at the receiver or waiting for a slot in the mock.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let held = gate.held.load(Ordering::SeqCst);
        assert!(held <= CAP, "{held} deliveries reached the receiver at once");
        if held == CAP && env.state.webhooks.waiting() == DELIVERIES - CAP {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "held {held}, waiting {}",
            env.state.webhooks.waiting()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(env.state.webhooks.in_flight(), CAP);
    gate.open();
    for id in &ids {
        assert_eq!(settled(&env, WEBHOOK, id).await["state"], "delivered");
    }
    assert_eq!(gate.most.load(Ordering::SeqCst), CAP);
    assert_eq!(env.state.webhooks.waiting(), 0);
}
