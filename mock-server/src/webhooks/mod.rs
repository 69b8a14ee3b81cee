//! Webhooks: definitions in the fixtures, subscriptions, the VERIFY handshake, signed deliveries
//! with retries, and a delivery log (docs/contract/webhooks.md).
//!
//! Smartcar's routes:
//! - `POST /v{ver}/vehicles/{id}/webhooks/{webhookId}` (Bearer access token) — subscribes the
//!   vehicle and sends its first delivery: `{"webhookId","vehicleId"}`;
//! - `DELETE /v{ver}/vehicles/{id}/webhooks/{webhookId}` (Bearer AMT) — `{"status":"success"}`.
//!
//! The mock's own routes, standing in for the Dashboard (all authenticated with the owning app's
//! AMT, as `Bearer <AMT>` or `Basic default:<AMT>`):
//! - `GET /v{ver}/webhooks/{webhookId}/deliveries` — the delivery log: every event sent, its
//!   exact body and signature, and each attempt's status, latency, reply and, in plain words, why
//!   it failed (`timeout: …`, `status: …`, `wrong challenge answer: …`, `could not deliver: …`);
//! - `POST /v{ver}/webhooks/{webhookId}/verify` — "Verify this webhook": sends a VERIFY now,
//!   `{"webhookId","deliveryId"}`;
//! - `PUT /v{ver}/webhooks/{webhookId}` with `{"callbackUrl": "http://…"}` — points the webhook
//!   elsewhere and verifies it there (as a callback URL change does): `{"webhookId",
//!   "callbackUrl","deliveryId"}`.
//!
//! Every delivery is a POST of compact JSON with `content-type: application/json` and
//! `sc-signature: hex(HMAC-SHA256(AMT, body))`, over HTTP or HTTPS ([`client`]: the system's roots
//! plus `--ca-cert`). See [`delivery`] for retries, bounds and what events carry, and [`payload`]
//! for the two formats (a webhook's `version`: `"4.0"`, the default, or the legacy `"2.0"`).

pub(crate) mod client;
pub(crate) mod delivery;
pub(crate) mod payload;
pub(crate) mod signing;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

pub use delivery::{DeliverySettings, Webhooks};

use crate::domain::webhooks::{PayloadVersion, WebhookSpec};

use crate::credentials::{ApiVersion, Credentials, VehicleId, bearer_amt_app};
use crate::error::ApiError;
use crate::request::SmartcarJson;
use crate::state::AppState;
use crate::vehicles::Bearer;

/// The mock's own webhook routes; subscribing and unsubscribing a vehicle are vehicle routes,
/// declared in `crate::vehicles::router`.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/{version}/webhooks/{webhook}", put(set_callback_url))
        .route("/{version}/webhooks/{webhook}/deliveries", get(deliveries))
        .route("/{version}/webhooks/{webhook}/verify", post(verify))
}

fn unknown_webhook(webhook: &str) -> ApiError {
    ApiError::validation("webhook_id", format!("{webhook:?} is not one of this app's webhooks"))
}

/// The `{webhook}` of a route.
#[derive(Deserialize)]
pub(crate) struct WebhookParam {
    webhook: String,
}

fn ok(body: serde_json::Value) -> Response {
    SmartcarJson(StatusCode::OK, body).into_response()
}

/// `POST /v{ver}/vehicles/{id}/webhooks/{webhookId}`: the body, if any, is ignored.
pub(crate) async fn subscribe(
    State(state): State<AppState>,
    _: ApiVersion,
    Bearer(access): Bearer,
    id: VehicleId,
    Path(WebhookParam { webhook }): Path<WebhookParam>,
) -> Result<Response, ApiError> {
    let vehicle = id.uuid()?;
    if !access.vehicles.contains(&vehicle) {
        return Err(ApiError::authentication(format!(
            "vehicle {vehicle} is not connected to this access token"
        )));
    }
    let webhook_id = state
        .webhooks
        .registry()
        .owned_by(&access.app, &webhook)
        .ok_or_else(|| unknown_webhook(&webhook))?;
    state.webhooks.subscribe(webhook_id, vehicle, &access);
    Ok(ok(
        json!({ "webhookId": webhook_id.to_string(), "vehicleId": vehicle.to_string() }),
    ))
}

