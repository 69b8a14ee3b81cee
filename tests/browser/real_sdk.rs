//! The real `@smartcar/auth` in a real browser, unmodified, in the version the React tutorial locks
//! (2.9.0) and the latest (2.14.1)
//! (docs/contract/tutorial-flow.md#reaching-the-mock-from-an-unmodified-front-end):
//!
//! - through a `window.open` shim in the test app's page, which sends the SDK's hard-coded
//!   `https://connect.smartcar.com` to the mock over plain HTTP
//!   (docs/contract/tutorial-flow.md#a-shim-in-the-test-driver);
//! - through TLS host mapping, Chromium resolving Smartcar's host names to the mock's HTTPS port,
//!   so nothing at all is rewritten (docs/contract/tutorial-flow.md#host-mapping; the recipe is in
//!   docs/tutorial.md).
//!
//! In each, `onComplete` must receive what it would from the real platform: a code the token
//! endpoint accepts, `AccessDenied`, or `VehicleIncompatible` with the vehicle's info.

use std::path::PathBuf;
use std::sync::OnceLock;

use fantoccini::Client;
use mock_server::MockServer;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::driver::{
    back_to_opener, bind, click, eventually, mock_builder, page_value, serve_app, start_mock, switch_to_popup,
    walk_connect, with_browser,
};

/// Both versions, with the option each takes the client id as (`applicationId` since 2.11).
const VERSIONS: [(&str, &str); 2] = [("2.9.0", "clientId"), ("2.14.1", "applicationId")];

/// The SDK's own host for its redirect page, as the React tutorial's `REDIRECT_URI` names it.
const SDK_ORIGIN: &str = "https://javascript-sdk.smartcar.com";

/// `tests/browser/sdk/`, where `npm ci` puts both versions (as `auth-<version>`).
fn sdk_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser/sdk")
}

/// The published `dist/npm/sdk.js` of `version`, installed with `npm ci` on first use.
fn sdk_js(version: &str) -> String {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    let path = sdk_dir().join(format!("node_modules/auth-{version}/dist/npm/sdk.js"));
    INSTALLED.get_or_init(|| {
        if !path.exists() {
            let status = std::process::Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(sdk_dir())
                .status()
                .expect("npm runs (install Node.js and npm)");
            assert!(status.success(), "npm ci in {} failed", sdk_dir().display());
        }
    });
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Rewrites the SDK's Connect URL to `mock` as the popup opens
/// (docs/contract/tutorial-flow.md#a-shim-in-the-test-driver).
fn window_open_shim(mock: &str) -> String {
    let script = r"(function (mock) {
  var open = window.open;
  window.open = function (url) {
    var args = Array.prototype.slice.call(arguments);
    if (typeof url === 'string') { args[0] = url.replace('https://connect.smartcar.com', mock); }
    return open.apply(this, args);
  };
})(MOCK);";
    script.replace("MOCK", &json!(mock).to_string())
}

/// A tutorial-like app page: the SDK from a `<script>`, a Connect button calling
/// `openDialog({ forcePrompt: true })`, and an `onComplete` that records what it receives.
fn app_page(version: &str, id_option: &str, redirect_uri: &str, shim: Option<&str>) -> String {
    let options = json!({ id_option: "demo-client", "redirectUri": redirect_uri, "scope": ["read_vehicle_info"], "mode": "test" });
    let shim = shim
        .map(|shim| ["<script>", shim, "</script>"].concat())
        .unwrap_or_default();
    r#"<!doctype html>
<meta charset="utf-8">
<title>@smartcar/auth VERSION</title>
<button id="connect">Connect</button>
SHIM
<script src="/sdk-VERSION.js"></script>
<script>
  window.completions = [];
  var options = OPTIONS;
  options.onComplete = function (error, code, state) {
    window.completions.push({
      error: error ? { name: error.name, message: error.message,
                       vehicleInfo: error.vehicleInfo === undefined ? null : error.vehicleInfo } : null,
      code: code === undefined ? null : code
    });
  };
  var smartcar = new Smartcar(options);
  document.getElementById('connect').addEventListener('click', function () {
    smartcar.openDialog({ forcePrompt: true });
  });
</script>"#
        .replace("VERSION", version)
        .replace("SHIM", &shim)
        .replace("OPTIONS", &options.to_string())
}

/// Serves one app page per SDK version (`/<version>`) and the SDKs, on `listener`.
fn serve_sdk_apps(listener: TcpListener, redirect_uri: &str, shim: Option<&str>) {
    let mut files = Vec::new();
    for (version, id_option) in VERSIONS {
        let page = app_page(version, id_option, redirect_uri, shim);
        files.push((format!("/{version}"), "text/html; charset=utf-8", page));
        files.push((format!("/sdk-{version}.js"), "application/javascript", sdk_js(version)));
    }
    serve_app(listener, files);
}

/// Clicks Connect, walks the popup, and returns what `onComplete` received.
async fn connect_with_the_sdk(browser: &Client, page: &str, username: &str, allow: Option<bool>) -> Value {
    browser.goto(page).await.expect("the app page loads");
    click(browser, "#connect").await;
    let opener = switch_to_popup(browser).await;
    walk_connect(browser, username, allow).await;
    back_to_opener(browser, opener).await;
    page_value(browser, "window.completions[0]").await
}

