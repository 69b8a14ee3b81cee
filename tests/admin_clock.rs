//! The virtual clock: tokens, codes and data age follow it.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::TestEnv;

const AUTHENTICATION: &str = "The authorization header is missing or malformed, or it contains invalid or expired authentication credentials. Please check for missing parameters, spelling and casing mistakes, and other syntax issues.";

#[tokio::test]
async fn advancing_two_hours_expires_the_access_token_with_the_exact_error_and_refresh_still_works() {
    let env = TestEnv::start().await;
    let car = env.authorize("CHEVROLET", "read_odometer").await;

    env.advance_clock("2h").await;
    let (status, body) = env.json(env.read(&car, "/odometer").await).await;
    let refreshed = env
        .token_request(&[("grant_type", "refresh_token"), ("refresh_token", &car.refresh_token)])
        .await;

    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["type"], "AUTHENTICATION");
    assert_eq!(body["code"], json!(null));
    assert_eq!(body["description"], AUTHENTICATION);
    assert_eq!(body["resolution"], json!({ "type": null }));
    assert_eq!(refreshed.status(), StatusCode::OK);
}

#[tokio::test]
async fn sixty_one_days_kill_the_refresh_token_too() {
    let env = TestEnv::start().await;
    let car = env.authorize("CHEVROLET", "read_odometer").await;

    env.advance_clock("61d").await;
    let refreshed = env
        .token_request(&[("grant_type", "refresh_token"), ("refresh_token", &car.refresh_token)])
        .await;

    assert_eq!(
        env.json(refreshed).await,
        (
            StatusCode::BAD_REQUEST,
            json!({ "error": "invalid_request", "error_description": format!("Invalid refresh_token: {}.", car.refresh_token) })
        )
    );
}

#[tokio::test]
async fn eleven_minutes_expire_an_authorization_code() {
    let env = TestEnv::start().await;
    let answer = env
        .admin_ok(
            Method::POST,
            "/admin/authorize",
            Some(json!({ "redirect_uri": crate::support::REDIRECT_URI, "exchange": false })),
        )
        .await;

    env.advance_clock("11m").await;
    let response = env
        .token_request(&[
            ("grant_type", "authorization_code"),
            ("code", answer["code"].as_str().expect("a code")),
            ("redirect_uri", crate::support::REDIRECT_URI),
        ])
        .await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_used_refresh_token_stops_working_once_the_grace_minute_passes() {
    let env = TestEnv::start().await;
    let car = env.authorize("CHEVROLET", "read_odometer").await;
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", car.refresh_token.as_str()),
    ];
    env.token_request(&refresh).await;

    let within_grace = env.token_request(&refresh).await.status();
    env.advance_clock("61s").await;
    let after_grace = env.token_request(&refresh).await.status();

    assert_eq!(within_grace, StatusCode::OK);
    assert_eq!(after_grace, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn data_age_and_fetched_at_follow_the_clock() {
    let env = TestEnv::start().await;
    env.admin_ok(
        Method::PUT,
        "/admin/clock",
        Some(json!({ "now": "2030-01-01T12:00:00Z" })),
    )
    .await;
    let car = env.authorize("CHEVROLET", "read_odometer").await;

    env.admin_ok(
        Method::PATCH,
        &format!("/admin/vehicles/{}", car.vehicle),
        Some(json!({ "odometer": { "distance": 100.5 } })),
    )
    .await;
    env.advance_clock("1h").await;
    let response = env.read(&car, "/odometer").await;

    let data_age = response.headers()["sc-data-age"].to_str().expect("ascii");
    assert!(data_age.starts_with("2030-01-01T12:00:0"), "{data_age}");
    let fetched = response.headers()["sc-fetched-at"].to_str().expect("ascii");
    assert!(fetched.starts_with("2030-01-01T13:00:"), "{fetched}");
}

#[tokio::test]
async fn the_clock_can_be_read_set_and_put_back() {
    let env = TestEnv::start().await;

    let set = env
        .admin_ok(
            Method::PUT,
            "/admin/clock",
            Some(json!({ "now": "2030-06-01T00:00:00Z" })),
        )
        .await;
    let advanced = env
        .admin_ok(Method::POST, "/admin/clock/advance", Some(json!({ "by": "2h" })))
        .await;
    let back = env.admin_ok(Method::DELETE, "/admin/clock", None).await;
    let (bad, message) = env
        .admin(Method::POST, "/admin/clock/advance", Some(json!({ "by": "soon" })))
        .await;

    assert!(
        set["now"]
            .as_str()
            .is_some_and(|now| now.starts_with("2030-06-01T00:00")),
        "{set}"
    );
    assert!(
        advanced["now"]
            .as_str()
            .is_some_and(|now| now.starts_with("2030-06-01T02:00")),
        "{advanced}"
    );
    assert_eq!(back["offset_seconds"], 0);
    assert_eq!(bad, StatusCode::BAD_REQUEST);
    assert!(
        message["message"]
            .as_str()
            .is_some_and(|m| m.contains("not a duration"))
    );
}

/// A request on the platform after the clock was moved: it must still be answered.
async fn platform_answers(env: &TestEnv) -> StatusCode {
    let car = env.authorize("CHEVROLET", "read_odometer").await;
    env.read(&car, "/odometer").await.status()
}

fn says_the_range(answer: &serde_json::Value) -> bool {
    answer["message"]
        .as_str()
        .is_some_and(|message| message.contains("100 years"))
}

#[tokio::test]
async fn advancing_the_clock_by_eight_thousand_years_is_refused_with_the_range() {
    let env = TestEnv::start().await;

    let (status, answer) = env
        .admin(Method::POST, "/admin/clock/advance", Some(json!({ "by": "8000y" })))
        .await;
    let clock = env.admin_ok(Method::GET, "/admin/clock", None).await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(says_the_range(&answer), "{answer}");
    assert_eq!(clock["offset_seconds"], 0, "the clock did not move");
    assert_eq!(platform_answers(&env).await, StatusCode::OK);
}

#[tokio::test]
async fn advances_add_up_to_at_most_a_hundred_years() {
    let env = TestEnv::start().await;

    env.advance_clock("60y").await;
    let (status, answer) = env
        .admin(Method::POST, "/admin/clock/advance", Some(json!({ "by": "60y" })))
        .await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(says_the_range(&answer), "{answer}");
    assert_eq!(platform_answers(&env).await, StatusCode::OK);
}

#[tokio::test]
async fn setting_the_clock_near_year_9999_is_refused_with_the_range() {
    let env = TestEnv::start().await;

    let (status, answer) = env
        .admin(
            Method::PUT,
            "/admin/clock",
            Some(json!({ "now": "9999-12-31T23:59:59Z" })),
        )
        .await;
    let (past, _) = env
        .admin(
            Method::PUT,
            "/admin/clock",
            Some(json!({ "now": "0001-01-01T00:00:00Z" })),
        )
        .await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(says_the_range(&answer), "{answer}");
    assert_eq!(past, StatusCode::BAD_REQUEST);
    assert_eq!(platform_answers(&env).await, StatusCode::OK);
}

#[tokio::test]
async fn the_clock_can_be_set_decades_ahead_and_tokens_still_work() {
    let env = TestEnv::start().await;

    env.advance_clock("99y").await;

    assert_eq!(platform_answers(&env).await, StatusCode::OK);
}

#[tokio::test]
async fn a_journal_query_since_twenty_thousand_years_is_refused_with_the_range() {
    let env = TestEnv::start().await;

    let (status, answer) = env.admin(Method::GET, "/admin/requests?since=20000y", None).await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(says_the_range(&answer), "{answer}");
}
