//! The demo backend against the real mock, both in this test's runtime on port 0, driven over HTTP
//! the way the tutorial's front end and a browser would
//! (docs/contract/tutorial-flow.md#the-tutorials-backends).

use std::path::Path;

use demo_backend::config::CaCert;
use mock_server::{Fixtures, MockServer};
use reqwest::{StatusCode, Url, header};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// Where Connect sends the owner back in a test.
#[derive(Debug, Clone, Copy)]
enum RedirectTo {
    /// The mock's JS SDK redirect page, posting back to the backend's origin: the popup flow.
    SdkPage,
    /// The backend's own `/exchange`: the server-side tutorials' flow through `/login`.
    Exchange,
}

/// How the backend reaches the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Platform {
    /// Plain HTTP.
    Http,
    /// HTTPS with the mock's self-signed certificate, trusted through `--ca-cert`.
    Https,
    /// HTTPS with a certificate the backend was not told to trust (the browser trusts it).
    HttpsUntrusted,
}

/// Consent's two answers.
#[derive(Debug, Clone, Copy)]
enum Decision {
    Allow,
    Deny,
}

struct TestEnv {
    mock: Url,
    backend: Url,
    redirect_uri: Url,
    /// Follows no redirect, so each hop is an assertion.
    browser: reqwest::Client,
    /// The mock; it serves as long as the environment lives.
    mock_server: MockServer,
}

impl TestEnv {
    /// Bind both, register the redirect URI with the mock's built-in app, then serve both.
    async fn start(redirect_to: RedirectTo) -> TestEnv {
        TestEnv::start_with(redirect_to, Platform::Http).await
    }

    /// As [`TestEnv::start`], with the mock reached as `platform` says.
    async fn start_with(redirect_to: RedirectTo, platform: Platform) -> TestEnv {
        let (mock_listener, mut mock) = bind().await;
        if platform != Platform::Http {
            mock.set_scheme("https").expect("http becomes https");
        }
        let (backend_listener, backend) = bind().await;
        let redirect_uri = match redirect_to {
            RedirectTo::SdkPage => {
                let mut uri = mock.join("/v2/redirect").expect("a path");
                uri.query_pairs_mut()
                    .append_pair("app_origin", &backend.origin().ascii_serialization());
                uri
            }
            RedirectTo::Exchange => backend.join("/exchange").expect("a path"),
        };

        let mut fixtures = Fixtures::embedded().expect("the built-in fixtures load");
        let mut app = fixtures.app("demo-client").expect("the demo app").clone();
        app.redirect_uris.push(redirect_uri.to_string());
        fixtures.upsert_app(app);
        let mock_server = MockServer::builder().fixtures(fixtures);
        // Over HTTPS, the pre-bound listener is the TLS one; the plain one is on a port of its own.
        let mock_server = match platform {
            Platform::Http => mock_server.listener(mock_listener),
            Platform::Https | Platform::HttpsUntrusted => mock_server.tls_listener(mock_listener),
        }
        .start()
        .await;
        let ca_cert = mock_server
            .ca_pem()
            .filter(|_| platform == Platform::Https)
            .map(|ca_pem| CaCert::from_pem(ca_pem.as_bytes(), Path::new("mock.pem")).expect("the mock's certificate"));

        let config = demo_backend::Config {
            client_id: "demo-client".to_owned(),
            client_secret: "demo-secret".into(),
            redirect_uri: redirect_uri.clone(),
            connect_origin: mock.clone(),
            auth_origin: mock.clone(),
            api_origin: mock.clone(),
            mode: demo_backend::config::Mode::Test,
            scope: vec!["read_vehicle_info".to_owned()],
            ca_cert,
            allowed_origins: Vec::new(),
        };
        tokio::spawn(demo_backend::serve(backend_listener, config, std::future::pending()));

        let mut browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        if let Some(ca_pem) = mock_server.ca_pem() {
            let trusted = reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("a PEM certificate");
            browser = browser.tls_certs_merge([trusted]);
        }
        let browser = browser.build().expect("a client");
        TestEnv {
            mock,
            backend,
            redirect_uri,
            browser,
            mock_server,
        }
    }

    /// GETs a backend path, as the front end's `fetch` would (with an `Origin`).
    async fn get(&self, path_and_query: &str) -> reqwest::Response {
        self.browser
            .get(self.backend.join(path_and_query).expect("a path"))
            .header(header::ORIGIN, "http://localhost:3000")
            .send()
            .await
            .expect("the backend answers")
    }

