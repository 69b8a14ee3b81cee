//! The management API: listing, filtering, paging and deleting an app's connections
//! (docs/contract/management.md).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::TestEnv;

const AMT: &str = "demo-amt";

/// `method /v2.0/management/connections?query` with `Basic default:<amt>`.
async fn management(env: &TestEnv, method: Method, query: &[(&str, &str)], amt: &str) -> (StatusCode, Value) {
    let response = env
        .http
        .request(method, env.url("/v2.0/management/connections"))
        .basic_auth("default", Some(amt))
        .query(query)
        .send()
        .await
        .expect("management request");
    let status = response.status();
    (status, response.json().await.expect("a JSON body"))
}

/// Connects a vehicle of `brand` and returns (access token, user id, vehicle id).
async fn connected(env: &TestEnv, brand: &str) -> (String, String, String) {
    let (tokens, vehicle) = env.connect_vehicle(brand, "read_vehicle_info read_odometer").await;
    let user: Value = env
        .get("/v2.0/user", &tokens.access_token)
        .await
        .json()
        .await
        .expect("json");
    let user = user["id"].as_str().expect("user id").to_owned();
    (tokens.access_token, user, vehicle)
}

#[tokio::test]
async fn connections_are_listed_newest_first_with_their_connection_time() {
    let env = TestEnv::start().await;
    let (_, first_user, first_vehicle) = connected(&env, "BMW").await;
    let (_, second_user, second_vehicle) = connected(&env, "CHEVROLET").await;

    let (status, body) = management(&env, Method::GET, &[], AMT).await;

    assert_eq!(status, StatusCode::OK);
    let pairs: Vec<(&str, &str)> = body["connections"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|c| {
            (
                c["vehicleId"].as_str().unwrap_or(""),
                c["userId"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        [
            (second_vehicle.as_str(), second_user.as_str()),
            (first_vehicle.as_str(), first_user.as_str())
        ]
    );
    let connection = &body["connections"][0];
    let mut keys: Vec<&str> = connection
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["connectedAt", "userId", "vehicleId"]);
    let at = connection["connectedAt"].as_str().expect("a timestamp");
    assert!(at.len() == 24 && at.ends_with('Z') && at.as_bytes()[19] == b'.', "{at}");
    assert_eq!(body["paging"], json!({ "cursor": null }));
}

#[tokio::test]
async fn a_trailing_slash_is_accepted() {
    let env = TestEnv::start().await;

    let response = env
        .http
        .get(env.url("/v2.0/management/connections/"))
        .basic_auth("default", Some(AMT))
        .send()
        .await
        .expect("GET");

    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn connections_can_be_filtered_by_user_and_by_vehicle() {
    let env = TestEnv::start().await;
    let (_, user, vehicle) = connected(&env, "BMW").await;
    connected(&env, "CHEVROLET").await;

    let (_, by_user) = management(&env, Method::GET, &[("user_id", &user)], AMT).await;
    let (_, by_vehicle) = management(&env, Method::GET, &[("vehicle_id", &vehicle)], AMT).await;

    for body in [by_user, by_vehicle] {
        let list = body["connections"].as_array().expect("a list");
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["vehicleId"], vehicle.as_str());
        assert_eq!(list[0]["userId"], user.as_str());
    }
}

#[tokio::test]
async fn a_cursor_walks_every_connection_once() {
    let env = TestEnv::start().await;
    let mut expected = Vec::new();
    for brand in ["BMW", "CHEVROLET", "FORD"] {
        expected.push(connected(&env, brand).await.2);
    }
    expected.reverse();

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let mut query = vec![("limit", "1".to_owned())];
        if let Some(cursor) = &cursor {
            query.push(("cursor", cursor.clone()));
        }
        let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, body) = management(&env, Method::GET, &query, AMT).await;
        assert_eq!(status, StatusCode::OK);
        for connection in body["connections"].as_array().expect("a list") {
            seen.push(connection["vehicleId"].as_str().expect("id").to_owned());
        }
        match body["paging"]["cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }

    assert_eq!(seen, expected);
}

#[tokio::test]
async fn an_unknown_cursor_or_a_bad_limit_is_a_validation_error() {
    let env = TestEnv::start().await;

    let (cursor_status, cursor_body) = management(&env, Method::GET, &[("cursor", "nonsense")], AMT).await;
    let (limit_status, limit_body) = management(&env, Method::GET, &[("limit", "-1")], AMT).await;

    assert_eq!(cursor_status, StatusCode::BAD_REQUEST);
    assert_eq!(cursor_body["type"], "VALIDATION");
    assert_eq!(cursor_body["detail"][0]["field"], "cursor");
    assert_eq!(limit_status, StatusCode::BAD_REQUEST);
    assert_eq!(limit_body["detail"][0]["field"], "limit");
}

#[tokio::test]
async fn deleting_a_vehicles_connection_revokes_its_token_at_once() {
    let env = TestEnv::start().await;
    let (token, user, vehicle) = connected(&env, "BMW").await;
    let odometer = format!("/v2.0/vehicles/{vehicle}/odometer");
    assert_eq!(env.get(&odometer, &token).await.status(), StatusCode::OK);

    let (status, body) = management(&env, Method::DELETE, &[("vehicle_id", &vehicle)], AMT).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({ "connections": [{ "vehicleId": vehicle, "userId": user }] })
    );
    let (_, after) = management(&env, Method::GET, &[("vehicle_id", &vehicle)], AMT).await;
    assert_eq!(after["connections"], json!([]));
    let refused = env.get(&odometer, &token).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn deleting_a_connection_ends_the_vehicles_webhook_subscriptions() {
    let env = TestEnv::start().await;
    let (token, _, vehicle) = connected(&env, "CHEVROLET").await;
    let webhook = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
    let subscribed = env
        .http
        .post(env.url(&format!("/v2.0/vehicles/{vehicle}/webhooks/{webhook}")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("subscribe");
    assert_eq!(subscribed.status(), StatusCode::OK);

    management(&env, Method::DELETE, &[("vehicle_id", &vehicle)], AMT).await;

    let webhook_id = uuid::Uuid::parse_str(webhook).expect("uuid");
    let log = env.state.webhooks.registry().log(webhook_id).expect("the demo webhook");
    assert!(log.subscribed_vehicles.is_empty(), "{:?}", log.subscribed_vehicles);
}

#[tokio::test]
async fn deleting_by_user_removes_only_that_users_connections() {
    let env = TestEnv::start().await;
    let (_, user, vehicle) = connected(&env, "CHEVROLET").await;
    let (_, _, other_vehicle) = connected(&env, "BMW").await;

    let (_, body) = management(&env, Method::DELETE, &[("user_id", &user)], AMT).await;

    assert_eq!(
        body,
        json!({ "connections": [{ "vehicleId": vehicle, "userId": user }] })
    );
    let (_, rest) = management(&env, Method::GET, &[], AMT).await;
    assert_eq!(rest["connections"][0]["vehicleId"], other_vehicle.as_str());
    assert_eq!(rest["connections"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn deleting_needs_exactly_one_filter() {
    let env = TestEnv::start().await;
    let id = uuid::Uuid::new_v4().to_string();

    let (neither, neither_body) = management(&env, Method::DELETE, &[], AMT).await;
    let (both, _) = management(&env, Method::DELETE, &[("user_id", &id), ("vehicle_id", &id)], AMT).await;

    assert_eq!(neither, StatusCode::BAD_REQUEST);
    assert_eq!(neither_body["type"], "VALIDATION");
    assert_eq!(both, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_wrong_management_token_is_an_authentication_error() {
    let env = TestEnv::start().await;

    let (status, body) = management(&env, Method::GET, &[], "not-the-amt").await;

    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["type"], "AUTHENTICATION");
    assert_eq!(body["code"], Value::Null);
}

#[tokio::test]
async fn another_apps_connections_are_not_listed() {
    let env = TestEnv::start().await;
    connected(&env, "BMW").await;

    let (status, body) = management(&env, Method::GET, &[], "sdk-test-amt").await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["connections"], json!([]));
}
