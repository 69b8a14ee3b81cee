//! `sc-unit-system`: metric (the default, and how fixtures store values) or imperial
//! (docs/contract/api.md#units). Conversions use the exact standard factors.

use axum::http::{HeaderMap, HeaderName};

pub(crate) const KM_PER_MILE: f64 = 1.609344;
pub(crate) const LITRES_PER_GALLON: f64 = 3.785411784;
pub(crate) const KPA_PER_PSI: f64 = 6.894757;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnitSystem {
    Metric,
    Imperial,
}

impl UnitSystem {
    /// The request's `sc-unit-system` header; anything but `imperial` is metric.
    pub(crate) fn of(headers: &HeaderMap) -> UnitSystem {
        static SC_UNIT_SYSTEM: HeaderName = HeaderName::from_static("sc-unit-system");
        match headers.get(&SC_UNIT_SYSTEM).and_then(|value| value.to_str().ok()) {
            Some(value) if value.trim().eq_ignore_ascii_case("imperial") => UnitSystem::Imperial,
            _ => UnitSystem::Metric,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            UnitSystem::Metric => "metric",
            UnitSystem::Imperial => "imperial",
        }
    }

    /// Kilometres in this system's distance unit (km or miles).
    pub(crate) fn distance(self, km: f64) -> f64 {
        match self {
            UnitSystem::Metric => km,
            UnitSystem::Imperial => km / KM_PER_MILE,
        }
    }

    /// Litres in this system's volume unit (L or US gallons).
    pub(crate) fn volume(self, litres: f64) -> f64 {
        match self {
            UnitSystem::Metric => litres,
            UnitSystem::Imperial => litres / LITRES_PER_GALLON,
        }
    }

    /// Kilopascals in this system's pressure unit (kPa or psi).
    pub(crate) fn pressure(self, kpa: f64) -> f64 {
        match self {
            UnitSystem::Metric => kpa,
            UnitSystem::Imperial => kpa / KPA_PER_PSI,
        }
    }
}

impl UnitSystem {
    /// Degrees Celsius in this system's temperature unit (°C or °F).
    pub(crate) fn temperature(self, celsius: f64) -> f64 {
        match self {
            UnitSystem::Metric => celsius,
            UnitSystem::Imperial => celsius * 9.0 / 5.0 + 32.0,
        }
    }
}
