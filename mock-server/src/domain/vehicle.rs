//! A vehicle as the platform knows it: what it is and can do ([`VehicleSpec`]), the values it
//! reports ([`VehicleState`]), the connected copy a user owns ([`Vehicle`]), and the rules its
//! commands follow ([`Vehicle::lock`], [`Vehicle::charge`], …).
//!
//! Values are stored metric and in Smartcar's response shapes, so the vehicle API serves them as
//! they are (converting them when `sc-unit-system: imperial` asks for it).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::catalogue::{self, Entry};
use crate::domain::world::Mode;

/// One connected vehicle: its fixture identity plus its own copy of the state.
#[derive(Debug, Clone)]
pub struct Vehicle {
    pub id: Uuid,
    pub app: Arc<str>,
    pub user: Uuid,
    pub mode: Mode,
    pub spec: Arc<VehicleSpec>,
    /// Shared with the fixture until the first change (`Arc::make_mut`), so a new user's vehicle
    /// costs a pointer, not a copy of every value.
    pub state: Arc<VehicleState>,
    /// When the state last changed: `sc-data-age`.
    pub updated_at: OffsetDateTime,
    /// When its user first connected it to the app (their first Allow); `None` before that and
    /// after a disconnect. A vehicle is one user's, so the connection is the vehicle's to keep.
    pub connected_at: Option<OffsetDateTime>,
}

/// Why a command was refused: the car's state, a value it lacks, or an argument out of range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CommandError {
    #[error("the vehicle is driving; it cannot be locked or unlocked")]
    InMotion,
    #[error("the vehicle is not plugged in")]
    PlugNotConnected,
    #[error("the vehicle is already charging")]
    ChargingInProgress,
    /// The state has no such value; fixtures give every capable vehicle one, so an edited state
    /// is the only way here.
    #[error("the vehicle has no {0} value")]
    Missing(&'static str),
    #[error("{field}: {message}")]
    OutOfRange { field: &'static str, message: String },
}

impl CommandError {
    /// The catalogue row the vehicle API answers with.
    pub fn entry(&self) -> &'static Entry {
        match self {
            CommandError::InMotion => &catalogue::VEHICLE_STATE_IN_MOTION,
            CommandError::PlugNotConnected => &catalogue::CHARGING_PLUG_NOT_CONNECTED,
            CommandError::ChargingInProgress => &catalogue::CHARGING_IN_PROGRESS,
            CommandError::Missing(_) => &catalogue::VEHICLE_NOT_CAPABLE,
            CommandError::OutOfRange { .. } => &catalogue::VALIDATION,
        }
    }
}

/// Commands, checked against the car's state as real cars check them in `simulated` and `live` mode
/// (docs/contract/test-mode.md#commands-in-simulated-and-live-mode): LOCK/UNLOCK while driving is
/// `IN_MOTION`; START/STOP unplugged is `CHARGING_PLUG_NOT_CONNECTED`; START while charging is
/// `CHARGING_IN_PROGRESS`. In `test` mode they succeed, as on the real platform, and still change
/// the state.
impl Vehicle {
    /// Whether commands are checked against the car's state.
    fn strict(&self) -> bool {
        self.mode != Mode::Test
    }

    /// LOCK (`true`) or UNLOCK: `isLocked` and every door follow.
    pub fn lock(&mut self, lock: bool) -> Result<(), CommandError> {
        if self.strict() && self.state.motion == Motion::Driving {
            return Err(CommandError::InMotion);
        }
        let security = Arc::make_mut(&mut self.state)
            .security
            .as_mut()
            .ok_or(CommandError::Missing("security"))?;
        security.is_locked = lock;
        let status = if lock { "LOCKED" } else { "UNLOCKED" };
        for door in &mut security.doors {
            status.clone_into(&mut door.status);
        }
        Ok(())
    }

    /// START (`true`) or STOP charging: the charge `state` follows.
    pub fn charge(&mut self, start: bool) -> Result<(), CommandError> {
        let strict = self.strict();
        let charge = Arc::make_mut(&mut self.state)
            .charge
            .as_mut()
            .ok_or(CommandError::Missing("charge"))?;
        if strict && !charge.is_plugged_in {
            return Err(CommandError::PlugNotConnected);
        }
        if strict && start && charge.state == ChargeState::Charging {
            return Err(CommandError::ChargingInProgress);
        }
        charge.state = if start {
            ChargeState::Charging
        } else {
            ChargeState::NotCharging
        };
        Ok(())
    }

