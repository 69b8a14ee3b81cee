//! The vehicle signals a webhook can carry, read from a vehicle's state.
//!
//! Each signal has a code (`odometer-traveleddistance`, the v3 signal naming), a group and name, the
//! capability a vehicle needs to report it, the permission a grant needs for a webhook to carry it
//! (the one the vehicle-API read at its path needs), a v4 `body`, and the vehicle-API path and
//! body the legacy v2 format reports it as.

use serde_json::{Value, json};

use crate::domain::permissions::Permission;
use crate::domain::vehicle::{Capability, ChargeState, VehicleState};

/// One signal kind.
pub struct Signal {
    pub code: &'static str,
    pub group: &'static str,
    pub name: &'static str,
    pub capability: Capability,
    /// What the vehicle's grant must include for an event to carry the signal.
    pub permission: Permission,
    /// The legacy (v2 payload) vehicle-API path.
    pub path: &'static str,
    /// The v4 body, `None` when the state has no value.
    read: fn(&VehicleState) -> Option<Value>,
    /// The legacy body: the vehicle API's response at `path`.
    legacy: fn(&VehicleState) -> Option<Value>,
}

fn percent(fraction: f64) -> f64 {
    (fraction * 1000.0).round() / 10.0
}

fn to_json<T: serde::Serialize>(value: Option<&T>) -> Option<Value> {
    value.and_then(|v| serde_json::to_value(v).ok())
}

pub(crate) const SIGNALS: &[Signal] = &[
    Signal {
        code: "odometer-traveleddistance",
        group: "Odometer",
        name: "TraveledDistance",
        capability: Capability::Odometer,
        permission: Permission::ReadOdometer,
        path: "/odometer",
        read: |s| {
            s.odometer
                .as_ref()
                .map(|o| json!({ "value": o.distance, "unit": "km" }))
        },
        legacy: |s| to_json(s.odometer.as_ref()),
    },
    Signal {
        code: "location-preciselocation",
        group: "Location",
        name: "PreciseLocation",
        capability: Capability::Location,
        permission: Permission::ReadLocation,
        path: "/location",
        read: |s| {
            s.location
                .as_ref()
                .map(|l| json!({ "latitude": l.latitude, "longitude": l.longitude }))
        },
        legacy: |s| to_json(s.location.as_ref()),
    },
    Signal {
        code: "tractionbattery-stateofcharge",
        group: "TractionBattery",
        name: "StateOfCharge",
        capability: Capability::Battery,
        permission: Permission::ReadBattery,
        path: "/battery",
        read: |s| {
            s.battery
                .as_ref()
                .map(|b| json!({ "value": percent(b.percent_remaining), "unit": "percent" }))
        },
        legacy: |s| to_json(s.battery.as_ref()),
    },
    Signal {
        code: "tractionbattery-range",
        group: "TractionBattery",
        name: "Range",
        capability: Capability::Battery,
        permission: Permission::ReadBattery,
        path: "/battery",
        read: |s| s.battery.as_ref().map(|b| json!({ "value": b.range, "unit": "km" })),
        legacy: |s| to_json(s.battery.as_ref()),
    },
    Signal {
        code: "charge-ischarging",
        group: "Charge",
        name: "IsCharging",
        capability: Capability::Charge,
        permission: Permission::ReadCharge,
        path: "/charge",
        read: |s| {
            s.charge
                .as_ref()
                .map(|c| json!({ "value": c.state == ChargeState::Charging }))
        },
        legacy: |s| to_json(s.charge.as_ref()),
    },
    Signal {
        code: "charge-ischargingcableconnected",
        group: "Charge",
        name: "IsChargingCableConnected",
        capability: Capability::Charge,
        permission: Permission::ReadCharge,
        path: "/charge",
        read: |s| s.charge.as_ref().map(|c| json!({ "value": c.is_plugged_in })),
        legacy: |s| to_json(s.charge.as_ref()),
    },
    Signal {
        code: "charge-chargelimit",
        group: "Charge",
        name: "ChargeLimit",
        capability: Capability::ChargeLimit,
        permission: Permission::ReadCharge,
        path: "/charge/limit",
        read: |s| {
            s.charge_limit
                .as_ref()
                .map(|c| json!({ "value": percent(c.limit), "unit": "percent" }))
        },
        legacy: |s| to_json(s.charge_limit.as_ref()),
    },
    Signal {
        code: "closure-islocked",
        group: "Closure",
        name: "IsLocked",
        capability: Capability::Security,
        permission: Permission::ReadSecurity,
        path: "/security",
        read: |s| s.security.as_ref().map(|c| json!({ "value": c.is_locked })),
        legacy: |s| to_json(s.security.as_ref()),
    },
    Signal {
        code: "internalcombustionengine-fuellevel",
        group: "InternalCombustionEngine",
        name: "FuelLevel",
        capability: Capability::Fuel,
        permission: Permission::ReadFuel,
        path: "/fuel",
        read: |s| {
            s.fuel
                .as_ref()
                .map(|f| json!({ "value": percent(f.percent_remaining), "unit": "percent" }))
        },
        legacy: |s| to_json(s.fuel.as_ref()),
    },
    Signal {
        code: "internalcombustionengine-oillife",
        group: "InternalCombustionEngine",
        name: "OilLife",
        capability: Capability::EngineOil,
        permission: Permission::ReadEngineOil,
        path: "/engine/oil",
        read: |s| {
            s.engine_oil
                .as_ref()
                .map(|o| json!({ "value": percent(o.life_remaining), "unit": "percent" }))
        },
        legacy: |s| to_json(s.engine_oil.as_ref()),
    },
];

impl std::fmt::Debug for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Signal").field(&self.code).finish()
    }
}

/// Codes are unique, so a signal is its code.
impl PartialEq for Signal {
    fn eq(&self, other: &Signal) -> bool {
        self.code == other.code
    }
}

/// The signal with this code.
pub(crate) fn find(code: &str) -> Option<&'static Signal> {
    SIGNALS.iter().find(|signal| signal.code == code)
}

impl Signal {
    /// The v4 `body` in this state.
    pub fn body(&self, state: &VehicleState) -> Option<Value> {
        (self.read)(state)
    }

    /// The vehicle API's answer at [`Signal::path`] in this state.
    pub fn legacy_body(&self, state: &VehicleState) -> Option<Value> {
        (self.legacy)(state)
    }

    /// `{"code","name","group","body"}` for a v4 payload.
    pub fn entry(&self, body: Value) -> Value {
        json!({ "code": self.code, "name": self.name, "group": self.group, "body": body })
    }
}
