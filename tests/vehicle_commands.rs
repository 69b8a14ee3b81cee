//! Commands that change vehicle state, and disconnect (docs/contract/api.md#commands,
//! docs/contract/test-mode.md#commands-in-simulated-and-live-mode).

use mock_server::Motion;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::Connect;
use crate::support::{ALL, Car, connect_on};

fn sent() -> Value {
    json!({ "status": "success", "message": "Successfully sent request to vehicle" })
}

async fn simulated(brand: &str) -> Car {
    Car::connect_with(Connect {
        brand,
        scope: Some(ALL),
        mode: "simulated",
        ..Connect::default()
    })
    .await
}

#[tokio::test]
async fn locking_answers_success_and_locks_every_door() {
    let car = Car::connect("FORD", ALL).await;

    let answer = car.post("/security", json!({ "action": "LOCK" })).await;
    let security = car.get("/security").await.body;

    assert_eq!(answer.body, sent());
    assert_eq!(security["isLocked"], json!(true));
    assert_eq!(
        security["doors"],
        json!([
            { "type": "frontLeft", "status": "LOCKED" },
            { "type": "frontRight", "status": "LOCKED" },
            { "type": "backLeft", "status": "LOCKED" },
            { "type": "backRight", "status": "LOCKED" }
        ])
    );
}

#[tokio::test]
async fn unlocking_clears_is_locked() {
    let car = Car::connect("CHEVROLET", ALL).await;

    let answer = car.post("/security", json!({ "action": "UNLOCK" })).await;

    assert_eq!(answer.body, sent());
    assert_eq!(car.get("/security").await.body["isLocked"], json!(false));
}

#[tokio::test]
async fn a_simulated_ford_charges_only_once_plugged_in() {
    let car = simulated("FORD").await;
    let refused = car.post("/charge", json!({ "action": "START" })).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(
        (&refused.body["type"], &refused.body["code"]),
        (&json!("VEHICLE_STATE"), &json!("CHARGING_PLUG_NOT_CONNECTED"))
    );

    car.env
        .state
        .world
        .update_vehicle(car.uuid(), |vehicle| {
            std::sync::Arc::make_mut(&mut vehicle.state)
                .charge
                .as_mut()
                .map(|charge| charge.is_plugged_in = true)
                .ok_or(())
        })
        .expect("the vehicle exists")
        .expect("it has a charge state");

    assert_eq!(car.post("/charge", json!({ "action": "START" })).await.body, sent());
    assert_eq!(
        car.get("/charge").await.body,
        json!({ "isPluggedIn": true, "state": "CHARGING" })
    );
    assert_eq!(car.post("/charge", json!({ "action": "STOP" })).await.body, sent());
    assert_eq!(
        car.get("/charge").await.body,
        json!({ "isPluggedIn": true, "state": "NOT_CHARGING" })
    );
    assert_eq!(car.post("/security", json!({ "action": "LOCK" })).await.body, sent());
    assert_eq!(car.get("/security").await.body["isLocked"], json!(true));
}

#[tokio::test]
async fn a_simulated_car_already_charging_refuses_start() {
    let car = simulated("CHEVROLET").await;

    let answer = car.post("/charge", json!({ "action": "START" })).await;

    assert_eq!(answer.status, StatusCode::CONFLICT);
    assert_eq!(answer.body["code"], "CHARGING_IN_PROGRESS");
}

#[tokio::test]
async fn a_simulated_car_being_driven_cannot_be_locked() {
    let car = simulated("FORD").await;
    car.env
        .state
        .world
        .update_vehicle(car.uuid(), |vehicle| {
            std::sync::Arc::make_mut(&mut vehicle.state).motion = Motion::Driving;
            Ok::<_, ()>(())
        })
        .expect("the vehicle exists")
        .expect("driving");

    let answer = car.post("/security", json!({ "action": "LOCK" })).await;

    assert_eq!(answer.status, StatusCode::CONFLICT);
    assert_eq!(
        answer.body_without_request_id(),
        json!({
            "type": "VEHICLE_STATE",
            "code": "IN_MOTION",
            "description": "The vehicle is currently in motion. Please try again when the vehicle is parked.",
            "docURL": "https://smartcar.com/docs/errors/api-errors/vehicle-state-errors#in-motion",
            "statusCode": 409,
            "resolution": { "type": "RETRY_LATER" },
            "suggestedUserMessage": "Your vehicle must be parked to perform this request."
        })
    );
}

#[tokio::test]
async fn in_test_mode_start_succeeds_even_unplugged_and_still_changes_state() {
    let car = Car::connect("FORD", ALL).await;

    let answer = car.post("/charge", json!({ "action": "START" })).await;

    assert_eq!(answer.body, sent());
    assert_eq!(car.get("/charge").await.body["state"], "CHARGING");
}

#[tokio::test]
async fn a_charge_limit_sent_as_a_string_is_what_the_next_read_returns() {
    let car = Car::connect("KIA", ALL).await;

    let answer = car.post("/charge/limit", json!({ "limit": "0.7" })).await;

    assert_eq!(answer.body, sent());
    assert_eq!(car.get("/charge/limit").await.body, json!({ "limit": 0.7 }));
}

