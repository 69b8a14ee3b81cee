//! Event bodies, in both formats (docs/contract/webhooks.md#payload-formats):
//!
//! - current (`"version": "4.0"` in `meta`): `{"eventId","eventType","data",["triggers",]"meta"}`
//!   with `eventType` `VERIFY`, `VEHICLE_STATE` or `VEHICLE_ERROR`;
//! - legacy v2: `{"version":"2.0","webhookId","eventName",["mode",]"payload"}` with `eventName`
//!   `verify` or `dynamic` (data on change, as Smartcar's dynamic webhooks send it), the vehicle's
//!   data as vehicle-API responses `{"path","code","body","headers"}` and errors as error items.
//!
//! Bodies are built in one fixed key order and sent compact; numbers that are whole are written
//! without a fraction (`80`, not `80.0`), because Node's `verifyPayload` re-serialises the parsed
//! body with `JSON.stringify` — this way Node, Python, Java and Ruby all recompute the same bytes.

use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::vehicle::VehicleState;
use crate::domain::webhooks::diff::{ErrorReport, Trigger};
use crate::domain::webhooks::signals::{self, Signal};
use crate::domain::world::Mode;

/// What the event says about the vehicle.
#[derive(Debug, Clone)]
pub(crate) struct VehicleFacts {
    pub(crate) id: Uuid,
    pub(crate) user: Uuid,
    pub(crate) make: String,
    pub(crate) model: String,
    pub(crate) year: u16,
    pub(crate) vin: String,
    pub(crate) mode: Mode,
    pub(crate) state: VehicleState,
}

/// Who sends the event, and this delivery's identity.
#[derive(Debug, Clone)]
pub(crate) struct Envelope<'a> {
    pub(crate) webhook_id: Uuid,
    pub(crate) webhook_name: &'a str,
    pub(crate) event_id: Uuid,
    pub(crate) delivery_id: Uuid,
    pub(crate) delivered_at: OffsetDateTime,
}

fn mode_word(mode: Mode) -> &'static str {
    match mode {
        Mode::Test => "test",
        Mode::Simulated => "simulated",
        Mode::Live => "live",
    }
}

