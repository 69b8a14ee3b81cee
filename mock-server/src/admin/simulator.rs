//! The vehicle simulator (test control), JSON in and out:
//!
//! - `GET /admin/simulator/routes` — the built-in routes: name, description, length, duration
//! - `GET /admin/simulator/vehicles[?app=]` — every vehicle the simulator created or runs a trip
//!   on: `{"vehicles": [{"vehicleId", "name", "trip"}]}` (`trip` null when none runs)
//! - `POST /admin/simulator/vehicles` — `{"powertrain": "BEV", "name": "Workshop car",
//!   "client_id"?}`: a simulated vehicle created already connected — its user, its id and a
//!   token pair with every permission it is compatible with (as `POST /admin/authorize` answers)
//! - `POST /admin/vehicles/{id}/trip` — start a trip (replacing one under way):
//!   `{"profile": "driving", "route": "city-loop" | {"name", "speedKmh", "waypoints": […]},
//!   "speedKmh"?, "chargerKw"?, "asleepAfter"?: "15m" | "never", "workday"?: "8h"}`;
//!   profiles `parked`, `driving`, `charging`, `commute`
//! - `GET /admin/vehicles/{id}/trip` — where the trip is and the state it gives now
//! - `DELETE /admin/vehicles/{id}/trip` — stop it; the values stay where the trip got them
//!
//! A trip answers `{"vehicleId", "name", "trip": {"profile", "phase", "step", "steps",
//! "stageElapsedSeconds", "stageRemainingSeconds", "route": {"name", "travelledKm", "lengthKm",
//! "waypoints"}, "ended"}, "state": {…}}`, `state` as `GET /admin/vehicles/{id}` has it (metric).
//! Every change a trip makes reaches webhook delivery through the world's change broadcast (the
//! throttle: `docs/simulator.md`). The rules: [`crate::domain::simulator`].

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{AdminError, AppFilter, JsonBody};
use crate::domain::permissions::Permission;
use crate::domain::simulator::control::{self, CreateError, TripView};
use crate::domain::simulator::routes::{self, Route};
use crate::domain::simulator::running::StartError;
use crate::domain::simulator::trip::{TripError, TripRequest};
use crate::domain::vehicle::{Location, Powertrain, VehicleSpec};
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/simulator/routes", get(list_routes))
        .route("/simulator/vehicles", get(list_vehicles).post(create_vehicle))
        .route("/vehicles/{id}/trip", get(show_trip).post(start_trip).delete(stop_trip))
}

fn vehicle_id(text: &str) -> Result<Uuid, AdminError> {
    Uuid::try_parse(text).map_err(|_| AdminError::NotFound(format!("{text:?} is not a vehicle id")))
}

fn no_vehicle(id: Uuid) -> AdminError {
    AdminError::NotFound(format!("no vehicle {id}"))
}

fn view(id: Uuid, trip: &TripView) -> Value {
    json!({
        "vehicleId": id,
        "name": trip.name,
        "trip": serde_json::to_value(&trip.status).unwrap_or(Value::Null),
        "state": serde_json::to_value(&trip.state).unwrap_or(Value::Null),
    })
}

async fn list_routes() -> Json<Value> {
    // Figures for a start in Boston: a route starts where the car stands, and its length hardly
    // depends on where that is.
    let anchor = Location {
        latitude: 42.3601,
        longitude: -71.0589,
    };
    let routes: Vec<Value> = routes::built_in()
        .filter_map(|(name, description)| {
            let route = Route::named(name, &anchor).ok()?;
            Some(json!({
                "name": name,
                "description": description,
                "lengthKm": (route.length_km() * 10.0).round() / 10.0,
                "durationMinutes": (route.duration_hours() * 600.0).round() / 10.0,
            }))
        })
        .collect();
    Json(json!({ "routes": routes }))
}

