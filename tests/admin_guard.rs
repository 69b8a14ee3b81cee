//! Who may drive the admin API: only this machine, and never a web page of another origin —
//! "loopback only" is not enough on its own, because a browser on this machine is loopback too.

use mock_server::Settings;
use reqwest::header::{CONTENT_TYPE, HOST, ORIGIN};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::TestEnv;

const ONE_HOUR: &str = r#"{"by": "1h"}"#;

async fn offset_seconds(env: &TestEnv) -> i64 {
    env.admin_ok(Method::GET, "/admin/clock", None).await["offset_seconds"]
        .as_i64()
        .expect("seconds")
}

#[tokio::test]
async fn a_body_that_is_not_json_is_refused_with_415_and_changes_nothing() {
    let env = TestEnv::start().await;

    for content_type in [Some("text/plain"), Some("application/x-www-form-urlencoded"), None] {
        let mut request = env.http.post(env.url("/admin/clock/advance")).body(ONE_HOUR);
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        let (status, answer) = env.json(request.send().await.expect("POST")).await;

        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{content_type:?}");
        assert_eq!(answer["error"], "unsupported_media_type");
        assert!(
            answer["message"]
                .as_str()
                .is_some_and(|m| m.contains("application/json")),
            "{answer}"
        );
    }
    assert_eq!(offset_seconds(&env).await, 0, "the clock did not move");
}

#[tokio::test]
async fn a_json_body_with_a_charset_is_accepted() {
    let env = TestEnv::start().await;

    let response = env
        .http
        .post(env.url("/admin/clock/advance"))
        .header(CONTENT_TYPE, "Application/JSON; charset=utf-8")
        .body(ONE_HOUR)
        .send()
        .await
        .expect("POST");

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(offset_seconds(&env).await, 3600);
}

#[tokio::test]
async fn a_foreign_host_name_is_refused_so_dns_rebinding_cannot_reach_the_admin_api() {
    let env = TestEnv::start().await;

    let response = env
        .http
        .get(env.url("/admin/requests"))
        .header(HOST, "rebind.attacker.example:4000")
        .send()
        .await
        .expect("GET");
    let (status, answer) = env.json(response).await;

    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(answer["error"], "forbidden");
    assert!(
        answer["message"]
            .as_str()
            .is_some_and(|m| m.contains("rebind.attacker.example") && m.contains("--admin-token")),
        "{answer}"
    );
}

#[tokio::test]
async fn loopback_names_and_addresses_are_accepted_as_host_with_or_without_a_port() {
    let env = TestEnv::start().await;

    for host in [
        "localhost",
        "LOCALHOST:4000",
        "127.0.0.1",
        "127.0.0.1:4000",
        "127.8.9.10:1",
        "[::1]",
        "[::1]:4000",
    ] {
        let response = env
            .http
            .get(env.url("/admin/health"))
            .header(HOST, host)
            .send()
            .await
            .expect("GET");

        assert_eq!(response.status(), StatusCode::OK, "{host}");
    }
}

#[tokio::test]
async fn hosts_that_only_look_like_loopback_are_refused() {
    let env = TestEnv::start().await;

    for host in [
        "localhost.attacker.example",
        "127.0.0.1.nip.io",
        "128.0.0.1",
        "[::2]",
        "0.0.0.0",
    ] {
        let response = env
            .http
            .get(env.url("/admin/health"))
            .header(HOST, host)
            .send()
            .await
            .expect("GET");

        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{host}");
    }
}

#[tokio::test]
async fn a_cross_site_request_is_refused_even_without_a_body() {
    let env = TestEnv::start().await;
    env.advance_clock("1h").await;

    for origin in ["https://attacker.example", "null", "http://localhost:1"] {
        let response = env
            .http
            .delete(env.url("/admin/clock"))
            .header(ORIGIN, origin)
            .send()
            .await
            .expect("DELETE");
        let (status, answer) = env.json(response).await;

        assert_eq!(status, StatusCode::FORBIDDEN, "{origin}");
        assert!(
            answer["message"].as_str().is_some_and(|m| m.contains("Origin")),
            "{answer}"
        );
    }
    assert_eq!(offset_seconds(&env).await, 3600, "the clock was not reset");
}

#[tokio::test]
async fn a_page_served_by_the_mock_itself_can_call_the_admin_api() {
    let env = TestEnv::start().await;

    let response = env
        .http
        .post(env.url("/admin/clock/advance"))
        .header(ORIGIN, env.base.as_str())
        .json(&json!({ "by": "1h" }))
        .send()
        .await
        .expect("POST");

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(offset_seconds(&env).await, 3600);
}

#[tokio::test]
async fn the_admin_token_holder_may_use_any_host_name() {
    let env = TestEnv::with_settings(Settings {
        admin_token: Some("let-me-in".to_owned()),
        ..Settings::default()
    })
    .await;
    let call = |token: Option<&str>| {
        let mut request = env
            .http
            .get(env.url("/admin/health"))
            .header(HOST, "mock.ci.internal:4000");
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };

    let with = call(Some("let-me-in")).await.expect("GET").status();
    let without = call(None).await.expect("GET").status();

    assert_eq!(with, StatusCode::OK);
    assert_eq!(without, StatusCode::UNAUTHORIZED);
}
