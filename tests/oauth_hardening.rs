//! The token endpoint's security details: token families revoked on reuse (RFC 6749
//! §4.1.2, RFC 9700 §4.14.2) and client credentials read strictly (RFC 6749 §2.3.1).

use base64::Engine;
use mock_server::{Fixtures, MockServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{CLIENT_ID, CLIENT_SECRET, Connect, REDIRECT_URI, TestEnv, Tokens};

async fn refresh(env: &TestEnv, refresh_token: &str) -> (StatusCode, Value) {
    env.json(
        env.token_request(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token)])
            .await,
    )
    .await
}

async fn reads(env: &TestEnv, tokens: &Tokens) -> StatusCode {
    env.get("/v2.0/vehicles", &tokens.access_token).await.status()
}

fn tokens_of(body: &Value) -> Tokens {
    Tokens {
        access_token: body["access_token"].as_str().expect("access_token").to_owned(),
        refresh_token: body["refresh_token"].as_str().expect("refresh_token").to_owned(),
    }
}

#[tokio::test]
async fn a_reused_code_revokes_the_tokens_its_first_use_issued() {
    let env = TestEnv::start().await;
    let code = env.code(&Connect::default()).await;
    let first = env.exchange(&code).await;
    let (_, body) = refresh(&env, &first.refresh_token).await;
    let refreshed = tokens_of(&body);
    assert_eq!(reads(&env, &first).await, StatusCode::OK);

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

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({ "error": "invalid_request", "error_description": format!("Invalid code: {code}.") })
    );
    assert_eq!(reads(&env, &first).await, StatusCode::UNAUTHORIZED);
    assert_eq!(reads(&env, &refreshed).await, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(&env, &refreshed.refresh_token).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_refresh_token_reused_after_its_grace_period_revokes_its_family() {
    let env = TestEnv::start().await;
    let first = env.exchange(&env.code(&Connect::default()).await).await;
    let (_, body) = refresh(&env, &first.refresh_token).await;
    let second = tokens_of(&body);
    let (_, body) = refresh(&env, &second.refresh_token).await;
    let third = tokens_of(&body);
    env.state.clock.advance(time::Duration::minutes(2));

    let (status, body) = refresh(&env, &first.refresh_token).await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error_description"],
        format!("Invalid refresh_token: {}.", first.refresh_token)
    );
    for tokens in [&first, &second, &third] {
        assert_eq!(reads(&env, tokens).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(refresh(&env, &third.refresh_token).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_revocation_leaves_the_same_users_other_connections_alone() {
    let env = TestEnv::start().await;
    let connect = Connect::default();
    let revoked = env.exchange(&env.code(&connect).await).await;
    let other = env.exchange(&env.code(&connect).await).await;
    refresh(&env, &revoked.refresh_token).await;
    env.state.clock.advance(time::Duration::minutes(2));

    refresh(&env, &revoked.refresh_token).await;

    assert_eq!(reads(&env, &revoked).await, StatusCode::UNAUTHORIZED);
    assert_eq!(reads(&env, &other).await, StatusCode::OK);
}

async fn exchange_with(env: &TestEnv, basic: Option<(&str, &str)>, body: &[(&str, &str)]) -> (StatusCode, Value) {
    let code = env.code(&Connect::default()).await;
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
    ];
    form.extend_from_slice(body);
    let mut request = env.http.post(env.url("/oauth/token")).form(&form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    env.json(request.send().await.expect("token")).await
}

#[tokio::test]
async fn basic_and_body_credentials_that_differ_are_refused_like_a_wrong_secret() {
    let env = TestEnv::start().await;
    let basic = Some((CLIENT_ID, CLIENT_SECRET));
    let wrong_secret = json!({ "error": "invalid_client", "error_description": "Invalid client credentials." });

    let other_secret = exchange_with(&env, basic, &[("client_id", CLIENT_ID), ("client_secret", "other")]).await;
    let other_id = exchange_with(&env, basic, &[("client_id", "other-client")]).await;

    assert_eq!(other_secret, (StatusCode::UNAUTHORIZED, wrong_secret.clone()));
    assert_eq!(other_id, (StatusCode::UNAUTHORIZED, wrong_secret));
}

#[tokio::test]
async fn basic_and_body_credentials_that_agree_are_accepted() {
    let env = TestEnv::start().await;

    let (status, _) = exchange_with(
        &env,
        Some((CLIENT_ID, CLIENT_SECRET)),
        &[("client_id", CLIENT_ID), ("client_secret", CLIENT_SECRET)],
    )
    .await;

    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn basic_credentials_are_form_decoded() {
    let mut fixtures = Fixtures::embedded().expect("fixtures");
    let mut app = fixtures.app(CLIENT_ID).expect("demo app").clone();
    app.client_id = "a b".to_owned();
    app.client_secret = "c+d".to_owned();
    fixtures.upsert_app(app);
    let env = TestEnv::with(MockServer::builder().fixtures(fixtures)).await;
    let authorized: Value = env
        .http
        .post(env.url("/admin/authorize"))
        .json(&json!({ "client_id": "a b", "redirect_uri": REDIRECT_URI, "exchange": false }))
        .send()
        .await
        .expect("authorize")
        .json()
        .await
        .expect("json");
    let code = authorized["code"].as_str().expect("a code");
    let credentials = base64::engine::general_purpose::STANDARD.encode("a%20b:c%2Bd");

    let response = env
        .http
        .post(env.url("/oauth/token"))
        .header("authorization", format!("Basic {credentials}"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
        ])
        .send()
        .await
        .expect("token");

    assert_eq!(response.status(), StatusCode::OK);
}
