//! Connect under hostile use: single-use steps, capped logins, one spelling per
//! vehicle count, no framing, and `state` returned byte for byte.

use mock_server::Settings;
use mock_server::{Fixtures, MockServer};
use reqwest::{StatusCode, header};
use serde_json::{Value, json};

use crate::support::{CLIENT_ID, REDIRECT_URI, TestEnv, location, text_of};

fn authorize_query<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut query = vec![
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT_URI),
        ("mode", "test"),
    ];
    query.extend_from_slice(extra);
    query
}

/// The brand's sign-in page of a fresh Connect flow.
async fn login_page(env: &TestEnv) -> String {
    let preamble = text_of(env.open_connect(&authorize_query(&[("make", "FORD")])).await).await;
    text_of(env.submit("/connect/brand", &preamble, &[]).await).await
}

/// The permissions page of a fresh Connect flow signed in as `username`.
async fn grant_page(env: &TestEnv, username: &str) -> String {
    let login = login_page(env).await;
    text_of(
        env.submit("/connect/sign-in", &login, &[("username", username), ("password", "p")])
            .await,
    )
    .await
}

/// Each new FORD user gets one vehicle, so this counts the users signed in.
fn user_count(env: &TestEnv) -> usize {
    env.state.world.vehicles(Some(CLIENT_ID)).len()
}

async fn refused_as_spent(response: reqwest::Response) {
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get(header::LOCATION).is_none());
    let page = response.text().await.expect("page");
    assert!(page.contains("This Connect session cannot continue"), "{page}");
    assert!(page.contains("already submitted"), "{page}");
}

#[tokio::test]
async fn a_submitted_sign_in_step_cannot_be_replayed_to_mint_users() {
    let env = TestEnv::start().await;
    let login = login_page(&env).await;
    let first = env
        .submit(
            "/connect/sign-in",
            &login,
            &[("username", "one@example.com"), ("password", "p")],
        )
        .await;
    assert_eq!(first.status(), StatusCode::OK);
    let before = user_count(&env);

    let replay = env
        .submit(
            "/connect/sign-in",
            &login,
            &[("username", "two@example.com"), ("password", "p")],
        )
        .await;

    refused_as_spent(replay).await;
    assert_eq!(user_count(&env), before, "no second user");
}

#[tokio::test]
async fn a_submitted_grant_step_cannot_be_replayed_to_mint_codes() {
    let env = TestEnv::start().await;
    let grant = grant_page(&env, "one@example.com").await;
    let first = env.submit("/connect/grant", &grant, &[("decision", "allow")]).await;
    assert_eq!(first.status(), StatusCode::FOUND);

    let replay = env.submit("/connect/grant", &grant, &[("decision", "allow")]).await;

    refused_as_spent(replay).await;
}

#[tokio::test]
async fn the_preamble_and_brand_steps_are_single_use_too() {
    let env = TestEnv::start().await;
    let preamble = text_of(env.open_connect(&authorize_query(&[])).await).await;
    let brands = text_of(env.submit("/connect/brand", &preamble, &[]).await).await;
    text_of(env.submit("/connect/login", &brands, &[("make", "KIA")]).await).await;

    refused_as_spent(env.submit("/connect/brand", &preamble, &[]).await).await;
    refused_as_spent(env.submit("/connect/login", &brands, &[("make", "KIA")]).await).await;
}

#[tokio::test]
async fn a_wrong_password_shows_a_fresh_login_page_that_works() {
    let env = TestEnv::start().await;
    let live = [
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT_URI),
        ("mode", "live"),
    ];
    let preamble = text_of(env.open_connect(&live).await).await;
    let brands = text_of(env.submit("/connect/brand", &preamble, &[]).await).await;
    let login = text_of(env.submit("/connect/login", &brands, &[("make", "FORD")]).await).await;
    let wrong = [("username", "nobody@example.com"), ("password", "wrong")];

    let again = text_of(env.submit("/connect/sign-in", &login, &wrong).await).await;
    let third = env.submit("/connect/sign-in", &again, &wrong).await;

    assert_eq!(third.status(), StatusCode::OK, "the re-shown page has its own step");
}