    /// The Connect URL the demo page's button opens, with the state its script would add.
    async fn popup_connect_url(&self, state: &str) -> Url {
        let page = self.get("/").await.text().await.expect("the page");
        let mut url = Url::parse(&attribute(&page, "data-authorize-url")).expect("a URL");
        url.query_pairs_mut().append_pair("state", state);
        url
    }

    /// Walks Connect's pages from `connect_url` as `username` with a Tesla, answers consent,
    /// and returns where Connect redirects.
    async fn connect(&self, connect_url: &str, username: &str, decision: Decision) -> String {
        let preamble = self.page(self.browser.get(connect_url)).await;
        let brands = self
            .page(self.post("/connect/brand", &[("flow", &hidden_flow(&preamble))]))
            .await;
        let login = self
            .page(self.post("/connect/login", &[("flow", &hidden_flow(&brands)), ("make", "TESLA")]))
            .await;
        let sign_in = self
            .post(
                "/connect/sign-in",
                &[
                    ("flow", &hidden_flow(&login)),
                    ("username", username),
                    ("password", "anything"),
                ],
            )
            .send()
            .await
            .expect("Connect answers");
        if sign_in.status() == StatusCode::FOUND {
            return location(&sign_in);
        }
        let grant = sign_in.text().await.expect("the grant page");
        let decision = match decision {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
        };
        let answer = self
            .post(
                "/connect/grant",
                &[("flow", &hidden_flow(&grant)), ("decision", decision)],
            )
            .send()
            .await
            .expect("Connect answers");
        assert_eq!(answer.status(), StatusCode::FOUND, "consent redirects");
        location(&answer)
    }

    fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::RequestBuilder {
        self.browser.post(self.mock.join(path).expect("a path")).form(form)
    }

    async fn page(&self, request: reqwest::RequestBuilder) -> String {
        let response = request.send().await.expect("Connect answers");
        assert_eq!(response.status(), StatusCode::OK, "{}", response.url());
        response.text().await.expect("a page")
    }

    /// Connects a car through the popup flow and hands the code to the backend.
    async fn connect_a_car(&self) {
        let connect_url = self.popup_connect_url("eyJpbnN0YW5jZUlkIjoiMSJ9").await;
        let redirect = self
            .connect(connect_url.as_str(), "driver@example.com", Decision::Allow)
            .await;
        let exchange = self
            .get(&["/exchange?code=", &query_value(&redirect, "code")].concat())
            .await;
        assert_eq!(exchange.status(), StatusCode::OK, "the code is exchanged");
    }
}

async fn bind() -> (TcpListener, Url) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let addr = listener.local_addr().expect("an address");
    let url = Url::parse(&format!("http://localhost:{}", addr.port())).expect("a URL");
    (listener, url)
}

fn location(response: &reqwest::Response) -> String {
    response.headers()[header::LOCATION]
        .to_str()
        .expect("an ASCII Location")
        .to_owned()
}

/// The flow token in a Connect page's hidden field.
fn hidden_flow(page: &str) -> String {
    let start = page
        .find(r#"name="flow" value=""#)
        .unwrap_or_else(|| panic!("no flow field in {page}"))
        + r#"name="flow" value=""#.len();
    page[start..].split('"').next().expect("a value").to_owned()
}

/// An attribute's value in the demo page, unescaped as a browser would.
fn attribute(page: &str, name: &str) -> String {
    let marker = [name, "=\""].concat();
    let start = page.find(&marker).unwrap_or_else(|| panic!("no {name} in {page}")) + marker.len();
    let raw = page[start..].split('"').next().expect("a value");
    raw.replace("&#38;", "&").replace("&amp;", "&")
}

fn query_value(url: &str, key: &str) -> String {
    Url::parse(url)
        .expect("a URL")
        .query_pairs()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("no {key} in {url}"))
        .1
        .into_owned()
}

/// The React tutorial's origin may read the answer (tests/cors.rs checks that others may not).
fn assert_allows_the_tutorial(response: &reqwest::Response) {
    assert_eq!(
        response.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        Some(&header::HeaderValue::from_static("http://localhost:3000")),
        "{} {} has no CORS header",
        response.status(),
        response.url()
    );
}

async fn json(response: reqwest::Response) -> Value {
    response.json().await.expect("a JSON body")
}

