//! `POST /v{ver}/vehicles/{id}/batch` (docs/contract/api.md#batch).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{ALL, Car};

fn requests(paths: &[&str]) -> Value {
    json!({ "requests": paths.iter().map(|path| json!({ "path": path })).collect::<Vec<_>>() })
}

#[tokio::test]
async fn a_batch_answers_in_request_order_with_normalised_paths() {
    let car = Car::connect("CHEVROLET", ALL).await;

    let answer = car
        .post("/batch", requests(&["/odometer", "tires/pressure", "/"]))
        .await;

    assert_eq!(answer.status, StatusCode::OK);
    let responses = answer.body["responses"].as_array().expect("responses");
    let paths: Vec<&Value> = responses.iter().map(|item| &item["path"]).collect();
    assert_eq!(paths, [&json!("/odometer"), &json!("/tires/pressure"), &json!("/")]);
    assert_eq!(responses[0]["code"], json!(200));
    assert_eq!(responses[0]["body"], json!({ "distance": 52340.5 }));
    assert_eq!(
        responses[1]["body"],
        json!({ "frontLeft": 230.0, "frontRight": 230.0, "backLeft": 220.0, "backRight": 225.0 })
    );
    assert_eq!(
        responses[2]["body"],
        json!({ "id": car.vehicle, "make": "CHEVROLET", "model": "Volt", "year": 2019 })
    );
}

#[tokio::test]
async fn every_batch_item_carries_its_own_data_headers() {
    let car = Car::connect("CHEVROLET", ALL).await;

    let answer = car.post("/batch", requests(&["/odometer"])).await;
    let headers = &answer.body["responses"][0]["headers"];

    assert_eq!(headers["sc-unit-system"], "metric");
    assert_eq!(headers["sc-data-age"].as_str().map(str::len), Some(24));
    assert_eq!(headers["sc-fetched-at"].as_str().map(str::len), Some(24));
    assert_eq!(answer.header("sc-request-id").map(str::len), Some(36));
}

#[tokio::test]
async fn a_missing_permission_fails_only_its_item_with_a_complete_error_body() {
    let car = Car::connect("CHEVROLET", "read_odometer").await;

    let answer = car.post("/batch", requests(&["/odometer", "/location"])).await;
    let item = &answer.body["responses"][1];

    assert_eq!(answer.body["responses"][0]["code"], json!(200));
    assert_eq!(item["code"], json!(403));
    assert_eq!(item["headers"]["content-type"], "application/json; charset=utf-8");
    assert_eq!(
        item["body"],
        json!({
            "type": "PERMISSION",
            "code": null,
            "description": "Your application has insufficient permissions to access the requested resource. Please prompt the user to re-authenticate using Smartcar Connect.",
            "docURL": "https://smartcar.com/docs/errors/api-errors/permission-errors#null",
            "statusCode": 403,
            "requestId": answer.header("sc-request-id"),
            "resolution": { "type": "REAUTHENTICATE" }
        })
    );
}

#[tokio::test]
async fn an_unknown_path_fails_the_whole_batch_with_validation() {
    let car = Car::connect("CHEVROLET", ALL).await;

    let answer = car.post("/batch", requests(&["/odometer", "/LOCATIONNNNNNNN"])).await;

    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["type"], "VALIDATION");
    assert_eq!(answer.body["statusCode"], json!(400));
}

#[tokio::test]
async fn a_body_without_requests_is_a_validation_error() {
    let car = Car::connect("CHEVROLET", ALL).await;

    let answer = car.post("/batch", json!({ "paths": ["/odometer"] })).await;

    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["detail"][0]["field"], "requests");
}

#[tokio::test]
async fn the_unit_system_of_the_batch_applies_to_every_item() {
    let car = Car::connect("CHEVROLET", ALL).await;

    let answer = car
        .send(
            Method::POST,
            &car.path("/batch"),
            Some(requests(&["/odometer", "/fuel"])),
            &[("sc-unit-system", "imperial")],
        )
        .await;
    let responses = &answer.body["responses"];

    assert_eq!(responses[0]["body"], json!({ "distance": 52340.5 / 1.609344 }));
    assert_eq!(responses[0]["headers"]["sc-unit-system"], "imperial");
    assert_eq!(
        responses[1]["body"],
        json!({ "range": 410.0 / 1.609344, "percentRemaining": 0.72, "amountRemaining": 25.2 / 3.785411784 })
    );
    assert_eq!(responses[1]["headers"]["sc-unit-system"], "imperial");
}

#[tokio::test]
async fn a_v1_batch_renders_item_errors_in_the_v1_envelope() {
    let car = Car::connect("CHEVROLET", "read_odometer").await;

    let answer = car
        .send(
            Method::POST,
            &format!("/v1.0/vehicles/{}/batch", car.vehicle),
            Some(requests(&["/location"])),
            &[],
        )
        .await;

    assert_eq!(
        answer.body["responses"][0]["body"],
        json!({
            "error": "permission_error",
            "message": "Insufficient permissions to access requested resource.",
            "statusCode": 403,
            "requestId": answer.header("sc-request-id")
        })
    );
}

#[tokio::test]
async fn a_batch_for_someone_elses_vehicle_is_refused_as_a_whole() {
    let car = Car::connect("CHEVROLET", ALL).await;

    let answer = car
        .send(
            Method::POST,
            &format!("/v2.0/vehicles/{}/batch", uuid::Uuid::new_v4()),
            Some(requests(&["/odometer"])),
            &[],
        )
        .await;

    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_batch_of_more_than_fifty_requests_is_refused_naming_the_cap() {
    let car = Car::connect("CHEVROLET", ALL).await;

    let fifty = car.post("/batch", requests(&["/odometer"; 50])).await;
    let fifty_one = car.post("/batch", requests(&["/odometer"; 51])).await;

    assert_eq!(fifty.status, StatusCode::OK);
    assert_eq!(fifty_one.status, StatusCode::BAD_REQUEST);
    assert_eq!(fifty_one.body["type"], "VALIDATION");
    assert_eq!(fifty_one.body["detail"][0]["field"], "requests");
    assert!(
        fifty_one.body["detail"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("at most 50")),
        "{}",
        fifty_one.body
    );
}
