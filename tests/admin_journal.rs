//! The request journal: what an app sent, what it got, and in plain words why a 4xx happened.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{CLIENT_ID, Connect, REDIRECT_URI, TestEnv};

fn reason(record: &Value) -> &str {
    record["reason"]
        .as_str()
        .unwrap_or_else(|| panic!("no reason in {record}"))
}

#[tokio::test]
async fn a_journal_query_answers_what_my_app_sent_to_charge() {
    let env = TestEnv::start().await;
    let car = env.authorize("CHEVROLET", "read_charge read_odometer").await;
    env.read(&car, "/odometer").await;
    env.http
        .get(env.url(&format!("/v2.0/vehicles/{}/charge?trace=1", car.vehicle)))
        .bearer_auth(&car.access_token)
        .header("sc-unit-system", "imperial")
        .send()
        .await
        .expect("GET");

    let records = env.journal("app=demo-client&path=*/charge").await;

    assert_eq!(records.len(), 1, "{records:?}");
    let record = &records[0];
    assert_eq!(record["method"], "GET");
    assert_eq!(record["path"], format!("/v2.0/vehicles/{}/charge", car.vehicle));
    assert_eq!(record["query"], json!({ "trace": "1" }));
    assert_eq!(record["headers"]["sc-unit-system"], "imperial");
    assert_eq!(record["status"], 200);
    assert!(record["response_body"]["isPluggedIn"].is_boolean(), "{record}");
    assert_eq!(record["app"], CLIENT_ID);
    assert_eq!(record["vehicle"], car.vehicle.as_str());
    assert_eq!(record["user"], car.user.as_str());
    assert!(record["latency_ms"].is_number());
    assert!(record["request_id"].is_string());
    let authorization = record["headers"]["authorization"].as_str().expect("masked header");
    assert!(authorization.starts_with("Bearer ***") && !authorization.contains(&car.access_token));
}

#[tokio::test]
async fn records_come_newest_first_and_filter_by_status_and_since() {
    let env = TestEnv::start().await;
    let car = env.authorize("CHEVROLET", "read_odometer").await;
    env.read(&car, "/odometer").await;
    env.read(&car, "/location").await;
    env.advance_clock("10m").await;
    env.read(&car, "/vin").await;

    let all = env.journal("app=demo-client").await;
    let forbidden = env.journal("app=demo-client&status=4xx").await;
    let recent = env.journal("app=demo-client&since=5m").await;

    let paths: Vec<&str> = all.iter().map(|r| r["path"].as_str().unwrap_or("")).collect();
    assert!(
        paths[0].ends_with("/vin") && paths[2].ends_with("/odometer"),
        "{paths:?}"
    );
    assert_eq!(forbidden.len(), 2, "location and vin were not granted");
    assert_eq!(recent.len(), 1);
}

#[tokio::test]
async fn a_missing_scope_is_explained_with_what_was_granted() {
    let env = TestEnv::start().await;
    let car = env.authorize("CHEVROLET", "read_odometer read_vin").await;
    env.read(&car, "/location").await;

    let records = env.journal("app=demo-client&status=403").await;

    assert_eq!(
        reason(&records[0]),
        "scope read_location was not granted (granted: read_odometer, read_vin)"
    );
}

#[tokio::test]
async fn an_expired_token_is_explained_on_the_virtual_clock() {
    let env = TestEnv::start().await;
    let car = env.authorize("CHEVROLET", "read_odometer").await;
    env.advance_clock("2h 3m").await;
    env.read(&car, "/odometer").await;

    // An expired token proves nothing any more: the record is unattributed, naming its app.
    let records = env.journal("claimed_app=demo-client&status=401").await;

    assert_eq!(records[0]["app"], Value::Null);
    assert_eq!(
        reason(&records[0]),
        "access token expired 3 min ago on the virtual clock"
    );
}

