//! Browser-free authorization: `POST /admin/authorize`, `--auto-approve`, Connect-side faults and
//! who may reach the admin API.

use mock_server::Settings;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::text;
use crate::support::{CLIENT_ID, Connect, REDIRECT_URI, TestEnv, location, query_value};

#[tokio::test]
async fn one_admin_call_returns_tokens_that_read_the_connected_vehicle() {
    let env = TestEnv::start().await;

    let answer = env
        .admin_ok(
            Method::POST,
            "/admin/authorize",
            Some(json!({ "brand": "FORD", "scope": "read_odometer control_charge" })),
        )
        .await;
    let token = text(&answer["access_token"]);
    let vehicle = text(&answer["vehicle_ids"][0]);
    let odometer = env.get(&format!("/v2.0/vehicles/{vehicle}/odometer"), &token).await;
    let permissions = env.get(&format!("/v2.0/vehicles/{vehicle}/permissions"), &token).await;

    assert_eq!(answer["expires_in"], 7200);
    assert_eq!(answer["token_type"], "Bearer");
    assert!(answer["refresh_token"].is_string() && answer["user_id"].is_string());
    assert_eq!(odometer.status(), StatusCode::OK);
    assert_eq!(
        env.json(permissions).await.1["permissions"],
        json!(["read_odometer", "control_charge"])
    );
}

#[tokio::test]
async fn asking_for_the_code_only_gives_a_code_the_token_endpoint_exchanges() {
    let env = TestEnv::start().await;

    let answer = env
        .admin_ok(
            Method::POST,
            "/admin/authorize",
            Some(json!({ "scope": ["read_vin"], "redirect_uri": REDIRECT_URI, "exchange": false })),
        )
        .await;
    let tokens = env.exchange(&text(&answer["code"])).await;

    assert_eq!(answer["redirect_uri"], REDIRECT_URI);
    assert!(!tokens.access_token.is_empty());
}

#[tokio::test]
async fn a_given_email_follows_the_test_mode_grammar() {
    let env = TestEnv::start().await;

    let answer = env
        .admin_ok(
            Method::POST,
            "/admin/authorize",
            Some(json!({ "email": "3-vehicles@smartcar.com" })),
        )
        .await;
    let refused = env
        .admin(
            Method::POST,
            "/admin/authorize",
            Some(json!({ "email": "smartcar@invalid-subscription.com" })),
        )
        .await;

    assert_eq!(answer["vehicle_ids"].as_array().map(Vec::len), Some(3));
    assert_eq!(refused.0, StatusCode::CONFLICT);
    assert_eq!(refused.1["error"], "invalid_subscription");
}

#[tokio::test]
async fn in_live_mode_a_test_login_is_an_ordinary_e_mail_as_on_the_connect_pages() {
    let env = TestEnv::start().await;

    let many = env
        .admin_ok(
            Method::POST,
            "/admin/authorize",
            Some(json!({ "mode": "live", "brand": "FORD", "email": "3-vehicles@smartcar.com" })),
        )
        .await;
    let (status, _) = env
        .admin(
            Method::POST,
            "/admin/authorize",
            Some(json!({ "mode": "live", "email": "smartcar@invalid-subscription.com" })),
        )
        .await;

    assert_eq!(
        many["vehicle_ids"].as_array().map(Vec::len),
        Some(1),
        "the brand's vehicle"
    );
    assert_eq!(status, StatusCode::OK, "no Connect error outside test mode");
}

#[tokio::test]
async fn a_blank_email_is_refused_as_the_sign_in_form_refuses_it() {
    let env = TestEnv::start().await;

    let (status, answer) = env
        .admin(Method::POST, "/admin/authorize", Some(json!({ "email": "  " })))
        .await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["message"], "email must not be empty");
}