#[tokio::test]
async fn a_username_over_254_bytes_re_shows_the_login_page_with_the_cap() {
    let env = TestEnv::start().await;
    let login = login_page(&env).await;
    let username = format!("{}@example.com", "a".repeat(243));
    assert_eq!(username.len(), 255);

    let page = text_of(
        env.submit(
            "/connect/sign-in",
            &login,
            &[("username", &username), ("password", "p")],
        )
        .await,
    )
    .await;

    assert!(page.contains("at most 254 bytes"), "{page}");
    assert!(page.contains(r#"id="username""#));
    assert!(!page.contains(&username), "the long text is not echoed back");
    assert_eq!(user_count(&env), 0);
}

#[tokio::test]
async fn a_username_of_254_bytes_signs_in() {
    let env = TestEnv::start().await;
    let username = format!("{}@example.com", "a".repeat(242));

    let page = grant_page(&env, &username).await;

    assert!(page.contains(r#"id="approval-button""#), "{page}");
}

#[tokio::test]
async fn a_password_over_the_cap_re_shows_the_login_page() {
    let env = TestEnv::start().await;
    let login = login_page(&env).await;
    let password = "p".repeat(mock_server::MAX_PASSWORD_BYTES + 1);

    let page = text_of(
        env.submit(
            "/connect/sign-in",
            &login,
            &[("username", "a@example.com"), ("password", &password)],
        )
        .await,
    )
    .await;

    assert!(page.contains("A password has at most 1024 bytes"), "{page}");
    assert_eq!(user_count(&env), 0);
}

#[tokio::test]
async fn admin_authorize_refuses_an_email_over_254_bytes_naming_the_cap() {
    let env = TestEnv::start().await;
    let email = format!("{}@example.com", "a".repeat(300));

    let response = env
        .http
        .post(env.url("/admin/authorize"))
        .json(&json!({ "email": email }))
        .send()
        .await
        .expect("authorize");

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body,
        json!({
            "error": "bad_request",
            "message": "email has 312 bytes; usernames and e-mails are capped at 254 bytes"
        })
    );
}

async fn vehicles_of(env: &TestEnv, email: &str) -> usize {
    let response = env
        .http
        .post(env.url("/admin/authorize"))
        .json(&json!({ "email": email }))
        .send()
        .await
        .expect("authorize");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    body["vehicle_ids"].as_array().expect("vehicle ids").len()
}

#[tokio::test]
async fn a_vehicle_count_login_has_one_spelling_only() {
    let env = TestEnv::start().await;

    assert_eq!(vehicles_of(&env, "3-vehicles@smartcar.com").await, 3);
    assert_eq!(vehicles_of(&env, "+999-vehicles@smartcar.com").await, 1);
    assert_eq!(vehicles_of(&env, "0999-vehicles@smartcar.com").await, 1);
    assert_eq!(vehicles_of(&env, "00999-vehicles@smartcar.com").await, 1);
}

#[tokio::test]
async fn every_connect_page_forbids_framing() {
    let env = TestEnv::start().await;
    let preamble = env.open_connect(&authorize_query(&[])).await;
    let error_page = env.open_connect(&[("client_id", "nobody")]).await;
    let preamble_text = text_of(env.open_connect(&authorize_query(&[])).await).await;
    let step = env.submit("/connect/brand", &preamble_text, &[]).await;

    for response in [&preamble, &error_page, &step] {
        assert_eq!(response.headers()["x-frame-options"], "DENY");
        assert_eq!(response.headers()["content-security-policy"], "frame-ancestors 'none'");
    }
}

#[tokio::test]
async fn the_sdk_redirect_page_may_still_be_framed() {
    let env = TestEnv::start().await;

    let response = env
        .http
        .get(env.url("/v2/redirect?code=c&state=s"))
        .send()
        .await
        .expect("redirect page");

    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("x-frame-options").is_none());
}

#[tokio::test]
async fn state_with_bytes_that_are_not_utf8_comes_back_byte_for_byte() {
    let env = TestEnv::start().await;
    let url = format!(
        "{}/oauth/authorize?response_type=code&client_id={CLIENT_ID}&mode=test&make=FORD&state=%FF%FEa%2Bb+c%20d",
        env.base
    );
    let preamble = text_of(env.http.get(url).send().await.expect("authorize")).await;
    let login = text_of(env.submit("/connect/brand", &preamble, &[]).await).await;
    let grant = text_of(
        env.submit("/connect/sign-in", &login, &[("username", "a@b.c"), ("password", "p")])
            .await,
    )
    .await;

    let done = env.submit("/connect/grant", &grant, &[("decision", "deny")]).await;

    let location = location(&done);
    assert!(location.ends_with("&state=%FF%FEa%2Bb%2Bc+d"), "{location}");
}

#[tokio::test]
async fn allowing_after_the_user_was_forgotten_names_the_cap() {
    let settings = Settings {
        max_users: 1,
        ..Settings::default()
    };
    let fixtures = Fixtures::embedded().expect("fixtures");
    let env = TestEnv::with(MockServer::builder().fixtures(fixtures).settings(settings)).await;
    let first = grant_page(&env, "first@example.com").await;
    grant_page(&env, "second@example.com").await;

    let response = env.submit("/connect/grant", &first, &[("decision", "allow")]).await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let page = response.text().await.expect("page");
    assert!(page.contains("--max-users"), "{page}");
}
