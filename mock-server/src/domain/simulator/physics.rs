//! The simulator's physics: deliberately simple, so a test (or a workshop) can work out by hand
//! what a car should report.
//!
//! - **Distance** between two points is the great-circle (haversine) distance on a sphere of the
//!   Earth's mean radius, 6371.0088 km.
//! - **Consumption** is a constant per powertrain and kilometre ([`Consumption::of`]): a BEV
//!   uses 0.18 kWh/km; a PHEV uses its battery first (0.20 kWh/km) and its tank once the battery
//!   is empty (6 L/100 km); a HEV 4.5 L/100 km, an ICE 7.5 L/100 km.
//! - **A tank** (battery or fuel) is its remaining fraction and its size: the battery's size is
//!   `batteryCapacity` (or [`DEFAULT_BATTERY_KWH`]), the fuel tank's is
//!   `amountRemaining / percentRemaining` (or [`DEFAULT_TANK_LITRES`]).
//! - **Range follows the fraction** at the ratio the state had when the stage began
//!   (`range / percentRemaining`), so a trip never makes the range jump; a tank that was empty
//!   uses its size over the consumption.
//! - **Charging is linear**: the fraction rises at `charger kW / battery kWh` per hour, to the
//!   charge limit. The default charger is 11 kW for a BEV (a wall box) and 3.6 kW for a PHEV.
//! - **A parked, unplugged car drains** its traction battery by [`DRAIN_PER_DAY`] of a full
//!   charge a day (phantom drain); fuel does not evaporate.
//!
//! Every value leaves here within its signal's range (fractions in 0–1, distances and amounts
//! not negative) and rounded ([`round_state`]) so that a reading does not flicker in its last
//! digits.

use crate::domain::vehicle::{Powertrain, VehicleState};

/// The Earth's mean radius (IUGG), in km.
pub(crate) const EARTH_RADIUS_KM: f64 = 6371.0088;
/// Kilometres per degree of latitude on that sphere.
pub(crate) const KM_PER_DEGREE: f64 = EARTH_RADIUS_KM * std::f64::consts::PI / 180.0;

/// A battery's size when the state does not say (`batteryCapacity`): a mid-sized BEV's.
pub(crate) const DEFAULT_BATTERY_KWH: f64 = 60.0;
/// A PHEV's battery when the state does not say.
pub(crate) const DEFAULT_PHEV_BATTERY_KWH: f64 = 16.0;
/// A fuel tank's size when the state cannot tell (an empty tank).
pub(crate) const DEFAULT_TANK_LITRES: f64 = 50.0;
/// Phantom drain of a parked, unplugged car: 1% of a full battery a day.
pub(crate) const DRAIN_PER_DAY: f64 = 0.01;
/// The charger a `charging` trip uses unless told otherwise: a BEV's 11 kW wall box.
pub(crate) const DEFAULT_BEV_CHARGER_KW: f64 = 11.0;
/// A PHEV's on-board charger.
pub(crate) const DEFAULT_PHEV_CHARGER_KW: f64 = 3.6;
/// The fastest charger a trip may ask for (a 350 kW DC charger).
pub(crate) const MAX_CHARGER_KW: f64 = 350.0;

/// What a powertrain burns per kilometre.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Consumption {
    /// kWh per km from the traction battery; 0 when the powertrain does not drive on it.
    pub battery_kwh_per_km: f64,
    /// Litres per km from the tank, once the battery (if it is used) is empty.
    pub fuel_litres_per_km: f64,
}

impl Consumption {
    pub(crate) fn of(powertrain: Powertrain) -> Consumption {
        let (battery_kwh_per_km, fuel_litres_per_km) = match powertrain {
            Powertrain::Bev => (0.18, 0.0),
            Powertrain::Phev => (0.20, 0.06),
            Powertrain::Hev => (0.0, 0.045),
            Powertrain::Ice => (0.0, 0.075),
        };
        Consumption {
            battery_kwh_per_km,
            fuel_litres_per_km,
        }
    }
}

/// The charger a powertrain uses by default, or `None` if it has no plug.
pub(crate) fn default_charger_kw(powertrain: Powertrain) -> Option<f64> {
    match powertrain {
        Powertrain::Bev => Some(DEFAULT_BEV_CHARGER_KW),
        Powertrain::Phev => Some(DEFAULT_PHEV_CHARGER_KW),
        Powertrain::Hev | Powertrain::Ice => None,
    }
}

