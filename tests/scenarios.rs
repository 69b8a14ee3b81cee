//! The world as a file: `GET`/`PUT /admin/snapshot`, `--scenario FILE` and the example scenarios
//! in `fixtures/scenarios/`.

use std::path::PathBuf;

use mock_server::MockServer;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Connect, TestEnv};

const WEBHOOK: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";

fn example(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/scenarios")).join(name)
}

/// A scenario file of this text in the temporary folder, unique to the test.
fn scenario_file(text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("scenario-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&path, text).expect("a temporary file");
    path
}

async fn body_of(env: &TestEnv, path: &str, token: &str) -> (StatusCode, Value) {
    let response = env.get(path, token).await;
    env.json(response).await
}

async fn refresh(env: &TestEnv, refresh_token: &str) -> (StatusCode, Value) {
    let response = env
        .token_request(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token)])
        .await;
    env.json(response).await
}

#[tokio::test]
async fn a_saved_world_loaded_into_a_fresh_server_gives_the_same_answers() {
    let live = TestEnv::start().await;
    let code = live.code(&Connect::default()).await;
    let tokens = live.exchange(&code).await;
    let (_, vehicles) = body_of(&live, "/v2.0/vehicles", &tokens.access_token).await;
    let vehicle = vehicles["vehicles"][0].as_str().expect("a vehicle").to_owned();
    live.admin_ok(
        Method::PATCH,
        &format!("/admin/vehicles/{vehicle}"),
        Some(json!({ "odometer": { "distance": 12345.6 } })),
    )
    .await;
    live.advance_clock("1h").await;
    live.add_fault(json!({ "path": "**/location", "error": "VEHICLE_STATE:ASLEEP" }))
        .await;
    let saved = live.admin_ok(Method::GET, "/admin/snapshot", None).await;

    let fresh = TestEnv::start().await;
    fresh
        .admin_ok(Method::PUT, "/admin/snapshot", Some(saved.clone()))
        .await;

    for path in ["/v2.0/vehicles", "/v2.0/user"] {
        assert_eq!(
            body_of(&fresh, path, &tokens.access_token).await,
            body_of(&live, path, &tokens.access_token).await,
            "{path}"
        );
    }
    for read in ["odometer", "location", "battery", "security"] {
        let path = format!("/v2.0/vehicles/{vehicle}/{read}");
        let (status, body) = body_of(&fresh, &path, &tokens.access_token).await;
        let (live_status, live_body) = body_of(&live, &path, &tokens.access_token).await;
        assert_eq!(status, live_status, "{read}");
        assert_eq!(body.get("distance"), live_body.get("distance"), "{read}");
        assert_eq!(body.get("code"), live_body.get("code"), "{read}");
    }
    assert_eq!(fresh.admin_ok(Method::GET, "/admin/snapshot", None).await, saved);
}

/// The token endpoint answers a reused code as it answers an unknown one; what tells them apart
/// is that a reuse revokes the tokens of the first exchange.
#[tokio::test]
async fn a_used_code_is_still_used_after_a_round_trip() {
    let live = TestEnv::start().await;
    let code = live.code(&Connect::default()).await;
    let tokens = live.exchange(&code).await;
    let saved = live.admin_ok(Method::GET, "/admin/snapshot", None).await;
    let fresh = TestEnv::start().await;
    fresh.admin_ok(Method::PUT, "/admin/snapshot", Some(saved)).await;
    let (before, _) = body_of(&fresh, "/v2.0/vehicles", &tokens.access_token).await;
    assert_eq!(before, StatusCode::OK);

    let response = fresh
        .token_request(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", crate::support::REDIRECT_URI),
        ])
        .await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let (status, _) = body_of(&fresh, "/v2.0/vehicles", &tokens.access_token).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the reuse revoked the first exchange's tokens"
    );
}

