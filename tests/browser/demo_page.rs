//! The demo backend's page in a real browser: Connect opens in a popup, the mock's redirect page
//! posts the result back, and the page shows the vehicle or Connect's error.
//!
//! With `DEMO_BACKEND_URL` set (e.g. `http://localhost:8000`), the tests that need nothing but a
//! demo backend in its one-command mode use that running backend instead of starting their own:
//! `scripts/test-workshop-kit.sh` points them at the unpacked workshop kit this way.

use mock_server::MockServer;
use reqwest::Url;
use serde_json::json;

use super::driver::{
    back_to_opener, bind, click, find, serve_page, start_mock, switch_to_popup, text_of, walk_connect, with_browser,
};

/// The running demo backend to test instead of an in-process one.
const DEMO_BACKEND_URL: &str = "DEMO_BACKEND_URL";

/// The demo page's URL: `DEMO_BACKEND_URL` when set, or else the mock and the demo backend started
/// here, with the popup flow's redirect URI (the mock's `/v2/redirect`, posting back to the
/// backend's origin). The mock, when started here, serves while its handle lives.
async fn start_demo() -> (String, Option<MockServer>) {
    match std::env::var(DEMO_BACKEND_URL) {
        Ok(running) if !running.is_empty() => (running, None),
        _ => {
            let (mock_listener, mock) = bind().await;
            let mut redirect_uri = Url::parse(&mock).expect("a URL").join("/v2/redirect").expect("a path");
            let (demo, mock) = start_demo_with(mock_listener, &mock, move |backend| {
                redirect_uri.query_pairs_mut().append_pair("app_origin", backend);
                redirect_uri
            })
            .await;
            (demo, Some(mock))
        }
    }
}

/// The mock on `mock_listener` (reached at `mock`), and the demo backend pointed at it with the
/// redirect URI `redirect_uri` makes from the backend's origin; returns the demo page's URL and
/// the mock.
async fn start_demo_with(
    mock_listener: tokio::net::TcpListener,
    mock: &str,
    redirect_uri: impl FnOnce(&str) -> Url,
) -> (String, MockServer) {
    let (backend_listener, backend) = bind().await;
    let redirect_uri = redirect_uri(&backend);
    let mock_server = start_mock(mock_listener, &[redirect_uri.as_str()]).await;

    let mock = Url::parse(mock).expect("a URL");
    let config = demo_backend::Config {
        client_id: "demo-client".to_owned(),
        client_secret: "demo-secret".into(),
        redirect_uri,
        connect_origin: mock.clone(),
        auth_origin: mock.clone(),
        api_origin: mock,
        mode: demo_backend::config::Mode::Test,
        scope: vec!["read_vehicle_info".to_owned()],
        ca_cert: None,
        allowed_origins: Vec::new(),
    };
    tokio::spawn(demo_backend::serve(backend_listener, config, std::future::pending()));
    (backend, mock_server)
}

#[tokio::test]
async fn connecting_on_the_demo_page_shows_the_vehicle() {
    let (demo, _mock) = start_demo().await;

    with_browser(&[], |browser| async move {
        browser.goto(&demo).await.expect("the demo page loads");
        click(&browser, "#connect-button").await;
        let opener = switch_to_popup(&browser).await;
        walk_connect(&browser, "driver@example.com", Some(true)).await;
        back_to_opener(&browser, opener).await;
        find(&browser, "#vehicle:not([hidden]), #error:not([hidden])").await;
        let error = find(&browser, "#error").await.text().await.expect("the error's text");

        assert_eq!(error, "", "the page shows an error");
        assert_eq!(text_of(&browser, "#vehicle-make").await, "TESLA");
        assert_eq!(text_of(&browser, "#vehicle-model").await, "Model 3");
        assert_eq!(text_of(&browser, "#vehicle-year").await, "2021");
        let id = text_of(&browser, "#vehicle-id").await;
        assert!(uuid::Uuid::try_parse(&id).is_ok(), "the vehicle id is {id}");
    })
    .await;
}