/// A battery or a fuel tank: how full, how big, and how far a full one goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Tank {
    /// 0–1.
    pub fraction: f64,
    /// kWh or litres.
    pub size: f64,
    /// The range a full tank reports, in km.
    pub full_range_km: f64,
}

impl Tank {
    /// `fraction` and `range` as the state has them; `size` from the state or a default;
    /// `per_km` is what the powertrain burns from it (for an empty tank's range).
    fn new(fraction: f64, range: f64, size: f64, per_km: f64) -> Tank {
        let fraction = clamp_fraction(fraction);
        let size = if size.is_finite() && size > 0.0 { size } else { 1.0 };
        let full_range_km = if fraction > 0.0 && range.is_finite() && range >= 0.0 {
            range / fraction
        } else if per_km > 0.0 {
            size / per_km
        } else {
            0.0
        };
        Tank {
            fraction,
            size,
            full_range_km,
        }
    }

    /// The traction battery of `state`, if it reports one.
    pub(crate) fn battery(state: &VehicleState, powertrain: Powertrain) -> Option<Tank> {
        let battery = state.battery.as_ref()?;
        let default = if powertrain == Powertrain::Phev {
            DEFAULT_PHEV_BATTERY_KWH
        } else {
            DEFAULT_BATTERY_KWH
        };
        let size = state.battery_capacity.as_ref().map_or(default, |c| c.capacity);
        let per_km = Consumption::of(powertrain).battery_kwh_per_km;
        Some(Tank::new(battery.percent_remaining, battery.range, size, per_km))
    }

    /// The fuel tank of `state`, if it reports one.
    pub(crate) fn fuel(state: &VehicleState, powertrain: Powertrain) -> Option<Tank> {
        let fuel = state.fuel.as_ref()?;
        let size = if fuel.percent_remaining > 0.0 && fuel.amount_remaining > 0.0 {
            fuel.amount_remaining / fuel.percent_remaining
        } else {
            DEFAULT_TANK_LITRES
        };
        let per_km = Consumption::of(powertrain).fuel_litres_per_km;
        Some(Tank::new(fuel.percent_remaining, fuel.range, size, per_km))
    }

    /// The same tank holding `fraction` instead.
    pub(crate) fn with_fraction(self, fraction: f64) -> Tank {
        Tank {
            fraction: clamp_fraction(fraction),
            ..self
        }
    }

    /// The range the car reports with this tank.
    pub(crate) fn range_km(&self) -> f64 {
        (self.fraction * self.full_range_km).max(0.0)
    }

    /// How far it goes burning `per_km` (infinite when nothing is burnt).
    fn reach_km(&self, per_km: f64) -> f64 {
        if per_km > 0.0 {
            self.fraction * self.size / per_km
        } else {
            f64::INFINITY
        }
    }

    /// After burning `per_km` for `km` (empty, exactly, once `km` reaches its reach).
    fn after_km(self, per_km: f64, km: f64) -> Tank {
        if km >= self.reach_km(per_km) {
            return self.with_fraction(0.0);
        }
        self.with_fraction(self.fraction - per_km * km / self.size)
    }
}

/// What a driving car carries: the tanks its powertrain uses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Energy {
    pub powertrain: Powertrain,
    pub battery: Option<Tank>,
    pub fuel: Option<Tank>,
}

impl Energy {
    pub(crate) fn of(state: &VehicleState, powertrain: Powertrain) -> Energy {
        Energy {
            powertrain,
            battery: Tank::battery(state, powertrain),
            fuel: Tank::fuel(state, powertrain),
        }
    }

    /// How far the car can drive before every tank it drives on is empty. A tank the state does
    /// not report is not simulated, so it never runs out: a car reporting none drives forever.
    pub(crate) fn reach_km(&self) -> f64 {
        let use_ = Consumption::of(self.powertrain);
        let battery = self
            .battery
            .filter(|_| use_.battery_kwh_per_km > 0.0)
            .map(|tank| tank.reach_km(use_.battery_kwh_per_km));
        let fuel = self
            .fuel
            .filter(|_| use_.fuel_litres_per_km > 0.0)
            .map(|tank| tank.reach_km(use_.fuel_litres_per_km));
        match (battery, fuel) {
            (None, None) => f64::INFINITY,
            (battery, fuel) => battery.unwrap_or(0.0) + fuel.unwrap_or(0.0),
        }
    }

