//! Fault injection: catalogue errors in the request's envelope, counts, seeds, latency, dropped
//! connections, matching, listing and removal.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::TestEnv;

const SCOPE: &str = "read_vehicle_info read_odometer read_charge read_vin";

#[tokio::test]
async fn a_fault_served_twice_is_counted_down_then_dropped_and_the_journal_names_both_firings() {
    let env = TestEnv::start().await;
    let car = env.authorize("CHEVROLET", SCOPE).await;
    let id = env
        .add_fault(json!({ "path": "/v2.0/vehicles/*/odometer", "error": "VEHICLE_STATE:ASLEEP", "times": 2 }))
        .await;

    let first = env.read(&car, "/odometer").await.status();
    let listed = env.admin_ok(Method::GET, "/admin/faults", None).await;
    let mut statuses = vec![first];
    for _ in 0..2 {
        statuses.push(env.read(&car, "/odometer").await.status());
    }
    let spent = env.admin_ok(Method::GET, "/admin/faults", None).await;
    let journal = env.journal("app=demo-client&path=*/odometer").await;

    assert_eq!(statuses, [StatusCode::CONFLICT, StatusCode::CONFLICT, StatusCode::OK]);
    assert_eq!(listed["rules"][0]["id"], id);
    assert_eq!(listed["rules"][0]["fired"], 1);
    assert_eq!(listed["rules"][0]["remaining"], 1);
    assert_eq!(spent["rules"], json!([]), "a spent rule leaves the rule book");
    let faults: Vec<&serde_json::Value> = journal.iter().map(|r| &r["fault"]).collect();
    assert_eq!(faults, [&json!(null), &json!(id), &json!(id)]);
}

#[tokio::test]
async fn a_fault_answers_with_the_exact_catalogue_body_and_matching_request_id() {
    let env = TestEnv::start().await;
    let car = env.authorize("CHEVROLET", SCOPE).await;
    env.add_fault(json!({ "path": "**/odometer", "error": { "type": "VEHICLE_STATE", "code": "ASLEEP" } }))
        .await;

    let response = env.read(&car, "/odometer").await;
    let request_id = response.headers()["sc-request-id"].to_str().expect("ascii").to_owned();
    let (status, body) = env.json(response).await;

    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        body,
        json!({
            "type": "VEHICLE_STATE",
            "code": "ASLEEP",
            "description": "The vehicle is in a deep sleep state and cannot be reached. Please try again after the vehicle has been started.",
            "docURL": "https://smartcar.com/docs/errors/api-errors/vehicle-state-errors#asleep",
            "statusCode": 409,
            "requestId": request_id,
            "resolution": { "type": "RETRY_LATER" },
            "suggestedUserMessage": "Your vehicle is asleep. Please start the vehicle and try again."
        })
    );
}

#[tokio::test]
async fn the_envelope_follows_the_request_v1_and_v3() {
    let env = TestEnv::start().await;
    let car = env.authorize("CHEVROLET", SCOPE).await;
    env.add_fault(json!({ "error": "UPSTREAM:INVALID_DATA" })).await;

    let v1 = env
        .json(
            env.get(&format!("/v1.0/vehicles/{}/odometer", car.vehicle), &car.access_token)
                .await,
        )
        .await;
    let v3 = env
        .json(
            env.get(&format!("/v3/vehicles/{}/signals", car.vehicle), &car.access_token)
                .await,
        )
        .await;

    assert_eq!(v1.0, StatusCode::BAD_GATEWAY);
    assert_eq!(v1.1["error"], "gateway_timeout_error");
    assert_eq!(v1.1["statusCode"], 502);
    assert_eq!(v3.1["errors"][0]["code"], "INVALID_DATA");
    assert_eq!(v3.1["errors"][0]["status"], "502");
}

#[tokio::test]
async fn a_rate_limit_fault_carries_retry_after() {
    let env = TestEnv::start().await;
    let car = env.authorize("CHEVROLET", SCOPE).await;
    env.add_fault(json!({ "error": "RATE_LIMIT:VEHICLE", "retry_after": 42, "times": 1 }))
        .await;

    let response = env.read(&car, "/odometer").await;

    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "42");
}