/// The mock on plain HTTP (its URL and handle) and an app origin whose pages shim `window.open`
/// to it.
async fn start_shimmed() -> (String, String, MockServer) {
    let (mock_listener, mock) = bind().await;
    let (app_listener, app) = bind().await;
    let redirect_uri = [&mock, "/v2/redirect?app_origin=", &app].concat();
    let server = start_mock(mock_listener, &[&redirect_uri]).await;
    serve_sdk_apps(app_listener, &redirect_uri, Some(&window_open_shim(&mock)));
    (mock, app, server)
}

/// The code is real: the token endpoint exchanges it for the redirect URI it was issued for.
async fn assert_exchangeable(mock: &str, code: &str, redirect_uri: &str) {
    let response = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("a client")
        .post([mock, "/oauth/token"].concat())
        .basic_auth("demo-client", Some("demo-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
        ])
        .send()
        .await
        .expect("the token endpoint answers");
    assert_eq!(response.status(), 200, "code {code} is exchanged");
}

#[tokio::test]
async fn the_real_sdk_receives_a_code_through_a_window_open_shim() {
    let (mock, app, _server) = start_shimmed().await;

    with_browser(&[], |browser| async move {
        for (version, _) in VERSIONS {
            let completion = connect_with_the_sdk(
                &browser,
                &[&app, "/", version].concat(),
                "driver@example.com",
                Some(true),
            )
            .await;

            assert_eq!(completion["error"], Value::Null, "{version}: {completion}");
            let code = completion["code"]
                .as_str()
                .unwrap_or_else(|| panic!("{version}: no code in {completion}"));
            assert_exchangeable(&mock, code, &[&mock, "/v2/redirect?app_origin=", &app].concat()).await;
        }
    })
    .await;
}

#[tokio::test]
async fn the_real_sdk_reports_a_denial_as_access_denied() {
    let (_, app, _server) = start_shimmed().await;

    with_browser(&[], |browser| async move {
        for (version, _) in VERSIONS {
            let completion =
                connect_with_the_sdk(&browser, &[&app, "/", version].concat(), "driver@example.com", Some(false)).await;

            assert_eq!(
                completion,
                json!({
                    "error": { "name": "AccessDenied", "message": "User denied access to application.", "vehicleInfo": null },
                    "code": null,
                }),
                "{version}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn the_real_sdk_reports_an_incompatible_vehicle_with_its_info() {
    let (_, app, _server) = start_shimmed().await;

    with_browser(&[], |browser| async move {
        for (version, _) in VERSIONS {
            let page = [&app, "/", version].concat();
            let completion = connect_with_the_sdk(&browser, &page, "smartcar@vehicle-incompatible.com", None).await;

            assert_eq!(
                completion["error"]["name"], "VehicleIncompatible",
                "{version}: {completion}"
            );
            assert_eq!(
                completion["error"]["message"], "The user's vehicle is not compatible.",
                "{version}"
            );
            let info = &completion["error"]["vehicleInfo"];
            assert_eq!(info["make"], "AUDI", "{version}: {info}");
            assert_eq!(info["model"], "A4", "{version}: {info}");
            assert_eq!(info["year"], 2017, "{version}: the SDK turns the year into a number");
            assert!(
                info["vin"].as_str().is_some_and(|vin| vin.len() == 17),
                "{version}: {info}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn the_unmodified_sdk_reaches_the_mock_through_tls_host_mapping() {
    let (mock_listener, mock) = bind().await;
    let tls_listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let tls_port = tls_listener.local_addr().expect("an address").port();
    let (app_listener, app) = bind().await;
    // The React tutorial's redirect URI, with this test's app origin.
    let redirect_uri = [SDK_ORIGIN, "/v2/redirect?app_origin=", &app].concat();
    let _server = mock_builder(mock_listener, &[&redirect_uri])
        .tls_listener(tls_listener)
        .start()
        .await;
    serve_sdk_apps(app_listener, &redirect_uri, None);
    let flags = [
        format!(
            "--host-resolver-rules=MAP connect.smartcar.com:443 127.0.0.1:{tls_port}, \
             MAP javascript-sdk.smartcar.com:443 127.0.0.1:{tls_port}"
        ),
        "--ignore-certificate-errors".to_owned(),
    ];

    with_browser(&flags, |browser| async move {
        for (version, _) in VERSIONS {
            browser
                .goto(&[&app, "/", version].concat())
                .await
                .expect("the app page loads");
            click(&browser, "#connect").await;
            let opener = switch_to_popup(&browser).await;
            let connect_url = eventually(|| async {
                let url = browser.current_url().await.ok()?;
                (url.scheme() == "https").then_some(url)
            })
            .await
            .expect("the popup navigates to Connect");
            walk_connect(&browser, "driver@example.com", Some(true)).await;
            back_to_opener(&browser, opener).await;
            let completion = page_value(&browser, "window.completions[0]").await;

            assert_eq!(
                connect_url.origin().ascii_serialization(),
                "https://connect.smartcar.com",
                "{version}"
            );
            assert_eq!(connect_url.path(), "/oauth/authorize", "{version}");
            assert_eq!(completion["error"], Value::Null, "{version}: {completion}");
            let code = completion["code"]
                .as_str()
                .unwrap_or_else(|| panic!("{version}: no code in {completion}"));
            assert_exchangeable(&mock, code, &redirect_uri).await;
        }
    })
    .await;
}
