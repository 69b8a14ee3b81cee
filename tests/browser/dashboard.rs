//! The mock's live dashboard in a real browser: vehicles appear without a reload,
//! its controls drive the car the API then reports, requests show with their reasons, and nothing
//! it serves names another host.
//!
//! `DASHBOARD_SCREENSHOTS=<dir>` and `--ignored` run the screenshot tour instead
//! (`scripts/dashboard-screenshots.sh`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::routing::post;
use fantoccini::{Client, Locator};
use mock_server::MockServer;
use serde_json::{Value, json};

use crate::support::TestEnv;

use super::driver::{bind, click, demo_fixtures, eventually, find, start_mock, text_of, type_into, with_browser};

/// The demo app's webhook that carries battery and charge signals.
const WEBHOOK: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";

/// A webhook receiver: every body it was sent, answering 200.
fn receive_webhooks(listener: tokio::net::TcpListener) -> Arc<Mutex<Vec<Value>>> {
    let received = Arc::new(Mutex::new(Vec::new()));
    let bodies = received.clone();
    let app = Router::new().route(
        "/hook",
        post(move |Json(body): Json<Value>| {
            let bodies = bodies.clone();
            async move {
                bodies.lock().expect("the receiver's log").push(body);
                Json(json!({}))
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    received
}

/// The mock with the demo app's state webhook pointed at `callback_url`.
async fn start_mock_with_webhook(callback_url: &str) -> (MockServer, String) {
    let (listener, url) = bind().await;
    let mut fixtures = demo_fixtures(&[]);
    let mut app = fixtures.app("demo-client").expect("the demo app").clone();
    for hook in &mut app.webhooks {
        hook.callback_url = callback_url.to_owned();
    }
    fixtures.upsert_app(app);
    let mock = MockServer::builder()
        .fixtures(fixtures)
        .listener(listener)
        .start()
        .await;
    (mock, url)
}

/// `POST /admin/authorize` for the demo app: the answer.
async fn authorize(mock: &str, brand: &str, scope: &str) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{mock}/admin/authorize"))
        .json(&json!({ "client_id": "demo-client", "brand": brand, "scope": scope }))
        .send()
        .await
        .expect("admin authorize");
    assert!(response.status().is_success(), "authorize: {}", response.status());
    response.json().await.expect("JSON")
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not text"))
        .to_owned()
}

/// `GET {mock}{path}` with the bearer token: the status and the JSON.
async fn read(mock: &str, token: &str, path: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(format!("{mock}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("a vehicle read");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The trimmed text of `css`, or `None` while it is missing.
async fn current_text(browser: &Client, css: &str) -> Option<String> {
    let element = browser.find(Locator::Css(css)).await.ok()?;
    Some(element.text().await.ok()?.trim().to_owned())
}

/// Waits until `css` reads `expected`.
async fn wait_for_text(browser: &Client, css: &str, expected: &str) {
    let seen = eventually(|| async { current_text(browser, css).await.filter(|text| text == expected) }).await;
    assert!(
        seen.is_some(),
        "{css} never read {expected:?} (it reads {:?})",
        current_text(browser, css).await
    );
}

#[tokio::test]
async fn a_vehicle_connected_through_connect_appears_on_the_dashboard_within_a_second_without_reload() {
    let env = TestEnv::start().await;
    let mock_url = env.url("");
    with_browser(&[], move |browser| async move {
        browser
            .goto(&format!("{mock_url}/dashboard"))
            .await
            .expect("the overview");
        find(&browser, "section[data-app='demo-client']").await;
        wait_for_text(&browser, "#live", "live").await;

        // Connect's pages walked over HTTP as a browser would, then the code exchanged.
        let (_, vehicle) = env.connect_vehicle("TESLA", "read_vehicle_info read_battery").await;
        let connected = Instant::now();
        let row = format!("tr[data-vehicle-id='{vehicle}']");
        let shown = eventually(|| async { browser.find(Locator::Css(&row)).await.ok().map(|_| Instant::now()) })
            .await
            .expect("the new vehicle shows on the overview");

        let waited = shown.saturating_duration_since(connected);
        assert!(waited <= Duration::from_secs(1), "it took {waited:?}");
    })
    .await;
}

#[tokio::test]
async fn plugging_in_and_charging_from_the_vehicle_page_charges_the_car_and_its_webhook_hears_of_it() {
    let (receiver_listener, receiver) = bind().await;
    let received = receive_webhooks(receiver_listener);
    let (mock, mock_url) = start_mock_with_webhook(&format!("{receiver}/hook")).await;
    let answer = authorize(
        &mock_url,
        "TESLA",
        "read_vehicle_info read_battery read_charge control_charge",
    )
    .await;
    let token = text(&answer["access_token"]);
    let vehicle = text(&answer["vehicle_ids"][0]);
    let subscribed = reqwest::Client::new()
        .post(format!("{mock_url}/v2.0/vehicles/{vehicle}/webhooks/{WEBHOOK}"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("a subscription");
    assert!(subscribed.status().is_success());
    let first_delivery = eventually(|| async { (!received.lock().ok()?.is_empty()).then_some(()) }).await;
    assert!(first_delivery.is_some(), "the subscription's first delivery arrives");
    let before = received.lock().expect("the receiver's log").len();

    with_browser(&[], move |browser| async move {
        browser
            .goto(&format!("{mock_url}/dashboard/vehicles/{vehicle}"))
            .await
            .expect("the vehicle page");
        wait_for_text(&browser, "#live", "live").await;
        find(&browser, "#stat-battery").await;
        find(&browser, "#battery-percent")
            .await
            .clear()
            .await
            .expect("clearing the field");
        type_into(&browser, "#battery-percent", "40").await;
        click(&browser, "#set-battery").await;
        wait_for_text(&browser, "#stat-battery .value", "40 %").await;

        click(&browser, "#plug-in").await;
        wait_for_text(&browser, "#stat-plugged .value", "yes").await;
        click(&browser, "#start-charge").await;
        wait_for_text(&browser, "#stat-charge .value", "CHARGING").await;

        let (status, charge) = read(&mock_url, &token, &format!("/v2.0/vehicles/{vehicle}/charge")).await;
        assert_eq!((status, &charge["state"]), (200, &json!("CHARGING")), "{charge}");
        let (_, battery) = read(&mock_url, &token, &format!("/v2.0/vehicles/{vehicle}/battery")).await;
        let advanced = reqwest::Client::new()
            .post(format!("{mock_url}/admin/clock/advance"))
            .json(&json!({ "by": "30m" }))
            .send()
            .await
            .expect("a clock advance");
        assert!(advanced.status().is_success());
        let (_, charged) = read(&mock_url, &token, &format!("/v2.0/vehicles/{vehicle}/battery")).await;
        let level = |body: &Value| body["percentRemaining"].as_f64().expect("a battery level");
        assert!(level(&charged) > level(&battery), "{battery} then {charged}");

        let heard = eventually(|| async { (received.lock().ok()?.len() > before).then_some(()) }).await;
        assert!(heard.is_some(), "the receiver gets the change");
        let shown = eventually(|| async {
            let rows = browser
                .find_all(Locator::Css("#vehicle-deliveries tbody tr"))
                .await
                .ok()?;
            (rows.len() > 1).then_some(())
        })
        .await;
        assert!(shown.is_some(), "the change's delivery shows on the vehicle page");
        drop(mock);
    })
    .await;
}

#[tokio::test]
async fn a_request_without_the_needed_scope_shows_on_the_requests_page_with_its_reason() {
    let (listener, mock_url) = bind().await;
    let mock = start_mock(listener, &[]).await;
    let answer = authorize(&mock_url, "TESLA", "read_vehicle_info").await;
    let vehicle = text(&answer["vehicle_ids"][0]);
    with_browser(&[], move |browser| async move {
        browser
            .goto(&format!("{mock_url}/dashboard/requests"))
            .await
            .expect("the requests page");
        wait_for_text(&browser, "#live", "live").await;

        let (status, _) = read(
            &mock_url,
            &text(&answer["access_token"]),
            &format!("/v2.0/vehicles/{vehicle}/charge"),
        )
        .await;
        assert_eq!(status, 403);

        let reason = text_of(&browser, "#requests tr.client-error[data-status='403'] .reason").await;
        assert!(reason.contains("read_charge"), "{reason}");
        drop(mock);
    })
    .await;
}

#[tokio::test]
async fn a_fault_preset_added_on_the_faults_page_fires_and_is_removed_there() {
    let (listener, mock_url) = bind().await;
    let mock = start_mock(listener, &[]).await;
    let answer = authorize(&mock_url, "TESLA", "read_vehicle_info read_charge").await;
    let vehicle = text(&answer["vehicle_ids"][0]);
    with_browser(&[], move |browser| async move {
        browser
            .goto(&format!("{mock_url}/dashboard/faults"))
            .await
            .expect("the faults page");
        wait_for_text(&browser, "#live", "live").await;
        type_into(&browser, "#preset-vehicle", &vehicle).await;
        click(&browser, "[data-preset='0']").await;
        find(&browser, "#faults tbody tr").await;

        let (status, body) = read(
            &mock_url,
            &text(&answer["access_token"]),
            &format!("/v2.0/vehicles/{vehicle}/charge"),
        )
        .await;
        assert_eq!(
            (status, &body["type"], &body["code"]),
            (409, &json!("VEHICLE_STATE"), &json!("ASLEEP")),
            "{body}"
        );
        wait_for_text(&browser, "#faults tbody tr td:nth-child(4)", "1").await;

        click(&browser, "#faults tbody tr button").await;
        wait_for_text(&browser, "#fault-list", "No fault rule.").await;
        drop(mock);
    })
    .await;
}

#[tokio::test]
async fn the_overview_moves_the_clock_and_puts_it_back() {
    let (listener, mock_url) = bind().await;
    let mock = start_mock(listener, &[]).await;
    with_browser(&[], move |browser| async move {
        browser
            .goto(&format!("{mock_url}/dashboard"))
            .await
            .expect("the overview");
        wait_for_text(&browser, "#live", "live").await;
        find(&browser, "#clock-now").await;

        click(&browser, "[data-advance='1d']").await;
        wait_for_text(&browser, "#clock p.muted", "Moved 1440 min from wall time.").await;
        click(&browser, "#clock-reset").await;
        wait_for_text(&browser, "#clock p.muted", "On wall time.").await;
        drop(mock);
    })
    .await;
}

#[tokio::test]
async fn a_hostile_client_id_shows_on_the_requests_page_as_text() {
    let (listener, mock_url) = bind().await;
    let mock = start_mock(listener, &[]).await;
    with_browser(&[], move |browser| async move {
        browser
            .goto(&format!("{mock_url}/dashboard/requests"))
            .await
            .expect("the requests page");
        wait_for_text(&browser, "#live", "live").await;

        let hostile = "<img src=x onerror=alert(1)>";
        let refused = reqwest::Client::new()
            .post(format!("{mock_url}/oauth/token"))
            .basic_auth(hostile, Some("secret"))
            .form(&[("grant_type", "authorization_code"), ("code", "x")])
            .send()
            .await
            .expect("a token request");
        assert_eq!(refused.status(), 401);

        let reason = text_of(&browser, "#requests tbody tr .reason").await;
        assert!(reason.contains(hostile), "{reason}");
        let injected = browser.find_all(Locator::Css("#requests img")).await.expect("a query");
        assert!(injected.is_empty(), "the client id became markup");
        drop(mock);
    })
    .await;
}

#[tokio::test]
async fn no_dashboard_response_names_an_external_host() {
    let (listener, mock_url) = bind().await;
    let _mock = start_mock(listener, &[]).await;
    let answer = authorize(&mock_url, "TESLA", "read_vehicle_info").await;
    let vehicle = text(&answer["vehicle_ids"][0]);
    let client = reqwest::Client::new();
    for path in [
        "/dashboard".to_owned(),
        format!("/dashboard/vehicles/{vehicle}"),
        "/dashboard/requests".to_owned(),
        "/dashboard/faults".to_owned(),
        "/dashboard/webhooks".to_owned(),
        "/dashboard/assets/dashboard.js".to_owned(),
        "/dashboard/assets/dashboard.css".to_owned(),
        "/dashboard/assets/icon.svg".to_owned(),
    ] {
        let response = client.get(format!("{mock_url}{path}")).send().await.expect("an answer");
        assert_eq!(response.status(), 200, "{path}");
        let csp = response
            .headers()
            .get("content-security-policy")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        let body = response.text().await.expect("a body");
        let external: Vec<&str> = hosts_named(&body)
            .into_iter()
            .filter(|url| *url != "http://www.w3.org/2000/svg")
            .collect();
        assert!(external.is_empty(), "{path} names {external:?}");
    }
}

#[tokio::test]
async fn shutting_down_does_not_wait_for_an_open_dashboard() {
    let (listener, mock_url) = bind().await;
    let mock = start_mock(listener, &[]).await;
    let mut events = reqwest::Client::new()
        .get(format!("{mock_url}/dashboard/events"))
        .send()
        .await
        .expect("the event stream");
    let hello = events.chunk().await.expect("a first event").unwrap_or_default();
    assert!(String::from_utf8_lossy(&hello).contains("event: hello"));

    let shutdown = tokio::time::timeout(Duration::from_secs(5), mock.shutdown()).await;

    assert!(shutdown.is_ok(), "shutdown waited for the open event stream");
    assert_eq!(events.chunk().await.ok().flatten(), None, "the stream has ended");
}

/// Every absolute (`scheme://host`) or scheme-relative (`//host`) URL in `text`: a `//` followed
/// by a host character, after a scheme's `:`, a quote, `(`, `=` or a space. A comment's `// text`
/// is not one.
fn hosts_named(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(at) = text[from..].find("//").map(|at| at + from) {
        from = at + 2;
        let next = bytes.get(at + 2).copied().unwrap_or(b' ');
        if !(next.is_ascii_alphanumeric() || next == b'[') {
            continue;
        }
        let mut start = at;
        match at.checked_sub(1).map(|before| bytes[before]) {
            Some(b':') => {
                start -= 1;
                while start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || b"+.-".contains(&bytes[start - 1])) {
                    start -= 1;
                }
            }
            None | Some(b'"' | b'\'' | b'`' | b'(' | b'=' | b' ' | b'\n' | b'\t') => {}
            Some(_) => continue,
        }
        let end = text[at + 2..]
            .find(|c: char| c.is_whitespace() || "\"'`)<>".contains(c))
            .map_or(text.len(), |end| end + at + 2);
        found.push(&text[start..end]);
    }
    found
}

#[test]
fn urls_and_scheme_relative_urls_are_found_and_comments_are_not() {
    let text =
        "a // comment\n<img src=\"//cdn.example/x.png\"> url(https://fonts.example/f) 'http://www.w3.org/2000/svg'";

    assert_eq!(
        hosts_named(text),
        [
            "//cdn.example/x.png",
            "https://fonts.example/f",
            "http://www.w3.org/2000/svg"
        ]
    );
}

/// The README's pictures: the overview, a vehicle mid-trip, the requests page (and, for
/// `docs/dashboard.md`, the faults and webhooks pages), as PNGs in `$DASHBOARD_SCREENSHOTS`.
#[tokio::test]
#[ignore = "writes the README's screenshots; run by scripts/dashboard-screenshots.sh"]
async fn dashboard_screenshots() {
    let Ok(folder) = std::env::var("DASHBOARD_SCREENSHOTS") else {
        panic!("set DASHBOARD_SCREENSHOTS to the folder the PNGs go to");
    };
    let folder = std::path::PathBuf::from(folder);
    let (receiver_listener, receiver) = bind().await;
    let _received = receive_webhooks(receiver_listener);
    let (mock, mock_url) = start_mock_with_webhook(&format!("{receiver}/hook")).await;
    let client = reqwest::Client::new();
    let created: Value = client
        .post(format!("{mock_url}/admin/simulator/vehicles"))
        .json(&json!({ "powertrain": "BEV", "name": "Workshop car", "client_id": "demo-client" }))
        .send()
        .await
        .expect("a simulated vehicle")
        .json()
        .await
        .expect("JSON");
    let vehicle = text(&created["vehicle_id"]);
    let token = text(&created["access_token"]);
    client
        .post(format!("{mock_url}/v2.0/vehicles/{vehicle}/webhooks/{WEBHOOK}"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("a subscription");
    authorize(&mock_url, "CHEVROLET", "read_vehicle_info read_odometer").await;
    let other = authorize(&mock_url, "TESLA", "read_vehicle_info").await;
    client
        .post(format!("{mock_url}/admin/vehicles/{vehicle}/trip"))
        .json(&json!({ "profile": "driving", "route": "city-loop" }))
        .send()
        .await
        .expect("a trip");
    client
        .post(format!("{mock_url}/admin/clock/advance"))
        .json(&json!({ "by": "9m" }))
        .send()
        .await
        .expect("a clock advance");
    for path in ["battery", "location", "odometer", "charge"] {
        read(&mock_url, &token, &format!("/v2.0/vehicles/{vehicle}/{path}")).await;
    }
    for rule in [
        json!({ "error": "VEHICLE_STATE:ASLEEP", "method": "GET", "path": "/v*/vehicles/*/**", "times": 3 }),
        json!({ "error": "UPSTREAM:KNOWN_ISSUE", "probability": 0.5, "seed": 7, "path": "*/odometer" }),
    ] {
        client
            .post(format!("{mock_url}/admin/faults"))
            .json(&rule)
            .send()
            .await
            .expect("a fault rule");
    }
    let other_vehicle = text(&other["vehicle_ids"][0]);
    read(
        &mock_url,
        &text(&other["access_token"]),
        &format!("/v2.0/vehicles/{other_vehicle}/charge"),
    )
    .await;
    read(
        &mock_url,
        "not-a-token",
        &format!("/v2.0/vehicles/{other_vehicle}/odometer"),
    )
    .await;

    with_browser(
        &["--window-size=1440,1000".to_owned(), "--hide-scrollbars".to_owned()],
        move |browser| async move {
            for (name, path, ready) in [
                ("dashboard-overview.png", "/dashboard".to_owned(), "tr[data-vehicle-id]"),
                (
                    "dashboard-vehicle.png",
                    format!("/dashboard/vehicles/{vehicle}"),
                    "#car-marker",
                ),
                (
                    "dashboard-requests.png",
                    "/dashboard/requests".to_owned(),
                    "#requests tbody tr",
                ),
                (
                    "dashboard-faults.png",
                    "/dashboard/faults".to_owned(),
                    "#faults tbody tr",
                ),
                (
                    "dashboard-webhooks.png",
                    "/dashboard/webhooks".to_owned(),
                    "[data-webhook] tbody tr",
                ),
            ] {
                browser.goto(&format!("{mock_url}{path}")).await.expect("a page");
                wait_for_text(&browser, "#live", "live").await;
                find(&browser, ready).await;
                let png = browser.screenshot().await.expect("a screenshot");
                std::fs::write(folder.join(name), png).expect("writing the screenshot");
            }
            drop(mock);
        },
    )
    .await;
}
