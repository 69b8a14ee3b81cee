//! The simulator's verbs on the world, for the admin API and the CLI: start, read and stop a
//! vehicle's trip, and create a simulated vehicle already connected.
//!
//! Starting a trip starts the ticker if none runs (inside a Tokio runtime): a task that, once
//! per [`TICK`] of wall time and whenever test control moves the clock, brings every simulated
//! vehicle up to now and announces on the change broadcast what the throttle rule lets through
//! ([`super::running`]). It holds the world weakly and ends when no trip is left or the world is
//! gone.

use std::sync::Arc;

use uuid::Uuid;

use super::running::{StartError, TICK};
use super::trip::{TripRequest, TripStatus};
use crate::domain::fixtures::{App, Fixtures};
use crate::domain::permissions::Permission;
use crate::domain::vehicle::{Powertrain, VehicleSpec, VehicleState};
use crate::domain::world::{GrantError, Mode, Tokens, UserForgotten, World};

/// The longest name a simulated vehicle may have, in characters.
pub(crate) const MAX_VEHICLE_NAME_CHARS: usize = 80;

/// A trip and the state it has the vehicle in now.
#[derive(Debug, Clone)]
pub(crate) struct TripView {
    pub status: TripStatus,
    pub state: VehicleState,
    /// The name the simulator created the vehicle with, if it did.
    pub name: Option<String>,
}

/// Starts `request` on vehicle `id` (replacing a trip already running); `None` if there is no
/// such vehicle.
pub(crate) fn start(world: &World, id: Uuid, request: &TripRequest) -> Option<Result<TripView, StartError>> {
    let speed = world.sim_speed();
    let started = world.with_trips(|trips, vehicles, now| {
        let vehicle = vehicles.get_mut(&id)?;
        // The trip starts from the state as it is now, under a trip already running too.
        trips.catch_up(vehicle, now);
        let result = trips.start(vehicle, request, now, speed).map(|status| {
            let change = crate::domain::world::VehicleChanged {
                app: vehicle.app.clone(),
                user: vehicle.user,
                vehicle: id,
                at: now.virtual_time,
            };
            let view = TripView {
                status,
                state: (*vehicle.state).clone(),
                name: trips.name_of(id).map(str::to_owned),
            };
            (view, change)
        });
        Some(result)
    })?;
    Some(started.map(|(view, change)| {
        world.announce(change);
        ensure_ticking(world);
        view
    }))
}

/// The trip on vehicle `id` now: `None` if there is no such vehicle, `Some(None)` if no trip
/// runs on it.
pub(crate) fn status(world: &World, id: Uuid) -> Option<Option<TripView>> {
    world.with_trips(|trips, vehicles, now| {
        let vehicle = vehicles.get_mut(&id)?;
        let status = trips.catch_up(vehicle, now);
        Some(status.map(|status| TripView {
            status,
            state: (*vehicle.state).clone(),
            name: trips.name_of(id).map(str::to_owned),
        }))
    })
}

/// Every vehicle the simulator created or runs a trip on (of one app), each with its name and its
/// trip now, oldest change first.
pub(crate) fn list(world: &World, app: Option<&str>) -> Vec<(Uuid, Option<String>, Option<TripView>)> {
    world.with_trips(|trips, vehicles, now| {
        let mut listed: Vec<(time::OffsetDateTime, Uuid, Option<String>, Option<TripView>)> = trips
            .vehicle_ids()
            .into_iter()
            .filter_map(|id| {
                let vehicle = vehicles.get_mut(&id)?;
                if app.is_some_and(|app| *vehicle.app != *app) {
                    return None;
                }
                let name = trips.name_of(id).map(str::to_owned);
                let trip = trips.catch_up(vehicle, now).map(|status| TripView {
                    status,
                    state: (*vehicle.state).clone(),
                    name: name.clone(),
                });
                Some((vehicle.updated_at, id, name, trip))
            })
            .collect();
        listed.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        listed.into_iter().map(|(_, id, name, trip)| (id, name, trip)).collect()
    })
}

/// Stops the trip on vehicle `id`; the values stay where the trip had got them. `None` if there
/// is no such vehicle, `Some(None)` if no trip ran on it.
pub(crate) fn stop(world: &World, id: Uuid) -> Option<Option<TripView>> {
    let stopped = world.with_trips(|trips, vehicles, now| {
        let vehicle = vehicles.get_mut(&id)?;
        let status = trips.stop(vehicle, now);
        let change = crate::domain::world::VehicleChanged {
            app: vehicle.app.clone(),
            user: vehicle.user,
            vehicle: id,
            at: now.virtual_time,
        };
        Some(status.map(|status| {
            let view = TripView {
                status,
                state: (*vehicle.state).clone(),
                name: trips.name_of(id).map(str::to_owned),
            };
            (view, change)
        }))
    })?;
    Some(stopped.map(|(view, change)| {
        world.announce(change);
        view
    }))
}

