//! A vehicle as the platform knows it: what it is and can do ([`VehicleSpec`]), the values it
//! reports ([`VehicleState`]), and the connected copy a user owns ([`Vehicle`]).
//!
//! Values are stored metric and in Smartcar's response shapes, so the vehicle API serves them as
//! they are (converting them when `sc-unit-system: imperial` asks for it).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// One vehicle as it leaves the factory: what it is, what it can do, and its state now.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VehicleSpec {
    pub make: String,
    pub model: String,
    pub year: u16,
    pub powertrain: Powertrain,
    pub vin: String,
    /// The endpoints this vehicle supports beyond the static ones (attributes, VIN, permissions).
    pub capabilities: Vec<Capability>,
    /// Shared by every user's copy of this vehicle until one changes (see `world::Vehicle`).
    pub state: Arc<VehicleState>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Powertrain {
    Ice,
    Hev,
    Phev,
    Bev,
}

/// What a vehicle can do, one entry per endpoint family of smartcar-api.md §4.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    Odometer,
    Location,
    Fuel,
    Battery,
    BatteryCapacity,
    NominalCapacity,
    Charge,
    ChargeControl,
    ChargeLimit,
    EngineOil,
    Tires,
    Security,
    SecurityControl,
    Navigation,
    ServiceHistory,
    Diagnostics,
}

/// The values a vehicle reports, stored metric and in Smartcar's response shapes so the API can
/// serve them as they are (converted when `sc-unit-system: imperial` asks for it).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VehicleState {
    pub odometer: Option<Odometer>,
    pub location: Option<Location>,
    pub fuel: Option<Fuel>,
    pub battery: Option<Battery>,
    pub battery_capacity: Option<BatteryCapacity>,
    pub nominal_capacity: Option<serde_json::Value>,
    pub charge: Option<Charge>,
    pub charge_limit: Option<ChargeLimit>,
    pub engine_oil: Option<EngineOil>,
    pub tire_pressure: Option<TirePressure>,
    pub security: Option<Security>,
    pub service_history: Option<Vec<serde_json::Value>>,
    pub diagnostics: Option<Diagnostics>,
    /// Whether the car is being driven now; commands that need a parked car check it.
    #[serde(default)]
    pub motion: Motion,
    /// A deep-sleeping car answers `VEHICLE_STATE` `ASLEEP`.
    #[serde(default)]
    pub asleep: bool,
    /// The last destination sent with `POST /navigation/destination`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<Location>,
}

/// `GET /odometer`: `{"distance": 52340.5}` (km).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Odometer {
    pub distance: f64,
}

/// `GET /location`: `{"latitude": 42.35, "longitude": -71.06}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
}

/// `GET /fuel`: `{"range": 310.5, "percentRemaining": 0.45, "amountRemaining": 18.2}` (km, L).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Fuel {
    pub range: f64,
    pub percent_remaining: f64,
    pub amount_remaining: f64,
}

/// `GET /battery`: `{"percentRemaining": 0.8, "range": 290.0}` (km).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Battery {
    pub percent_remaining: f64,
    pub range: f64,
}

/// `GET /battery/capacity`: `{"capacity": 88.0}` (kWh).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BatteryCapacity {
    pub capacity: f64,
}

/// `GET /charge`: `{"isPluggedIn": true, "state": "CHARGING"}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Charge {
    pub is_plugged_in: bool,
    pub state: ChargeState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChargeState {
    Charging,
    FullyCharged,
    NotCharging,
}

/// `GET /charge/limit`: `{"limit": 0.9}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChargeLimit {
    pub limit: f64,
}

/// `GET /engine/oil`: `{"lifeRemaining": 0.7}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EngineOil {
    pub life_remaining: f64,
}

/// `GET /tires/pressure` (kPa).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TirePressure {
    pub front_left: f64,
    pub front_right: f64,
    pub back_left: f64,
    pub back_right: f64,
}

/// `GET /security`: the lock state and every opening.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Security {
    pub is_locked: bool,
    pub doors: Vec<Opening>,
    pub windows: Vec<Opening>,
    pub sunroof: Vec<Opening>,
    pub storage: Vec<Opening>,
    pub charging_port: Vec<Opening>,
}

/// One entry of a `/security` list: `{"type": "frontLeft", "status": "LOCKED"}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Opening {
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
}

/// `GET /diagnostics/system_status` and `/diagnostics/dtcs` in their response shapes.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Diagnostics {
    pub systems: Vec<serde_json::Value>,
    pub active_codes: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Motion {
    #[default]
    Parked,
    Driving,
}

impl VehicleState {
    /// Takes every value this state lacks from `other`.
    pub fn fill_from(&mut self, other: &VehicleState) {
        macro_rules! fill {
            ($($field:ident),*) => {
                $(if self.$field.is_none() { self.$field.clone_from(&other.$field); })*
            };
        }
        fill!(
            odometer,
            location,
            fuel,
            battery,
            battery_capacity,
            nominal_capacity,
            charge,
            charge_limit,
            engine_oil,
            tire_pressure,
            security,
            service_history,
            diagnostics
        );
    }
}

impl VehicleSpec {
    /// A vehicle must be able to answer every endpoint it claims: `(field, message)` otherwise.
    pub(super) fn check(&self) -> Result<(), (&'static str, String)> {
        if self.vin.len() != 17 || !self.vin.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(("vin", format!("{:?} is not 17 letters and digits", self.vin)));
        }
        let state = &self.state;
        for capability in &self.capabilities {
            let (present, field) = match capability {
                Capability::Odometer => (state.odometer.is_some(), "state.odometer"),
                Capability::Location => (state.location.is_some(), "state.location"),
                Capability::Fuel => (state.fuel.is_some(), "state.fuel"),
                Capability::Battery => (state.battery.is_some(), "state.battery"),
                Capability::BatteryCapacity => (state.battery_capacity.is_some(), "state.batteryCapacity"),
                Capability::NominalCapacity => (state.nominal_capacity.is_some(), "state.nominalCapacity"),
                Capability::Charge | Capability::ChargeControl => (state.charge.is_some(), "state.charge"),
                Capability::ChargeLimit => (state.charge_limit.is_some(), "state.chargeLimit"),
                Capability::EngineOil => (state.engine_oil.is_some(), "state.engineOil"),
                Capability::Tires => (state.tire_pressure.is_some(), "state.tirePressure"),
                Capability::Security | Capability::SecurityControl => (state.security.is_some(), "state.security"),
                Capability::ServiceHistory => (state.service_history.is_some(), "state.serviceHistory"),
                Capability::Diagnostics => (state.diagnostics.is_some(), "state.diagnostics"),
                Capability::Navigation => (true, ""),
            };
            if !present {
                return Err((field, format!("is required by capability {capability:?}")));
            }
        }
        for (value, field) in [
            (
                state.fuel.as_ref().map(|f| f.percent_remaining),
                "state.fuel.percentRemaining",
            ),
            (
                state.battery.as_ref().map(|b| b.percent_remaining),
                "state.battery.percentRemaining",
            ),
            (state.charge_limit.as_ref().map(|c| c.limit), "state.chargeLimit.limit"),
            (
                state.engine_oil.as_ref().map(|o| o.life_remaining),
                "state.engineOil.lifeRemaining",
            ),
        ] {
            if value.is_some_and(|v| !(0.0..=1.0).contains(&v)) {
                return Err((field, "must be a fraction between 0 and 1".to_owned()));
            }
        }
        Ok(())
    }
}