#[tokio::test]
async fn the_same_seed_gives_the_same_sequence_of_faults() {
    let mut sequences = Vec::new();
    for _ in 0..2 {
        let env = TestEnv::start().await;
        let car = env.authorize("CHEVROLET", SCOPE).await;
        env.add_fault(json!({ "error": "VEHICLE_STATE:UNKNOWN", "probability": 0.5, "seed": 7 }))
            .await;
        let mut sequence = Vec::new();
        for _ in 0..20 {
            sequence.push(env.read(&car, "/odometer").await.status().as_u16());
        }
        sequences.push(sequence);
    }

    assert_eq!(sequences[0], sequences[1]);
    assert!(
        sequences[0].contains(&409) && sequences[0].contains(&200),
        "{:?}",
        sequences[0]
    );
}

#[tokio::test]
async fn added_latency_delays_the_real_answer() {
    let env = TestEnv::start().await;
    let car = env.authorize("CHEVROLET", SCOPE).await;
    env.add_fault(json!({ "path": "**/odometer", "latency": "150ms..200ms" }))
        .await;

    let started = Instant::now();
    let response = env.read(&car, "/odometer").await;

    assert_eq!(response.status(), StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn a_dropped_connection_gives_the_client_no_answer() {
    let env = TestEnv::start().await;
    let car = env.authorize("CHEVROLET", SCOPE).await;
    env.add_fault(json!({ "path": "**/odometer", "drop": true, "times": 1 }))
        .await;

    let outcome = match env.read_raw(&car, "/odometer").await {
        Ok(response) => response.bytes().await.map(|_| ()),
        Err(error) => Err(error),
    };
    let next = env.read(&car, "/odometer").await;

    assert!(outcome.is_err(), "the request failed at the transport level");
    assert_eq!(next.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_rule_for_one_vehicle_and_method_leaves_the_others_alone() {
    let env = TestEnv::start().await;
    let mine = env.authorize("CHEVROLET", SCOPE).await;
    let other = env.authorize("CHEVROLET", SCOPE).await;
    env.add_fault(json!({ "vehicle": mine.vehicle, "method": "get", "error": "AUTHENTICATION" }))
        .await;

    let hit = env.read(&mine, "/odometer").await;
    let missed = env.read(&other, "/odometer").await;

    assert_eq!(hit.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(missed.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_fault_wins_over_a_missing_token() {
    let env = TestEnv::start().await;
    env.add_fault(json!({ "path": "/v2.0/vehicles/*/charge", "error": "SERVER:INTERNAL" }))
        .await;

    let response = env
        .http
        .get(env.url(&format!("/v2.0/vehicles/{}/charge", uuid::Uuid::new_v4())))
        .send()
        .await
        .expect("GET");

    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn rules_can_be_removed_one_by_one_or_all_at_once() {
    let env = TestEnv::start().await;
    let car = env.authorize("CHEVROLET", SCOPE).await;
    let first = env.add_fault(json!({ "error": "VEHICLE_STATE:ASLEEP" })).await;
    env.add_fault(json!({ "error": "VEHICLE_STATE:UNKNOWN" })).await;

    env.admin_ok(Method::DELETE, &format!("/admin/faults/{first}"), None)
        .await;
    let after_one = env.json(env.read(&car, "/odometer").await).await.1;
    env.admin_ok(Method::DELETE, "/admin/faults", None).await;
    let after_all = env.read(&car, "/odometer").await;
    let (gone, _) = env.admin(Method::DELETE, &format!("/admin/faults/{first}"), None).await;

    assert_eq!(after_one["code"], "UNKNOWN");
    assert_eq!(after_all.status(), StatusCode::OK);
    assert_eq!(gone, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_rule_naming_no_catalogue_row_is_refused() {
    let env = TestEnv::start().await;

    let (status, answer) = env
        .admin(
            Method::POST,
            "/admin/faults",
            Some(json!({ "error": "VEHICLE_STATE:ON_FIRE" })),
        )
        .await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer["message"]
            .as_str()
            .is_some_and(|m| m.contains("not in the error catalogue")),
        "{answer}"
    );
}

#[tokio::test]
async fn the_token_endpoint_can_be_faulted_too() {
    let env = TestEnv::start().await;
    env.add_fault(json!({ "path": "/oauth/token", "error": "SERVER:INTERNAL", "times": 1 }))
        .await;

    let response = env
        .token_request(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .await;

    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn a_stranger_does_not_spend_a_rule_scoped_to_an_app_or_a_vehicle() {
    let env = TestEnv::start().await;
    let car = env.authorize("CHEVROLET", SCOPE).await;
    env.add_fault(json!({ "app": "demo-client", "error": "VEHICLE_STATE:ASLEEP", "times": 1 }))
        .await;
    env.add_fault(json!({ "vehicle": car.vehicle, "error": "VEHICLE_STATE:UNKNOWN", "times": 1 }))
        .await;

    let mut strangers = Vec::new();
    for authorization in [None, Some("Bearer not-a-token")] {
        let mut request = env.http.get(env.url(&format!(
            "/v2.0/vehicles/{}/odometer?client_id=demo-client",
            car.vehicle
        )));
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        strangers.push(request.send().await.expect("GET").status());
    }
    let first = env.json(env.read(&car, "/odometer").await).await.1;
    let second = env.json(env.read(&car, "/odometer").await).await.1;

    assert_eq!(strangers, [StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED]);
    assert_eq!(first["code"], "ASLEEP", "the app's rule was still there for the owner");
    assert_eq!(second["code"], "UNKNOWN", "and so was the vehicle's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pattern_full_of_stars_is_matched_at_once_by_rules_and_the_journal() {
    let env = TestEnv::start().await;
    let pattern = format!("/{}b", "**a".repeat(16));
    env.add_fault(json!({ "path": pattern, "error": "SERVER:INTERNAL" }))
        .await;
    let path = format!("/{}", "a".repeat(2000));

    let answered = tokio::time::timeout(Duration::from_secs(20), async {
        let request = env.http.get(env.url(&path)).send().await.expect("GET").status();
        let query = format!("path={}", pattern.replace('*', "%2A"));
        let journal = env.journal(&query).await;
        (request, journal)
    })
    .await;

    let (status, journal) = answered.expect("answered in time, not after exponential backtracking");
    assert_eq!(status, StatusCode::NOT_FOUND, "the rule does not match");
    assert!(journal.is_empty());
}

#[tokio::test]
async fn a_used_up_connect_rule_leaves_the_rule_book_too() {
    let env = TestEnv::start().await;
    env.admin_ok(
        Method::POST,
        "/admin/faults/connect",
        Some(json!({ "app": "demo-client", "error": "no_vehicles" })),
    )
    .await;

    let (refused, _) = env.admin(Method::POST, "/admin/authorize", Some(json!({}))).await;
    let listed = env.admin_ok(Method::GET, "/admin/faults", None).await;

    assert_eq!(refused, StatusCode::CONFLICT);
    assert_eq!(listed, json!({ "rules": [], "connect": [] }));
}

#[tokio::test]
async fn a_rule_that_could_never_fire_is_refused() {
    let env = TestEnv::start().await;

    let (api, _) = env
        .admin(
            Method::POST,
            "/admin/faults",
            Some(json!({ "error": "SERVER:INTERNAL", "times": 0 })),
        )
        .await;
    let (connect, _) = env
        .admin(
            Method::POST,
            "/admin/faults/connect",
            Some(json!({ "app": "demo-client", "error": "no_vehicles", "times": 0 })),
        )
        .await;

    assert_eq!((api, connect), (StatusCode::BAD_REQUEST, StatusCode::BAD_REQUEST));
}