impl World {
    /// [`tick`]: what the ticker does once, for a test that wants it now.
    pub fn tick_trips(&self) -> usize {
        tick(self)
    }
}

/// Brings every simulated vehicle up to now and announces the changes the throttle lets
/// through; how many were announced. The ticker calls it; so may a test.
pub(crate) fn tick(world: &World) -> usize {
    let changes = world.with_trips(|trips, vehicles, now| trips.due(vehicles, now));
    let count = changes.len();
    for change in changes {
        world.announce(change);
    }
    count
}

/// Starts the ticker unless one runs (or there is no Tokio runtime to run it on).
fn ensure_ticking(world: &World) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let first = world.with_trips(|trips, _, _| !std::mem::replace(&mut trips.ticking, true));
    if !first {
        return;
    }
    let weak = world.downgrade();
    let clock = world.clock().clone();
    runtime.spawn(async move {
        loop {
            let Some(world) = weak.upgrade() else { break };
            let (changes, running) = world.with_trips(|trips, vehicles, now| {
                let changes = trips.due(vehicles, now);
                let running = !trips.is_empty();
                // Under the lock, so a trip started right now either sees `ticking` false and
                // starts a new ticker, or was already seen here.
                trips.ticking = running;
                (changes, running)
            });
            for change in changes {
                world.announce(change);
            }
            drop(world);
            if !running {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep(TICK) => {}
                () = clock.moved() => {}
            }
        }
    });
}

/// Why a simulated vehicle could not be created.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CreateError {
    #[error("name: must be 1 to {MAX_VEHICLE_NAME_CHARS} printable characters")]
    Name,
    #[error("the fixtures have no {0:?} vehicle to simulate")]
    NoFixture(Powertrain),
    #[error("the app has no redirect URI to issue a code for")]
    NoRedirectUri,
    #[error(transparent)]
    Forgotten(#[from] UserForgotten),
    #[error("the fresh code could not be exchanged: {0:?}")]
    Exchange(GrantError),
}

/// A simulated vehicle, connected.
#[derive(Debug, Clone)]
pub(crate) struct Created {
    pub name: String,
    pub login: String,
    pub vehicle: Uuid,
    pub spec: Arc<VehicleSpec>,
    pub tokens: Tokens,
    pub scope: Vec<Permission>,
}

