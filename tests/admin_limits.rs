//! Smartcar's limits, switched on: the app's token bucket, the per-vehicle throttle and the
//! monthly quota, all recovering on the virtual clock.

use mock_server::Settings;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::TestEnv;

#[tokio::test]
async fn limits_are_off_by_default() {
    let env = TestEnv::start().await;
    let car = env.authorize("CHEVROLET", "read_odometer").await;

    let settings = env.admin_ok(Method::GET, "/admin/limits", None).await;
    for _ in 0..40 {
        assert_eq!(env.read(&car, "/odometer").await.status(), StatusCode::OK);
    }

    assert_eq!(
        settings,
        json!({
            "enabled": false,
            "app_capacity": 120,
            "app_refill_per_minute": 2.0,
            "vehicle_capacity": 30,
            "vehicle_refill_seconds": 10,
            "monthly_vehicle_requests": 500
        })
    );
}

#[tokio::test]
async fn the_app_bucket_of_120_answers_429_with_retry_after_and_refills_on_the_clock() {
    let env = TestEnv::with_settings(Settings {
        limits: true,
        ..Settings::default()
    })
    .await;
    let car = env.authorize("CHEVROLET", "read_odometer").await;
    // The per-vehicle throttle is not under test here.
    env.admin_ok(Method::PUT, "/admin/limits", Some(json!({ "vehicle_capacity": 1000 })))
        .await;

    for i in 0..120 {
        assert_eq!(
            env.read(&car, "/odometer").await.status(),
            StatusCode::OK,
            "request {i}"
        );
    }
    let limited = env.read(&car, "/odometer").await;
    let retry_after = limited.headers()["retry-after"].to_str().expect("ascii").to_owned();
    let (status, body) = env.json(limited).await;
    env.advance_clock("30s").await;
    let recovered = env.read(&car, "/odometer").await.status();
    let again = env.read(&car, "/odometer").await.status();

    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["type"], "RATE_LIMIT");
    assert_eq!(body["code"], "SMARTCAR_API");
    assert_eq!(body["resolution"]["type"], "RETRY_LATER");
    let wait: u64 = retry_after.parse().expect("seconds");
    assert!(
        (29..=30).contains(&wait),
        "one request back in 30 s, less what has passed: {wait}"
    );
    assert_eq!(recovered, StatusCode::OK, "2 per minute: one back after 30 s");
    assert_eq!(again, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_throttled_vehicle_gets_rate_limit_vehicle_while_others_carry_on() {
    let env = TestEnv::start().await;
    env.admin_ok(
        Method::PUT,
        "/admin/limits",
        Some(json!({ "enabled": true, "vehicle_capacity": 2, "vehicle_refill_seconds": 60 })),
    )
    .await;
    let busy = env.authorize("CHEVROLET", "read_odometer").await;
    let quiet = env.authorize("CHEVROLET", "read_odometer").await;

    env.read(&busy, "/odometer").await;
    env.read(&busy, "/odometer").await;
    let throttled = env.read(&busy, "/odometer").await;
    let retry_after = throttled.headers()["retry-after"].to_str().expect("ascii").to_owned();
    let body = env.json(throttled).await.1;
    let other = env.read(&quiet, "/odometer").await.status();
    env.advance_clock("1m").await;
    let later = env.read(&busy, "/odometer").await.status();

    assert_eq!(body["code"], "VEHICLE");
    assert_eq!(retry_after, "60");
    assert_eq!(other, StatusCode::OK);
    assert_eq!(later, StatusCode::OK);
}

#[tokio::test]
async fn the_monthly_quota_answers_billing_430_until_the_next_month() {
    let env = TestEnv::start().await;
    env.admin_ok(
        Method::PUT,
        "/admin/clock",
        Some(json!({ "now": "2030-01-15T00:00:00Z" })),
    )
    .await;
    env.admin_ok(
        Method::PUT,
        "/admin/limits",
        Some(json!({ "enabled": true, "monthly_vehicle_requests": 3 })),
    )
    .await;
    let car = env.authorize("CHEVROLET", "read_odometer").await;

    for _ in 0..3 {
        assert_eq!(env.read(&car, "/odometer").await.status(), StatusCode::OK);
    }
    let (status, body) = env.json(env.read(&car, "/odometer").await).await;
    env.advance_clock("20d").await;
    let refreshed = env
        .token_request(&[("grant_type", "refresh_token"), ("refresh_token", &car.refresh_token)])
        .await;
    let access_token = env.json(refreshed).await.1["access_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let car = crate::support::Connected { access_token, ..car };
    let next_month = env.read(&car, "/odometer").await.status();

    assert_eq!(status.as_u16(), 430);
    assert_eq!(body["type"], "BILLING");
    assert_eq!(body["code"], "VEHICLE_REQUEST_LIMIT");
    assert_eq!(next_month, StatusCode::OK);
}

#[tokio::test]
async fn limits_switched_on_for_one_app_leave_another_alone() {
    let env = TestEnv::start().await;
    env.admin_ok(
        Method::PUT,
        "/admin/limits",
        Some(json!({ "app": "sdk-test-client", "enabled": true, "app_capacity": 1 })),
    )
    .await;
    let limited = env.authorize_as("sdk-test-client", "CHEVROLET", "read_odometer").await;
    let free = env.authorize("CHEVROLET", "read_odometer").await;

    env.read(&limited, "/odometer").await;
    let second = env.read(&limited, "/odometer").await.status();
    let mut other = Vec::new();
    for _ in 0..5 {
        other.push(env.read(&free, "/odometer").await.status());
    }

    assert_eq!(second, StatusCode::TOO_MANY_REQUESTS);
    assert!(other.iter().all(|status| *status == StatusCode::OK));
}

#[tokio::test]
async fn limits_for_an_app_the_fixtures_do_not_register_are_refused() {
    let env = TestEnv::start().await;

    let (status, body) = env
        .admin(
            Method::PUT,
            "/admin/limits",
            Some(json!({ "app": "made-up-client", "enabled": true })),
        )
        .await;

    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["message"], "no app has client id made-up-client");
}

/// `GET /v2.0/vehicles/{vehicle}/odometer?client_id=demo-client` with whatever credentials.
async fn stranger_reads(env: &TestEnv, vehicle: &str, authorization: Option<&str>) -> StatusCode {
    let mut request = env
        .http
        .get(env.url(&format!("/v2.0/vehicles/{vehicle}/odometer?client_id=demo-client")));
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    request.send().await.expect("GET").status()
}

#[tokio::test]
async fn a_stranger_naming_the_app_spends_neither_its_bucket_nor_the_vehicles_quota() {
    let env = TestEnv::start().await;
    env.admin_ok(
        Method::PUT,
        "/admin/clock",
        Some(json!({ "now": "2030-01-15T00:00:00Z" })),
    )
    .await;
    // No refill, so moving the clock to expire a token gives nothing back.
    env.admin_ok(
        Method::PUT,
        "/admin/limits",
        Some(json!({
            "enabled": true, "app_capacity": 3, "app_refill_per_minute": 0.0,
            "vehicle_capacity": 1000, "monthly_vehicle_requests": 2
        })),
    )
    .await;
    let car = env.authorize("CHEVROLET", "read_odometer").await;
    let other_app = env.authorize_as("sdk-test-client", "CHEVROLET", "read_odometer").await;

    let mut strangers = Vec::new();
    for authorization in [
        None,
        Some("Bearer not-a-token".to_owned()),
        Some(format!("Bearer {}", other_app.access_token)),
    ] {
        for _ in 0..3 {
            strangers.push(stranger_reads(&env, &car.vehicle, authorization.as_deref()).await);
        }
    }
    env.advance_clock("3h").await;
    let expired = format!("Bearer {}", car.access_token);
    for _ in 0..3 {
        strangers.push(stranger_reads(&env, &car.vehicle, Some(&expired)).await);
    }
    let refreshed = env
        .token_request(&[("grant_type", "refresh_token"), ("refresh_token", &car.refresh_token)])
        .await;
    let access_token = env.json(refreshed).await.1["access_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let car = crate::support::Connected { access_token, ..car };
    let mut owner = Vec::new();
    for _ in 0..3 {
        owner.push(env.read(&car, "/odometer").await.status().as_u16());
    }

    assert!(
        strangers.iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "{strangers:?}"
    );
    assert_eq!(
        owner,
        [200, 200, 430],
        "the app's bucket of 3 and the vehicle's 2 a month were all the owner's"
    );
}

#[tokio::test]
async fn every_item_of_a_batch_counts_and_an_item_over_the_limit_gets_its_error() {
    let env = TestEnv::start().await;
    env.admin_ok(
        Method::PUT,
        "/admin/limits",
        Some(json!({ "enabled": true, "app_capacity": 3, "app_refill_per_minute": 0.0, "vehicle_capacity": 1000 })),
    )
    .await;
    let car = env.authorize("CHEVROLET", "read_odometer").await;
    let batch = json!({ "requests": [
        { "path": "/odometer" }, { "path": "/odometer" }, { "path": "/odometer" }, { "path": "/odometer" }
    ] });

    let (status, body) = env
        .json(
            env.http
                .post(env.url(&format!("/v2.0/vehicles/{}/batch", car.vehicle)))
                .bearer_auth(&car.access_token)
                .json(&batch)
                .send()
                .await
                .expect("POST"),
        )
        .await;
    let after = env.read(&car, "/odometer").await.status();

    assert_eq!(status, StatusCode::OK);
    let codes: Vec<&serde_json::Value> = body["responses"]
        .as_array()
        .expect("responses")
        .iter()
        .map(|r| &r["code"])
        .collect();
    assert_eq!(codes, [&json!(200), &json!(200), &json!(200), &json!(429)]);
    let refused = &body["responses"][3];
    assert_eq!(refused["body"]["type"], "RATE_LIMIT");
    assert_eq!(refused["body"]["code"], "SMARTCAR_API");
    assert!(refused["headers"]["retry-after"].is_string(), "{refused}");
    assert_eq!(
        after,
        StatusCode::TOO_MANY_REQUESTS,
        "the three items used the bucket up"
    );
}
