//! Test control from a test: the admin API over HTTP, with helpers named after what a CI job asks
//! for (connect a car without a browser, queue a fault, move the clock, read the journal).

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::support::{Connected, TestEnv};

impl TestEnv {
    /// Any admin call; the status and the JSON answer.
    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.http.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("admin call");
        let status = response.status();
        (status, response.json().await.expect("admin answers JSON"))
    }

    /// An admin call that must succeed; its JSON answer.
    pub async fn admin_ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, answer) = self.admin(method.clone(), path, body).await;
        assert_eq!(status, StatusCode::OK, "{method} {path}: {answer}");
        answer
    }

    /// Connects `brand` for `client_id` with `scope`, without a browser.
    pub async fn authorize_as(&self, client_id: &str, brand: &str, scope: &str) -> Connected {
        let answer = self
            .admin_ok(
                Method::POST,
                "/admin/authorize",
                Some(json!({ "client_id": client_id, "brand": brand, "scope": scope })),
            )
            .await;
        Connected::from_authorized(&answer)
    }

    /// Connects a `brand` vehicle for the demo app.
    pub async fn authorize(&self, brand: &str, scope: &str) -> Connected {
        self.authorize_as(crate::support::CLIENT_ID, brand, scope).await
    }

    /// Adds an API fault rule; its id.
    pub async fn add_fault(&self, rule: Value) -> u64 {
        let answer = self.admin_ok(Method::POST, "/admin/faults", Some(rule)).await;
        answer["id"].as_u64().expect("a rule id")
    }

    pub async fn advance_clock(&self, by: &str) {
        self.admin_ok(Method::POST, "/admin/clock/advance", Some(json!({ "by": by })))
            .await;
    }

    /// `GET /admin/requests?<query>`: the records, newest first.
    pub async fn journal(&self, query: &str) -> Vec<Value> {
        let answer = self
            .admin_ok(Method::GET, &format!("/admin/requests?{query}"), None)
            .await;
        answer["requests"].as_array().expect("a list").clone()
    }

    /// `GET /v2.0/vehicles/{vehicle}{path}` with the car's token.
    pub async fn read(&self, car: &Connected, path: &str) -> Response {
        self.get(&format!("/v2.0/vehicles/{}{path}", car.vehicle), &car.access_token)
            .await
    }
}

impl TestEnv {
    /// Like [`TestEnv::read`], but a transport failure is returned instead of panicking.
    pub async fn read_raw(&self, car: &Connected, path: &str) -> reqwest::Result<Response> {
        self.http
            .get(self.url(&format!("/v2.0/vehicles/{}{path}", car.vehicle)))
            .bearer_auth(&car.access_token)
            .send()
            .await
    }
}

impl TestEnv {
    /// Connects a simulated-mode `brand` vehicle of the demo app: commands check the car's state.
    pub async fn authorize_simulated(&self, brand: &str, scope: &str) -> Connected {
        let answer = self
            .admin_ok(
                Method::POST,
                "/admin/authorize",
                Some(json!({ "brand": brand, "scope": scope, "mode": "simulated" })),
            )
            .await;
        Connected::from_authorized(&answer)
    }

    /// `POST /v2.0/vehicles/{vehicle}{path}` with a JSON body and the car's token.
    pub async fn command(&self, car: &Connected, path: &str, body: Value) -> Response {
        self.http
            .post(self.url(&format!("/v2.0/vehicles/{}{path}", car.vehicle)))
            .bearer_auth(&car.access_token)
            .json(&body)
            .send()
            .await
            .expect("POST")
    }

    /// Merges `state` into the car's state through the admin API.
    pub async fn set_state(&self, car: &Connected, state: Value) {
        self.admin_ok(Method::PATCH, &format!("/admin/vehicles/{}", car.vehicle), Some(state))
            .await;
    }
}