#[tokio::test]
async fn token_endpoint_refusals_are_explained_and_the_secret_is_masked() {
    let env = TestEnv::start().await;
    let code = env.code(&Connect::default()).await;
    env.exchange(&code).await;
    env.token_request(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", REDIRECT_URI),
    ])
    .await;
    let other_code = env.code(&Connect::default()).await;
    env.token_request(&[
        ("grant_type", "authorization_code"),
        ("code", &other_code),
        ("redirect_uri", "https://example.com/elsewhere"),
    ])
    .await;
    env.http
        .post(env.url("/oauth/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", CLIENT_ID),
            ("client_secret", "wrong"),
        ])
        .send()
        .await
        .expect("token request");

    // Every ring: the wrong secret is not demo-client's request, only one naming it.
    let records = env.journal("path=/oauth/token&status=4xx").await;

    assert_eq!(records[0]["app"], Value::Null);
    assert_eq!(records[0]["claimed_app"], CLIENT_ID);
    assert_eq!(records[1]["app"], CLIENT_ID);
    let reasons: Vec<&str> = records.iter().map(reason).collect();
    assert_eq!(reasons[0], "client secret does not match app demo-client");
    assert!(
        reasons[1].starts_with("redirect_uri differs from the one used at Connect"),
        "{}",
        reasons[1]
    );
    let reused = reasons[2]
        .strip_prefix("code was already exchanged at ")
        .unwrap_or_else(|| panic!("{}", reasons[2]));
    let at: Vec<&str> = reused.get(..8).unwrap_or_default().split(':').collect();
    assert!(
        at.len() == 3
            && at
                .iter()
                .all(|part| part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit())),
        "a time of day to the second: {}",
        reasons[2]
    );
    assert_eq!(records[0]["body"]["client_secret"], "***");
    assert_eq!(records[1]["headers"]["authorization"], "Basic demo-client:***");
}

#[tokio::test]
async fn a_fault_is_named_in_the_journal() {
    let env = TestEnv::start().await;
    let car = env.authorize("CHEVROLET", "read_odometer").await;
    let rule = env
        .add_fault(json!({ "error": "VEHICLE_STATE:ASLEEP", "times": 1 }))
        .await;
    env.read(&car, "/odometer").await;

    let records = env.journal("app=demo-client").await;

    assert_eq!(records[0]["fault"], rule);
    assert_eq!(
        reason(&records[0]),
        format!("fault rule {rule} answered with VEHICLE_STATE:ASLEEP")
    );
}

#[tokio::test]
async fn the_journal_keeps_only_the_newest_records() {
    let env = TestEnv::with_settings(mock_server::Settings {
        journal_size: 3,
        ..mock_server::Settings::default()
    })
    .await;
    let car = env.authorize("CHEVROLET", "read_odometer").await;
    for _ in 0..5 {
        env.read(&car, "/odometer").await;
    }

    let records = env.journal("app=demo-client").await;

    assert_eq!(records.len(), 3);
}

#[tokio::test]
async fn admin_calls_are_not_journaled_and_the_journal_can_be_cleared() {
    let env = TestEnv::start().await;
    let car = env.authorize("CHEVROLET", "read_odometer").await;
    env.read(&car, "/odometer").await;

    let before = env.journal("").await;
    env.admin_ok(Method::DELETE, "/admin/requests?app=demo-client", None)
        .await;
    let after = env.journal("app=demo-client").await;

    assert!(
        before
            .iter()
            .all(|r| !r["path"].as_str().unwrap_or("").starts_with("/admin"))
    );
    assert_eq!(before.len(), 1);
    assert!(after.is_empty());
}

#[tokio::test]
async fn a_bad_filter_is_refused() {
    let env = TestEnv::start().await;

    let (status, _) = env
        .admin(Method::GET, "/admin/requests?since=yesterday-ish", None)
        .await;
    let (unknown, _) = env
        .json(
            env.http
                .get(env.url("/admin/requests?colour=red"))
                .send()
                .await
                .expect("GET"),
        )
        .await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_connect_error_redirect_is_explained_too() {
    let env = TestEnv::start().await;
    env.admin_ok(
        Method::POST,
        "/admin/faults/connect",
        Some(json!({ "app": CLIENT_ID, "error": "server_error" })),
    )
    .await;
    env.walk_connect_until_sign_in(&Connect::default()).await;

    // Connect pages are public: the signed flow says which app's Connect it is, not who asks.
    let records = env.journal("claimed_app=demo-client&path=/connect/sign-in").await;

    assert_eq!(records[0]["status"], 302);
    assert_eq!(
        reason(&records[0]),
        "Connect ended with server_error: Unexpected server error. Please try again."
    );
}

#[tokio::test]
async fn a_connect_page_is_kept_by_its_size_only() {
    let env = TestEnv::start().await;
    let page = env
        .open_connect(&[
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT_URI),
        ])
        .await;
    assert_eq!(page.status(), StatusCode::OK);

    let records = env.journal("claimed_app=demo-client&path=/oauth/authorize").await;

    let record = &records[0];
    assert_eq!(record["status"], 200);
    assert_eq!(record["response_body"], Value::Null);
    assert_eq!(record["truncated"]["response_body"]["kept"], 0);
    assert!(
        record["truncated"]["response_body"]["size"].as_u64() > Some(1000),
        "{record}"
    );
}

