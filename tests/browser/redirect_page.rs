//! The mock's `/v2/redirect` in a real browser: what it posts to `window.opener`, and where
//! (docs/contract/connect.md#the-js-sdks-redirect-page; the SDK's own `test/unit/redirect.test.js`
//! pins the same object).

use fantoccini::Client;
use serde_json::{Value, json};

use super::driver::{bind, eventually, page_value, serve_page, start_mock, with_browser};

/// An opener page that records every message it receives, with the sender's origin.
const RECORDER: &str = r#"<!doctype html>
<meta charset="utf-8">
<title>opener</title>
<script>
  window.received = [];
  window.addEventListener('message', function (event) {
    window.received.push({ origin: event.origin, data: event.data });
  });
</script>"#;

/// Opens `url` in a popup from the current page and returns the first message it posted back,
/// once the popup has closed itself. (The redirect page is done so fast that the popup may be
/// gone before a WebDriver command could see it.)
async fn first_message_from_popup(browser: &Client, url: &str) -> Value {
    browser
        .execute("window.open(arguments[0], 'redirect');", vec![json!(url)])
        .await
        .expect("a popup opens");
    let message = page_value(browser, "window.received[0]").await;
    eventually(|| async { (browser.windows().await.ok()?.len() == 1).then_some(()) })
        .await
        .expect("the popup closes itself");
    message
}

#[tokio::test]
async fn the_redirect_page_posts_the_exact_smartcar_auth_message_to_app_origin() {
    let (mock_listener, mock) = bind().await;
    let (app_listener, app) = bind().await;
    let _mock = start_mock(mock_listener, &[]).await;
    serve_page(app_listener, RECORDER);
    // Connect's redirect, with the JS SDK's raw base64 state as Connect encodes it.
    let url = [
        &mock,
        "/v2/redirect?app_origin=",
        &app,
        "&code=a1b2c3&state=eyJpbnN0YW5jZUlkIjoiMTIzIn0%3D",
    ]
    .concat();

    with_browser(&[], |browser| async move {
        browser.goto(&app).await.expect("the opener loads");

        let received = first_message_from_popup(&browser, &url).await;

        assert_eq!(
            received,
            json!({
                "origin": mock,
                "data": {
                    "name": "SmartcarAuthMessage",
                    "isSmartcarHosted": false,
                    "code": "a1b2c3",
                    "error": null,
                    "errorDescription": null,
                    "state": "eyJpbnN0YW5jZUlkIjoiMTIzIn0=",
                    "vin": null,
                    "make": null,
                    "model": null,
                    "year": null,
                    "virtualKeyUrl": null,
                    "userId": null,
                },
            })
        );
    })
    .await;
}

#[tokio::test]
async fn every_field_of_an_error_redirect_reaches_the_opener() {
    let (mock_listener, mock) = bind().await;
    let (app_listener, app) = bind().await;
    let _mock = start_mock(mock_listener, &[]).await;
    serve_page(app_listener, RECORDER);
    let url = [
        &mock,
        "/v2/redirect?app_origin=",
        &app,
        "&error=vehicle_incompatible&error_description=The+user%27s+vehicle+is+not+compatible.",
        "&vin=0SCAUDI0000000001&make=AUDI&model=A4&year=2017",
        "&virtual_key_url=https%3A%2F%2Fexample.com%2Fkey&user_id=u-1&external_id=ext-9&state=c3RhdGU%3D",
    ]
    .concat();

    with_browser(&[], |browser| async move {
        browser.goto(&app).await.expect("the opener loads");

        let received = first_message_from_popup(&browser, &url).await;

        assert_eq!(
            received["data"],
            json!({
                "name": "SmartcarAuthMessage",
                "isSmartcarHosted": false,
                "code": null,
                "error": "vehicle_incompatible",
                "errorDescription": "The user's vehicle is not compatible.",
                "state": "c3RhdGU=",
                "vin": "0SCAUDI0000000001",
                "make": "AUDI",
                "model": "A4",
                "year": "2017",
                "virtualKeyUrl": "https://example.com/key",
                "userId": "u-1",
                "externalId": "ext-9",
            })
        );
    })
    .await;
}

#[tokio::test]
async fn without_app_origin_the_message_goes_to_the_redirect_pages_own_origin() {
    let (mock_listener, mock) = bind().await;
    let _mock = start_mock(mock_listener, &[]).await;

    with_browser(&[], |browser| async move {
        // Any page of the mock's origin can be the opener (the server-side redirect pattern).
        browser
            .goto(&[&mock, "/v2/redirect.js"].concat())
            .await
            .expect("a mock page loads");
        browser
            .execute(
                "window.received = []; window.addEventListener('message', function (event) { \
                 window.received.push({ origin: event.origin, data: event.data }); });",
                vec![],
            )
            .await
            .expect("the recorder is installed");

        let received = first_message_from_popup(&browser, "/redirect?code=c0de&state=cw%3D%3D").await;

        assert_eq!(received["origin"], json!(mock));
        assert_eq!(received["data"]["code"], "c0de");
        assert_eq!(received["data"]["state"], "cw==");
    })
    .await;
}
