//! The v3 vehicle API (docs/contract/api.md#v3), JSON:API-style, errors in the v3 `errors[]`
//! envelope:
//!
//! - `GET /v3/vehicles/{id}` — the vehicle's attributes
//! - `GET /v3/vehicles/{id}/signals?page&pageSize` — its signals, with `meta` paging and `links`
//! - `GET /v3/vehicles/{id}/signals/{code}` — one signal
//!
//! Any connected vehicle answers, with signals derived from the same state the v2 endpoints
//! read, one per granted permission. The static token `test-data-token` reaches the fixed test
//! vehicle `tst2e255-d3c8-4f90-9fec-e6e68b98e9cb` (a 2021 TESLA Model Y with two signals), whose id
//! is not a UUID — v3 does not validate ids. Headers: only `sc-request-id` and the content type
//! (no SDK reads others: docs/contract/api.md#decisions-where-smartcar-is-silent).

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{BearerToken, query_pairs};
use crate::credentials::VehicleId;
use crate::domain::catalogue;
use crate::domain::permissions::Permission;
use crate::domain::vehicle::Vehicle;
use crate::error::ApiError;
use crate::request::SmartcarJson;
use crate::state::AppState;

pub(crate) const TEST_TOKEN: &str = "test-data-token";
pub(crate) const TEST_VEHICLE: &str = "tst2e255-d3c8-4f90-9fec-e6e68b98e9cb";

/// What v3 knows about one vehicle: attributes and signals, read under the world's lock once.
struct Snapshot {
    id: String,
    make: String,
    model: String,
    year: u16,
    signals: Vec<Value>,
    forced_error: Option<&'static catalogue::Entry>,
}

fn signal_object(vehicle: &str, code: &str, name: &str, group: &str, body: Value, at_ms: i64) -> Value {
    json!({
        "id": code,
        "type": "signal",
        "attributes": {
            "code": code,
            "name": name,
            "group": group,
            "status": { "value": "SUCCESS" },
            "body": body,
        },
        "meta": { "retrievedAt": at_ms, "oemUpdatedAt": at_ms - 100_000 },
        "links": { "self": format!("/vehicles/{vehicle}/signals/{code}") },
    })
}

fn test_vehicle() -> Snapshot {
    const AT: i64 = 1_752_104_218_549;
    Snapshot {
        id: TEST_VEHICLE.to_owned(),
        make: "TESLA".to_owned(),
        model: "Model Y".to_owned(),
        year: 2021,
        signals: vec![
            signal_object(
                TEST_VEHICLE,
                "odometer-traveleddistance",
                "TraveledDistance",
                "Odometer",
                json!({ "unit": "kilometers", "value": 115_071.500_465_843_33 }),
                AT,
            ),
            signal_object(
                TEST_VEHICLE,
                "charge-chargetimers",
                "ChargeTimers",
                "Charge",
                json!({ "values": [{ "type": "DEPARTURE", "days": ["MONDAY", "FRIDAY"], "time": "07:30", "enabled": true }] }),
                AT,
            ),
        ],
        forced_error: None,
    }
}

/// The signals a v2 vehicle's state yields, for the permissions granted.
fn derived_signals(vehicle: &Vehicle, scopes: &[Permission], at_ms: i64) -> Vec<Value> {
    let id = vehicle.id.to_string();
    let state = &vehicle.state;
    let mut out = Vec::new();
    let mut add = |permission: Permission, code: &str, name: &str, group: &str, body: Option<Value>| {
        if let Some(body) = body
            && scopes.contains(&permission)
        {
            out.push(signal_object(&id, code, name, group, body, at_ms));
        }
    };
    add(
        Permission::ReadOdometer,
        "odometer-traveleddistance",
        "TraveledDistance",
        "Odometer",
        state
            .odometer
            .as_ref()
            .map(|o| json!({ "unit": "kilometers", "value": o.distance })),
    );
    add(
        Permission::ReadLocation,
        "location-preciselocation",
        "PreciseLocation",
        "Location",
        state
            .location
            .as_ref()
            .map(|l| json!({ "latitude": l.latitude, "longitude": l.longitude })),
    );
    add(
        Permission::ReadBattery,
        "tractionbattery-stateofcharge",
        "StateOfCharge",
        "TractionBattery",
        state
            .battery
            .as_ref()
            .map(|b| json!({ "unit": "percent", "value": b.percent_remaining * 100.0 })),
    );
    add(
        Permission::ReadBattery,
        "tractionbattery-range",
        "Range",
        "TractionBattery",
        state
            .battery
            .as_ref()
            .map(|b| json!({ "unit": "kilometers", "value": b.range })),
    );
    add(
        Permission::ReadCharge,
        "charge-ischarging",
        "IsCharging",
        "Charge",
        state
            .charge
            .as_ref()
            .map(|c| json!({ "value": c.state == crate::domain::vehicle::ChargeState::Charging })),
    );
    add(
        Permission::ReadCharge,
        "charge-ischargingcableconnected",
        "IsChargingCableConnected",
        "Charge",
        state.charge.as_ref().map(|c| json!({ "value": c.is_plugged_in })),
    );
    add(
        Permission::ReadFuel,
        "internalcombustionengine-fuellevel",
        "FuelLevel",
        "InternalCombustionEngine",
        state
            .fuel
            .as_ref()
            .map(|f| json!({ "unit": "percent", "value": f.percent_remaining * 100.0 })),
    );
    add(
        Permission::ReadSecurity,
        "closure-islocked",
        "IsLocked",
        "Closure",
        state.security.as_ref().map(|s| json!({ "value": s.is_locked })),
    );
    out
}