#[tokio::test]
async fn denying_access_on_the_demo_page_shows_connects_description() {
    let (demo, _mock) = start_demo().await;

    with_browser(&[], |browser| async move {
        browser.goto(&demo).await.expect("the demo page loads");
        click(&browser, "#connect-button").await;
        let opener = switch_to_popup(&browser).await;
        walk_connect(&browser, "driver@example.com", Some(false)).await;
        back_to_opener(&browser, opener).await;

        assert_eq!(text_of(&browser, "#error").await, "User denied access to application.");
        let vehicle = find(&browser, "#vehicle").await;
        assert!(
            !vehicle.is_displayed().await.expect("visibility"),
            "no vehicle is shown"
        );
    })
    .await;
}

#[tokio::test]
async fn an_incompatible_vehicle_on_the_demo_page_shows_its_error() {
    let (demo, _mock) = start_demo().await;

    with_browser(&[], |browser| async move {
        browser.goto(&demo).await.expect("the demo page loads");
        click(&browser, "#connect-button").await;
        let opener = switch_to_popup(&browser).await;
        // This test login ends Connect at sign-in, before the permissions page.
        walk_connect(&browser, "smartcar@vehicle-incompatible.com", None).await;
        back_to_opener(&browser, opener).await;

        let error = text_of(&browser, "#error").await;
        assert!(error.starts_with("The user's vehicle is not compatible."), "{error}");
        assert!(error.contains("AUDI A4 2017"), "the vehicle is described: {error}");
    })
    .await;
}

#[tokio::test]
async fn a_message_from_an_origin_the_redirect_uri_merely_starts_with_is_ignored() {
    // The redirect page is reached as `http://mock.test:<port>`; another site serves
    // `http://mock.test` (port 80), an origin the redirect URI starts with. Chromium maps both.
    let (mock_listener, _) = bind().await;
    let mock_port = mock_listener.local_addr().expect("an address").port();
    let (other_listener, _) = bind().await;
    let other_port = other_listener.local_addr().expect("an address").port();
    serve_page(other_listener, "<!doctype html><p id=\"other-site\">another site</p>");
    let redirect_origin = format!("http://mock.test:{mock_port}");
    let (demo, _mock) = start_demo_with(mock_listener, &format!("http://localhost:{mock_port}"), |backend| {
        let mut uri = Url::parse(&redirect_origin)
            .expect("a URL")
            .join("/v2/redirect")
            .expect("a path");
        uri.query_pairs_mut().append_pair("app_origin", backend);
        uri
    })
    .await;
    let rules = format!("--host-resolver-rules=MAP mock.test:80 127.0.0.1:{other_port}, MAP mock.test 127.0.0.1");

    with_browser(&[rules], |browser| async move {
        browser.goto(&demo).await.expect("the demo page loads");
        click(&browser, "#connect-button").await;
        let opener = switch_to_popup(&browser).await;
        find(&browser, "#continue-button").await;
        let connect_url = browser.current_url().await.expect("the popup's URL");
        let state = connect_url
            .query_pairs()
            .find(|(key, _)| key == "state")
            .expect("a state")
            .1
            .into_owned();

        // The popup goes to the other site, which posts a code with the popup's own state.
        browser
            .execute("location.assign(arguments[0])", vec![json!("http://mock.test/")])
            .await
            .expect("the popup navigates");
        find(&browser, "#other-site").await;
        browser
            .execute(
                "window.opener.postMessage({ name: 'SmartcarAuthMessage', code: 'planted', error: null, \
                 errorDescription: null, state: arguments[0] }, '*')",
                vec![json!(state)],
            )
            .await
            .expect("the other site posts");

        // Had the page taken it, it would show the planted code's error and ignore the real answer.
        browser
            .execute("location.assign(arguments[0])", vec![json!(connect_url.as_str())])
            .await
            .expect("the popup goes back to Connect");
        walk_connect(&browser, "driver@example.com", Some(true)).await;
        back_to_opener(&browser, opener).await;
        find(&browser, "#vehicle:not([hidden]), #error:not([hidden])").await;
        let error = find(&browser, "#error").await.text().await.expect("the error's text");

        assert_eq!(error, "", "the page took the other site's message");
        assert_eq!(text_of(&browser, "#vehicle-make").await, "TESLA");
    })
    .await;
}