#[tokio::test]
async fn a_refresh_token_of_a_saved_world_refreshes_in_the_fresh_server() {
    let live = TestEnv::start().await;
    let code = live.code(&Connect::default()).await;
    let tokens = live.exchange(&code).await;
    let saved = live.admin_ok(Method::GET, "/admin/snapshot", None).await;
    let fresh = TestEnv::start().await;
    fresh.admin_ok(Method::PUT, "/admin/snapshot", Some(saved)).await;

    let (status, body) = refresh(&fresh, &tokens.refresh_token).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    let access = body["access_token"].as_str().expect("an access token");
    assert_eq!(body_of(&fresh, "/v2.0/vehicles", access).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_subscription_and_a_callback_override_survive_a_round_trip() {
    let live = TestEnv::start().await;
    let (tokens, vehicle) = live
        .connect_vehicle("CHEVROLET", "read_vehicle_info read_odometer")
        .await;
    let subscribed = live
        .http
        .post(live.url(&format!("/v2.0/vehicles/{vehicle}/webhooks/{WEBHOOK}")))
        .bearer_auth(&tokens.access_token)
        .send()
        .await
        .expect("subscribe");
    assert_eq!(subscribed.status(), StatusCode::OK);
    live.state
        .webhooks
        .registry()
        .set_callback_url(WEBHOOK.parse().expect("a UUID"), "http://127.0.0.1:9/hook");
    let saved = live.admin_ok(Method::GET, "/admin/snapshot", None).await;

    let fresh = TestEnv::start().await;
    fresh.admin_ok(Method::PUT, "/admin/snapshot", Some(saved)).await;

    let registry = fresh.state.webhooks.registry();
    let webhook = WEBHOOK.parse().expect("a UUID");
    let log = registry.log(webhook).expect("the fixture webhook");
    assert_eq!(
        log.subscribed_vehicles,
        [vehicle.parse::<uuid::Uuid>().expect("a UUID")]
    );
    assert_eq!(
        registry.target(webhook).expect("a target").callback_url,
        "http://127.0.0.1:9/hook"
    );
}

#[tokio::test]
async fn loading_one_app_leaves_the_other_apps_alone() {
    let env = TestEnv::start().await;
    let ours = env.authorize("FORD", "read_vehicle_info").await;
    let theirs = env.authorize_as("sdk-test-client", "FORD", "read_vehicle_info").await;

    env.admin_ok(
        Method::PUT,
        "/admin/snapshot?app=demo-client",
        Some(json!({ "apps": { "demo-client": {} } })),
    )
    .await;

    assert_eq!(
        body_of(&env, "/v2.0/vehicles", &ours.access_token).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        body_of(&env, "/v2.0/vehicles", &theirs.access_token).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_refused_snapshot_names_the_path_and_changes_nothing() {
    let env = TestEnv::start().await;
    let car = env.authorize("FORD", "read_vehicle_info").await;

    let (status, body) = env
        .admin(
            Method::PUT,
            "/admin/snapshot",
            Some(json!({ "apps": { "demo-client": { "users": [
                { "login": "a@example.com", "vehicles": [{ "brand": "DELOREAN" }] }
            ] } } })),
        )
        .await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "bad_request");
    let message = body["message"].as_str().expect("a message");
    assert!(
        message.starts_with("apps.demo-client.users[0].vehicles[0].brand: expected a fixture brand ("),
        "{message}"
    );
    assert_eq!(
        body_of(&env, "/v2.0/vehicles", &car.access_token).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_low_battery_example_serves_its_vehicle_at_12_percent_with_its_own_token() {
    let env = TestEnv::with(MockServer::builder().scenario(example("low-battery-ev.json"))).await;
    let token = "5e1a0000-0000-4000-8000-00000000a001";

    let (status, battery) = body_of(
        &env,
        "/v2.0/vehicles/5e1a0000-0000-4000-8000-0000000000e1/battery",
        token,
    )
    .await;
    let (_, charge) = body_of(
        &env,
        "/v2.0/vehicles/5e1a0000-0000-4000-8000-0000000000e1/charge",
        token,
    )
    .await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(battery["percentRemaining"], 0.12);
    assert_eq!(charge["isPluggedIn"], false);
}

#[tokio::test]
async fn the_fleet_example_connects_25_vehicles_to_one_token() {
    let env = TestEnv::with(MockServer::builder().scenario(example("fleet-of-25.json"))).await;

    let (status, body) = body_of(&env, "/v2.0/vehicles?limit=50", "f1ee0000-0000-4000-8000-00000000a001").await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["paging"]["count"], 25, "{body}");
}

#[tokio::test]
async fn the_expired_token_example_refuses_its_access_token_and_refreshes() {
    let env = TestEnv::with(MockServer::builder().scenario(example("expired-access-token.json"))).await;

    let (expired, _) = body_of(&env, "/v2.0/vehicles", "e4b10000-0000-4000-8000-00000000a001").await;
    let (status, tokens) = refresh(&env, "e4b10000-0000-4000-8000-00000000f001").await;

    assert_eq!(expired, StatusCode::UNAUTHORIZED);
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let access = tokens["access_token"].as_str().expect("an access token");
    let (_, vehicles) = body_of(&env, "/v2.0/vehicles", access).await;
    assert_eq!(vehicles["vehicles"], json!(["e4b10000-0000-4000-8000-0000000000e1"]));
}

#[tokio::test]
async fn scenarios_given_together_add_their_users_up() {
    let server = MockServer::builder()
        .scenario(example("low-battery-ev.json"))
        .scenario(example("expired-access-token.json"))
        .start()
        .await;

    assert_eq!(server.vehicles(Some("demo-client")).len(), 2);
}

#[tokio::test]
async fn a_scenario_with_an_unknown_field_names_the_file_the_path_and_the_field() {
    let file = scenario_file(
        r#"{"apps": {"demo-client": {"users": [{"login": "a@example.com", "vehicles": [{"brand": "FORD", "colour": "red"}]}]}}}"#,
    );

    let error = MockServer::builder()
        .scenario(&file)
        .try_start()
        .await
        .expect_err("refused");

    let message = error.to_string();
    assert!(
        message.starts_with(&format!("scenario {}: ", file.display())),
        "{message}"
    );
    assert!(message.contains("apps.demo-client.users[0].vehicles[0]"), "{message}");
    assert!(message.contains("unknown field `colour`"), "{message}");
}

#[tokio::test]
async fn a_scenario_state_override_of_the_wrong_type_names_its_path() {
    let file = scenario_file(
        r#"{"apps": {"demo-client": {"users": [{"login": "a@example.com", "vehicles": [{"brand": "FORD", "state": {"battery": {"percentRemaining": "low"}}}]}]}}}"#,
    );

    let error = MockServer::builder()
        .scenario(&file)
        .try_start()
        .await
        .expect_err("refused");

    let message = error.to_string();
    assert!(
        message.contains("apps.demo-client.users[0].vehicles[0].state.battery.percentRemaining: invalid type"),
        "{message}"
    );
}

#[tokio::test]
async fn a_scenario_of_another_format_version_is_refused_naming_both_versions() {
    let file = scenario_file(r#"{"version": 7}"#);

    let error = MockServer::builder()
        .scenario(&file)
        .try_start()
        .await
        .expect_err("refused");

    assert!(
        error
            .to_string()
            .contains("version: this build reads snapshot version 1, the file is version 7"),
        "{error}"
    );
}
