//! The trips running in the world, one per vehicle at most, kept beside the vehicles under the
//! world's lock ([`crate::domain::world::World::with_trips`]).
//!
//! **Lazily materialised.** A vehicle's stored state is brought up to "now" whenever the world
//! touches it ([`Trips::catch_up`]: every read, command, admin view and tick), so a read right
//! after `clock advance 30m` answers the state 30 minutes on without any task having run. A
//! ticker only exists for what nobody asks for: webhook announcements ([`Trips::due`]). Computing
//! on read keeps one source of truth (the trip and the state it started from) and costs one pure
//! evaluation per read of a simulated vehicle; a vehicle with no trip is never touched.
//!
//! **Commands go on from where the trip was.** A change made through the world (a command, an
//! admin patch) first wakes a trip's sleeping car ([`Trips::wake`]: a command wakes it, as a real
//! one does), then the trip is rebased on the changed state ([`Trips::rebase`]), so STOP ends a
//! charge and LOCK answers `IN_MOTION` while the drive goes on.
//!
//! **Announcements are throttled per vehicle** ([`Trips::due`]), so a trip cannot flood a webhook
//! receiver: a change of stage (motion, asleep, plugged in, charge state) is announced at the
//! next tick; a change of values only (odometer, location, battery, fuel) at most once per
//! [`ANNOUNCE_EVERY`] of simulated time. The ticker runs at most once per [`TICK`] of wall time
//! (and when the clock is moved), so a vehicle is announced at most once per tick whatever the
//! speed factor.

use std::collections::HashMap;
use std::sync::Arc;

use time::Duration;
use uuid::Uuid;

use super::simulation::{Moment, Simulation, Speed};
use super::trip::{Trip, TripError, TripRequest, TripStatus};
use crate::domain::vehicle::{ChargeState, Motion, Vehicle, VehicleState};
use crate::domain::world::VehicleChanged;

/// The most trips running at once, across every app.
pub(crate) const MAX_TRIPS: usize = 1_000;
/// Values that change without a change of stage are announced at most this often, in simulated
/// time.
pub(crate) const ANNOUNCE_EVERY: Duration = Duration::seconds(60);
/// How often, in wall time, the ticker looks for changes to announce.
pub(crate) const TICK: std::time::Duration = std::time::Duration::from_secs(1);

/// Why a trip could not start.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Trip(#[from] TripError),
    #[error("{MAX_TRIPS} trips are running already; stop one (DELETE /admin/vehicles/{{id}}/trip) first")]
    TooMany,
}

/// The running trips and the names of simulated vehicles.
#[derive(Debug, Default)]
pub struct Trips {
    running: HashMap<Uuid, Running>,
    /// The names given to vehicles created by the simulator.
    names: HashMap<Uuid, String>,
    /// A ticker task is running (set and cleared under the world's lock).
    pub(crate) ticking: bool,
}

#[derive(Debug)]
struct Running {
    simulation: Simulation,
    /// When, and with what values, the vehicle was last announced.
    announced: Option<(Moment, Fingerprint)>,
}

/// The values a trip moves, to tell whether the state changed.
#[derive(Debug, Clone, PartialEq)]
struct Fingerprint {
    motion: Motion,
    asleep: bool,
    charge: Option<(bool, ChargeState)>,
    odometer: Option<f64>,
    location: Option<(f64, f64)>,
    battery: Option<(f64, f64)>,
    fuel: Option<(f64, f64, f64)>,
}

impl Fingerprint {
    fn of(state: &VehicleState) -> Fingerprint {
        Fingerprint {
            motion: state.motion,
            asleep: state.asleep,
            charge: state.charge.as_ref().map(|c| (c.is_plugged_in, c.state)),
            odometer: state.odometer.as_ref().map(|o| o.distance),
            location: state.location.as_ref().map(|l| (l.latitude, l.longitude)),
            battery: state.battery.as_ref().map(|b| (b.percent_remaining, b.range)),
            fuel: state
                .fuel
                .as_ref()
                .map(|f| (f.percent_remaining, f.range, f.amount_remaining)),
        }
    }

    /// Same stage: only continuous values differ.
    fn same_stage(&self, other: &Fingerprint) -> bool {
        self.motion == other.motion && self.asleep == other.asleep && self.charge == other.charge
    }
}