fn meta(envelope: &Envelope<'_>, mode: Option<Mode>, signal_count: Option<usize>) -> Value {
    let mut meta = Map::new();
    meta.insert("version".into(), "4.0".into());
    meta.insert("webhookId".into(), envelope.webhook_id.to_string().into());
    meta.insert("webhookName".into(), envelope.webhook_name.into());
    meta.insert("deliveryId".into(), envelope.delivery_id.to_string().into());
    let delivered_ms = i64::try_from(envelope.delivered_at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    meta.insert("deliveredAt".into(), delivered_ms.into());
    if let Some(count) = signal_count {
        meta.insert("signalCount".into(), count.into());
    }
    if let Some(mode) = mode {
        meta.insert("mode".into(), mode_word(mode).to_ascii_uppercase().into());
    }
    Value::Object(meta)
}

fn vehicle(facts: &VehicleFacts) -> Value {
    json!({
        "id": facts.id.to_string(),
        "make": facts.make,
        "model": facts.model,
        "year": facts.year,
        "vin": facts.vin,
    })
}

/// The current-format VERIFY event.
pub(crate) fn verify_v4(envelope: &Envelope<'_>, challenge: &str) -> Value {
    json!({
        "eventId": envelope.event_id.to_string(),
        "eventType": "VERIFY",
        "data": { "challenge": challenge },
        "meta": meta(envelope, None, None),
    })
}

/// The legacy VERIFY event.
pub(crate) fn verify_v2(webhook_id: Uuid, challenge: &str) -> Value {
    json!({
        "version": "2.0",
        "webhookId": webhook_id.to_string(),
        "eventName": "verify",
        "payload": { "challenge": challenge },
    })
}

/// A current-format `VEHICLE_STATE`: `signals` with their bodies, and what triggered it.
pub(crate) fn state_v4(
    envelope: &Envelope<'_>,
    facts: &VehicleFacts,
    signals: &[(&'static Signal, Value)],
    trigger: Trigger,
    changed: &[&'static Signal],
) -> Value {
    let entries: Vec<Value> = signals
        .iter()
        .map(|(signal, body)| signal.entry(body.clone()))
        .collect();
    let triggers: Vec<Value> = match trigger {
        Trigger::FirstDelivery => vec![json!({ "type": "FIRST_DELIVERY" })],
        Trigger::SignalUpdated => changed
            .iter()
            .map(|signal| {
                json!({ "type": "SIGNAL_UPDATED", "signal": {
                    "code": signal.code, "name": signal.name, "group": signal.group } })
            })
            .collect(),
    };
    normalise_numbers(json!({
        "eventId": envelope.event_id.to_string(),
        "eventType": "VEHICLE_STATE",
        "data": {
            "user": { "id": facts.user.to_string() },
            "vehicle": vehicle(facts),
            "signals": entries,
        },
        "triggers": triggers,
        "meta": meta(envelope, Some(facts.mode), Some(signals.len())),
    }))
}

/// A current-format `VEHICLE_ERROR`: each error with the signals it affects, `ERROR` or `RESOLVED`.
pub(crate) fn error_v4(envelope: &Envelope<'_>, facts: &VehicleFacts, errors: &[ErrorReport]) -> Value {
    let errors: Vec<Value> = errors
        .iter()
        .map(|error| {
            json!({
                "type": error.entry.kind,
                "code": error.entry.code,
                "description": error.entry.description,
                "state": if error.resolved { "RESOLVED" } else { "ERROR" },
                "signals": error.signals,
            })
        })
        .collect();
    json!({
        "eventId": envelope.event_id.to_string(),
        "eventType": "VEHICLE_ERROR",
        "data": {
            "user": { "id": facts.user.to_string() },
            "vehicle": vehicle(facts),
            "errors": errors,
        },
        "meta": meta(envelope, Some(facts.mode), None),
    })
}

/// The legacy data event: one vehicle-API response per path the signals cover, and one error item
/// per unresolved error.
pub(crate) fn data_v2(
    webhook_id: Uuid,
    request_id: Uuid,
    facts: &VehicleFacts,
    signals: &[&'static Signal],
    errors: &[ErrorReport],
    data_age: &str,
) -> Value {
    let mut data = Vec::new();
    let mut paths: Vec<&str> = Vec::new();
    for signal in signals {
        if paths.contains(&signal.path) {
            continue;
        }
        if let Some(body) = signal.legacy_body(&facts.state) {
            paths.push(signal.path);
            data.push(json!({
                "path": signal.path,
                "code": 200,
                "body": body,
                "headers": { "sc-data-age": data_age, "sc-unit-system": "metric" },
            }));
        }
    }
    for error in errors.iter().filter(|error| !error.resolved) {
        for code in &error.signals {
            let Some(signal) = signals::find(code) else {
                continue;
            };
            if paths.contains(&signal.path) {
                continue;
            }
            paths.push(signal.path);
            data.push(json!({
                "path": signal.path,
                "code": error.entry.status,
                "body": crate::error::ApiError::new(error.entry, "webhook")
                    .body(crate::request::Envelope::V2, &request_id.to_string()),
                "headers": {},
            }));
        }
    }
    normalise_numbers(json!({
        "version": "2.0",
        "webhookId": webhook_id.to_string(),
        "eventName": "dynamic",
        "mode": mode_word(facts.mode),
        "payload": { "vehicles": [{
            "vehicleId": facts.id.to_string(),
            "requestId": request_id.to_string(),
            "data": data,
        }]},
    }))
}

/// Whole floats become integers (`80.0` → `80`), so every SDK re-serialises the same bytes.
pub(crate) fn normalise_numbers(value: Value) -> Value {
    match value {
        Value::Number(number) => match number.as_f64() {
            Some(f) if number.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 => {
                // In range and whole: the cast is exact.
                #[allow(clippy::cast_possible_truncation)]
                let whole = f as i64;
                Value::from(whole)
            }
            _ => Value::Number(number),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(normalise_numbers).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, normalise_numbers(v))).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_floats_lose_their_fraction_and_others_keep_it() {
        let value = normalise_numbers(json!({ "a": 80.0, "b": 52340.5, "c": [1.0, 2] }));

        assert_eq!(
            serde_json::to_string(&value).ok().as_deref(),
            Some(r#"{"a":80,"b":52340.5,"c":[1,2]}"#)
        );
    }

    #[test]
    fn the_legacy_verify_event_has_the_documented_shape() {
        let id = Uuid::nil();

        assert_eq!(
            serde_json::to_string(&verify_v2(id, "abc")).ok().as_deref(),
            Some(
                r#"{"version":"2.0","webhookId":"00000000-0000-0000-0000-000000000000","eventName":"verify","payload":{"challenge":"abc"}}"#
            )
        );
    }
}
