//! Helpers for the vehicle API tests: a connected car and requests to it, answered as
//! `(status, headers, JSON body)`.

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use uuid::Uuid;

use crate::harness::{Connect, TestEnv};

/// Every permission a vehicle endpoint needs.
pub const ALL: &str = "read_vehicle_info read_vin read_odometer read_location read_fuel read_battery read_charge \
                       control_charge read_engine_oil read_tires read_security control_security control_navigation \
                       read_service_history read_diagnostics read_compass read_speedometer read_thermometer";

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The body without its `requestId`, after checking it is the `sc-request-id` header.
    pub fn body_without_request_id(&self) -> Value {
        let mut body = self.body.clone();
        let id = body.as_object_mut().and_then(|map| map.remove("requestId"));
        assert_eq!(
            id.as_ref().and_then(Value::as_str),
            self.header("sc-request-id"),
            "the body's requestId is the header's"
        );
        body
    }
}

/// A vehicle connected through Connect, and the token that reaches it.
pub struct Car {
    pub env: TestEnv,
    pub token: String,
    pub id: String,
}

impl Car {
    /// A test-mode `brand` vehicle with `scope`.
    pub async fn connect(brand: &str, scope: &str) -> Car {
        Self::connect_with(Connect {
            brand,
            scope: Some(scope),
            ..Connect::default()
        })
        .await
    }

    pub async fn connect_with(connect: Connect<'_>) -> Car {
        let env = TestEnv::start().await;
        let (token, id) = connect_on(&env, connect).await;
        Car { env, token, id }
    }

    pub fn uuid(&self) -> Uuid {
        Uuid::parse_str(&self.id).expect("a UUID")
    }

    /// `/v2.0/vehicles/{id}{path}`.
    pub fn path(&self, path: &str) -> String {
        format!("/v2.0/vehicles/{}{path}", self.id)
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, &self.path(path), None, &[]).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(Method::POST, &self.path(path), Some(body), &[]).await
    }

    /// Any request to an absolute path on the mock, with this car's token.
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>, headers: &[(&str, &str)]) -> Answer {
        send(&self.env, &self.token, method, path, body, headers).await
    }
}

/// Connects on an existing server and returns `(access token, first vehicle id)`.
pub async fn connect_on(env: &TestEnv, connect: Connect<'_>) -> (String, String) {
    let code = env.code(&connect).await;
    let tokens = env.exchange(&code).await;
    let answer = send(env, &tokens.access_token, Method::GET, "/v2.0/vehicles", None, &[]).await;
    let id = answer.body["vehicles"][0].as_str().expect("a vehicle").to_owned();
    (tokens.access_token, id)
}

pub async fn send(
    env: &TestEnv,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> Answer {
    let mut request = env.http.request(method, env.url(path)).bearer_auth(token);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.json().await.expect("a JSON body");
    Answer { status, headers, body }
}