#[tokio::test]
async fn an_unknown_permission_or_app_is_refused_with_a_message() {
    let env = TestEnv::start().await;

    let (scope_status, scope) = env
        .admin(Method::POST, "/admin/authorize", Some(json!({ "scope": "read_minds" })))
        .await;
    let (app_status, _) = env
        .admin(Method::POST, "/admin/authorize", Some(json!({ "client_id": "nobody" })))
        .await;

    assert_eq!(scope_status, StatusCode::BAD_REQUEST);
    assert_eq!(scope["message"], "unknown permission read_minds");
    assert_eq!(app_status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn auto_approve_answers_the_authorize_url_with_a_code_for_the_make() {
    let env = TestEnv::with_settings(Settings {
        auto_approve: true,
        ..Settings::default()
    })
    .await;

    let response = env
        .open_connect(&[
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "read_vehicle_info read_odometer"),
            ("make", "TESLA"),
            ("state", "abc+123"),
            ("mode", "test"),
        ])
        .await;
    let location = location(&response);
    let code = query_value(&location, "code").expect("a code");
    let tokens = env.exchange(&code).await;
    let vehicles = env.json(env.get("/v2.0/vehicles", &tokens.access_token).await).await.1;
    let id = text(&vehicles["vehicles"][0]);
    let attributes = env
        .json(env.get(&format!("/v2.0/vehicles/{id}"), &tokens.access_token).await)
        .await
        .1;

    assert_eq!(response.status(), StatusCode::FOUND);
    assert!(location.starts_with("https://example.com/auth?code="), "{location}");
    assert_eq!(query_value(&location, "state").as_deref(), Some("abc+123"));
    assert_eq!(attributes["make"], "TESLA");
}

#[tokio::test]
async fn auto_approve_uses_the_apps_default_brand_and_the_same_user_each_time() {
    let env = TestEnv::with_settings(Settings {
        auto_approve: true,
        ..Settings::default()
    })
    .await;
    let query = [
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT_URI),
    ];

    let mut users = Vec::new();
    for _ in 0..2 {
        let location = location(&env.open_connect(&query).await);
        let tokens = env.exchange(&query_value(&location, "code").expect("a code")).await;
        users.push(env.json(env.get("/v2.0/user", &tokens.access_token).await).await.1["id"].clone());
    }

    assert_eq!(users[0], users[1]);
}

#[tokio::test]
async fn a_connect_fault_ends_the_next_authorization_on_the_pages_then_is_used_up() {
    let env = TestEnv::start().await;
    env.admin_ok(
        Method::POST,
        "/admin/faults/connect",
        Some(json!({ "app": CLIENT_ID, "error": "access_denied" })),
    )
    .await;
    let connect = Connect {
        state: Some("s1"),
        ..Connect::default()
    };

    let failed = env.walk_connect_until_sign_in(&connect).await;
    let next = env.walk_connect(&connect, "allow").await;

    assert_eq!(query_value(&failed, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_value(&failed, "state").as_deref(), Some("s1"));
    assert!(query_value(&next, "code").is_some(), "the fault is used up: {next}");
}

#[tokio::test]
async fn every_connect_fault_kind_reaches_the_redirect() {
    let env = TestEnv::with_settings(Settings {
        auto_approve: true,
        ..Settings::default()
    })
    .await;
    let kinds = [
        "access_denied",
        "invalid_subscription",
        "vehicle_incompatible",
        "no_vehicles",
        "configuration_error",
        "server_error",
    ];

    for kind in kinds {
        env.admin_ok(
            Method::POST,
            "/admin/faults/connect",
            Some(json!({ "app": CLIENT_ID, "error": kind })),
        )
        .await;
        let response = env
            .open_connect(&[
                ("response_type", "code"),
                ("client_id", CLIENT_ID),
                ("redirect_uri", REDIRECT_URI),
            ])
            .await;

        let location = location(&response);
        assert_eq!(query_value(&location, "error").as_deref(), Some(kind), "{location}");
        assert!(query_value(&location, "error_description").is_some());
    }
}

#[tokio::test]
async fn a_connect_fault_for_one_login_leaves_other_users_alone() {
    let env = TestEnv::start().await;
    env.admin_ok(
        Method::POST,
        "/admin/faults/connect",
        Some(json!({ "app": CLIENT_ID, "email": "jane@example.com", "error": "no_vehicles" })),
    )
    .await;

    let other = env
        .admin(
            Method::POST,
            "/admin/authorize",
            Some(json!({ "email": "joe@example.com" })),
        )
        .await;
    let jane = env
        .admin(
            Method::POST,
            "/admin/authorize",
            Some(json!({ "email": "Jane@example.com" })),
        )
        .await;

    assert_eq!(other.0, StatusCode::OK);
    assert_eq!(jane.0, StatusCode::CONFLICT);
    assert_eq!(jane.1["error"], "no_vehicles");
}

#[tokio::test]
async fn with_an_admin_token_the_admin_api_needs_it() {
    let env = TestEnv::with_settings(Settings {
        admin_token: Some("let-me-in".to_owned()),
        ..Settings::default()
    })
    .await;

    let without = env.http.get(env.url("/admin/health")).send().await.expect("call");
    let wrong = env
        .http
        .get(env.url("/admin/health"))
        .bearer_auth("guess")
        .send()
        .await
        .expect("call");
    let with = env
        .http
        .get(env.url("/admin/health"))
        .bearer_auth("let-me-in")
        .send()
        .await
        .expect("call");

    assert_eq!(without.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(with.status(), StatusCode::OK);
    assert_eq!(env.json(with).await.1["status"], "ok");
}

#[tokio::test]
async fn an_unknown_admin_route_is_a_json_404() {
    let env = TestEnv::start().await;

    let (status, answer) = env.admin(Method::GET, "/admin/nothing-here", None).await;

    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer["error"], "not_found");
}