#[tokio::test]
async fn the_popup_flow_exchanges_the_code_and_shows_the_first_vehicle() {
    let env = TestEnv::start(RedirectTo::SdkPage).await;
    let connect_url = env.popup_connect_url("eyJpbnN0YW5jZUlkIjoiMSJ9+/=").await;

    let redirect = env
        .connect(connect_url.as_str(), "driver@example.com", Decision::Allow)
        .await;
    let exchange = env
        .get(&["/exchange?code=", &query_value(&redirect, "code")].concat())
        .await;
    let vehicle = env.get("/vehicle").await;

    assert!(
        redirect.starts_with(&[env.redirect_uri.as_str(), "&code="].concat()),
        "{redirect}"
    );
    assert_eq!(query_value(&redirect, "state"), "eyJpbnN0YW5jZUlkIjoiMSJ9+/=");
    assert_allows_the_tutorial(&exchange);
    assert_eq!(exchange.status(), StatusCode::OK);
    assert_eq!(json(exchange).await, json!({ "connected": true }));
    assert_allows_the_tutorial(&vehicle);
    assert_eq!(vehicle.status(), StatusCode::OK);
    let vehicle = json(vehicle).await;
    let id = vehicle["id"].as_str().expect("an id").to_owned();
    assert_eq!(
        vehicle,
        json!({ "id": id, "make": "TESLA", "model": "Model 3", "year": 2021 })
    );
}

#[tokio::test]
async fn logging_in_through_the_backend_ends_on_the_vehicle() {
    let env = TestEnv::start(RedirectTo::Exchange).await;

    let login = env.get("/login").await;
    assert_eq!(login.status(), StatusCode::FOUND);
    assert_allows_the_tutorial(&login);
    let back = env
        .connect(&location(&login), "driver@example.com", Decision::Allow)
        .await;
    assert!(
        back.starts_with(&[env.backend.join("/exchange?code=").expect("a path").as_str()].concat()),
        "{back}"
    );
    let exchange = env.browser.get(&back).send().await.expect("answers");
    let vehicle = env.get("/vehicle").await;

    assert_eq!(exchange.status(), StatusCode::FOUND);
    assert_eq!(location(&exchange), "/vehicle");
    // Connect navigated here: a navigation sends no `Origin` and needs no CORS header.
    assert_eq!(vehicle.status(), StatusCode::OK);
    assert_eq!(json(vehicle).await["make"], "TESLA");
}

#[tokio::test]
async fn an_exchange_without_a_code_is_refused_at_once() {
    let env = TestEnv::start(RedirectTo::SdkPage).await;

    // The React tutorial ignores Connect's error and sends `code=null`.
    for query in [
        "/exchange",
        "/exchange?code=",
        "/exchange?code=null",
        "/exchange?code=undefined",
    ] {
        let response = env.get(query).await;

        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        assert_allows_the_tutorial(&response);
        assert_eq!(json(response).await["error"], "missing_code", "{query}");
    }
}

#[tokio::test]
async fn a_code_the_platform_refuses_comes_back_with_the_platform_error() {
    let env = TestEnv::start(RedirectTo::SdkPage).await;

    let response = env.get("/exchange?code=made-up").await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_allows_the_tutorial(&response);
    assert_eq!(
        json(response).await,
        json!({
            "error": "invalid_request",
            "error_description": "Invalid code: made-up.",
            "platform": {
                "status": 400,
                "body": { "error": "invalid_request", "error_description": "Invalid code: made-up." }
            }
        })
    );
}

#[tokio::test]
async fn a_code_works_only_once() {
    let env = TestEnv::start(RedirectTo::SdkPage).await;
    let connect_url = env.popup_connect_url("s").await;
    let redirect = env
        .connect(connect_url.as_str(), "driver@example.com", Decision::Allow)
        .await;
    let exchange = ["/exchange?code=", &query_value(&redirect, "code")].concat();

    let first = env.get(&exchange).await;
    let second = env.get(&exchange).await;

    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(second.status(), StatusCode::BAD_REQUEST, "the code is used up");
    assert_eq!(json(second).await["platform"]["body"]["error"], "invalid_request");
}

#[tokio::test]
async fn denying_consent_in_the_server_side_flow_reports_access_denied() {
    let env = TestEnv::start(RedirectTo::Exchange).await;
    let login = env.get("/login").await;

    let back = env
        .connect(&location(&login), "driver@example.com", Decision::Deny)
        .await;
    let response = env.browser.get(&back).send().await.expect("answers");

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    // Connect navigated here: a navigation sends no `Origin` and needs no CORS header.
    assert_eq!(
        json(response).await,
        json!({ "error": "access_denied", "error_description": "User denied access to application." })
    );
}

