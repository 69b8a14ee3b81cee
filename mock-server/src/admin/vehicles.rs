//! Vehicle state control: what a car and its owner do between API calls.
//!
//! - `GET /admin/vehicles[?app=]` — every connected vehicle (of one app)
//! - `GET /admin/vehicles/{id}` — one vehicle and its state
//! - `PATCH /admin/vehicles/{id}` — merge a partial state, in the shape of `state` in the answer:
//!   `{"charge": {"isPluggedIn": true, "state": "CHARGING"}, "motion": "DRIVING", "asleep": true,
//!   "location": {"latitude": 40.0, "longitude": -105.0}, "odometer": {"distance": 12000.5}}`.
//!   Objects merge, anything else (numbers, lists such as `security.doors`) is replaced.
//!
//! A change is visible to the next read, moves `sc-data-age`, and is announced to webhook
//! delivery like a command's.

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{AdminError, AppFilter, JsonBody};
use crate::domain::clock::smartcar_timestamp;
use crate::domain::vehicle::PatchError;
use crate::domain::vehicle::Vehicle;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/vehicles", get(list))
        .route("/vehicles/{id}", get(show).patch(change))
}

fn view(vehicle: &Vehicle) -> Value {
    let spec = &vehicle.spec;
    json!({
        "id": vehicle.id,
        "app": vehicle.app,
        "user": vehicle.user,
        "mode": vehicle.mode,
        "vin": spec.vin,
        "make": spec.make,
        "model": spec.model,
        "year": spec.year,
        "powertrain": spec.powertrain,
        "capabilities": spec.capabilities,
        "updated_at": smartcar_timestamp(vehicle.updated_at),
        "state": serde_json::to_value(&vehicle.state).unwrap_or(Value::Null),
    })
}

fn vehicle_id(text: &str) -> Result<Uuid, AdminError> {
    Uuid::try_parse(text).map_err(|_| AdminError::NotFound(format!("{text:?} is not a vehicle id")))
}

async fn list(State(state): State<AppState>, Query(filter): Query<AppFilter>) -> Json<Value> {
    let vehicles: Vec<Value> = state.world.vehicles(filter.app.as_deref()).iter().map(view).collect();
    Json(json!({ "vehicles": vehicles }))
}

async fn show(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, AdminError> {
    let id = vehicle_id(&id)?;
    state
        .world
        .with_vehicle(id, |vehicle| Json(view(vehicle)))
        .ok_or_else(|| AdminError::NotFound(format!("no vehicle {id}")))
}

async fn change(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(patch): JsonBody<Value>,
) -> Result<Json<Value>, AdminError> {
    let id = vehicle_id(&id)?;
    if !patch.is_object() {
        return Err(AdminError::BadRequest(PatchError::NotAnObject.to_string()));
    }
    state
        .world
        .update_vehicle(id, |vehicle| {
            let patched = vehicle
                .state
                .patched(&patch)
                .map_err(|error| AdminError::BadRequest(error.to_string()))?;
            vehicle.state = std::sync::Arc::new(patched);
            Ok(view(vehicle))
        })
        .ok_or_else(|| AdminError::NotFound(format!("no vehicle {id}")))?
        .map(Json)
}