    /// After driving `km` (battery first, then fuel, as a PHEV does).
    pub(crate) fn after_km(self, km: f64) -> Energy {
        let use_ = Consumption::of(self.powertrain);
        let km = km.max(0.0);
        let mut left = km;
        let battery = self.battery.map(|tank| {
            if use_.battery_kwh_per_km <= 0.0 {
                return tank;
            }
            let on_battery = left.min(tank.reach_km(use_.battery_kwh_per_km));
            left -= on_battery;
            tank.after_km(use_.battery_kwh_per_km, on_battery)
        });
        // A powertrain that drives on its battery only burns fuel once the battery is empty; a
        // car that reports no battery burns fuel from the first kilometre.
        let on_fuel = if self.battery.is_some() && use_.battery_kwh_per_km > 0.0 {
            left
        } else {
            km
        };
        let fuel = self.fuel.map(|tank| {
            if use_.fuel_litres_per_km <= 0.0 {
                return tank;
            }
            tank.after_km(use_.fuel_litres_per_km, on_fuel)
        });
        Energy { battery, fuel, ..self }
    }

    /// Writes the tanks into `state` (fractions, ranges, fuel amount).
    pub(crate) fn write(&self, state: &mut VehicleState) {
        if let (Some(tank), Some(battery)) = (self.battery, state.battery.as_mut()) {
            battery.percent_remaining = tank.fraction;
            battery.range = tank.range_km();
        }
        if let (Some(tank), Some(fuel)) = (self.fuel, state.fuel.as_mut()) {
            fuel.percent_remaining = tank.fraction;
            fuel.range = tank.range_km();
            fuel.amount_remaining = (tank.fraction * tank.size).max(0.0);
        }
    }
}

