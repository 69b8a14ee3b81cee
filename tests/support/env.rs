//! `TestEnv`: a mock server on port 0 in the test's own runtime, and helpers named after what a
//! person or an app does (open Connect, sign in, allow, exchange the code, call the API).

use mock_server::{AppState, MockServer, MockServerBuilder};
use reqwest::{Response, StatusCode, header};
use serde_json::Value;

pub const CLIENT_ID: &str = "demo-client";
pub const CLIENT_SECRET: &str = "demo-secret";
pub const REDIRECT_URI: &str = "https://example.com/auth";

pub struct TestEnv {
    pub base: String,
    /// Held so the platform lives as long as the environment: dropping it shuts the server down.
    _server: MockServer,
    /// The server's state, for tests that reach into the world or test control.
    pub state: AppState,
    /// A browser-like client that does not follow redirects, so each hop can be asserted.
    pub http: reqwest::Client,
}

/// What to do on Connect; `Default` is a test-mode CHEVROLET login granting the app's default scope.
#[derive(Debug, Clone)]
pub struct Connect<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub brand: &'a str,
    pub scope: Option<&'a str>,
    pub mode: &'a str,
    pub username: String,
    pub password: &'a str,
    pub state: Option<&'a str>,
}

impl Default for Connect<'_> {
    fn default() -> Self {
        Connect {
            client_id: CLIENT_ID,
            redirect_uri: REDIRECT_URI,
            brand: "CHEVROLET",
            scope: None,
            mode: "test",
            username: format!("{}@email.com", uuid::Uuid::new_v4()),
            password: "password",
            state: None,
        }
    }
}

/// The tokens of a successful exchange.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
}

impl TestEnv {
    pub async fn start() -> Self {
        Self::with(MockServer::builder()).await
    }

    /// A server started with these switches (`--auto-approve`, `--admin-token`, `--limits`, …).
    pub async fn with_settings(settings: mock_server::Settings) -> Self {
        Self::with(MockServer::builder().settings(settings)).await
    }