#[tokio::test]
async fn a_charge_limit_above_one_is_a_validation_error() {
    let car = Car::connect("KIA", ALL).await;

    let answer = car.post("/charge/limit", json!({ "limit": 1.5 })).await;

    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["type"], "VALIDATION");
    assert_eq!(answer.body["detail"][0]["field"], "limit");
}

#[tokio::test]
async fn a_destination_is_recorded_on_the_vehicle() {
    let car = Car::connect("FORD", ALL).await;

    let answer = car
        .post(
            "/navigation/destination",
            json!({ "latitude": 37.4292, "longitude": -122.1381 }),
        )
        .await;
    let recorded = car
        .env
        .state
        .world
        .with_vehicle(car.uuid(), |vehicle| vehicle.state.destination.clone())
        .flatten()
        .map(|place| (place.latitude, place.longitude));

    assert_eq!(answer.body, sent());
    assert_eq!(recorded, Some((37.4292, -122.1381)));
}

#[tokio::test]
async fn a_command_without_an_action_is_a_validation_error() {
    let car = Car::connect("FORD", ALL).await;

    let answer = car.post("/security", json!({})).await;

    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["detail"][0]["field"], "action");
}

#[tokio::test]
async fn a_command_needs_its_control_permission() {
    let car = Car::connect("FORD", "read_security").await;

    let answer = car.post("/security", json!({ "action": "LOCK" })).await;

    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.body["type"], "PERMISSION");
}

#[tokio::test]
async fn a_command_tells_change_subscribers() {
    let car = Car::connect("FORD", ALL).await;
    let mut changes = car.env.state.world.subscribe_changes();

    car.post("/security", json!({ "action": "LOCK" })).await;
    let change = changes.recv().await.expect("a change");

    assert_eq!(change.vehicle, car.uuid());
}

#[tokio::test]
async fn a_refused_command_changes_nothing() {
    let car = simulated("FORD").await;
    let mut changes = car.env.state.world.subscribe_changes();

    car.post("/charge", json!({ "action": "START" })).await;

    assert!(changes.try_recv().is_err());
    assert_eq!(car.get("/charge").await.body["state"], "NOT_CHARGING");
}

#[tokio::test]
async fn state_is_per_user() {
    let car = Car::connect("FORD", ALL).await;
    let other = connect_on(
        &car.env,
        Connect {
            brand: "FORD",
            scope: Some(ALL),
            ..Connect::default()
        },
    )
    .await;

    car.post("/security", json!({ "action": "LOCK" })).await;
    let other = crate::support::send(
        &car.env,
        &other.access_token,
        Method::GET,
        &format!("/v2.0/vehicles/{}/security", other.vehicle),
        None,
        &[],
    )
    .await;

    assert_eq!(other.body["isLocked"], json!(false));
}

#[tokio::test]
async fn disconnecting_answers_success_and_revokes_the_vehicle() {
    let car = Car::connect("CHEVROLET", ALL).await;

    let answer = car.send(Method::DELETE, &car.path("/application"), None, &[]).await;
    let read = car.get("/odometer").await;
    let list = car.send(Method::GET, "/v2.0/vehicles", None, &[]).await;

    assert_eq!(answer.body, json!({ "status": "success" }));
    assert_eq!(read.status, StatusCode::UNAUTHORIZED);
    assert_eq!(read.body["type"], "AUTHENTICATION");
    assert_eq!(
        list.body,
        json!({ "vehicles": [], "paging": { "count": 0, "offset": 0 } })
    );
}

#[tokio::test]
async fn an_asleep_vehicle_answers_vehicle_state_asleep() {
    let car = Car::connect("CHEVROLET", ALL).await;
    car.env
        .state
        .world
        .update_vehicle(car.uuid(), |vehicle| {
            std::sync::Arc::make_mut(&mut vehicle.state).asleep = true;
            Ok::<_, ()>(())
        })
        .expect("the vehicle exists")
        .expect("asleep");

    let answer = car.get("/odometer").await;
    let vin = car.get("/vin").await;

    assert_eq!(answer.status, StatusCode::CONFLICT);
    assert_eq!(answer.body["code"], "ASLEEP");
    assert_eq!(vin.status, StatusCode::OK);
}

#[tokio::test]
async fn a_command_moves_the_data_age_of_later_reads() {
    let car = Car::connect("FORD", ALL).await;
    let before = car.get("/security").await;
    car.env.state.clock.advance(time::Duration::minutes(5));

    car.post("/security", json!({ "action": "LOCK" })).await;
    let after = car.get("/security").await;

    let at = |answer: &crate::support::Answer, name: &str| {
        let text = answer.header(name).expect("the header");
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).expect("a timestamp")
    };
    assert!(at(&after, "sc-data-age") - at(&before, "sc-data-age") >= time::Duration::minutes(5));
}

#[tokio::test]
async fn a_simulated_car_that_is_unplugged_refuses_stop_too() {
    let car = simulated("NISSAN").await;

    let answer = car.post("/charge", json!({ "action": "STOP" })).await;

    assert_eq!(answer.status, StatusCode::CONFLICT);
    assert_eq!(answer.body["code"], "CHARGING_PLUG_NOT_CONNECTED");
}
