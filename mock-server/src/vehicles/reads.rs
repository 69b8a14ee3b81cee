//! The less common reads of the vehicle API (docs/contract/api.md#endpoints): battery capacity,
//! nominal capacity, charge limit, service history and diagnostics (routes declared in
//! [`super::endpoints`]):
//!
//! - `GET /battery/capacity` → `{"capacity"}` (kWh, never converted)
//! - `GET /battery/nominal_capacity` → `{"availableCapacities","capacity","url"}`
//! - `GET /charge/limit` → `{"limit"}`
//! - `GET /service/history?start_date&end_date` (or `startDate`/`endDate`) → a top-level array
//! - `GET /diagnostics/system_status` → `{"systems"}`, `GET /diagnostics/dtcs` → `{"activeCodes"}`

use serde_json::{Value, json};

use super::endpoints::{Call, missing, to_json};
use crate::error::ApiError;

pub(super) fn battery_capacity(call: &mut Call<'_>) -> Result<Value, ApiError> {
    to_json(
        call.vehicle
            .state
            .battery_capacity
            .as_ref()
            .ok_or_else(|| missing("battery capacity"))?,
    )
}

pub(super) fn nominal_capacity(call: &mut Call<'_>) -> Result<Value, ApiError> {
    call.vehicle
        .state
        .nominal_capacity
        .clone()
        .ok_or_else(|| missing("nominal capacity"))
}

pub(super) fn charge_limit(call: &mut Call<'_>) -> Result<Value, ApiError> {
    to_json(
        call.vehicle
            .state
            .charge_limit
            .as_ref()
            .ok_or_else(|| missing("charge limit"))?,
    )
}

/// The leading `YYYY-MM-DD` of a date parameter; anything else (`undefined`, Ruby's trailing `?`
/// aside) counts as absent (docs/contract/api.md#hosts-and-paths).
pub(crate) fn leading_date(text: &str) -> Option<&str> {
    let date = text.trim().get(..10)?;
    let bytes = date.as_bytes();
    let shaped = bytes.iter().enumerate().all(|(i, b)| match i {
        4 | 7 => *b == b'-',
        _ => b.is_ascii_digit(),
    });
    shaped.then_some(date)
}

/// Records whose `serviceDate` falls between the dates (inclusive). Without dates every record
/// is returned (decision: the fixture's history is short and SDK tests expect records).
pub(super) fn service_history(call: &mut Call<'_>) -> Result<Value, ApiError> {
    let date = |a: &str, b: &str| call.query(a).or_else(|| call.query(b)).and_then(leading_date);
    let start = date("start_date", "startDate").map(str::to_owned);
    let end = date("end_date", "endDate").map(str::to_owned);
    let records = call
        .vehicle
        .state
        .service_history
        .as_ref()
        .ok_or_else(|| missing("service history"))?;
    let units = call.units;
    let selected = records
        .iter()
        .filter(|record| {
            let Some(day) = record["serviceDate"].as_str().and_then(leading_date) else {
                return true;
            };
            start.as_deref().is_none_or(|start| day >= start) && end.as_deref().is_none_or(|end| day <= end)
        })
        .map(|record| {
            let mut record = record.clone();
            if let Some(km) = record["odometerDistance"].as_f64() {
                record["odometerDistance"] = json!(units.distance(km));
            }
            record
        })
        .collect();
    Ok(Value::Array(selected))
}

pub(super) fn system_status(call: &mut Call<'_>) -> Result<Value, ApiError> {
    let diagnostics = call
        .vehicle
        .state
        .diagnostics
        .as_ref()
        .ok_or_else(|| missing("diagnostics"))?;
    Ok(json!({ "systems": diagnostics.systems }))
}

pub(super) fn dtcs(call: &mut Call<'_>) -> Result<Value, ApiError> {
    let diagnostics = call
        .vehicle
        .state
        .diagnostics
        .as_ref()
        .ok_or_else(|| missing("diagnostics"))?;
    Ok(json!({ "activeCodes": diagnostics.active_codes }))
}

#[cfg(test)]
mod tests {
    use super::leading_date;

    #[test]
    fn dates_are_read_leniently() {
        assert_eq!(leading_date("2024-01-31"), Some("2024-01-31"));
        assert_eq!(leading_date("2024-01-31T10:00:00Z"), Some("2024-01-31"));
        assert_eq!(leading_date("2024-01-31?"), Some("2024-01-31"));
        assert_eq!(leading_date("undefined"), None);
        assert_eq!(leading_date("2024-1-3"), None);
    }
}
