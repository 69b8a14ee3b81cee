//! The vehicle simulator: vehicles created already connected, trip profiles moved
//! by the clock, commands that obey the trip stage, and webhooks that hear of a trip's changes.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::support::{Connected, TestEnv, text};

/// How long a test waits for something that should happen at once.
const PATIENCE: Duration = Duration::from_secs(10);

/// Creates a simulated vehicle of `powertrain`, already connected.
async fn create(env: &TestEnv, powertrain: &str) -> (Connected, Value) {
    let (status, answer) = env
        .admin(
            Method::POST,
            "/admin/simulator/vehicles",
            Some(json!({ "powertrain": powertrain, "name": "Workshop car" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let car = Connected {
        access_token: text(&answer["access_token"]),
        refresh_token: text(&answer["refresh_token"]),
        user: text(&answer["user_id"]),
        vehicle: text(&answer["vehicle_id"]),
    };
    (car, answer)
}

/// Starts a trip; the admin answer.
async fn trip(env: &TestEnv, car: &Connected, request: Value) -> Value {
    let (status, answer) = env
        .admin(
            Method::POST,
            &format!("/admin/vehicles/{}/trip", car.vehicle),
            Some(request),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    answer
}

async fn read(env: &TestEnv, car: &Connected, path: &str) -> Value {
    let (status, body) = env.json(env.read(car, path).await).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

fn number(value: &Value) -> f64 {
    value.as_f64().unwrap_or_else(|| panic!("{value} is not a number"))
}

/// 111.195 km a degree of latitude on the simulator's sphere (mean Earth radius 6371.0088 km).
const KM_PER_DEGREE: f64 = 6371.0088 * std::f64::consts::PI / 180.0;

/// Straight north from 42°N 71°W at 100 km/h for 1° of latitude (111.2 km, 66.7 minutes).
fn northbound() -> Value {
    json!({
        "profile": "driving",
        "route": { "name": "Northbound", "speedKmh": 100, "waypoints": [
            { "latitude": 42.0, "longitude": -71.0 },
            { "latitude": 43.0, "longitude": -71.0 }
        ] }
    })
}

#[tokio::test]
async fn a_created_vehicle_is_connected_and_its_token_reads_it() {
    let env = TestEnv::start().await;

    let (car, answer) = create(&env, "BEV").await;

    assert_eq!(answer["name"], "Workshop car");
    assert_eq!(answer["mode"], "simulated");
    assert_eq!(answer["powertrain"], "BEV");
    assert_eq!(answer["expires_in"], 7200);
    let battery = read(&env, &car, "/battery").await;
    assert!(number(&battery["percentRemaining"]) > 0.0, "{battery}");
    let permissions = read(&env, &car, "/permissions").await;
    let granted: Vec<&str> = permissions["permissions"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for needed in [
        "read_battery",
        "read_charge",
        "control_charge",
        "control_security",
        "read_location",
    ] {
        assert!(granted.contains(&needed), "{needed} in {granted:?}");
    }
    assert!(!granted.contains(&"read_fuel"), "a BEV has no tank: {granted:?}");
}

#[tokio::test]
async fn simulated_vehicles_are_listed_with_their_names_and_trips() {
    let env = TestEnv::start().await;
    let (parked, _) = create(&env, "ICE").await;
    let (driving, _) = create(&env, "BEV").await;
    trip(&env, &driving, json!({ "profile": "driving" })).await;

    let answer = env
        .admin_ok(Method::GET, "/admin/simulator/vehicles?app=demo-client", None)
        .await;

    let listed: Vec<(String, Value, Value)> = answer["vehicles"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|v| (text(&v["vehicleId"]), v["name"].clone(), v["trip"]["profile"].clone()))
        .collect();
    assert_eq!(
        listed,
        [
            (parked.vehicle, json!("Workshop car"), Value::Null),
            (driving.vehicle, json!("Workshop car"), json!("driving")),
        ]
    );
}

#[tokio::test]
async fn every_powertrain_can_be_created_and_a_bad_request_says_why() {
    let env = TestEnv::start().await;
    for powertrain in ["BEV", "PHEV", "HEV", "ICE"] {
        let (_, answer) = create(&env, powertrain).await;
        assert_eq!(answer["powertrain"], powertrain);
    }

    let (status, answer) = env
        .admin(
            Method::POST,
            "/admin/simulator/vehicles",
            Some(json!({ "powertrain": "BEV", "name": "x".repeat(81) })),
        )
        .await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer,
        json!({ "error": "bad_request", "message": "name: must be 1 to 80 printable characters" })
    );
}

#[tokio::test]
async fn a_charging_trip_answers_charging_and_the_clock_raises_the_battery() {
    let env = TestEnv::start().await;
    let (car, _) = create(&env, "BEV").await;
    let before = number(&read(&env, &car, "/battery").await["percentRemaining"]);
    let capacity = number(&read(&env, &car, "/battery/capacity").await["capacity"]);

    let started = std::time::Instant::now();
    trip(&env, &car, json!({ "profile": "charging", "chargerKw": 11 })).await;
    let charge = read(&env, &car, "/charge").await;
    env.advance_clock("1h").await;
    let after = number(&read(&env, &car, "/battery").await["percentRemaining"]);
    let hours = 1.0 + started.elapsed().as_secs_f64() / 3600.0;

    assert_eq!(charge, json!({ "isPluggedIn": true, "state": "CHARGING" }));
    // 11 kWh into the battery an hour (plus the wall time the test took), rounded to 4 places.
    assert!(after - before >= 11.0 / capacity - 1e-4, "{before} → {after}");
    assert!(after - before <= 11.0 * hours / capacity + 1e-4, "{before} → {after}");
}

#[tokio::test]
async fn plugging_in_and_starting_a_charge_on_a_parked_car_charges_it_as_time_passes() {
    let env = TestEnv::start().await;
    let (car, _) = create(&env, "BEV").await;
    trip(&env, &car, json!({ "profile": "parked" })).await;
    env.set_state(
        &car,
        json!({ "charge": { "isPluggedIn": true, "state": "NOT_CHARGING" } }),
    )
    .await;

    let started = env.command(&car, "/charge", json!({ "action": "START" })).await;
    let charge = read(&env, &car, "/charge").await;
    let before = number(&read(&env, &car, "/battery").await["percentRemaining"]);
    env.advance_clock("30m").await;
    let after = number(&read(&env, &car, "/battery").await["percentRemaining"]);

    assert_eq!(started.status(), StatusCode::OK);
    assert_eq!(charge["state"], "CHARGING");
    assert!(after > before, "{before} → {after}");
}

#[tokio::test]
async fn stop_ends_a_charging_trip_where_the_battery_was() {
    let env = TestEnv::start().await;
    let (car, _) = create(&env, "BEV").await;
    trip(&env, &car, json!({ "profile": "charging", "asleepAfter": "never" })).await;
    env.advance_clock("20m").await;

    let stopped = env.command(&car, "/charge", json!({ "action": "STOP" })).await;
    let at_stop = read(&env, &car, "/battery").await;
    env.advance_clock("90m").await;
    let later = read(&env, &car, "/battery").await;
    let status = env
        .admin_ok(Method::GET, &format!("/admin/vehicles/{}/trip", car.vehicle), None)
        .await;

    assert_eq!(stopped.status(), StatusCode::OK);
    assert_eq!(later, at_stop, "a plugged-in car neither charges nor drains");
    assert_eq!(read(&env, &car, "/charge").await["state"], "NOT_CHARGING");
    assert_eq!(status["trip"]["ended"], "charging_stopped");
}

#[tokio::test]
async fn a_driving_trip_moves_the_car_along_its_route_and_the_odometer_by_the_distance() {
    let env = TestEnv::start().await;
    let (car, _) = create(&env, "BEV").await;
    let before = number(&read(&env, &car, "/odometer").await["distance"]);

    let started = std::time::Instant::now();
    trip(&env, &car, northbound()).await;
    let start = read(&env, &car, "/location").await;
    env.advance_clock("30m").await;
    let location = read(&env, &car, "/location").await;
    let odometer = number(&read(&env, &car, "/odometer").await["distance"]);
    // The trip runs on wall time too: allow what it drove at 100 km/h while the test ran,
    // beside the rounding (coordinates to 6 places, the odometer to 0.01 km).
    let wall_km = started.elapsed().as_secs_f64() * 100.0 / 3600.0;
    let degrees = |km: f64| km / KM_PER_DEGREE;

    assert!(
        (number(&start["latitude"]) - 42.0).abs() <= degrees(wall_km) + 1e-6,
        "{start}"
    );
    // 30 minutes at 100 km/h: 50 km north.
    let north = number(&location["latitude"]) - (42.0 + degrees(50.0));
    assert!(
        north.abs() <= degrees(wall_km) + 1e-6,
        "{location}, {wall_km} km on the wall"
    );
    assert_eq!(location["longitude"], -71.0);
    assert!(
        (odometer - before - 50.0).abs() <= wall_km + 0.01,
        "{before} → {odometer}"
    );
}

#[tokio::test]
async fn lock_during_a_drive_answers_in_motion() {
    let env = TestEnv::start().await;
    let (car, _) = create(&env, "BEV").await;
    trip(&env, &car, northbound()).await;
    env.advance_clock("5m").await;

    let (status, body) = env
        .json(env.command(&car, "/security", json!({ "action": "LOCK" })).await)
        .await;

    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        (&body["type"], &body["code"]),
        (&json!("VEHICLE_STATE"), &json!("IN_MOTION"))
    );
}

#[tokio::test]
async fn a_drive_ends_parked_at_its_destination() {
    let env = TestEnv::start().await;
    let (car, _) = create(&env, "BEV").await;
    let mut request = northbound();
    request["asleepAfter"] = json!("never");
    trip(&env, &car, request).await;

    // The 111.2 km route takes 66.7 minutes (tokens live 2 hours: advances stay under that).
    env.advance_clock("70m").await;
    let location = read(&env, &car, "/location").await;
    let locked = env.command(&car, "/security", json!({ "action": "LOCK" })).await;
    let status = env
        .admin_ok(Method::GET, &format!("/admin/vehicles/{}/trip", car.vehicle), None)
        .await;

    assert_eq!(location, json!({ "latitude": 43.0, "longitude": -71.0 }));
    assert_eq!(locked.status(), StatusCode::OK, "parked, so it locks");
    assert_eq!(status["trip"]["ended"], "arrived");
    assert_eq!(status["trip"]["phase"], "parked");
    assert_eq!(status["state"]["motion"], "PARKED");
}

#[tokio::test]
async fn a_parked_car_falls_asleep_and_a_command_wakes_it() {
    let env = TestEnv::start().await;
    let (car, _) = create(&env, "BEV").await;
    trip(&env, &car, json!({ "profile": "parked", "asleepAfter": "15m" })).await;

    env.advance_clock("20m").await;
    let (asleep, body) = env.json(env.read(&car, "/battery").await).await;
    let unlocked = env.command(&car, "/security", json!({ "action": "UNLOCK" })).await;
    let (awake, _) = env.json(env.read(&car, "/battery").await).await;

    assert_eq!((asleep, &body["code"]), (StatusCode::CONFLICT, &json!("ASLEEP")));
    assert_eq!(unlocked.status(), StatusCode::OK);
    assert_eq!(awake, StatusCode::OK);
}

#[tokio::test]
async fn a_vehicle_without_a_trip_does_not_change_with_the_clock() {
    let env = TestEnv::start().await;
    let (car, _) = create(&env, "BEV").await;
    let before = read(&env, &car, "/battery").await;

    env.advance_clock("90m").await;

    assert_eq!(read(&env, &car, "/battery").await, before);
}

#[tokio::test]
async fn stopping_a_trip_keeps_the_values_it_reached() {
    let env = TestEnv::start().await;
    let (car, _) = create(&env, "BEV").await;
    trip(&env, &car, northbound()).await;
    env.advance_clock("30m").await;

    let stopped = env
        .admin_ok(Method::DELETE, &format!("/admin/vehicles/{}/trip", car.vehicle), None)
        .await;
    let odometer = read(&env, &car, "/odometer").await;
    env.advance_clock("30m").await;

    assert_eq!(stopped["state"]["motion"], "PARKED");
    assert_eq!(read(&env, &car, "/odometer").await, odometer);
    let (status, answer) = env
        .admin(Method::GET, &format!("/admin/vehicles/{}/trip", car.vehicle), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer["message"], format!("no trip runs on vehicle {}", car.vehicle));
}

#[tokio::test]
async fn a_trip_request_out_of_bounds_names_the_cap() {
    let env = TestEnv::start().await;
    let (car, _) = create(&env, "BEV").await;
    let (ice, _) = create(&env, "ICE").await;
    let path = |car: &Connected| format!("/admin/vehicles/{}/trip", car.vehicle);

    let too_fast = env
        .admin(
            Method::POST,
            &path(&car),
            Some(json!({ "profile": "driving", "speedKmh": 900 })),
        )
        .await;
    let no_route = env
        .admin(
            Method::POST,
            &path(&car),
            Some(json!({ "profile": "driving", "route": "moon" })),
        )
        .await;
    let no_plug = env
        .admin(Method::POST, &path(&ice), Some(json!({ "profile": "charging" })))
        .await;

    assert_eq!(
        too_fast,
        (
            StatusCode::BAD_REQUEST,
            json!({ "error": "bad_request", "message": "speedKmh: must be above 0 and at most 250 km/h" })
        )
    );
    assert_eq!(
        no_route.1["message"],
        "no built-in route is called \"moon\" (built in: city-loop, commute, highway)"
    );
    assert_eq!(
        no_plug,
        (
            StatusCode::CONFLICT,
            json!({ "error": "cannot_charge", "message": "this ICE cannot charge: it has no plug" })
        )
    );
}

#[tokio::test]
async fn the_built_in_routes_are_listed_with_their_lengths() {
    let env = TestEnv::start().await;

    let answer = env.admin_ok(Method::GET, "/admin/simulator/routes", None).await;

    let names: Vec<&str> = answer["routes"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|route| route["name"].as_str())
        .collect();
    assert_eq!(names, ["city-loop", "commute", "highway"]);
    assert!(
        (number(&answer["routes"][2]["lengthKm"]) - 200.0).abs() < 0.5,
        "{answer}"
    );
}

/// A webhook receiver on port 0 that answers every delivery 200: its URL and the bodies.
async fn receiver() -> (String, mpsc::UnboundedReceiver<Value>) {
    let (sent, received) = mpsc::unbounded_channel();
    let app = Router::new()
        .fallback(
            |State(sent): State<Arc<mpsc::UnboundedSender<Value>>>, body: Bytes| async move {
                let _ = sent.send(serde_json::from_slice(&body).unwrap_or(Value::Null));
                axum::Json(json!({}))
            },
        )
        .with_state(Arc::new(sent));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hooks"), received)
}

/// The demo app's current-format webhook (fixtures/apps.json).
const WEBHOOK: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";

/// The next delivery that names `signal` among its triggers.
async fn next_with(received: &mut mpsc::UnboundedReceiver<Value>, signal: &str) -> Value {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let event = received.recv().await.expect("the receiver is running");
            let triggers = event["triggers"].as_array().cloned().unwrap_or_default();
            if triggers.iter().any(|trigger| trigger["signal"]["code"] == signal) {
                return event;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("a delivery about {signal} arrives in time"))
}

/// The mock with the demo app's webhooks pointed at `url`.
async fn mock_delivering_to(url: &str) -> TestEnv {
    let mut fixtures = mock_server::Fixtures::embedded().expect("fixtures");
    for app in &mut fixtures.apps {
        for webhook in &mut app.webhooks {
            webhook.callback_url = url.to_owned();
        }
    }
    TestEnv::with(mock_server::MockServer::builder().fixtures(fixtures)).await
}

async fn subscribe(env: &TestEnv, car: &Connected) {
    let subscribed = env
        .http
        .post(env.url(&format!("/v2.0/vehicles/{}/webhooks/{WEBHOOK}", car.vehicle)))
        .bearer_auth(&car.access_token)
        .header("content-type", "application/json")
        .send()
        .await
        .expect("subscribe");
    assert_eq!(subscribed.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_subscribed_webhook_receiver_hears_of_a_trips_changes() {
    let (url, mut received) = receiver().await;
    let env = mock_delivering_to(&url).await;
    let (car, _) = create(&env, "BEV").await;
    subscribe(&env, &car).await;

    trip(&env, &car, json!({ "profile": "charging" })).await;
    let plugged = next_with(&mut received, "charge-ischarging").await;
    env.advance_clock("30m").await;
    let charged = next_with(&mut received, "tractionbattery-stateofcharge").await;

    assert_eq!(plugged["eventType"], "VEHICLE_STATE");
    assert_eq!(charged["eventType"], "VEHICLE_STATE");
    assert_eq!(charged["data"]["vehicle"]["id"], car.vehicle.as_str());
}

/// The value of `code` among an event's signals.
fn signal_value(event: &Value, code: &str) -> f64 {
    let signals = event["data"]["signals"].as_array().cloned().unwrap_or_default();
    let signal = signals
        .iter()
        .find(|signal| signal["code"] == code)
        .unwrap_or_else(|| panic!("{code} in {event}"));
    number(&signal["body"]["value"])
}

#[tokio::test]
async fn a_trip_is_announced_at_most_once_a_simulated_minute() {
    let (url, mut received) = receiver().await;
    let env = mock_delivering_to(&url).await;
    let (car, _) = create(&env, "BEV").await;
    subscribe(&env, &car).await;
    trip(&env, &car, json!({ "profile": "charging", "chargerKw": 50 })).await;
    next_with(&mut received, "charge-ischarging").await;

    // 10 s of charging moves the battery, but the start was announced less than a simulated
    // minute ago: the ticker, woken by the move, lets nothing through.
    env.advance_clock("10s").await;
    let too_soon = env.state.world.tick_trips();
    let after_10s = number(&read(&env, &car, "/battery").await["percentRemaining"]) * 100.0;
    env.advance_clock("1m").await;
    let after_70s = number(&read(&env, &car, "/battery").await["percentRemaining"]) * 100.0;
    let first = next_with(&mut received, "tractionbattery-stateofcharge").await;

    assert_eq!(too_soon, 0);
    // 50 kW moves a ~90 kWh battery 0.9 percent a minute: the first battery event is the 70 s
    // value, not the 10 s one.
    let delivered = signal_value(&first, "tractionbattery-stateofcharge");
    assert!(
        (delivered - after_70s).abs() < (delivered - after_10s).abs(),
        "{after_10s} → {after_70s}: delivered {delivered}"
    );
}