/// Great-circle distance between two points given in degrees, in km.
pub(crate) fn haversine_km(from: (f64, f64), to: (f64, f64)) -> f64 {
    let (lat1, lon1) = (from.0.to_radians(), from.1.to_radians());
    let (lat2, lon2) = (to.0.to_radians(), to.1.to_radians());
    let a = ((lat2 - lat1) / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * a.sqrt().clamp(0.0, 1.0).asin()
}

/// A longitude brought back into -180..=180.
pub(crate) fn wrap_longitude(longitude: f64) -> f64 {
    if (-180.0..=180.0).contains(&longitude) {
        return longitude;
    }
    let wrapped = (longitude + 180.0).rem_euclid(360.0) - 180.0;
    if wrapped == -180.0 && longitude > 0.0 {
        180.0
    } else {
        wrapped
    }
}

/// The shortest signed step in longitude from `from` to `to` (never more than 180° either way,
/// so a leg across the antimeridian goes the short way).
pub(crate) fn longitude_step(from: f64, to: f64) -> f64 {
    let step = (to - from).rem_euclid(360.0);
    if step > 180.0 { step - 360.0 } else { step }
}

/// A fraction kept within 0–1 (and a NaN read as 0).
pub(crate) fn clamp_fraction(value: f64) -> f64 {
    if value.is_nan() { 0.0 } else { value.clamp(0.0, 1.0) }
}

/// `value` rounded to `decimals` places.
pub(crate) fn round_to(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

/// Rounds what the simulator writes: fractions to 4 places, distances to 0.01 km (odometer) or
/// 0.1 km (range), litres to 0.01, coordinates to 6 places (about 0.1 m).
pub(crate) fn round_state(state: &mut VehicleState) {
    if let Some(odometer) = state.odometer.as_mut() {
        odometer.distance = round_to(odometer.distance, 2).max(0.0);
    }
    if let Some(location) = state.location.as_mut() {
        location.latitude = round_to(location.latitude, 6).clamp(-90.0, 90.0);
        location.longitude = wrap_longitude(round_to(location.longitude, 6));
    }
    if let Some(battery) = state.battery.as_mut() {
        battery.percent_remaining = clamp_fraction(round_to(battery.percent_remaining, 4));
        battery.range = round_to(battery.range, 1).max(0.0);
    }
    if let Some(fuel) = state.fuel.as_mut() {
        fuel.percent_remaining = clamp_fraction(round_to(fuel.percent_remaining, 4));
        fuel.range = round_to(fuel.range, 1).max(0.0);
        fuel.amount_remaining = round_to(fuel.amount_remaining, 2).max(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::vehicle::{Battery, BatteryCapacity, Fuel};

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    #[test]
    fn a_degree_of_latitude_is_about_111_km() {
        let km = haversine_km((0.0, 0.0), (1.0, 0.0));

        assert!(close(km, KM_PER_DEGREE, 1e-9), "{km}");
        assert!(close(km, 111.195, 0.001), "{km}");
    }

    #[test]
    fn boston_to_new_york_is_about_306_km() {
        let km = haversine_km((42.3601, -71.0589), (40.7128, -74.0060));

        assert!(close(km, 306.0, 1.0), "{km}");
    }

    #[test]
    fn longitudes_wrap_and_step_the_short_way() {
        assert_eq!(wrap_longitude(181.0), -179.0);
        assert_eq!(wrap_longitude(-181.0), 179.0);
        assert_eq!(wrap_longitude(540.0), 180.0);
        assert_eq!(longitude_step(179.0, -179.0), 2.0);
        assert_eq!(longitude_step(-179.0, 179.0), -2.0);
    }

    fn bev(percent: f64, range: f64) -> VehicleState {
        VehicleState {
            battery: Some(Battery {
                percent_remaining: percent,
                range,
            }),
            battery_capacity: Some(BatteryCapacity { capacity: 90.0 }),
            ..VehicleState::default()
        }
    }

    #[test]
    fn a_bev_burns_its_consumption_per_km_and_its_range_follows() {
        let energy = Energy::of(&bev(0.5, 250.0), Powertrain::Bev);

        let after = energy.after_km(100.0);

        let battery = after.battery.expect("a battery");
        assert!(close(battery.fraction, 0.5 - 18.0 / 90.0, 1e-12), "{battery:?}");
        assert!(close(battery.range_km(), battery.fraction * 500.0, 1e-9));
        assert!(close(energy.reach_km(), 0.5 * 90.0 / 0.18, 1e-9));
    }

    #[test]
    fn a_phev_drives_on_its_battery_then_on_its_tank() {
        let mut state = bev(0.1, 5.0);
        state.battery_capacity = Some(BatteryCapacity { capacity: 20.0 });
        state.fuel = Some(Fuel {
            range: 400.0,
            percent_remaining: 0.5,
            amount_remaining: 20.0,
        });
        let energy = Energy::of(&state, Powertrain::Phev);

        let after = energy.after_km(30.0);

        // 2 kWh at 0.2 kWh/km is 10 km on the battery; 20 km on fuel at 0.06 L/km is 1.2 L.
        assert_eq!(after.battery.map(|tank| tank.fraction), Some(0.0));
        let fuel = after.fuel.expect("a tank");
        assert!(close(fuel.fraction * fuel.size, 20.0 - 1.2, 1e-9), "{fuel:?}");
        assert!(close(energy.reach_km(), 10.0 + 20.0 / 0.06, 1e-9));
    }

    #[test]
    fn a_tank_never_goes_below_empty() {
        let energy = Energy::of(&bev(0.01, 5.0), Powertrain::Bev);

        let after = energy.after_km(10_000.0);

        assert_eq!(
            after.battery.map(|tank| (tank.fraction, tank.range_km())),
            Some((0.0, 0.0))
        );
    }

    #[test]
    fn a_car_reporting_no_tank_is_never_out_of_energy() {
        assert_eq!(
            Energy::of(&VehicleState::default(), Powertrain::Ice).reach_km(),
            f64::INFINITY
        );
    }

    #[test]
    fn rounding_keeps_values_in_range() {
        let mut state = bev(1.000_000_4, -0.01);
        round_state(&mut state);

        assert_eq!(state.battery.map(|b| (b.percent_remaining, b.range)), Some((1.0, 0.0)));
    }
}
