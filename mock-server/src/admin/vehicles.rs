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
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{AdminError, AppFilter, JsonBody};
use crate::domain::clock::smartcar_timestamp;
use crate::domain::vehicle::PatchError;
use crate::domain::vehicle::Vehicle;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/vehicles", get(handle_list))
        .route("/vehicles/{id}", get(handle_show).patch(handle_patch))
}

/// The body of `PATCH /admin/vehicles/{id}`: a partial vehicle state, in the shape of `state` in
/// the answer. Objects merge; anything else is replaced.
///
/// ```
/// use mock_server::StatePatch;
/// use serde_json::json;
///
/// let patch = StatePatch::new().set("charge.isPluggedIn", true).set("motion", "DRIVING");
///
/// assert_eq!(
///     serde_json::to_value(&patch).unwrap(),
///     json!({ "charge": { "isPluggedIn": true }, "motion": "DRIVING" })
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct StatePatch(Value);

impl StatePatch {
    /// A patch that changes nothing yet.
    pub fn new() -> Self {
        StatePatch(Value::Object(Map::new()))
    }

    /// Sets the field at the dotted `path` (`charge.isPluggedIn`) to `value`.
    pub fn set(mut self, path: &str, value: impl Into<Value>) -> Self {
        let mut slot = &mut self.0;
        for key in path.split('.') {
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            slot = &mut slot[key];
        }
        *slot = value.into();
        self
    }

    /// The patch as JSON.
    pub fn as_json(&self) -> &Value {
        &self.0
    }
}

impl Default for StatePatch {
    fn default() -> Self {
        StatePatch::new()
    }
}

impl From<Value> for StatePatch {
    /// Any JSON; one that is not an object is refused when it is applied, as the admin API
    /// refuses it.
    fn from(patch: Value) -> Self {
        StatePatch(patch)
    }
}

/// A vehicle as the admin API shows it.
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

/// Every connected vehicle (of one app), as the admin API shows them.
pub(crate) fn list(state: &AppState, app: Option<&str>) -> Vec<Value> {
    state.world.vehicles(app).iter().map(view).collect()
}

/// One vehicle, as the admin API shows it.
pub(crate) fn show(state: &AppState, id: Uuid) -> Result<Value, AdminError> {
    state
        .world
        .with_vehicle(id, |vehicle| view(vehicle))
        .ok_or_else(|| AdminError::NotFound(format!("no vehicle {id}")))
}

/// Merges `patch` into the vehicle's state and announces the change; the vehicle as shown after.
pub(crate) fn patch(state: &AppState, id: Uuid, patch: &StatePatch) -> Result<Value, AdminError> {
    if !patch.0.is_object() {
        return Err(AdminError::BadRequest(PatchError::NotAnObject.to_string()));
    }
    state
        .world
        .update_vehicle(id, |vehicle| {
            let patched = vehicle
                .state
                .patched(&patch.0)
                .map_err(|error| AdminError::BadRequest(error.to_string()))?;
            vehicle.state = std::sync::Arc::new(patched);
            Ok(view(vehicle))
        })
        .ok_or_else(|| AdminError::NotFound(format!("no vehicle {id}")))?
}

async fn handle_list(State(state): State<AppState>, Query(filter): Query<AppFilter>) -> Json<Value> {
    Json(json!({ "vehicles": list(&state, filter.app.as_deref()) }))
}

async fn handle_show(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, AdminError> {
    show(&state, vehicle_id(&id)?).map(Json)
}

async fn handle_patch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<StatePatch>,
) -> Result<Json<Value>, AdminError> {
    patch(&state, vehicle_id(&id)?, &request).map(Json)
}
