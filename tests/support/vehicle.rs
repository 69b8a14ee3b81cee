//! Helpers for the vehicle API tests: a server with one car connected through Connect, and
//! requests to it, answered as `(status, headers, JSON body)`.

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::{Connect, Connected, TestEnv};

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

/// A server of its own with a vehicle connected through Connect: the car (`car.vehicle`,
/// `car.access_token`, …) and the server it is on.
pub struct Car {
    pub env: TestEnv,
    pub connected: Connected,
}

impl std::ops::Deref for Car {
    type Target = Connected;

    fn deref(&self) -> &Connected {
        &self.connected
    }
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
        let connected = connect_on(&env, connect).await;
        Car { env, connected }
    }

    /// `/v2.0/vehicles/{id}{path}`.
    pub fn path(&self, path: &str) -> String {
        format!("/v2.0/vehicles/{}{path}", self.vehicle)
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, &self.path(path), None, &[]).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(Method::POST, &self.path(path), Some(body), &[]).await
    }

    /// Any request to an absolute path on the mock, with this car's token.
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>, headers: &[(&str, &str)]) -> Answer {
        send(&self.env, &self.access_token, method, path, body, headers).await
    }
}

/// Connects on an existing server through Connect's pages: the user and their first vehicle.
pub async fn connect_on(env: &TestEnv, connect: Connect<'_>) -> Connected {
    let code = env.code(&connect).await;
    let tokens = env.exchange(&code).await;
    let answer = send(env, &tokens.access_token, Method::GET, "/v2.0/vehicles", None, &[]).await;
    let vehicle = answer.body["vehicles"][0].as_str().expect("a vehicle").to_owned();
    let user = send(env, &tokens.access_token, Method::GET, "/v2.0/user", None, &[]).await;
    Connected {
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
        user: user.body["id"].as_str().expect("a user id").to_owned(),
        vehicle,
    }
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
