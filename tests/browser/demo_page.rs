//! The demo backend's page in a real browser: Connect opens in a popup, the mock's redirect page
//! posts the result back, and the page shows the vehicle or Connect's error (issue 4 item 1).

use reqwest::Url;

use super::driver::{
    back_to_opener, bind, click, find, serve_mock, switch_to_popup, text_of, walk_connect, with_browser,
};

/// The mock, and the demo backend pointed at it with the popup flow's redirect URI (the mock's
/// `/v2/redirect`, posting back to the backend's origin); returns the demo page's URL.
async fn start_demo() -> String {
    let (mock_listener, mock) = bind().await;
    let (backend_listener, backend) = bind().await;
    let mut redirect_uri = Url::parse(&mock).expect("a URL").join("/v2/redirect").expect("a path");
    redirect_uri.query_pairs_mut().append_pair("app_origin", &backend);
    serve_mock(mock_listener, &[redirect_uri.as_str()]);

    let mock = Url::parse(&mock).expect("a URL");
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
    };
    tokio::spawn(demo_backend::serve(backend_listener, config, std::future::pending()));
    backend
}

#[tokio::test]
async fn connecting_on_the_demo_page_shows_the_vehicle() {
    let demo = start_demo().await;

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
    let demo = start_demo().await;

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
    let demo = start_demo().await;

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
