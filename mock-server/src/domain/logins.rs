//! What a test-mode (or simulated-mode) sign-in means
//! (docs/contract/test-mode.md#the-test-login-grammar).
//!
//! | login | effect |
//! |---|---|
//! | any other e-mail | the brand's test vehicle(s) |
//! | `<n>-vehicles@smartcar.com` (1–999) | n copies of the brand's first test vehicle |
//! | `<VIN>@<level>.smartcar.com` | one vehicle with that VIN, capable per `level` |
//! | `smartcar@successful-request.com` | the brand's vehicle with VIN `0SCAUDI037A5ADB1C` |
//! | `<TYPE>.<CODE>@smartcar.com` | the brand's vehicle; its non-static requests fail with that error |
//! | `smartcar@vs-00x.vehicle-state-error.com`, `smartcar@voa-00x.vehicle-owner-action-required.com` | v1.0 `VS_00x` / `VOA_00x` errors |
//! | `smartcar@invalid-subscription.com` | Connect error `invalid_subscription` |
//! | `smartcar@vehicle-incompatible.com` | Connect error `vehicle_incompatible` (VIN `0SCAUDI012FE3B132`) |

use std::sync::Arc;

use crate::domain::catalogue::{self, Entry};
use crate::domain::fixtures::{Brand, Fixtures};
use crate::domain::vehicle::{Capability, Powertrain, VehicleSpec};

/// The VIN Smartcar's docs give the incompatible test vehicle.
pub(crate) const INCOMPATIBLE_VIN: &str = "0SCAUDI012FE3B132";
const SUCCESSFUL_REQUEST_VIN: &str = "0SCAUDI037A5ADB1C";

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TestLogin {
    Ordinary,
    Vehicles(usize),
    Vin { vin: String, level: Level },
    SuccessfulRequest,
    ForcedError(&'static Entry),
    InvalidSubscription,
    VehicleIncompatible,
}

/// `test_mode_compatibility_level`-style levels of a `<VIN>@<level>.smartcar.com` login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Compatible,
    Phev,
    Incompatible,
    Fuel,
    Bev,
}

impl TestLogin {
    pub(crate) fn parse(login: &str) -> TestLogin {
        let login = login.trim();
        let Some((local, domain)) = login.rsplit_once('@') else {
            return TestLogin::Ordinary;
        };
        let domain = domain.to_ascii_lowercase();
        match (local.to_ascii_lowercase().as_str(), domain.as_str()) {
            ("smartcar", "invalid-subscription.com") => return TestLogin::InvalidSubscription,
            ("smartcar", "vehicle-incompatible.com") => return TestLogin::VehicleIncompatible,
            ("smartcar", "successful-request.com") => return TestLogin::SuccessfulRequest,
            ("smartcar", domain) => {
                if let Some(entry) = catalogue::v1_test_login(domain) {
                    return TestLogin::ForcedError(entry);
                }
            }
            _ => {}
        }
        if domain == "smartcar.com" {
            if let Some(n) = local.strip_suffix("-vehicles").and_then(vehicle_count) {
                return TestLogin::Vehicles(n);
            }
            if let Some((kind, code)) = local.split_once('.')
                && let Some(entry) = catalogue::find(kind, Some(code)).or_else(|| catalogue::find(kind, None))
            {
                return TestLogin::ForcedError(entry);
            }
        }
        if let Some(level) = domain.strip_suffix(".smartcar.com") {
            let level = match level {
                "compatible" => Some(Level::Compatible),
                "phev" => Some(Level::Phev),
                "incompatible" => Some(Level::Incompatible),
                "fuel" => Some(Level::Fuel),
                "bev" => Some(Level::Bev),
                _ => None,
            };
            if let Some(level) = level
                && local.len() == 17
                && local.chars().all(|c| c.is_ascii_alphanumeric())
            {
                return TestLogin::Vin {
                    vin: local.to_ascii_uppercase(),
                    level,
                };
            }
        }
        TestLogin::Ordinary
    }

    /// The vehicles this login finds at `brand`.
    pub(crate) fn vehicles(&self, brand: &Brand, fixtures: &Fixtures) -> Vec<Arc<VehicleSpec>> {
        let first = &brand.vehicles[0];
        match self {
            TestLogin::Vehicles(n) => (0..*n)
                .map(|i| {
                    let mut spec = (**first).clone();
                    spec.vin = format!("{}{:06}", &first.vin[..11], i + 1);
                    Arc::new(spec)
                })
                .collect(),
            TestLogin::SuccessfulRequest => {
                let mut spec = (**first).clone();
                spec.vin = SUCCESSFUL_REQUEST_VIN.to_owned();
                vec![Arc::new(spec)]
            }
            TestLogin::Vin { vin, level } => vec![Arc::new(vehicle_at_level(first, vin, *level, fixtures))],
            _ => brand.vehicles.clone(),
        }
    }
}