    /// The platform as `server` says (fixtures, switches), on port 0.
    pub async fn with(server: MockServerBuilder) -> Self {
        let server = server.start().await;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .expect("client");
        TestEnv {
            base: server.uri(),
            state: server.state().clone(),
            _server: server,
            http,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET /oauth/authorize` with exactly these query pairs.
    pub async fn open_connect(&self, query: &[(&str, &str)]) -> Response {
        self.http
            .get(self.url("/oauth/authorize"))
            .query(query)
            .send()
            .await
            .expect("authorize")
    }

    /// Posts a step's form (the `flow` field is taken from `page`).
    pub async fn submit(&self, action: &str, page: &str, fields: &[(&str, &str)]) -> Response {
        let flow = hidden_flow(page);
        let mut form: Vec<(&str, &str)> = vec![("flow", flow.as_str())];
        form.extend_from_slice(fields);
        self.http.post(self.url(action)).form(&form).send().await.expect("step")
    }

    /// Walks Connect from the authorize URL to the final redirect and returns its `Location`.
    pub async fn walk_connect(&self, connect: &Connect<'_>, decision: &str) -> String {
        let mut query = vec![
            ("response_type", "code"),
            ("client_id", connect.client_id),
            ("redirect_uri", connect.redirect_uri),
            ("mode", connect.mode),
        ];
        if let Some(scope) = connect.scope {
            query.push(("scope", scope));
        }
        if let Some(state) = connect.state {
            query.push(("state", state));
        }
        let preamble = text_of(self.open_connect(&query).await).await;
        let brands = text_of(self.submit("/connect/brand", &preamble, &[]).await).await;
        let login = text_of(self.submit("/connect/login", &brands, &[("make", connect.brand)]).await).await;
        let grant = text_of(
            self.submit(
                "/connect/sign-in",
                &login,
                &[("username", connect.username.as_str()), ("password", connect.password)],
            )
            .await,
        )
        .await;
        let done = self.submit("/connect/grant", &grant, &[("decision", decision)]).await;
        assert_eq!(done.status(), StatusCode::FOUND, "Connect ends with a redirect");
        location(&done)
    }

    /// Walks Connect to sign-in, for logins that end there with a redirect (Connect errors).
    pub async fn walk_connect_until_sign_in(&self, connect: &Connect<'_>) -> String {
        let query = [
            ("response_type", "code"),
            ("client_id", connect.client_id),
            ("redirect_uri", connect.redirect_uri),
            ("mode", connect.mode),
            ("state", connect.state.unwrap_or("")),
        ];
        let preamble = text_of(self.open_connect(&query).await).await;
        let brands = text_of(self.submit("/connect/brand", &preamble, &[]).await).await;
        let login = text_of(self.submit("/connect/login", &brands, &[("make", connect.brand)]).await).await;
        let credentials = [("username", connect.username.as_str()), ("password", connect.password)];
        let response = self.submit("/connect/sign-in", &login, &credentials).await;
        assert_eq!(
            response.status(),
            StatusCode::FOUND,
            "sign-in ends Connect with a redirect"
        );
        location(&response)
    }

    /// Connects and returns the code from the redirect.
    pub async fn code(&self, connect: &Connect<'_>) -> String {
        let location = self.walk_connect(connect, "allow").await;
        query_value(&location, "code").unwrap_or_else(|| panic!("no code in {location}"))
    }

    /// `POST /oauth/token` with Basic credentials and these form fields.
    pub async fn token_request(&self, form: &[(&str, &str)]) -> Response {
        self.http
            .post(self.url("/oauth/token"))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(form)
            .send()
            .await
            .expect("token request")
    }

    pub async fn exchange(&self, code: &str) -> Tokens {
        let response = self
            .token_request(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT_URI),
            ])
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.expect("json");
        Tokens {
            access_token: body["access_token"].as_str().expect("access_token").to_owned(),
            refresh_token: body["refresh_token"].as_str().expect("refresh_token").to_owned(),
        }
    }

    /// Connects a `brand` vehicle with `scope` and returns the tokens and the vehicle id.
    pub async fn connect_vehicle(&self, brand: &str, scope: &str) -> (Tokens, String) {
        let code = self
            .code(&Connect {
                brand,
                scope: Some(scope),
                ..Connect::default()
            })
            .await;
        let tokens = self.exchange(&code).await;
        let vehicles: Value = self
            .get("/v2.0/vehicles", &tokens.access_token)
            .await
            .json()
            .await
            .expect("json");
        let id = vehicles["vehicles"][0].as_str().expect("a vehicle").to_owned();
        (tokens, id)
    }

    /// Any answer's status and JSON body.
    pub async fn json(&self, response: Response) -> (StatusCode, Value) {
        let status = response.status();
        (status, response.json().await.expect("a JSON body"))
    }

    /// `GET path` with a bearer token.
    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET")
    }
}

pub async fn text_of(response: Response) -> String {
    assert_eq!(response.status(), StatusCode::OK, "a Connect page");
    response.text().await.expect("page text")
}

/// The value of the hidden `flow` input of a Connect page.
pub fn hidden_flow(page: &str) -> String {
    let marker = r#"name="flow" value=""#;
    let start = page
        .find(marker)
        .map(|i| i + marker.len())
        .expect("the page has a flow field");
    let end = page[start..].find('"').expect("closing quote") + start;
    page[start..end].to_owned()
}

pub fn location(response: &Response) -> String {
    response.headers()[header::LOCATION]
        .to_str()
        .expect("ascii location")
        .to_owned()
}

/// A query parameter of a URL, form-decoded.
pub fn query_value(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    form_urlencoded_pairs(query)
        .into_iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}

fn form_urlencoded_pairs(query: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!("http://x/?{query}"))
        .expect("url")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}