fn snapshot(state: &AppState, bearer: BearerToken, id: &str) -> Result<Snapshot, ApiError> {
    let token = bearer.token()?;
    if token == TEST_TOKEN {
        return if id == TEST_VEHICLE {
            Ok(test_vehicle())
        } else {
            Err(ApiError::authentication(format!(
                "the test-data token reaches only {TEST_VEHICLE}"
            )))
        };
    }
    let access = bearer.access(state)?;
    let not_connected = || ApiError::authentication(format!("vehicle {id} is not connected to this access token"));
    let uuid = Uuid::try_parse(id).map_err(|_| not_connected())?;
    if !access.vehicles.contains(&uuid) {
        return Err(not_connected());
    }
    let at_ms = (state.clock.now().unix_timestamp_nanos() / 1_000_000) as i64;
    state
        .world
        .with_vehicle(uuid, |vehicle| Snapshot {
            id: id.to_owned(),
            make: vehicle.spec.make.clone(),
            model: vehicle.spec.model.clone(),
            year: vehicle.spec.year,
            signals: derived_signals(vehicle, &access.scopes, at_ms),
            forced_error: access.forced_error,
        })
        .ok_or_else(not_connected)
}

fn vehicle_object(snapshot: &Snapshot, year: Value) -> Value {
    json!({
        "id": snapshot.id,
        "type": "vehicle",
        "attributes": { "make": snapshot.make, "model": snapshot.model, "year": year },
        "links": { "self": format!("/vehicles/{}", snapshot.id) },
    })
}

fn ok(body: Value) -> Response {
    SmartcarJson(StatusCode::OK, body).into_response()
}

fn forced(snapshot: &Snapshot) -> Result<(), ApiError> {
    match snapshot.forced_error {
        Some(entry) => Err(super::forced_error(entry)),
        None => Ok(()),
    }
}

pub(crate) async fn vehicle(
    state: State<AppState>,
    VehicleId(id): VehicleId,
    bearer: BearerToken,
) -> Result<Response, ApiError> {
    let snapshot = snapshot(&state, bearer, &id)?;
    Ok(ok(vehicle_object(&snapshot, json!(snapshot.year))))
}

pub(crate) async fn signals(
    state: State<AppState>,
    VehicleId(id): VehicleId,
    RawQuery(raw): RawQuery,
    bearer: BearerToken,
) -> Result<Response, ApiError> {
    let snapshot = snapshot(&state, bearer, &id)?;
    forced(&snapshot)?;
    let query = query_pairs(raw.as_deref());
    let number = |name: &str| -> Result<Option<usize>, ApiError> {
        match query.iter().find(|(key, _)| key == name) {
            None => Ok(None),
            Some((_, value)) => match value.trim().parse::<usize>() {
                Ok(n) if n >= 1 => Ok(Some(n)),
                _ => Err(ApiError::validation(
                    name,
                    format!("must be a whole number from 1, got {value:?}"),
                )),
            },
        }
    };
    let total = snapshot.signals.len();
    let page = number("page")?.unwrap_or(1);
    let page_size = number("pageSize")?.unwrap_or(total.max(1));
    let data: Vec<Value> = snapshot
        .signals
        .iter()
        .skip((page - 1).saturating_mul(page_size))
        .take(page_size)
        .cloned()
        .collect();
    let base = format!("/vehicles/{id}/signals");
    let last = total.div_ceil(page_size).max(1);
    let mut links = serde_json::Map::new();
    links.insert("self".into(), base.clone().into());
    if last > 1 {
        let link = |n: usize| format!("{base}?page={n}&pageSize={page_size}");
        links.insert("first".into(), link(1).into());
        if page > 1 {
            links.insert("previous".into(), link((page - 1).min(last)).into());
        }
        if page < last {
            links.insert("next".into(), link(page + 1).into());
        }
        links.insert("last".into(), link(last).into());
    }
    Ok(ok(json!({
        "data": data,
        "meta": { "totalCount": total, "pageSize": page_size, "page": page },
        "links": links,
        "included": { "vehicle": vehicle_object(&snapshot, json!(snapshot.year.to_string())) },
    })))
}

pub(crate) async fn signal(
    state: State<AppState>,
    Path((id, code)): Path<(String, String)>,
    bearer: BearerToken,
) -> Result<Response, ApiError> {
    let snapshot = snapshot(&state, bearer, &id)?;
    forced(&snapshot)?;
    snapshot
        .signals
        .iter()
        .find(|signal| signal["id"].as_str().is_some_and(|c| c.eq_ignore_ascii_case(&code)))
        .map(|signal| ok(signal.clone()))
        .ok_or_else(|| {
            ApiError::new(
                &catalogue::NOT_FOUND_PATH,
                format!("vehicle {id} has no signal {code} (or its permission was not granted)"),
            )
        })
}
