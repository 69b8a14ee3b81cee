//! The token endpoint (docs/contract/oauth.md).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{CLIENT_ID, Connect, REDIRECT_URI, TestEnv};

#[tokio::test]
async fn exchanging_a_code_returns_bearer_tokens_valid_for_two_hours() {
    let env = TestEnv::start().await;
    let code = env.code(&Connect::default()).await;

    let (status, body) = env
        .json(
            env.token_request(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
            ])
            .await,
        )
        .await;

    assert_eq!(status, StatusCode::OK);
    let keys: Vec<&str> = body.as_object().expect("object").keys().map(String::as_str).collect();
    assert_eq!(keys, ["access_token", "token_type", "expires_in", "refresh_token"]);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 7200);
    assert_eq!(body["access_token"].as_str().map(str::len), Some(36));
    assert_eq!(body["refresh_token"].as_str().map(str::len), Some(36));
}

#[tokio::test]
async fn an_authorization_code_works_only_once() {
    let env = TestEnv::start().await;
    let code = env.code(&Connect::default()).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
    ];
    env.exchange(&code).await;

    let (status, body) = env.json(env.token_request(&form).await).await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({ "error": "invalid_request", "error_description": format!("Invalid code: {code}.") })
    );
}

#[tokio::test]
async fn an_unknown_code_gets_smartcars_exact_error() {
    let env = TestEnv::start().await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", "bad code here"),
        ("redirect_uri", REDIRECT_URI),
    ];

    let (status, body) = env.json(env.token_request(&form).await).await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({ "error": "invalid_request", "error_description": "Invalid code: bad code here." })
    );
}

#[tokio::test]
async fn a_code_is_bound_to_the_redirect_uri_used_at_connect() {
    let env = TestEnv::start().await;
    let code = env.code(&Connect::default()).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "http://localhost:8000/exchange"),
    ];

    let (status, body) = env.json(env.token_request(&form).await).await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_description"], format!("Invalid code: {code}."));
}

#[tokio::test]
async fn a_code_is_bound_to_the_client_it_was_issued_to() {
    let env = TestEnv::start().await;
    let code = env.code(&Connect::default()).await;

    let response = env
        .http
        .post(env.url("/oauth/token"))
        .basic_auth("sdk-test-client", Some("sdk-test-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
        ])
        .send()
        .await
        .expect("token");

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_code_expires_after_ten_minutes() {
    let env = TestEnv::start().await;
    let code = env.code(&Connect::default()).await;
    env.state.clock.advance(time::Duration::minutes(11));

    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
    ];
    let (status, _) = env.json(env.token_request(&form).await).await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_wrong_client_secret_gets_invalid_client() {
    let env = TestEnv::start().await;

    let response = env
        .http
        .post(env.url("/oauth/token"))
        .basic_auth(CLIENT_ID, Some("wrong"))
        .form(&[("grant_type", "authorization_code"), ("code", "x")])
        .send()
        .await
        .expect("token");

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], "Basic");
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body,
        json!({ "error": "invalid_client", "error_description": "Invalid client credentials." })
    );
}

#[tokio::test]
async fn client_credentials_may_come_in_the_form_body() {
    let env = TestEnv::start().await;
    let code = env.code(&Connect::default()).await;

    let response = env
        .http
        .post(env.url("/oauth/token"))
        .form(&[
            ("client_id", CLIENT_ID),
            ("client_secret", "demo-secret"),
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
        ])
        .send()
        .await
        .expect("token");

    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_token_endpoint_also_answers_at_the_root() {
    let env = TestEnv::start().await;
    let code = env.code(&Connect::default()).await;

    let response = env
        .http
        .post(env.url("/"))
        .basic_auth(CLIENT_ID, Some("demo-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
        ])
        .send()
        .await
        .expect("token");

    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_refresh_returns_new_tokens_and_keeps_the_old_access_token_working() {
    let env = TestEnv::start().await;
    let first = env.exchange(&env.code(&Connect::default()).await).await;

    let (status, body) = env
        .json(
            env.token_request(&[("grant_type", "refresh_token"), ("refresh_token", &first.refresh_token)])
                .await,
        )
        .await;

    assert_eq!(status, StatusCode::OK);
    assert_ne!(body["access_token"], first.access_token.as_str());
    assert_ne!(body["refresh_token"], first.refresh_token.as_str());
    assert_eq!(
        env.get("/v2.0/user", &first.access_token).await.status(),
        StatusCode::OK
    );
    let new_token = body["access_token"].as_str().expect("token");
    assert_eq!(env.get("/v2.0/user", new_token).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_used_refresh_token_stops_working_after_its_grace_period() {
    let env = TestEnv::start().await;
    let tokens = env.exchange(&env.code(&Connect::default()).await).await;
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens.refresh_token.as_str()),
    ];
    env.token_request(&form).await;

    let within_grace = env.token_request(&form).await.status();
    env.state.clock.advance(time::Duration::minutes(2));
    let after_grace = env.token_request(&form).await.status();

    assert_eq!(within_grace, StatusCode::OK);
    assert_eq!(after_grace, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_invalid_refresh_token_gets_smartcars_exact_error() {
    let env = TestEnv::start().await;

    let (status, body) = env
        .json(
            env.token_request(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "THIS_SHOULD_NOT_WORK"),
            ])
            .await,
        )
        .await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({ "error": "invalid_request", "error_description": "Invalid refresh_token: THIS_SHOULD_NOT_WORK." })
    );
}

#[tokio::test]
async fn a_missing_or_unknown_grant_type_is_refused() {
    let env = TestEnv::start().await;

    let (missing_status, missing) = env.json(env.token_request(&[("code", "x")]).await).await;
    let (unknown_status, unknown) = env.json(env.token_request(&[("grant_type", "password")]).await).await;

    assert_eq!(missing_status, StatusCode::BAD_REQUEST);
    assert_eq!(
        missing,
        json!({ "error": "invalid_request", "error_description": "Missing required parameter: grant_type." })
    );
    assert_eq!(unknown_status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown["error"], "unsupported_grant_type");
}

#[tokio::test]
async fn a_refresh_token_dies_after_sixty_days() {
    let env = TestEnv::start().await;
    let tokens = env.exchange(&env.code(&Connect::default()).await).await;
    env.state.clock.advance(time::Duration::days(60));

    let status = env
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &tokens.refresh_token),
        ])
        .await
        .status();

    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_oversized_body_gets_a_token_error_not_a_crash() {
    let env = TestEnv::start().await;
    let huge = "a".repeat(2 * 1024 * 1024);

    let (status, body) = env
        .json(
            env.token_request(&[("grant_type", "authorization_code"), ("code", &huge)])
                .await,
        )
        .await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({ "error": "invalid_request", "error_description": "The request body could not be read." })
    );
}

#[tokio::test]
async fn a_body_that_is_not_a_form_is_a_missing_grant_type() {
    let env = TestEnv::start().await;

    let response = env
        .http
        .post(env.url("/oauth/token"))
        .basic_auth(CLIENT_ID, Some("demo-secret"))
        .header("content-type", "application/json")
        .body(r#"{"grant_type": "authorization_code""#)
        .send()
        .await
        .expect("token");

    assert_eq!(env.json(response).await.1["error"], "invalid_request");
}