impl Trips {
    pub fn len(&self) -> usize {
        self.running.len()
    }

    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }

    /// Whether a trip runs on `id`.
    pub fn runs_on(&self, id: Uuid) -> bool {
        self.running.contains_key(&id)
    }

    /// Brings `vehicle`'s stored state to `now` if a trip runs on it (moving `updated_at` when a
    /// value changed), and says where the trip is.
    pub fn catch_up(&self, vehicle: &mut Vehicle, now: Moment) -> Option<TripStatus> {
        let running = self.running.get(&vehicle.id)?;
        let (state, status) = running.simulation.state_at(&vehicle.spec, now);
        if Fingerprint::of(&state) != Fingerprint::of(&vehicle.state) {
            vehicle.state = Arc::new(state);
            vehicle.updated_at = now.virtual_time;
        }
        Some(status)
    }

    /// Before a change: a sleeping car a trip runs on wakes up (a command wakes a parked car).
    pub fn wake(&self, vehicle: &mut Vehicle) {
        if self.running.contains_key(&vehicle.id) && vehicle.state.asleep {
            Arc::make_mut(&mut vehicle.state).asleep = false;
        }
    }

    /// After a change: the trip goes on from `vehicle`'s state as it now is.
    pub fn rebase(&mut self, vehicle: &Vehicle, now: Moment) {
        if let Some(running) = self.running.get_mut(&vehicle.id) {
            running
                .simulation
                .rebase(&vehicle.spec, now, Arc::clone(&vehicle.state));
        }
    }

    /// Starts (or replaces) the trip `request` asks for on `vehicle`, from its state now.
    pub fn start(
        &mut self,
        vehicle: &mut Vehicle,
        request: &TripRequest,
        now: Moment,
        speed: Speed,
    ) -> Result<TripStatus, StartError> {
        if !self.running.contains_key(&vehicle.id) && self.running.len() >= MAX_TRIPS {
            return Err(StartError::TooMany);
        }
        let trip = Trip::plan(request, &vehicle.spec, &vehicle.state)?;
        let simulation = Simulation::start(trip, Arc::clone(&vehicle.state), now, speed);
        let (state, status) = simulation.state_at(&vehicle.spec, now);
        // The state a trip starts in (DRIVING, plugged in) is a change of its own, which the
        // caller announces at once: the throttle counts from here.
        let announced = Some((now, Fingerprint::of(&state)));
        vehicle.state = Arc::new(state);
        vehicle.updated_at = now.virtual_time;
        self.running.insert(vehicle.id, Running { simulation, announced });
        Ok(status)
    }

    /// Stops the trip on `vehicle`, leaving its values where the trip had got them; a car
    /// stopped mid-drive pulls over (`motion` PARKED). `None` if no trip ran on it.
    pub fn stop(&mut self, vehicle: &mut Vehicle, now: Moment) -> Option<TripStatus> {
        let status = self.catch_up(vehicle, now)?;
        self.running.remove(&vehicle.id);
        if vehicle.state.motion == Motion::Driving {
            Arc::make_mut(&mut vehicle.state).motion = Motion::Parked;
            vehicle.updated_at = now.virtual_time;
        }
        Some(status)
    }

    /// Forgets a vehicle that left the world.
    pub fn forget(&mut self, id: Uuid) {
        self.running.remove(&id);
        self.names.remove(&id);
    }

    /// Names a vehicle the simulator created.
    pub fn name(&mut self, id: Uuid, name: String) {
        self.names.insert(id, name);
    }

    /// Every vehicle the simulator created or runs a trip on, in no order.
    pub fn vehicle_ids(&self) -> Vec<Uuid> {
        let mut ids: Vec<Uuid> = self.names.keys().copied().collect();
        ids.extend(self.running.keys().filter(|id| !self.names.contains_key(id)));
        ids
    }

    /// The name a simulated vehicle was created with.
    pub fn name_of(&self, id: Uuid) -> Option<&str> {
        self.names.get(&id).map(String::as_str)
    }

    /// Brings every simulated vehicle to `now` and lists the changes to announce under the
    /// throttle rule (module documentation).
    pub fn due(&mut self, vehicles: &mut HashMap<Uuid, Vehicle>, now: Moment) -> Vec<VehicleChanged> {
        let mut changes = Vec::new();
        self.running.retain(|id, _| vehicles.contains_key(id));
        for (id, running) in &mut self.running {
            let Some(vehicle) = vehicles.get_mut(id) else {
                continue;
            };
            let (state, _) = running.simulation.state_at(&vehicle.spec, now);
            let fingerprint = Fingerprint::of(&state);
            if fingerprint != Fingerprint::of(&vehicle.state) {
                vehicle.state = Arc::new(state);
                vehicle.updated_at = now.virtual_time;
            }
            let announce = match &running.announced {
                None => true,
                Some((_, last)) if *last == fingerprint => false,
                Some((_, last)) if !last.same_stage(&fingerprint) => true,
                Some((at, _)) => running.simulation.speed().simulated_between(*at, now) >= ANNOUNCE_EVERY,
            };
            if announce {
                running.announced = Some((now, fingerprint));
                changes.push(VehicleChanged {
                    app: vehicle.app.clone(),
                    user: vehicle.user,
                    vehicle: *id,
                    at: now.virtual_time,
                });
            }
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::Fixtures;
    use crate::domain::simulator::trip::Profile;
    use crate::domain::vehicle::Powertrain;
    use crate::domain::world::Mode;
    use time::macros::datetime;

    fn bev() -> Vehicle {
        let fixtures = Fixtures::embedded().expect("the built-in fixtures load");
        let spec = fixtures
            .brands
            .iter()
            .flat_map(|brand| brand.vehicles.iter())
            .find(|spec| spec.powertrain == Powertrain::Bev)
            .expect("a BEV fixture")
            .clone();
        let mut state = (*spec.state).clone();
        state.asleep = false;
        state.motion = Motion::Parked;
        if let Some(charge) = state.charge.as_mut() {
            charge.is_plugged_in = false;
            charge.state = ChargeState::NotCharging;
        }
        Vehicle {
            id: Uuid::new_v4(),
            app: Arc::from("app"),
            user: Uuid::new_v4(),
            mode: Mode::Simulated,
            spec,
            state: Arc::new(state),
            updated_at: datetime!(2030-01-01 08:00 UTC),
            connected_at: None,
        }
    }

    fn at(seconds: i64) -> Moment {
        let epoch = datetime!(2030-01-01 08:00 UTC);
        Moment {
            virtual_time: epoch + Duration::seconds(seconds),
            wall: epoch,
        }
    }

    fn odometer(vehicle: &Vehicle) -> f64 {
        vehicle.state.odometer.as_ref().map_or(f64::NAN, |o| o.distance)
    }

    fn started(profile: Profile) -> (Trips, HashMap<Uuid, Vehicle>, Uuid) {
        let mut trips = Trips::default();
        let mut vehicle = bev();
        trips
            .start(&mut vehicle, &TripRequest::new(profile), at(0), Speed::REAL_TIME)
            .expect("a trip starts");
        let id = vehicle.id;
        (trips, HashMap::from([(id, vehicle)]), id)
    }

    #[test]
    fn a_read_catches_the_stored_state_up_to_now() {
        let (trips, mut vehicles, id) = started(Profile::Driving);
        let vehicle = vehicles.get_mut(&id).expect("the vehicle");
        let before = odometer(vehicle);

        trips.catch_up(vehicle, at(600));

        assert!(odometer(vehicle) > before);
        assert_eq!(vehicle.updated_at, at(600).virtual_time);
    }

    #[test]
    fn a_stage_change_is_announced_at_once_and_values_once_a_simulated_minute() {
        let (mut trips, mut vehicles, _) = started(Profile::Driving);

        // The start itself was announced (by the caller) at 0.
        let too_soon = trips.due(&mut vehicles, at(30)).len();
        let a_minute_on = trips.due(&mut vehicles, at(60)).len();
        let again_too_soon = trips.due(&mut vehicles, at(100)).len();
        // The 21-minute loop ends: DRIVING → PARKED is a new stage.
        let arrived = trips.due(&mut vehicles, at(21 * 60 + 5)).len();
        let parked = trips.due(&mut vehicles, at(21 * 60 + 10)).len();

        assert_eq!(
            (too_soon, a_minute_on, again_too_soon, arrived, parked),
            (0, 1, 0, 1, 0)
        );
    }

    #[test]
    fn a_command_wakes_a_sleeping_car_and_restarts_its_idle_time() {
        let (mut trips, mut vehicles, id) = started(Profile::Parked);
        let vehicle = vehicles.get_mut(&id).expect("the vehicle");
        trips.catch_up(vehicle, at(3600));
        assert!(vehicle.state.asleep);

        trips.wake(vehicle);
        trips.rebase(vehicle, at(3600));
        trips.catch_up(vehicle, at(3600 + 14 * 60));

        assert!(!vehicle.state.asleep, "awake for another 15 minutes");
    }

    #[test]
    fn stopping_a_drive_pulls_the_car_over_where_it_was() {
        let (mut trips, mut vehicles, id) = started(Profile::Driving);
        let vehicle = vehicles.get_mut(&id).expect("the vehicle");

        let status = trips.stop(vehicle, at(300));
        let stopped_at = odometer(vehicle);
        trips.catch_up(vehicle, at(900));

        assert!(status.is_some());
        assert_eq!(vehicle.state.motion, Motion::Parked);
        assert_eq!(odometer(vehicle), stopped_at);
        assert!(!trips.runs_on(id));
    }

    #[test]
    fn a_vehicle_that_left_the_world_loses_its_trip_at_the_next_tick() {
        let (mut trips, _, id) = started(Profile::Parked);

        let changes = trips.due(&mut HashMap::new(), at(10));

        assert!(changes.is_empty());
        assert!(!trips.runs_on(id));
    }
}
