//! The vehicle endpoints (docs/contract/api.md#endpoints) as one table: method, path, the
//! permission it needs, the capability the vehicle must have, and the function that answers.
//!
//! The table is the single place a route is declared: the HTTP dispatcher and batch both look
//! paths up here, so checks (permission → capability → forced error) are the same for both.

use axum::http::Method;
use serde::Serialize;
use serde_json::{Value, json};

use crate::domain::permissions::Permission;
use crate::domain::vehicle::Vehicle;
use crate::domain::vehicle::{Battery, Capability, Fuel, Odometer, TirePressure};
use crate::domain::world::Access;
use crate::error::ApiError;

use super::units::UnitSystem;
use super::{brand, commands, reads};

/// What a handler gets: the vehicle (mutable, for commands), who is asking, and the request.
pub(crate) struct Call<'a> {
    pub vehicle: &'a mut Vehicle,
    pub access: &'a Access,
    pub units: UnitSystem,
    pub query: &'a [(String, String)],
    pub body: Option<&'a Value>,
    pub now: time::OffsetDateTime,
}

impl Call<'_> {
    pub(crate) fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

pub(crate) type Handler = fn(&mut Call<'_>) -> Result<Value, ApiError>;

/// One row of the table.
pub(crate) struct Endpoint {
    pub method: Method,
    /// Relative to `/v{ver}/vehicles/{id}`; `/` is the attributes endpoint.
    pub path: &'static str,
    pub permission: Option<Permission>,
    /// `None`: a static endpoint every vehicle answers, which forced test-mode errors skip
    /// (VIN, attributes, permissions, disconnect: docs/contract/test-mode.md#static-endpoints).
    pub capability: Option<Capability>,
    /// Reads of vehicle data carry `sc-unit-system`, `sc-data-age` and `sc-fetched-at`.
    pub reads_data: bool,
    /// Commands change the vehicle's state: run through [`crate::domain::world::World::update_vehicle`]
    /// so `sc-data-age` moves and webhooks hear of it.
    pub changes_state: bool,
    /// `DELETE /application`: after answering (and releasing the world's lock) the dispatcher
    /// disconnects the vehicle from the token's user.
    pub disconnects: bool,
    /// Brand-specific endpoints (docs/contract/api.md#brand-specific-endpoints) answer only for
    /// this make; others get `VEHICLE_NOT_CAPABLE`.
    pub make: Option<&'static [&'static str]>,
    pub handler: Handler,
}

macro_rules! endpoint {
    ($method:ident $path:literal, $permission:expr, $capability:expr, data: $data:literal, $handler:expr) => {
        Endpoint {
            method: Method::$method,
            path: $path,
            permission: $permission,
            capability: $capability,
            reads_data: $data,
            changes_state: false,
            disconnects: false,
            make: None,
            handler: $handler,
        }
    };
    ($method:ident $path:literal, $permission:expr, $capability:expr, command, $handler:expr) => {
        Endpoint {
            method: Method::$method,
            path: $path,
            permission: $permission,
            capability: $capability,
            reads_data: false,
            changes_state: true,
            disconnects: false,
            make: None,
            handler: $handler,
        }
    };
}

use Capability as C;
use Permission as P;

/// Every vehicle endpoint. A new endpoint is one more row here: the dispatcher and batch find it
/// without other changes.
pub(crate) fn table() -> &'static [Endpoint] {
    static TABLE: std::sync::LazyLock<Vec<Endpoint>> = std::sync::LazyLock::new(|| {
        let mut rows = vec![
            endpoint!(GET "/", Some(P::ReadVehicleInfo), None, data: false, attributes),
            endpoint!(GET "/vin", Some(P::ReadVin), None, data: false, vin),
            endpoint!(GET "/permissions", None, None, data: false, permissions),
            endpoint!(GET "/odometer", Some(P::ReadOdometer), Some(C::Odometer), data: true, odometer),
            endpoint!(GET "/location", Some(P::ReadLocation), Some(C::Location), data: true, location),
            endpoint!(GET "/fuel", Some(P::ReadFuel), Some(C::Fuel), data: true, fuel),
            endpoint!(GET "/battery", Some(P::ReadBattery), Some(C::Battery), data: true, battery),
            endpoint!(GET "/charge", Some(P::ReadCharge), Some(C::Charge), data: true, charge),
            endpoint!(GET "/tires/pressure", Some(P::ReadTires), Some(C::Tires), data: true, tire_pressure),
            endpoint!(GET "/engine/oil", Some(P::ReadEngineOil), Some(C::EngineOil), data: true, engine_oil),
            endpoint!(GET "/security", Some(P::ReadSecurity), Some(C::Security), data: true, security),
            endpoint!(GET "/battery/capacity", Some(P::ReadBattery), Some(C::BatteryCapacity), data: true, reads::battery_capacity),
            endpoint!(GET "/battery/nominal_capacity", Some(P::ReadBattery), Some(C::NominalCapacity), data: true, reads::nominal_capacity),
            endpoint!(GET "/charge/limit", Some(P::ReadCharge), Some(C::ChargeLimit), data: true, reads::charge_limit),
            endpoint!(GET "/service/history", Some(P::ReadServiceHistory), Some(C::ServiceHistory), data: true, reads::service_history),
            endpoint!(GET "/diagnostics/system_status", Some(P::ReadDiagnostics), Some(C::Diagnostics), data: true, reads::system_status),
            endpoint!(GET "/diagnostics/dtcs", Some(P::ReadDiagnostics), Some(C::Diagnostics), data: true, reads::dtcs),
            endpoint!(POST "/security", Some(P::ControlSecurity), Some(C::SecurityControl), command, commands::lock_or_unlock),
            endpoint!(POST "/charge", Some(P::ControlCharge), Some(C::ChargeControl), command, commands::start_or_stop_charge),
            endpoint!(POST "/charge/limit", Some(P::ControlCharge), Some(C::ChargeLimit), command, commands::set_charge_limit),
            endpoint!(POST "/navigation/destination", Some(P::ControlNavigation), Some(C::Navigation), command, commands::send_destination),
            Endpoint {
                disconnects: true,
                ..endpoint!(DELETE "/application", None, None, data: false, commands::disconnect)
            },
        ];
        rows.extend(brand::endpoints());
        rows
    });
    &TABLE
}