/// `DELETE /v{ver}/vehicles/{id}/webhooks/{webhookId}` with `Bearer <AMT>`: the AMT is checked
/// before the webhook id (Node's e2e test relies on it).
pub(crate) async fn unsubscribe(
    State(state): State<AppState>,
    _: ApiVersion,
    credentials: Credentials,
    id: VehicleId,
    Path(WebhookParam { webhook }): Path<WebhookParam>,
) -> Result<Response, ApiError> {
    let app = bearer_amt_app(&state, &credentials)?;
    let webhook_id = state
        .webhooks
        .registry()
        .owned_by(&app.client_id, &webhook)
        .ok_or_else(|| unknown_webhook(&webhook))?;
    let vehicle = id.uuid()?;
    state.webhooks.registry().unsubscribe(webhook_id, vehicle);
    Ok(ok(json!({ "status": "success" })))
}

/// The webhook of the path, owned by the app whose AMT the request carries.
fn owned_webhook(state: &AppState, credentials: &Credentials, webhook: &str) -> Result<Uuid, ApiError> {
    let app = bearer_amt_app(state, credentials)?;
    state
        .webhooks
        .registry()
        .owned_by(&app.client_id, webhook)
        .ok_or_else(|| unknown_webhook(webhook))
}

/// `GET /v{ver}/webhooks/{webhookId}/deliveries`.
async fn deliveries(
    State(state): State<AppState>,
    _: ApiVersion,
    credentials: Credentials,
    Path(WebhookParam { webhook }): Path<WebhookParam>,
) -> Result<Response, ApiError> {
    let webhook = owned_webhook(&state, &credentials, &webhook)?;
    let log = state
        .webhooks
        .registry()
        .log(webhook)
        .ok_or_else(|| unknown_webhook(&webhook.to_string()))?;
    Ok(SmartcarJson(StatusCode::OK, log).into_response())
}

/// `POST /v{ver}/webhooks/{webhookId}/verify`.
async fn verify(
    State(state): State<AppState>,
    _: ApiVersion,
    credentials: Credentials,
    Path(WebhookParam { webhook }): Path<WebhookParam>,
) -> Result<Response, ApiError> {
    let webhook = owned_webhook(&state, &credentials, &webhook)?;
    let delivery = state
        .webhooks
        .verify(webhook)
        .ok_or_else(|| unknown_webhook(&webhook.to_string()))?;
    Ok(ok(
        json!({ "webhookId": webhook.to_string(), "deliveryId": delivery.to_string() }),
    ))
}

/// `PUT /v{ver}/webhooks/{webhookId}` with `{"callbackUrl": "…"}`.
async fn set_callback_url(
    State(state): State<AppState>,
    _: ApiVersion,
    credentials: Credentials,
    Path(WebhookParam { webhook }): Path<WebhookParam>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let webhook = owned_webhook(&state, &credentials, &webhook)?;
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Change {
        callback_url: String,
    }
    let change: Change = serde_json::from_slice(&body).map_err(|error| {
        ApiError::validation(
            "callbackUrl",
            format!("the body must be {{\"callbackUrl\": \"…\"}}: {error}"),
        )
    })?;
    let probe = WebhookSpec {
        id: webhook,
        name: String::new(),
        callback_url: change.callback_url.clone(),
        version: PayloadVersion::V4,
        signals: Vec::new(),
    };
    probe
        .check()
        .map_err(|(field, message)| ApiError::validation(field, message))?;
    let delivery = state
        .webhooks
        .set_callback_url(webhook, &change.callback_url)
        .ok_or_else(|| unknown_webhook(&webhook.to_string()))?;
    Ok(ok(json!({
        "webhookId": webhook.to_string(),
        "callbackUrl": change.callback_url,
        "deliveryId": delivery.to_string(),
    })))
}
