//! Brand-specific endpoints (docs/contract/api.md#brand-specific-endpoints), answered only for
//! their make; other makes get `COMPATIBILITY:VEHICLE_NOT_CAPABLE`:
//!
//! - Tesla: `GET|POST /tesla/charge/ammeter` (`{"amperage"}`), `GET /tesla/charge/completion`
//!   (`{"time"}`), `GET /tesla/charge/voltmeter` (`{"voltage"}`), `GET /tesla/charge/wattmeter`
//!   (`{"wattage"}`), `GET /tesla/compass` (`{"direction","heading"}`), `GET /tesla/speedometer`
//!   (`{"speed"}`, km/h or mph), `GET /tesla/thermometer/exterior|interior` (`{"temperature"}`,
//!   °C, or °F for imperial)
//! - Chevrolet and Cadillac: `GET /{make}/charge/completion`, `GET /{make}/charge/voltmeter`
//!
//! The values derive from the vehicle's state: a charging car draws 32 A at 240 V and finishes
//! an hour from now; a driving car goes 88 km/h.

use axum::http::Method;
use serde_json::{Value, json};

use super::commands::success;
use super::endpoints::{Call, Endpoint, missing};
use crate::domain::clock::smartcar_timestamp;
use crate::domain::permissions::Permission as P;
use crate::domain::vehicle::{Capability as C, ChargeState, Motion};
use crate::error::ApiError;

const TESLA: &[&str] = &["TESLA"];
const CHEVROLET: &[&str] = &["CHEVROLET"];
const CADILLAC: &[&str] = &["CADILLAC"];

fn row(
    method: Method,
    path: &'static str,
    permission: P,
    capability: C,
    make: &'static [&'static str],
    handler: super::endpoints::Handler,
) -> Endpoint {
    let command = method != Method::GET;
    Endpoint {
        method,
        path,
        permission: Some(permission),
        capability: Some(capability),
        reads_data: !command,
        changes_state: command,
        disconnects: false,
        make: Some(make),
        handler,
    }
}

pub(super) fn endpoints() -> Vec<Endpoint> {
    use Method as M;
    vec![
        row(
            M::GET,
            "/tesla/charge/ammeter",
            P::ReadCharge,
            C::Charge,
            TESLA,
            ammeter,
        ),
        row(
            M::POST,
            "/tesla/charge/ammeter",
            P::ControlCharge,
            C::ChargeControl,
            TESLA,
            set_ammeter,
        ),
        row(
            M::GET,
            "/tesla/charge/completion",
            P::ReadCharge,
            C::Charge,
            TESLA,
            completion,
        ),
        row(
            M::GET,
            "/tesla/charge/voltmeter",
            P::ReadCharge,
            C::Charge,
            TESLA,
            voltmeter,
        ),
        row(
            M::GET,
            "/tesla/charge/wattmeter",
            P::ReadCharge,
            C::Charge,
            TESLA,
            wattmeter,
        ),
        row(M::GET, "/tesla/compass", P::ReadCompass, C::Location, TESLA, compass),
        row(
            M::GET,
            "/tesla/speedometer",
            P::ReadSpeedometer,
            C::Location,
            TESLA,
            speedometer,
        ),
        row(
            M::GET,
            "/tesla/thermometer/exterior",
            P::ReadThermometer,
            C::Location,
            TESLA,
            exterior,
        ),
        row(
            M::GET,
            "/tesla/thermometer/interior",
            P::ReadThermometer,
            C::Location,
            TESLA,
            interior,
        ),
        row(
            M::GET,
            "/chevrolet/charge/completion",
            P::ReadCharge,
            C::Charge,
            CHEVROLET,
            completion,
        ),
        row(
            M::GET,
            "/chevrolet/charge/voltmeter",
            P::ReadCharge,
            C::Charge,
            CHEVROLET,
            voltmeter,
        ),
        row(
            M::GET,
            "/cadillac/charge/completion",
            P::ReadCharge,
            C::Charge,
            CADILLAC,
            completion,
        ),
        row(
            M::GET,
            "/cadillac/charge/voltmeter",
            P::ReadCharge,
            C::Charge,
            CADILLAC,
            voltmeter,
        ),
    ]
}

fn charging(call: &Call<'_>) -> Result<bool, ApiError> {
    let charge = call.vehicle.state.charge.as_ref().ok_or_else(|| missing("charge"))?;
    Ok(charge.state == ChargeState::Charging)
}

fn ammeter(call: &mut Call<'_>) -> Result<Value, ApiError> {
    Ok(json!({ "amperage": if charging(call)? { 32.0 } else { 0.0 } }))
}

fn set_ammeter(call: &mut Call<'_>) -> Result<Value, ApiError> {
    let amperage = call.body.and_then(|body| body.get("amperage")).and_then(Value::as_f64);
    match amperage {
        Some(amps) if (0.0..=80.0).contains(&amps) => Ok(success()),
        _ => Err(ApiError::validation("amperage", "must be a number from 0 to 80")),
    }
}

fn completion(call: &mut Call<'_>) -> Result<Value, ApiError> {
    let time = charging(call)?.then(|| smartcar_timestamp(call.now + time::Duration::hours(1)));
    Ok(json!({ "time": time }))
}

fn voltmeter(call: &mut Call<'_>) -> Result<Value, ApiError> {
    Ok(json!({ "voltage": if charging(call)? { 240.0 } else { 0.0 } }))
}

fn wattmeter(call: &mut Call<'_>) -> Result<Value, ApiError> {
    Ok(json!({ "wattage": if charging(call)? { 7680.0 } else { 0.0 } }))
}

fn compass(_call: &mut Call<'_>) -> Result<Value, ApiError> {
    Ok(json!({ "direction": "NE", "heading": 45.0 }))
}

fn speedometer(call: &mut Call<'_>) -> Result<Value, ApiError> {
    let kmh = if call.vehicle.state.motion == Motion::Driving {
        88.0
    } else {
        0.0
    };
    Ok(json!({ "speed": call.units.distance(kmh) }))
}

fn exterior(call: &mut Call<'_>) -> Result<Value, ApiError> {
    Ok(json!({ "temperature": call.units.temperature(12.5) }))
}

fn interior(call: &mut Call<'_>) -> Result<Value, ApiError> {
    Ok(json!({ "temperature": call.units.temperature(21.0) }))
}
