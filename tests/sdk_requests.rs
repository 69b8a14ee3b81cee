//! The vehicle API driven with the exact requests the official SDKs send
//! (docs/contract/api.md#request-bodies): Node's JSON content type on bodiless requests, Python's
//! `{}` body on GETs, Node's string charge limit, `request()` with foreign credentials.

use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{ALL, Car};

#[tokio::test]
async fn node_disconnect_with_a_json_content_type_and_no_body_succeeds() {
    let car = Car::connect("KIA", ALL).await;

    let response = car
        .env
        .http
        .delete(car.env.url(&car.path("/application")))
        .bearer_auth(&car.access_token)
        .header(CONTENT_TYPE, "application/json")
        .send()
        .await
        .expect("DELETE");

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.expect("json"),
        json!({ "status": "success" })
    );
}

#[tokio::test]
async fn python_request_sends_an_empty_object_on_get_and_it_is_ignored() {
    let car = Car::connect("CHEVROLET", ALL).await;

    let answer = car
        .send(Method::GET, &car.path("/charge/limit"), Some(json!({})), &[])
        .await;

    assert_eq!(answer.body, json!({ "limit": 0.9 }));
}

#[tokio::test]
async fn node_request_with_basic_credentials_is_an_authentication_error() {
    let car = Car::connect("CHEVROLET", ALL).await;

    let response = car
        .env
        .http
        .get(car.env.url(&car.path("/odometer")))
        .basic_auth("abc", Some("def"))
        .send()
        .await
        .expect("GET");

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["type"], "AUTHENTICATION");
}

#[tokio::test]
async fn a_non_object_command_body_is_a_validation_error_not_a_crash() {
    let car = Car::connect("CHEVROLET", ALL).await;

    for body in [json!([]), json!("LOCK"), json!(null), json!({ "action": 7 })] {
        let answer = car.post("/security", body.clone()).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer.body["type"], "VALIDATION", "{body}");
    }
}

#[tokio::test]
async fn odd_batch_bodies_are_validation_errors() {
    let car = Car::connect("CHEVROLET", ALL).await;

    for body in [
        json!(null),
        json!({ "requests": "odometer" }),
        json!({ "requests": [{ "path": 1 }] }),
        json!({ "requests": [{ "path": "/batch" }] }),
        json!({ "requests": [{ "path": "/odometer?x=1" }] }),
    ] {
        let answer = car.post("/batch", body.clone()).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
    }
}

#[tokio::test]
async fn an_empty_batch_answers_no_responses() {
    let car = Car::connect("CHEVROLET", ALL).await;

    let answer = car.post("/batch", json!({ "requests": [] })).await;

    assert_eq!(answer.body, json!({ "responses": [] }));
}
