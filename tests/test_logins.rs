//! Test-mode logins that shape the vehicle API's answers
//! (docs/contract/test-mode.md#the-test-login-grammar).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::Connect;
use crate::support::{ALL, Car};

async fn login(username: &str) -> Car {
    Car::connect_with(Connect {
        scope: Some(ALL),
        username: username.to_owned(),
        ..Connect::default()
    })
    .await
}

#[tokio::test]
async fn a_type_and_code_login_fails_every_non_static_request_with_that_error() {
    let car = login("VEHICLE_STATE.UNKNOWN@smartcar.com").await;

    let odometer = car.get("/odometer").await;
    let vin = car.get("/vin").await;

    assert_eq!(odometer.status, StatusCode::CONFLICT);
    assert_eq!(
        (&odometer.body["type"], &odometer.body["code"]),
        (&json!("VEHICLE_STATE"), &json!("UNKNOWN"))
    );
    assert_eq!(vin.status, StatusCode::OK);
}

#[tokio::test]
async fn the_vehicle_missing_login_answers_connected_services_account_errors() {
    let car = login("CONNECTED_SERVICES_ACCOUNT.VEHICLE_MISSING@smartcar.com").await;

    let answer = car.get("/location").await;

    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["code"], "VEHICLE_MISSING");
    assert_eq!(
        answer.body["docURL"],
        "https://smartcar.com/docs/errors/api-errors/connected-services-account-errors#vehicle-missing"
    );
}

#[tokio::test]
async fn the_v1_vehicle_state_login_answers_vs_000_on_v1() {
    let car = login("smartcar@vs-000.vehicle-state-error.com").await;

    let answer = car
        .send(
            Method::GET,
            &format!("/v1.0/vehicles/{}/odometer", car.vehicle),
            None,
            &[],
        )
        .await;

    assert_eq!(
        answer.body_without_request_id(),
        json!({
            "error": "vehicle_state_error",
            "message": "Vehicle state cannot be determined.",
            "code": "VS_000",
            "statusCode": 409
        })
    );
}

#[tokio::test]
async fn the_v1_owner_action_login_answers_voa_000_on_v1() {
    let car = login("smartcar@voa-000.vehicle-owner-action-required.com").await;

    let answer = car
        .send(
            Method::GET,
            &format!("/v1.0/vehicles/{}/battery", car.vehicle),
            None,
            &[],
        )
        .await;

    assert_eq!(answer.body["error"], "vehicle_owner_action_required");
    assert_eq!(answer.body["code"], "VOA_000");
}

#[tokio::test]
async fn an_n_vehicles_login_pages_its_vehicles() {
    let car = login("3-vehicles@smartcar.com").await;

    let page = car
        .send(Method::GET, "/v2.0/vehicles?limit=2&offset=2", None, &[])
        .await;

    assert_eq!(page.body["paging"], json!({ "count": 3, "offset": 2 }));
    assert_eq!(page.body["vehicles"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_fuel_level_vin_login_is_not_capable_of_battery_reads() {
    let car = login("1FTEW1EP5MKD00011@fuel.smartcar.com").await;

    let vin = car.get("/vin").await;
    let battery = car.get("/battery").await;

    assert_eq!(vin.body, json!({ "vin": "1FTEW1EP5MKD00011" }));
    assert_eq!(battery.status, StatusCode::NOT_IMPLEMENTED);
}

#[tokio::test]
async fn the_successful_request_login_has_the_documented_vin() {
    let car = login("smartcar@successful-request.com").await;

    assert_eq!(car.get("/vin").await.body, json!({ "vin": "0SCAUDI037A5ADB1C" }));
}

#[tokio::test]
async fn a_rate_limit_login_sends_retry_after() {
    let car = login("RATE_LIMIT.VEHICLE@smartcar.com").await;

    let answer = car.get("/odometer").await;

    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(answer.header("retry-after"), Some("60"));
    assert_eq!(answer.body["resolution"], json!({ "type": "RETRY_LATER" }));
}

#[tokio::test]
async fn a_rate_limit_login_sends_retry_after_in_both_casings_inside_a_batch() {
    let car = login("RATE_LIMIT.VEHICLE@smartcar.com").await;

    let answer = car
        .post("/batch", json!({ "requests": [{ "path": "/odometer" }] }))
        .await;
    let headers = &answer.body["responses"][0]["headers"];

    assert_eq!(
        (&headers["retry-after"], &headers["Retry-After"]),
        (&json!("60"), &json!("60"))
    );
}
