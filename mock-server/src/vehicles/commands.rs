//! The commands of the vehicle API (docs/contract/api.md#commands) (routes declared in
//! [`super::endpoints`]); each runs through [`crate::domain::world::World::update_vehicle`], so
//! reads see the change and webhook delivery hears of it:
//!
//! - `POST /security` `{"action":"LOCK"|"UNLOCK"}` — `isLocked` and every door follow
//! - `POST /charge` `{"action":"START"|"STOP"}` — the charge `state` follows
//! - `POST /charge/limit` `{"limit": 0.8}` (or `"0.8"`, as Node sends it)
//! - `POST /navigation/destination` `{"latitude","longitude"}` — recorded on the vehicle
//! - `DELETE /application` — `{"status":"success"}`; the dispatcher then disconnects
//!
//! Here the body is read; the rules (LOCK while driving is `VEHICLE_STATE:IN_MOTION`, START
//! unplugged is `CHARGING_PLUG_NOT_CONNECTED`, … in `simulated` and `live` mode) are the
//! vehicle's own ([`crate::domain::vehicle::Vehicle::lock`] and its siblings).

use serde_json::{Value, json};

use super::endpoints::Call;
use crate::error::ApiError;

/// The body every successful command answers with.
pub(crate) fn success() -> Value {
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

pub(super) fn lock_or_unlock(call: &mut Call<'_>) -> Result<Value, ApiError> {
    let lock = action(call, &["LOCK", "UNLOCK"])? == "LOCK";
    call.vehicle.lock(lock)?;
    Ok(success())
}

pub(super) fn start_or_stop_charge(call: &mut Call<'_>) -> Result<Value, ApiError> {
    let start = action(call, &["START", "STOP"])? == "START";
    call.vehicle.charge(start)?;
    Ok(success())
}

pub(super) fn set_charge_limit(call: &mut Call<'_>) -> Result<Value, ApiError> {
    let limit = number(call, "limit")?;
    call.vehicle.set_charge_limit(limit)?;
    Ok(success())
}

pub(super) fn send_destination(call: &mut Call<'_>) -> Result<Value, ApiError> {
    let latitude = number(call, "latitude")?;
    let longitude = number(call, "longitude")?;
    call.vehicle.set_destination(latitude, longitude)?;
    Ok(success())
}

pub(super) fn disconnect(_call: &mut Call<'_>) -> Result<Value, ApiError> {
    Ok(json!({ "status": "success" }))
}
