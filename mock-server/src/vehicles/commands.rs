//! The commands of smartcar-api.md §4.3 (routes declared in [`super::endpoints`]); each runs
//! through [`crate::domain::world::World::update_vehicle`], so reads see the change and webhook
//! delivery hears of it:
//!
//! - `POST /security` `{"action":"LOCK"|"UNLOCK"}` — `isLocked` and every door follow
//! - `POST /charge` `{"action":"START"|"STOP"}` — the charge `state` follows
//! - `POST /charge/limit` `{"limit": 0.8}` (or `"0.8"`, as Node sends it)
//! - `POST /navigation/destination` `{"latitude","longitude"}` — recorded on the vehicle
//! - `DELETE /application` — `{"status":"success"}`; the dispatcher then disconnects
//!
//! In `simulated` and `live` mode commands are checked against the car's state as real cars are
//! (test-mode.md A3): LOCK/UNLOCK while driving → `VEHICLE_STATE:IN_MOTION`; START/STOP
//! unplugged → `CHARGING_PLUG_NOT_CONNECTED`; START while charging → `CHARGING_IN_PROGRESS`.
//! In `test` mode they succeed (and still change the state), as on the real platform.

use serde_json::{Value, json};
use std::sync::Arc;

use super::endpoints::{Call, missing};
use crate::domain::catalogue;
use crate::domain::vehicle::{ChargeState, Location, Motion};
use crate::domain::world::Mode;
use crate::error::ApiError;

/// The body every successful command answers with.
pub fn success() -> Value {
    json!({ "status": "success", "message": "Successfully sent request to vehicle" })
}

/// The body's `action`, upper-cased, if it is one of `allowed`.
fn action(call: &Call<'_>, allowed: &[&str]) -> Result<String, ApiError> {
    let expected = format!("must be one of {}", allowed.join(", "));
    let action = call
        .body
        .and_then(|body| body.get("action"))
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::validation("action", format!("is required and {expected}")))?;
    let action = action.trim().to_ascii_uppercase();
    if allowed.contains(&action.as_str()) {
        Ok(action)
    } else {
        Err(ApiError::validation("action", format!("{expected}, got {action:?}")))
    }
}

/// A number field, given as a JSON number or a numeric string.
fn number(call: &Call<'_>, field: &str) -> Result<f64, ApiError> {
    let value = call
        .body
        .and_then(|body| body.get(field))
        .ok_or_else(|| ApiError::validation(field, "is required"))?;
    let number = match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse::<f64>().ok(),
        _ => None,
    };
    number
        .filter(|n| n.is_finite())
        .ok_or_else(|| ApiError::validation(field, format!("must be a number, got {value}")))
}

fn strict(call: &Call<'_>) -> bool {
    call.vehicle.mode != Mode::Test
}

pub(super) fn lock_or_unlock(call: &mut Call<'_>) -> Result<Value, ApiError> {
    let lock = action(call, &["LOCK", "UNLOCK"])? == "LOCK";
    if strict(call) && call.vehicle.state.motion == Motion::Driving {
        return Err(ApiError::new(
            &catalogue::VEHICLE_STATE_IN_MOTION,
            "the vehicle is driving; it cannot be locked or unlocked",
        ));
    }
    let security = Arc::make_mut(&mut call.vehicle.state)
        .security
        .as_mut()
        .ok_or_else(|| missing("security"))?;
    security.is_locked = lock;
    let status = if lock { "LOCKED" } else { "UNLOCKED" };
    for door in &mut security.doors {
        status.clone_into(&mut door.status);
    }
    Ok(success())
}

pub(super) fn start_or_stop_charge(call: &mut Call<'_>) -> Result<Value, ApiError> {
    let start = action(call, &["START", "STOP"])? == "START";
    let strict = strict(call);
    let charge = Arc::make_mut(&mut call.vehicle.state)
        .charge
        .as_mut()
        .ok_or_else(|| missing("charge"))?;
    if strict && !charge.is_plugged_in {
        return Err(ApiError::new(
            &catalogue::CHARGING_PLUG_NOT_CONNECTED,
            "the vehicle is not plugged in",
        ));
    }
    if strict && start && charge.state == ChargeState::Charging {
        return Err(ApiError::new(
            &catalogue::CHARGING_IN_PROGRESS,
            "the vehicle is already charging",
        ));
    }
    charge.state = if start {
        ChargeState::Charging
    } else {
        ChargeState::NotCharging
    };
    Ok(success())
}

pub(super) fn set_charge_limit(call: &mut Call<'_>) -> Result<Value, ApiError> {
    let limit = number(call, "limit")?;
    if !(0.0..=1.0).contains(&limit) || limit == 0.0 {
        return Err(ApiError::validation(
            "limit",
            format!("must be a fraction above 0 and at most 1, got {limit}"),
        ));
    }
    let charge_limit = Arc::make_mut(&mut call.vehicle.state)
        .charge_limit
        .as_mut()
        .ok_or_else(|| missing("charge limit"))?;
    charge_limit.limit = limit;
    Ok(success())
}

pub(super) fn send_destination(call: &mut Call<'_>) -> Result<Value, ApiError> {
    let latitude = number(call, "latitude")?;
    let longitude = number(call, "longitude")?;
    if !(-90.0..=90.0).contains(&latitude) {
        return Err(ApiError::validation("latitude", "must be between -90 and 90"));
    }
    if !(-180.0..=180.0).contains(&longitude) {
        return Err(ApiError::validation("longitude", "must be between -180 and 180"));
    }
    Arc::make_mut(&mut call.vehicle.state).destination = Some(Location { latitude, longitude });
    Ok(success())
}

pub(super) fn disconnect(_call: &mut Call<'_>) -> Result<Value, ApiError> {
    Ok(json!({ "status": "success" }))
}
