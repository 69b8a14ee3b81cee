//! One vehicle's running trip: the trip, the state it started from, and when — so that its state
//! at any moment is [`Simulation::state_at`], whoever asks (a clock advance, a real-time ticker,
//! a read).
//!
//! **Simulated time.** The virtual clock is wall time plus an offset that test control moves. A
//! trip counts a clock advance as it is (`clock advance 30m` moves it 30 minutes) and the wall
//! time that passes multiplied by the speed factor (`--sim-speed 60`: a second of wall time is a
//! minute of trip):
//!
//! ```text
//! elapsed = (virtual now − virtual start) + (speed − 1) × (wall now − wall start)
//! ```
//!
//! At speed 1 that is the virtual clock's own elapsed time. Moving the clock back rewinds the
//! trip, but never to before its start (or its last [`Simulation::rebase`]).
//!
//! Nothing here reads a clock: the caller passes a [`Moment`] (the virtual clock's `now()` and
//! the wall time), so a test can hand it any time it likes.

use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use super::trip::{Trip, TripStatus};
use crate::domain::vehicle::{VehicleSpec, VehicleState};

/// The fastest speed factor (an hour of trip per wall second).
pub(crate) const MAX_SPEED: f64 = 3600.0;

/// An instant on both clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moment {
    /// The virtual clock's time (`Clock::now`).
    pub virtual_time: OffsetDateTime,
    /// Wall time.
    pub wall: OffsetDateTime,
}

/// How many times faster than wall time trips run (`--sim-speed`), at least 1 and at most
/// `MAX_SPEED` (3,600).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Speed(f64);

/// A speed factor outside 1–[`MAX_SPEED`].
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("the simulation speed must be between 1 and {MAX_SPEED} (--sim-speed), got {0}")]
pub struct SpeedOutOfRange(pub f64);

impl Speed {
    pub const REAL_TIME: Speed = Speed(1.0);

    pub fn new(factor: f64) -> Result<Speed, SpeedOutOfRange> {
        if factor.is_finite() && (1.0..=MAX_SPEED).contains(&factor) {
            Ok(Speed(factor))
        } else {
            Err(SpeedOutOfRange(factor))
        }
    }

    pub fn factor(self) -> f64 {
        self.0
    }

    /// Simulated time from `from` to `to` at this speed (the formula above); never negative.
    pub fn simulated_between(self, from: Moment, to: Moment) -> Duration {
        let on_the_clock = to.virtual_time - from.virtual_time;
        let wall = to.wall - from.wall;
        let elapsed = on_the_clock.saturating_add(wall.checked_mul_f64(self.0 - 1.0));
        if elapsed.is_negative() { Duration::ZERO } else { elapsed }
    }
}

/// `--sim-speed 60`: a number between 1 and `MAX_SPEED`.
impl std::str::FromStr for Speed {
    type Err = String;

    fn from_str(text: &str) -> Result<Speed, String> {
        let factor: f64 = text
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} is not a number (a speed factor such as 60)"))?;
        Speed::new(factor).map_err(|error| error.to_string())
    }
}

impl Default for Speed {
    fn default() -> Self {
        Speed::REAL_TIME
    }
}

/// A trip running on one vehicle.
#[derive(Debug, Clone)]
pub(crate) struct Simulation {
    trip: Trip,
    start: Arc<VehicleState>,
    since: Moment,
    speed: Speed,
}

impl Simulation {
    /// `trip` starting now from `state`.
    pub(crate) fn start(trip: Trip, state: Arc<VehicleState>, now: Moment, speed: Speed) -> Simulation {
        Simulation {
            trip,
            start: state,
            since: now,
            speed,
        }
    }

    pub(crate) fn speed(&self) -> Speed {
        self.speed
    }

    /// Simulated time since the start (or the last rebase); never negative, saturating.
    pub(crate) fn elapsed(&self, now: Moment) -> Duration {
        self.speed.simulated_between(self.since, now)
    }

    /// The vehicle's state at `now`, and where the trip is.
    pub(crate) fn state_at(&self, spec: &VehicleSpec, now: Moment) -> (VehicleState, TripStatus) {
        self.trip.state_at(spec, &self.start, self.elapsed(now))
    }

    /// A command or a state change set the vehicle to `state` at `now`: the trip goes on from
    /// there, where it had got to.
    pub(crate) fn rebase(&mut self, spec: &VehicleSpec, now: Moment, state: Arc<VehicleState>) {
        self.trip = self.trip.remainder(spec, &self.start, self.elapsed(now));
        self.start = state;
        self.since = now;
    }
}

/// `duration × factor`, saturating instead of overflowing.
trait CheckedMulF64 {
    fn checked_mul_f64(self, factor: f64) -> Duration;
}

