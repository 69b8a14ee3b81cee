//! The v3 vehicle and signals API (docs/contract/api.md#v3).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::TestEnv;
use crate::support::{ALL, Answer, Car, send};

const TEST_VEHICLE: &str = "tst2e255-d3c8-4f90-9fec-e6e68b98e9cb";

async fn test_data(env: &TestEnv, path: &str) -> Answer {
    send(env, "test-data-token", Method::GET, path, None, &[]).await
}

#[tokio::test]
async fn the_test_data_token_reaches_the_fixed_tesla() {
    let env = TestEnv::start().await;

    let answer = test_data(&env, &format!("/v3/vehicles/{TEST_VEHICLE}/")).await;

    assert_eq!(
        answer.body,
        json!({
            "id": TEST_VEHICLE,
            "type": "vehicle",
            "attributes": { "make": "TESLA", "model": "Model Y", "year": 2021 },
            "links": { "self": format!("/vehicles/{TEST_VEHICLE}") }
        })
    );
}

#[tokio::test]
async fn the_test_vehicle_has_two_signals_on_one_page() {
    let env = TestEnv::start().await;

    let answer = test_data(&env, &format!("/v3/vehicles/{TEST_VEHICLE}/signals")).await;

    assert_eq!(
        answer.body["meta"],
        json!({ "totalCount": 2, "pageSize": 2, "page": 1 })
    );
    assert_eq!(
        answer.body["links"],
        json!({ "self": format!("/vehicles/{TEST_VEHICLE}/signals") })
    );
    assert_eq!(answer.body["included"]["vehicle"]["attributes"]["year"], json!("2021"));
    let mut first = answer.body["data"][0].clone();
    // serde_json's default parser may be one ulp off on this many digits: compare it apart.
    let value = first["attributes"]["body"]["value"].take().as_f64().expect("a number");
    assert!((value - 115_071.500_465_843_33).abs() < 1e-9);
    assert_eq!(
        first,
        json!({
            "id": "odometer-traveleddistance",
            "type": "signal",
            "attributes": {
                "code": "odometer-traveleddistance",
                "name": "TraveledDistance",
                "group": "Odometer",
                "status": { "value": "SUCCESS" },
                "body": { "unit": "kilometers", "value": null }
            },
            "meta": { "retrievedAt": 1752104218549_i64, "oemUpdatedAt": 1752104118549_i64 },
            "links": { "self": format!("/vehicles/{TEST_VEHICLE}/signals/odometer-traveleddistance") }
        })
    );
}

#[tokio::test]
async fn one_signal_is_served_by_its_code() {
    let env = TestEnv::start().await;

    let answer = test_data(
        &env,
        &format!("/v3/vehicles/{TEST_VEHICLE}/signals/charge-chargetimers"),
    )
    .await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["attributes"]["group"], "Charge");
}

#[tokio::test]
async fn an_unknown_signal_is_a_v3_not_found_error() {
    let env = TestEnv::start().await;

    let answer = test_data(&env, &format!("/v3/vehicles/{TEST_VEHICLE}/signals/nothing-here")).await;

    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.body["errors"][0]["status"], "404");
    assert_eq!(answer.body["errors"][0]["type"], "RESOURCE_NOT_FOUND");
}

#[tokio::test]
async fn v3_without_a_token_is_an_authentication_error_in_the_v3_envelope() {
    let env = TestEnv::start().await;

    let response = env
        .http
        .get(env.url(&format!("/v3/vehicles/{TEST_VEHICLE}")))
        .send()
        .await
        .expect("GET");

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["errors"][0]["type"], "AUTHENTICATION");
}

#[tokio::test]
async fn a_connected_vehicles_signals_follow_its_v2_state() {
    let car = Car::connect("CHEVROLET", ALL).await;
    car.post("/security", json!({ "action": "UNLOCK" })).await;

    let odometer = car
        .send(
            Method::GET,
            &format!("/v3/vehicles/{}/signals/odometer-traveleddistance", car.vehicle),
            None,
            &[],
        )
        .await;
    let locked = car
        .send(
            Method::GET,
            &format!("/v3/vehicles/{}/signals/closure-islocked", car.vehicle),
            None,
            &[],
        )
        .await;

    assert_eq!(
        odometer.body["attributes"]["body"],
        json!({ "unit": "kilometers", "value": 52340.5 })
    );
    assert_eq!(locked.body["attributes"]["body"], json!({ "value": false }));
}

#[tokio::test]
async fn signals_are_limited_to_granted_permissions() {
    let car = Car::connect("CHEVROLET", "read_odometer").await;

    let answer = car
        .send(Method::GET, &format!("/v3/vehicles/{}/signals", car.vehicle), None, &[])
        .await;

    assert_eq!(answer.body["meta"]["totalCount"], json!(1));
    assert_eq!(answer.body["data"][0]["id"], "odometer-traveleddistance");
}

#[tokio::test]
async fn signal_pages_link_to_their_neighbours() {
    let car = Car::connect("CHEVROLET", ALL).await;
    let base = format!("/vehicles/{}/signals", car.vehicle);

    let answer = car
        .send(
            Method::GET,
            &format!("/v3/vehicles/{}/signals?page=2&pageSize=3", car.vehicle),
            None,
            &[],
        )
        .await;

    assert_eq!(
        answer.body["meta"],
        json!({ "totalCount": 8, "pageSize": 3, "page": 2 })
    );
    assert_eq!(
        answer.body["links"],
        json!({
            "self": base,
            "first": format!("{base}?page=1&pageSize=3"),
            "previous": format!("{base}?page=1&pageSize=3"),
            "next": format!("{base}?page=3&pageSize=3"),
            "last": format!("{base}?page=3&pageSize=3")
        })
    );
}