#[tokio::test]
async fn a_state_no_login_issued_is_refused() {
    let env = TestEnv::start(RedirectTo::Exchange).await;

    let response = env.get("/exchange?code=abc&state=forged").await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(response).await["error"], "invalid_state");
}

#[tokio::test]
async fn the_vehicle_before_connecting_is_a_401() {
    let env = TestEnv::start(RedirectTo::SdkPage).await;

    let response = env.get("/vehicle").await;

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_allows_the_tutorial(&response);
    assert_eq!(
        json(response).await,
        json!({ "error": "not_connected", "error_description": "No vehicle is connected yet: connect one first." })
    );
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_before_reading_the_vehicle() {
    let env = TestEnv::start(RedirectTo::SdkPage).await;
    env.connect_a_car().await;

    // Two hours pass for both: the mock would now refuse the first access token.
    tokio::time::pause();
    tokio::time::advance(std::time::Duration::from_secs(7200)).await;
    tokio::time::resume();
    env.mock_server.state().clock.advance(time::Duration::seconds(7200));
    let vehicle = env.get("/vehicle").await;

    assert_eq!(vehicle.status(), StatusCode::OK, "the token was refreshed");
    assert_eq!(json(vehicle).await["model"], "Model 3");
}

#[tokio::test]
async fn the_demo_page_opens_connect_on_the_platform_and_loads_nothing_from_elsewhere() {
    let env = TestEnv::start(RedirectTo::SdkPage).await;

    let response = env.get("/").await;
    assert_allows_the_tutorial(&response);
    let page = response.text().await.expect("a page");
    let connect_url = Url::parse(&attribute(&page, "data-authorize-url")).expect("a URL");

    assert_eq!(connect_url.origin(), env.mock.origin(), "Connect is on the platform");
    assert_eq!(connect_url.path(), "/oauth/authorize");
    assert_eq!(
        query_value(connect_url.as_str(), "redirect_uri"),
        env.redirect_uri.as_str()
    );
    assert_eq!(attribute(&page, "data-redirect-uri"), env.redirect_uri.as_str());
    for id in [
        "connect-button",
        "vehicle-id",
        "vehicle-make",
        "vehicle-model",
        "vehicle-year",
        "error",
    ] {
        assert!(page.contains(&format!(r#"id="{id}""#)), "#{id} is missing");
    }
    // The one absolute link is to the mock's own dashboard (a link to follow, not an asset).
    let dashboard = format!(r#"href="{}dashboard""#, env.mock.as_str());
    assert!(page.contains(&dashboard), "the page links to the mock's dashboard");
    assert!(
        !page.contains("src=\"http") && !page.replace(&dashboard, "").contains("href=\"http"),
        "an outside asset"
    );
}

#[tokio::test]
async fn an_unknown_route_still_allows_the_tutorial() {
    let env = TestEnv::start(RedirectTo::SdkPage).await;

    let response = env.get("/nowhere").await;

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_allows_the_tutorial(&response);
}

#[tokio::test]
async fn the_tutorial_runs_against_the_platform_over_https_by_its_origins_alone() {
    let env = TestEnv::start_with(RedirectTo::SdkPage, Platform::Https).await;
    let connect_url = env.popup_connect_url("s").await;

    let redirect = env
        .connect(connect_url.as_str(), "driver@example.com", Decision::Allow)
        .await;
    let exchange = env
        .get(&["/exchange?code=", &query_value(&redirect, "code")].concat())
        .await;
    let vehicle = env.get("/vehicle").await;

    assert_eq!(env.mock.scheme(), "https");
    assert!(connect_url.as_str().starts_with(env.mock.as_str()), "{connect_url}");
    assert_eq!(exchange.status(), StatusCode::OK);
    assert_eq!(json(exchange).await, json!({ "connected": true }));
    assert_eq!(vehicle.status(), StatusCode::OK);
    let vehicle = json(vehicle).await;
    assert_eq!(
        (&vehicle["make"], &vehicle["model"]),
        (&json!("TESLA"), &json!("Model 3"))
    );
}

#[tokio::test]
async fn a_platform_certificate_the_backend_does_not_trust_is_a_bad_gateway() {
    let env = TestEnv::start_with(RedirectTo::SdkPage, Platform::HttpsUntrusted).await;
    let connect_url = env.popup_connect_url("s").await;
    let redirect = env
        .connect(connect_url.as_str(), "driver@example.com", Decision::Allow)
        .await;

    let exchange = env
        .get(&["/exchange?code=", &query_value(&redirect, "code")].concat())
        .await;

    assert_eq!(exchange.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(json(exchange).await["error"], "platform_unreachable");
}