impl CheckedMulF64 for Duration {
    fn checked_mul_f64(self, factor: f64) -> Duration {
        let seconds = self.as_seconds_f64() * factor;
        if !seconds.is_finite() {
            return Duration::ZERO;
        }
        // `seconds_f64` panics beyond ±i64::MAX seconds; trips stay within a century.
        Duration::seconds_f64(seconds.clamp(-3.0e15, 3.0e15))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::Fixtures;
    use crate::domain::simulator::trip::{Phase, Profile, TripRequest};
    use crate::domain::vehicle::ChargeState;
    use time::macros::datetime;

    fn bev() -> VehicleSpec {
        let fixtures = Fixtures::embedded().expect("the built-in fixtures load");
        let spec = fixtures
            .brands
            .iter()
            .flat_map(|brand| brand.vehicles.iter())
            .find(|spec| spec.powertrain == crate::domain::vehicle::Powertrain::Bev)
            .expect("a BEV fixture");
        (**spec).clone()
    }

    fn at(minutes: i64, wall_seconds: i64) -> Moment {
        let epoch = datetime!(2030-01-01 08:00 UTC);
        Moment {
            virtual_time: epoch + Duration::minutes(minutes) + Duration::seconds(wall_seconds),
            wall: epoch + Duration::seconds(wall_seconds),
        }
    }

    fn odometer(state: &VehicleState) -> f64 {
        state.odometer.as_ref().map_or(f64::NAN, |o| o.distance)
    }

    fn simulation(profile: Profile, speed: f64) -> (VehicleSpec, Simulation) {
        let spec = bev();
        let trip = Trip::plan(&TripRequest::new(profile), &spec, &spec.state).expect("a trip");
        let speed = Speed::new(speed).expect("a speed");
        let simulation = Simulation::start(trip, Arc::clone(&spec.state), at(0, 0), speed);
        (spec, simulation)
    }

    #[test]
    fn a_clock_advance_moves_a_trip_by_as_much() {
        let (_, simulation) = simulation(Profile::Driving, 60.0);

        assert_eq!(simulation.elapsed(at(30, 0)), Duration::minutes(30));
    }

    #[test]
    fn wall_time_counts_times_the_speed_factor() {
        let (_, simulation) = simulation(Profile::Driving, 60.0);

        assert_eq!(simulation.elapsed(at(0, 30)), Duration::minutes(30));
        assert_eq!(simulation.elapsed(at(10, 30)), Duration::minutes(40));
    }

    #[test]
    fn moving_the_clock_back_rewinds_no_further_than_the_start() {
        let (_, simulation) = simulation(Profile::Driving, 1.0);

        assert_eq!(simulation.elapsed(at(-60, 0)), Duration::ZERO);
    }

    #[test]
    fn a_real_time_drive_and_a_clock_advance_agree() {
        let (spec, simulation) = simulation(Profile::Driving, 1.0);

        let (by_advance, _) = simulation.state_at(&spec, at(10, 0));
        let (by_waiting, _) = simulation.state_at(&spec, at(0, 600));

        assert_eq!(odometer(&by_advance), odometer(&by_waiting));
    }

    #[test]
    fn a_rebase_keeps_the_progress_and_takes_the_new_state() {
        let (spec, mut simulation) = simulation(Profile::Charging, 1.0);
        let (mut stopped, status) = simulation.state_at(&spec, at(30, 0));
        assert_eq!(status.phase, Phase::Charging);
        if let Some(charge) = stopped.charge.as_mut() {
            charge.state = ChargeState::NotCharging;
        }
        let battery = stopped.battery.as_ref().map(|b| b.percent_remaining);

        simulation.rebase(&spec, at(30, 0), Arc::new(stopped));
        let (later, _) = simulation.state_at(&spec, at(300, 0));

        assert_eq!(later.battery.as_ref().map(|b| b.percent_remaining), battery);
        assert_eq!(later.charge.as_ref().map(|c| c.state), Some(ChargeState::NotCharging));
    }

    #[test]
    fn a_speed_factor_is_between_1_and_3600() {
        for factor in [0.5, 0.0, -1.0, 3601.0, f64::NAN, f64::INFINITY] {
            assert!(Speed::new(factor).is_err(), "{factor}");
        }
        assert_eq!(Speed::new(60.0).map(Speed::factor), Ok(60.0));
    }

    #[test]
    fn an_absurd_elapsed_time_saturates_instead_of_panicking() {
        let (spec, simulation) = simulation(Profile::Parked, MAX_SPEED);
        let far = Moment {
            virtual_time: OffsetDateTime::new_utc(
                time::Date::from_calendar_date(9999, time::Month::December, 31).expect("a date"),
                time::Time::MIDNIGHT,
            ),
            wall: datetime!(9999-12-31 00:00 UTC),
        };

        let (state, _) = simulation.state_at(&spec, far);

        assert!(state.asleep);
    }
}