    /// The charge limit, a fraction above 0 and at most 1.
    pub fn set_charge_limit(&mut self, limit: f64) -> Result<(), CommandError> {
        if !(0.0..=1.0).contains(&limit) || limit == 0.0 {
            return Err(CommandError::OutOfRange {
                field: "limit",
                message: format!("must be a fraction above 0 and at most 1, got {limit}"),
            });
        }
        let charge_limit = Arc::make_mut(&mut self.state)
            .charge_limit
            .as_mut()
            .ok_or(CommandError::Missing("charge limit"))?;
        charge_limit.limit = limit;
        Ok(())
    }

    /// Records a navigation destination, within ±90° latitude and ±180° longitude.
    pub fn set_destination(&mut self, latitude: f64, longitude: f64) -> Result<(), CommandError> {
        if !(-90.0..=90.0).contains(&latitude) {
            return Err(CommandError::OutOfRange {
                field: "latitude",
                message: "must be between -90 and 90".to_owned(),
            });
        }
        if !(-180.0..=180.0).contains(&longitude) {
            return Err(CommandError::OutOfRange {
                field: "longitude",
                message: "must be between -180 and 180".to_owned(),
            });
        }
        Arc::make_mut(&mut self.state).destination = Some(Location { latitude, longitude });
        Ok(())
    }
}

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
    /// Shared by every user's copy of this vehicle until one changes (see [`Vehicle`]).
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

/// What a vehicle can do, one entry per endpoint family of the vehicle API
/// (docs/contract/api.md#endpoints).
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

impl Capability {
    /// Every capability, in declaration order.
    pub const ALL: [Capability; 16] = [
        Capability::Odometer,
        Capability::Location,
        Capability::Fuel,
        Capability::Battery,
        Capability::BatteryCapacity,
        Capability::NominalCapacity,
        Capability::Charge,
        Capability::ChargeControl,
        Capability::ChargeLimit,
        Capability::EngineOil,
        Capability::Tires,
        Capability::Security,
        Capability::SecurityControl,
        Capability::Navigation,
        Capability::ServiceHistory,
        Capability::Diagnostics,
    ];
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
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
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

/// Why a state change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    #[error("the change must be a JSON object")]
    NotAnObject,
    /// The merged state is not a state: `state.<path>: <why>`.
    #[error("state.{path}: {message}")]
    Invalid { path: String, message: String },
}

