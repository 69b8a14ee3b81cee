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
use crate::domain::vehicle::Vehicle;
use crate::domain::vehicle::VehicleState;
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
        return Err(AdminError::BadRequest("the change must be a JSON object".to_owned()));
    }
    state
        .world
        .update_vehicle(id, |vehicle| {
            let mut merged = serde_json::to_value(&vehicle.state).map_err(|e| AdminError::BadRequest(e.to_string()))?;
            merge(&mut merged, &patch);
            vehicle.state = std::sync::Arc::new(
                serde_path_to_error::deserialize::<_, VehicleState>(merged)
                    .map_err(|error| AdminError::BadRequest(format!("state.{}: {}", error.path(), error.inner())))?,
            );
            Ok(view(vehicle))
        })
        .ok_or_else(|| AdminError::NotFound(format!("no vehicle {id}")))?
        .map(Json)
}

/// JSON merge patch (RFC 7386) without deletion: objects merge key by key, the rest replaces.
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                match target.get_mut(key) {
                    Some(slot) if slot.is_object() && value.is_object() => merge(slot, value),
                    _ => {
                        target.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_merge_and_lists_are_replaced() {
        let mut state = json!({ "charge": { "isPluggedIn": false, "state": "NOT_CHARGING" }, "doors": [1, 2] });

        merge(&mut state, &json!({ "charge": { "isPluggedIn": true }, "doors": [3] }));

        assert_eq!(
            state,
            json!({ "charge": { "isPluggedIn": true, "state": "NOT_CHARGING" }, "doors": [3] })
        );
    }
}
