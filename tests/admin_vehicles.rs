//! Vehicle state control: what the car and its owner do between API calls.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::TestEnv;

const SCOPE: &str = "read_vehicle_info read_odometer read_charge read_location read_battery read_security";

#[tokio::test]
async fn a_state_change_is_visible_to_the_next_read() {
    let env = TestEnv::start().await;
    let car = env.authorize("CHEVROLET", SCOPE).await;

    env.admin_ok(
        Method::PATCH,
        &format!("/admin/vehicles/{}", car.vehicle),
        Some(json!({
            "charge": { "isPluggedIn": true, "state": "CHARGING" },
            "odometer": { "distance": 12345.5 },
            "location": { "latitude": 40.0, "longitude": -105.25 }
        })),
    )
    .await;

    assert_eq!(
        env.json(env.read(&car, "/charge").await).await.1,
        json!({ "isPluggedIn": true, "state": "CHARGING" })
    );
    assert_eq!(
        env.json(env.read(&car, "/odometer").await).await.1,
        json!({ "distance": 12345.5 })
    );
    assert_eq!(
        env.json(env.read(&car, "/location").await).await.1,
        json!({ "latitude": 40.0, "longitude": -105.25 })
    );
}

#[tokio::test]
async fn reading_a_vehicle_shows_its_identity_and_state() {
    let env = TestEnv::start().await;
    let car = env.authorize("FORD", SCOPE).await;

    let vehicle = env
        .admin_ok(Method::GET, &format!("/admin/vehicles/{}", car.vehicle), None)
        .await;
    let listed = env.admin_ok(Method::GET, "/admin/vehicles?app=demo-client", None).await;

    assert_eq!(vehicle["make"], "FORD");
    assert_eq!(vehicle["user"], car.user.as_str());
    assert!(vehicle["state"]["odometer"]["distance"].is_number());
    assert_eq!(listed["vehicles"][0]["id"], car.vehicle.as_str());
}

#[tokio::test]
async fn driving_asleep_and_doors_are_part_of_the_state() {
    let env = TestEnv::start().await;
    let car = env.authorize("CHEVROLET", SCOPE).await;
    let path = format!("/admin/vehicles/{}", car.vehicle);
    let before = env.admin_ok(Method::GET, &path, None).await;
    let mut doors = before["state"]["security"]["doors"].clone();
    doors[0]["status"] = json!("OPEN");

    let after = env
        .admin_ok(
            Method::PATCH,
            &path,
            Some(json!({ "motion": "DRIVING", "asleep": true, "security": { "doors": doors } })),
        )
        .await;

    assert_eq!(after["state"]["motion"], "DRIVING");
    assert_eq!(after["state"]["asleep"], true);
    assert_eq!(after["state"]["security"]["doors"][0]["status"], "OPEN");
}

#[tokio::test]
async fn a_change_is_announced_like_a_command() {
    let env = TestEnv::start().await;
    let car = env.authorize("CHEVROLET", SCOPE).await;
    let mut changes = env.state.world.subscribe_changes();

    env.admin_ok(
        Method::PATCH,
        &format!("/admin/vehicles/{}", car.vehicle),
        Some(json!({ "battery": { "percentRemaining": 0.5, "range": 200.0 } })),
    )
    .await;
    let change = changes.recv().await.expect("a change");

    assert_eq!(change.vehicle.to_string(), car.vehicle);
    assert_eq!(&*change.app, "demo-client");
}

#[tokio::test]
async fn a_misspelt_field_or_unknown_vehicle_is_refused() {
    let env = TestEnv::start().await;
    let car = env.authorize("CHEVROLET", SCOPE).await;

    let (typo, message) = env
        .admin(
            Method::PATCH,
            &format!("/admin/vehicles/{}", car.vehicle),
            Some(json!({ "charge": { "isPlugedIn": true } })),
        )
        .await;
    let (missing, _) = env
        .admin(
            Method::PATCH,
            &format!("/admin/vehicles/{}", uuid::Uuid::new_v4()),
            Some(json!({ "asleep": true })),
        )
        .await;

    assert_eq!(typo, StatusCode::BAD_REQUEST);
    assert!(
        message["message"].as_str().is_some_and(|m| m.contains("isPlugedIn")),
        "{message}"
    );
    assert_eq!(missing, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn plugging_the_car_in_lets_a_charge_command_succeed() {
    let env = TestEnv::start().await;
    let car = env.authorize_simulated("CHEVROLET", "read_charge control_charge").await;
    env.set_state(
        &car,
        json!({ "charge": { "isPluggedIn": false, "state": "NOT_CHARGING" } }),
    )
    .await;

    let unplugged = env
        .json(env.command(&car, "/charge", json!({ "action": "START" })).await)
        .await;
    env.set_state(&car, json!({ "charge": { "isPluggedIn": true } })).await;
    let plugged = env
        .command(&car, "/charge", json!({ "action": "START" }))
        .await
        .status();
    let charge = env.json(env.read(&car, "/charge").await).await.1;

    assert_eq!(unplugged.0, StatusCode::CONFLICT);
    assert_eq!(unplugged.1["code"], "CHARGING_PLUG_NOT_CONNECTED");
    assert_eq!(plugged, StatusCode::OK);
    assert_eq!(charge, json!({ "isPluggedIn": true, "state": "CHARGING" }));
}