impl VehicleState {
    /// This state with `patch` merged in, in the shape of the state itself: objects merge key by
    /// key, anything else (numbers, lists such as `security.doors`) is replaced (a JSON merge
    /// patch, RFC 7386, without deletion).
    pub fn patched(&self, patch: &serde_json::Value) -> Result<VehicleState, PatchError> {
        if !patch.is_object() {
            return Err(PatchError::NotAnObject);
        }
        let invalid = |path: String, message: String| PatchError::Invalid { path, message };
        let mut merged = serde_json::to_value(self).map_err(|error| invalid(String::new(), error.to_string()))?;
        merge(&mut merged, patch);
        serde_path_to_error::deserialize(merged)
            .map_err(|error| invalid(error.path().to_string(), error.inner().to_string()))
    }

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

/// Merges `patch` into `target`: objects key by key, the rest replaced.
fn merge(target: &mut serde_json::Value, patch: &serde_json::Value) {
    use serde_json::Value;
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                match target.get_mut(key) {
                    Some(slot) if slot.is_object() && value.is_object() => merge(slot, value),
                    _ => {
                        target.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (target, patch) => *target = patch.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::Fixtures;

    /// A parked, plugged-in, not-charging car of `mode` with security and charge values.
    fn car(mode: Mode) -> Vehicle {
        let fixtures = Fixtures::embedded().expect("the built-in fixtures load");
        let spec = fixtures
            .brands
            .iter()
            .flat_map(|brand| brand.vehicles.iter())
            .find(|spec| {
                spec.state.charge.is_some() && spec.state.security.is_some() && spec.state.charge_limit.is_some()
            })
            .expect("a fixture vehicle that charges and locks");
        let mut state = (*spec.state).clone();
        state.motion = Motion::Parked;
        if let Some(charge) = state.charge.as_mut() {
            charge.is_plugged_in = true;
            charge.state = ChargeState::NotCharging;
        }
        Vehicle {
            id: Uuid::new_v4(),
            app: Arc::from("demo-client"),
            user: Uuid::new_v4(),
            mode,
            spec: Arc::clone(spec),
            state: Arc::new(state),
            updated_at: OffsetDateTime::UNIX_EPOCH,
            connected_at: None,
        }
    }

    fn charge_state(car: &Vehicle) -> Option<ChargeState> {
        car.state.charge.as_ref().map(|charge| charge.state)
    }

    #[test]
    fn a_driving_car_cannot_be_locked_outside_test_mode() {
        let mut car = car(Mode::Simulated);
        Arc::make_mut(&mut car.state).motion = Motion::Driving;

        assert_eq!(car.lock(true), Err(CommandError::InMotion));
        assert_eq!(CommandError::InMotion.entry().code, Some("IN_MOTION"));
    }

    #[test]
    fn locking_locks_every_door() {
        let mut car = car(Mode::Live);

        car.lock(true).expect("a parked car locks");

        let security = car.state.security.as_ref().expect("security values");
        assert!(security.is_locked);
        assert!(security.doors.iter().all(|door| door.status == "LOCKED"));
    }

    #[test]
    fn an_unplugged_car_cannot_start_or_stop_charging_outside_test_mode() {
        let mut car = car(Mode::Live);
        if let Some(charge) = Arc::make_mut(&mut car.state).charge.as_mut() {
            charge.is_plugged_in = false;
        }

        assert_eq!(car.charge(true), Err(CommandError::PlugNotConnected));
        assert_eq!(car.charge(false), Err(CommandError::PlugNotConnected));
        assert_eq!(charge_state(&car), Some(ChargeState::NotCharging), "nothing changed");
    }

    #[test]
    fn a_charging_car_cannot_start_charging_again_but_can_stop() {
        let mut car = car(Mode::Simulated);
        car.charge(true).expect("a plugged-in car starts");

        assert_eq!(car.charge(true), Err(CommandError::ChargingInProgress));
        assert_eq!(car.charge(false), Ok(()));
        assert_eq!(charge_state(&car), Some(ChargeState::NotCharging));
    }

    #[test]
    fn in_test_mode_every_command_succeeds_and_changes_the_state() {
        let mut car = car(Mode::Test);
        let state = Arc::make_mut(&mut car.state);
        state.motion = Motion::Driving;
        if let Some(charge) = state.charge.as_mut() {
            charge.is_plugged_in = false;
        }

        assert_eq!(car.lock(true), Ok(()));
        assert_eq!(car.charge(true), Ok(()));
        assert_eq!(charge_state(&car), Some(ChargeState::Charging));
    }

    #[test]
    fn a_charge_limit_must_be_above_zero_and_at_most_one() {
        let mut car = car(Mode::Test);

        for limit in [0.0, -0.1, 1.01, f64::NAN] {
            assert!(
                matches!(
                    car.set_charge_limit(limit),
                    Err(CommandError::OutOfRange { field: "limit", .. })
                ),
                "{limit}"
            );
        }
        assert_eq!(car.set_charge_limit(0.8), Ok(()));
        assert_eq!(car.state.charge_limit.as_ref().map(|c| c.limit), Some(0.8));
    }

    #[test]
    fn objects_merge_and_lists_are_replaced() {
        let mut state =
            serde_json::json!({ "charge": { "isPluggedIn": false, "state": "NOT_CHARGING" }, "doors": [1, 2] });

        merge(
            &mut state,
            &serde_json::json!({ "charge": { "isPluggedIn": true }, "doors": [3] }),
        );

        assert_eq!(
            state,
            serde_json::json!({ "charge": { "isPluggedIn": true, "state": "NOT_CHARGING" }, "doors": [3] })
        );
    }

    #[test]
    fn a_patch_merges_objects_and_replaces_the_rest() {
        let car = car(Mode::Test);
        let doors = car.state.security.as_ref().map_or(0, |security| security.doors.len());

        let patched = car
            .state
            .patched(
                &serde_json::json!({ "charge": { "state": "CHARGING" }, "security": { "doors": [] }, "asleep": true }),
            )
            .expect("a sound patch");

        assert_eq!(
            patched.charge.as_ref().map(|c| (c.is_plugged_in, c.state)),
            Some((true, ChargeState::Charging))
        );
        assert!(doors > 0 && patched.security.as_ref().is_some_and(|s| s.doors.is_empty()));
        assert!(patched.asleep);
    }

    #[test]
    fn a_patch_that_breaks_the_state_names_the_field() {
        let car = car(Mode::Test);

        let error = car
            .state
            .patched(&serde_json::json!({ "odometer": { "distance": "far" } }))
            .expect_err("a string distance");

        assert!(
            error.to_string().starts_with("state.odometer.distance: invalid type"),
            "{error}"
        );
        assert_eq!(
            car.state.patched(&serde_json::json!([1])).err(),
            Some(PatchError::NotAnObject)
        );
    }

    #[test]
    fn a_destination_is_within_the_globe() {
        let mut car = car(Mode::Test);

        assert!(car.set_destination(91.0, 0.0).is_err());
        assert!(car.set_destination(0.0, -181.0).is_err());
        assert_eq!(car.set_destination(40.0, -105.0), Ok(()));
    }
}