async fn list_vehicles(State(state): State<AppState>, Query(filter): Query<AppFilter>) -> Json<Value> {
    let vehicles: Vec<Value> = control::list(&state.world, filter.app.as_deref())
        .iter()
        .map(|(id, name, trip)| match trip {
            Some(trip) => view(*id, trip),
            None => json!({ "vehicleId": id, "name": name, "trip": null }),
        })
        .collect();
    Json(json!({ "vehicles": vehicles }))
}

async fn start_trip(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<TripRequest>,
) -> Result<(StatusCode, Json<Value>), AdminError> {
    let id = vehicle_id(&id)?;
    let trip = control::start(&state.world, id, &request)
        .ok_or_else(|| no_vehicle(id))?
        .map_err(|error| match error {
            StartError::TooMany => AdminError::Refused {
                error: "too_many_trips",
                message: error.to_string(),
            },
            StartError::Trip(error @ TripError::CannotCharge { .. }) => AdminError::Refused {
                error: "cannot_charge",
                message: error.to_string(),
            },
            StartError::Trip(error) => AdminError::BadRequest(error.to_string()),
        })?;
    Ok((StatusCode::CREATED, Json(view(id, &trip))))
}

async fn show_trip(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, AdminError> {
    let id = vehicle_id(&id)?;
    let trip = control::status(&state.world, id)
        .ok_or_else(|| no_vehicle(id))?
        .ok_or_else(|| AdminError::NotFound(format!("no trip runs on vehicle {id}")))?;
    Ok(Json(view(id, &trip)))
}

async fn stop_trip(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, AdminError> {
    let id = vehicle_id(&id)?;
    let trip = control::stop(&state.world, id)
        .ok_or_else(|| no_vehicle(id))?
        .ok_or_else(|| AdminError::NotFound(format!("no trip runs on vehicle {id}")))?;
    Ok(Json(view(id, &trip)))
}

/// `POST /admin/simulator/vehicles`'s body (the CLI's `vehicle create` sends it).
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CreateVehicle {
    pub powertrain: Powertrain,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// Every permission an endpoint of the vehicle API grants on this vehicle: the static
/// endpoints', and those of every capability (and brand endpoint) it has.
fn compatible_scope(spec: &VehicleSpec) -> Vec<Permission> {
    let mut scope: Vec<Permission> = crate::vehicles::endpoints::table()
        .iter()
        .filter(|endpoint| endpoint.capability.is_none_or(|c| spec.capabilities.contains(&c)))
        .filter(|endpoint| endpoint.make.is_none_or(|makes| makes.contains(&spec.make.as_str())))
        .filter_map(|endpoint| endpoint.permission)
        .collect();
    scope.sort();
    scope.dedup();
    scope
}

async fn create_vehicle(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<CreateVehicle>,
) -> Result<(StatusCode, Json<Value>), AdminError> {
    let app = super::app_or_first(&state, request.client_id.as_deref())?;
    let created = control::create_vehicle(
        &state.fixtures,
        &state.world,
        app,
        request.powertrain,
        &request.name,
        compatible_scope,
    )
    .map_err(|error| match error {
        CreateError::Name => AdminError::BadRequest(error.to_string()),
        CreateError::NoFixture(_) | CreateError::NoRedirectUri => AdminError::Refused {
            error: "not_available",
            message: error.to_string(),
        },
        CreateError::Forgotten(_) | CreateError::Exchange(_) => AdminError::Refused {
            error: "server_error",
            message: error.to_string(),
        },
    })?;
    let spec = &created.spec;
    let scope: Vec<&str> = created.scope.iter().map(|permission| permission.as_str()).collect();
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "name": created.name,
            "vehicle_id": created.vehicle,
            "user_id": created.tokens.user,
            "email": created.login,
            "client_id": app.client_id,
            "mode": "simulated",
            "powertrain": spec.powertrain,
            "vin": spec.vin,
            "make": spec.make,
            "model": spec.model,
            "year": spec.year,
            "scope": scope,
            "access_token": created.tokens.access_token,
            "token_type": "Bearer",
            "expires_in": created.tokens.expires_in,
            "refresh_token": created.tokens.refresh_token,
            "vehicle_ids": created.tokens.vehicles,
        })),
    ))
}