/// The row for a method and a normalised path (leading `/`, no trailing `/`).
pub(crate) fn find(method: &Method, path: &str) -> Option<&'static Endpoint> {
    table()
        .iter()
        .find(|endpoint| endpoint.method == method && endpoint.path == path)
}

pub(super) fn to_json(value: &impl Serialize) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(|error| {
        ApiError::new(
            &crate::domain::catalogue::SERVER_INTERNAL,
            format!("response failed to serialise: {error}"),
        )
    })
}

/// The state a capability reads; its presence is checked when fixtures load.
pub(super) fn missing(what: &str) -> ApiError {
    ApiError::new(
        &crate::domain::catalogue::VEHICLE_NOT_CAPABLE,
        format!("the vehicle has no {what} value"),
    )
}

fn attributes(call: &mut Call<'_>) -> Result<Value, ApiError> {
    let spec = &call.vehicle.spec;
    Ok(json!({ "id": call.vehicle.id.to_string(), "make": spec.make, "model": spec.model, "year": spec.year }))
}

fn vin(call: &mut Call<'_>) -> Result<Value, ApiError> {
    Ok(json!({ "vin": call.vehicle.spec.vin }))
}

/// `GET /permissions?limit&offset` (default limit 25).
fn permissions(call: &mut Call<'_>) -> Result<Value, ApiError> {
    let (limit, offset) = super::paging(call.query, 25)?;
    let names: Vec<&str> = call.access.scopes.iter().map(|p| p.as_str()).collect();
    let page: Vec<&str> = names.iter().skip(offset).take(limit).copied().collect();
    Ok(json!({ "permissions": page, "paging": { "count": names.len(), "offset": offset } }))
}

fn odometer(call: &mut Call<'_>) -> Result<Value, ApiError> {
    let odometer = call
        .vehicle
        .state
        .odometer
        .as_ref()
        .ok_or_else(|| missing("odometer"))?;
    to_json(&Odometer {
        distance: call.units.distance(odometer.distance),
    })
}

fn location(call: &mut Call<'_>) -> Result<Value, ApiError> {
    to_json(
        call.vehicle
            .state
            .location
            .as_ref()
            .ok_or_else(|| missing("location"))?,
    )
}

fn fuel(call: &mut Call<'_>) -> Result<Value, ApiError> {
    let fuel = call.vehicle.state.fuel.as_ref().ok_or_else(|| missing("fuel"))?;
    let units = call.units;
    to_json(&Fuel {
        range: units.distance(fuel.range),
        percent_remaining: fuel.percent_remaining,
        amount_remaining: units.volume(fuel.amount_remaining),
    })
}

fn battery(call: &mut Call<'_>) -> Result<Value, ApiError> {
    let battery = call.vehicle.state.battery.as_ref().ok_or_else(|| missing("battery"))?;
    to_json(&Battery {
        percent_remaining: battery.percent_remaining,
        range: call.units.distance(battery.range),
    })
}

fn charge(call: &mut Call<'_>) -> Result<Value, ApiError> {
    to_json(call.vehicle.state.charge.as_ref().ok_or_else(|| missing("charge"))?)
}

fn tire_pressure(call: &mut Call<'_>) -> Result<Value, ApiError> {
    let tires = call
        .vehicle
        .state
        .tire_pressure
        .as_ref()
        .ok_or_else(|| missing("tire pressure"))?;
    let units = call.units;
    to_json(&TirePressure {
        front_left: units.pressure(tires.front_left),
        front_right: units.pressure(tires.front_right),
        back_left: units.pressure(tires.back_left),
        back_right: units.pressure(tires.back_right),
    })
}

fn engine_oil(call: &mut Call<'_>) -> Result<Value, ApiError> {
    to_json(
        call.vehicle
            .state
            .engine_oil
            .as_ref()
            .ok_or_else(|| missing("engine oil"))?,
    )
}

fn security(call: &mut Call<'_>) -> Result<Value, ApiError> {
    to_json(
        call.vehicle
            .state
            .security
            .as_ref()
            .ok_or_else(|| missing("security"))?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::webhooks::signals::SIGNALS;

    #[test]
    fn each_webhook_signal_needs_what_the_read_at_its_path_needs() {
        for signal in SIGNALS {
            let read =
                find(&Method::GET, signal.path).unwrap_or_else(|| panic!("{}: no GET {}", signal.code, signal.path));

            assert_eq!(read.permission, Some(signal.permission), "{}", signal.code);
            assert_eq!(read.capability, Some(signal.capability), "{}", signal.code);
        }
    }
}