#[tokio::test]
async fn the_journal_shows_the_charge_commands_my_app_sent_and_why_one_failed() {
    let env = TestEnv::start().await;
    let car = env.authorize_simulated("CHEVROLET", "read_charge control_charge").await;
    env.set_state(
        &car,
        json!({ "charge": { "isPluggedIn": false, "state": "NOT_CHARGING" } }),
    )
    .await;
    env.command(&car, "/charge", json!({ "action": "START" })).await;
    env.set_state(&car, json!({ "charge": { "isPluggedIn": true } })).await;
    env.command(&car, "/charge", json!({ "action": "START" })).await;
    env.read(&car, "/charge").await;

    let sent = env.journal("app=demo-client&method=POST&path=*/charge").await;

    assert_eq!(sent.len(), 2, "the GET is not a command");
    assert_eq!(sent[0]["body"], json!({ "action": "START" }));
    assert_eq!(sent[0]["status"], 200);
    assert_eq!(sent[1]["status"], 409);
    assert_eq!(reason(&sent[1]), "the vehicle is not plugged in");
}

#[tokio::test]
async fn a_made_up_client_id_is_journaled_under_no_app() {
    let env = TestEnv::start().await;
    env.open_connect(&[("response_type", "code"), ("client_id", "made-up")])
        .await;

    let mine = env.journal("app=made-up").await;
    let all = env.journal("path=/oauth/authorize").await;

    assert!(mine.is_empty());
    assert_eq!(all[0]["app"], Value::Null);
    assert_eq!(all[0]["status"], 400);
    assert_eq!(
        reason(&all[0]),
        "Unknown application: No application has the client_id made-up."
    );
}

#[tokio::test]
async fn a_stranger_naming_the_app_cannot_push_its_records_out() {
    let env = TestEnv::with_settings(mock_server::Settings {
        journal_size: 3,
        ..mock_server::Settings::default()
    })
    .await;
    let car = env.authorize("CHEVROLET", "read_odometer").await;
    env.read(&car, "/odometer").await;

    for _ in 0..5 {
        env.http
            .get(env.url(&format!(
                "/v2.0/vehicles/{}/odometer?client_id={CLIENT_ID}",
                car.vehicle
            )))
            .send()
            .await
            .expect("GET");
    }
    let mine = env.journal("app=demo-client").await;
    let claimed = env.journal("claimed_app=demo-client").await;

    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0]["status"], 200);
    assert_eq!(claimed.len(), 3, "the unattributed ring keeps its own newest 3");
    assert!(
        claimed
            .iter()
            .all(|r| r["app"] == Value::Null && r["claimed_app"] == CLIENT_ID && r["status"] == 401),
        "{claimed:?}"
    );
}

#[tokio::test]
async fn a_record_keeps_a_few_kib_of_headers_and_body_and_says_what_it_cut() {
    let env = TestEnv::start().await;
    let car = env.authorize("CHEVROLET", "read_charge control_charge").await;
    let mut request = env
        .http
        .post(env.url(&format!("/v2.0/vehicles/{}/charge", car.vehicle)))
        .bearer_auth(&car.access_token)
        .header("content-type", "application/json");
    for i in 0..90 {
        request = request.header(format!("x-padding-{i}"), "p".repeat(2048));
    }
    let body = format!(r#"{{"action": "START", "note": "{}"}}"#, "n".repeat(100 * 1024));
    request.body(body.clone()).send().await.expect("POST");

    let records = env.journal("app=demo-client&method=POST").await;

    let record = &records[0];
    let headers = record["headers"].as_object().expect("headers");
    let header_bytes: usize = headers
        .iter()
        .map(|(name, value)| name.len() + value.as_str().map_or(0, str::len))
        .sum();
    assert!(header_bytes <= 4096, "{header_bytes} bytes of headers kept");
    assert!(
        headers["authorization"]
            .as_str()
            .is_some_and(|a| a.starts_with("Bearer ***")),
        "the small, useful headers are kept: {headers:?}"
    );
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(record["body"].as_str().map(str::len), Some(4096));
    assert_eq!(record["truncated"]["body"], json!({ "kept": 4096, "size": body.len() }));
    assert_eq!(record["truncated"]["headers"]["kept"], headers.len());
    assert!(record["truncated"]["headers"]["of"].as_u64() > Some(90));
}