/// Creates a simulated vehicle of `powertrain` called `name` for `app`, already connected: a new
/// `simulated`-mode user owns it, and a token pair carries `scope_of(spec)` — every permission
/// the vehicle is compatible with, as the caller knows them. The vehicle is the first fixture
/// vehicle of that powertrain with a VIN of its own (`0SCSIM` and 11 hex digits).
pub(crate) fn create_vehicle(
    fixtures: &Fixtures,
    world: &World,
    app: &App,
    powertrain: Powertrain,
    name: &str,
    scope_of: impl FnOnce(&VehicleSpec) -> Vec<Permission>,
) -> Result<Created, CreateError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_VEHICLE_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(CreateError::Name);
    }
    let fixture = fixtures
        .brands
        .iter()
        .flat_map(|brand| brand.vehicles.iter())
        .chain(fixtures.accounts.iter().flat_map(|account| account.vehicles.iter()))
        .find(|spec| spec.powertrain == powertrain)
        .ok_or(CreateError::NoFixture(powertrain))?;
    let redirect_uri = app.redirect_uris.first().ok_or(CreateError::NoRedirectUri)?;
    let serial = Uuid::new_v4().simple().to_string().to_uppercase();
    let mut spec = (**fixture).clone();
    spec.vin = format!("0SCSIM{}", &serial[..11]);
    let spec = Arc::new(spec);
    let scope = scope_of(&spec);
    let login = format!("{}@simulated.smartcar.com", serial.to_lowercase());
    let (user, vehicles) = world.sign_in(&app.client_id, Mode::Simulated, &login, None, &[Arc::clone(&spec)]);
    let vehicle = vehicles.first().map(|vehicle| vehicle.id).ok_or(UserForgotten {
        max_users: world.max_users(),
    })?;
    let code = world.issue_code(&app.client_id, redirect_uri, user, &scope, vec![vehicle])?;
    let tokens = world
        .redeem_code(&app.client_id, &code.to_string(), Some(redirect_uri))
        .map_err(CreateError::Exchange)?;
    world.with_trips(|trips, _, _| trips.name(vehicle, name.to_owned()));
    Ok(Created {
        name: name.to_owned(),
        login,
        vehicle,
        spec,
        tokens,
        scope,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::clock::Clock;
    use crate::domain::simulator::trip::Profile;
    use crate::domain::vehicle::Motion;

    fn world() -> World {
        World::new(Clock::default(), time::Duration::minutes(1), 100)
    }

    fn created(world: &World, powertrain: Powertrain) -> Created {
        let fixtures = Fixtures::embedded().expect("the built-in fixtures load");
        let app = fixtures.apps.first().expect("an app").clone();
        create_vehicle(&fixtures, world, &app, powertrain, "Workshop car", |_| {
            vec![Permission::ReadOdometer]
        })
        .expect("a simulated vehicle")
    }

    #[test]
    fn a_created_vehicle_is_connected_in_simulated_mode_with_its_token() {
        let world = world();

        let created = created(&world, Powertrain::Bev);

        let access = world
            .authorize(&created.tokens.access_token.to_string())
            .expect("the token works");
        assert_eq!(&*access.vehicles, &[created.vehicle]);
        assert_eq!(&*access.scopes, &[Permission::ReadOdometer]);
        let mode = world.with_vehicle(created.vehicle, |vehicle| vehicle.mode);
        assert_eq!(mode, Some(Mode::Simulated));
        assert!(created.spec.vin.starts_with("0SCSIM") && created.spec.vin.len() == 17);
    }

    #[test]
    fn every_powertrain_can_be_created() {
        let world = world();
        for powertrain in [Powertrain::Bev, Powertrain::Phev, Powertrain::Hev, Powertrain::Ice] {
            assert_eq!(created(&world, powertrain).spec.powertrain, powertrain);
        }
    }

    #[test]
    fn a_name_is_printable_and_at_most_80_characters() {
        let world = world();
        let fixtures = Fixtures::embedded().expect("the built-in fixtures load");
        let app = fixtures.apps.first().expect("an app").clone();
        for name in ["", "  ", "a\u{7}b", &"x".repeat(81)] {
            let error =
                create_vehicle(&fixtures, &world, &app, Powertrain::Bev, name, |_| Vec::new()).expect_err("a bad name");
            assert_eq!(error.to_string(), "name: must be 1 to 80 printable characters");
        }
    }

    #[test]
    fn a_trip_shows_in_reads_and_stops_where_it_was() {
        let world = world();
        let car = created(&world, Powertrain::Bev).vehicle;

        let started = start(&world, car, &TripRequest::new(Profile::Driving))
            .expect("the vehicle")
            .expect("the trip starts");
        world.clock().advance(time::Duration::minutes(5));
        let motion = world.with_vehicle(car, |vehicle| vehicle.state.motion);
        let stopped = stop(&world, car).expect("the vehicle").expect("a trip ran");

        assert_eq!(started.state.motion, Motion::Driving);
        assert_eq!(motion, Some(Motion::Driving));
        assert!(stopped.status.stage_elapsed_seconds >= 300.0);
        assert!(matches!(status(&world, car), Some(None)));
        assert_eq!(stopped.name.as_deref(), Some("Workshop car"));
    }

    #[test]
    fn a_reset_forgets_the_apps_trips_and_names() {
        let world = world();
        let car = created(&world, Powertrain::Bev).vehicle;
        start(&world, car, &TripRequest::new(Profile::Parked))
            .expect("the vehicle")
            .expect("the trip starts");
        let app = world
            .with_vehicle(car, |vehicle| vehicle.app.clone())
            .expect("the vehicle");

        world.reset(Some(&app));

        assert!(status(&world, car).is_none(), "the vehicle is gone");
        assert_eq!(
            world.with_trips(|trips, _, _| (trips.len(), trips.vehicle_ids().len())),
            (0, 0)
        );
    }

    #[test]
    fn a_tick_announces_a_running_trip_once_a_simulated_minute() {
        let world = world();
        let car = created(&world, Powertrain::Bev).vehicle;
        let mut changes = world.subscribe_changes();
        start(&world, car, &TripRequest::new(Profile::Driving))
            .expect("the vehicle")
            .expect("the trip starts");

        let at_once = tick(&world);
        world.clock().advance(time::Duration::minutes(1));
        let a_minute_on = tick(&world);

        assert_eq!(
            (at_once, a_minute_on),
            (0, 1),
            "the start counts as the first announcement"
        );
        assert_eq!(
            changes.try_recv().map(|change| change.vehicle).ok(),
            Some(car),
            "the start"
        );
        assert_eq!(
            changes.try_recv().map(|change| change.vehicle).ok(),
            Some(car),
            "the tick"
        );
    }
}