/// The `<n>` of `<n>-vehicles@smartcar.com`: plain digits, no sign, no leading zero, 1–999, so
/// each count has exactly one spelling (and one user per app and mode).
fn vehicle_count(text: &str) -> Option<usize> {
    let plain =
        (1..=3).contains(&text.len()) && !text.starts_with('0') && text.bytes().all(|byte| byte.is_ascii_digit());
    plain.then(|| text.parse().ok()).flatten()
}

/// A vehicle of the brand with the given VIN whose capabilities follow `level`. Values the brand's
/// vehicle lacks come from the most capable fixture vehicle, so every capability can answer.
fn vehicle_at_level(base: &VehicleSpec, vin: &str, level: Level, fixtures: &Fixtures) -> VehicleSpec {
    use Capability::*;
    let (powertrain, capabilities): (Powertrain, &[Capability]) = match level {
        Level::Compatible | Level::Phev => (Powertrain::Phev, &Capability::ALL),
        Level::Bev => (
            Powertrain::Bev,
            &[
                Odometer,
                Location,
                Battery,
                BatteryCapacity,
                NominalCapacity,
                Charge,
                ChargeControl,
                ChargeLimit,
                Tires,
                Security,
                SecurityControl,
                Navigation,
                ServiceHistory,
                Diagnostics,
            ],
        ),
        Level::Fuel => (
            Powertrain::Ice,
            &[
                Odometer,
                Location,
                Fuel,
                EngineOil,
                Tires,
                Security,
                SecurityControl,
                Navigation,
                ServiceHistory,
                Diagnostics,
            ],
        ),
        Level::Incompatible => (base.powertrain, &[]),
    };
    let mut spec = base.clone();
    spec.vin = vin.to_owned();
    spec.powertrain = powertrain;
    spec.capabilities = capabilities.to_vec();
    if let Some(richest) = fixtures
        .brands
        .iter()
        .flat_map(|brand| brand.vehicles.iter())
        .max_by_key(|vehicle| vehicle.capabilities.len())
    {
        Arc::make_mut(&mut spec.state).fill_from(&richest.state);
    }
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_login_grammar_is_recognised() {
        assert_eq!(TestLogin::parse("jane@example.com"), TestLogin::Ordinary);
        assert_eq!(TestLogin::parse("3-vehicles@smartcar.com"), TestLogin::Vehicles(3));
        assert_eq!(TestLogin::parse("1000-vehicles@smartcar.com"), TestLogin::Ordinary);
        assert_eq!(TestLogin::parse("999-vehicles@smartcar.com"), TestLogin::Vehicles(999));
        assert_eq!(
            TestLogin::parse("5YJ3E1EA0KF000001@bev.smartcar.com"),
            TestLogin::Vin {
                vin: "5YJ3E1EA0KF000001".into(),
                level: Level::Bev
            }
        );
        assert_eq!(
            TestLogin::parse("VEHICLE_STATE.UNKNOWN@smartcar.com"),
            TestLogin::ForcedError(&catalogue::VEHICLE_STATE_UNKNOWN)
        );
        assert_eq!(
            TestLogin::parse("smartcar@invalid-subscription.com"),
            TestLogin::InvalidSubscription
        );
        assert_eq!(
            TestLogin::parse("smartcar@vehicle-incompatible.com"),
            TestLogin::VehicleIncompatible
        );
    }

    #[test]
    fn n_vehicles_get_distinct_vins() {
        let fixtures = Fixtures::embedded().expect("fixtures");
        let brand = fixtures.brand("CHEVROLET").expect("brand");

        let vehicles = TestLogin::Vehicles(12).vehicles(brand, &fixtures);

        let vins: std::collections::HashSet<_> = vehicles.iter().map(|v| v.vin.clone()).collect();
        assert_eq!(vins.len(), 12);
        assert!(vins.iter().all(|vin| vin.len() == 17));
    }

    #[test]
    fn a_vehicle_count_has_one_spelling_only() {
        for login in [
            "+999-vehicles@smartcar.com",
            "0999-vehicles@smartcar.com",
            "00999-vehicles@smartcar.com",
            "03-vehicles@smartcar.com",
            "0-vehicles@smartcar.com",
            "３-vehicles@smartcar.com",
            "-vehicles@smartcar.com",
        ] {
            assert_eq!(TestLogin::parse(login), TestLogin::Ordinary, "{login}");
        }
    }
}
