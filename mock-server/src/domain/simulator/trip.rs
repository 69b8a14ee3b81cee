//! Trips: a script of stages a vehicle goes through, and the state it reports at any time into
//! the script — a pure function of the state it started from and the time elapsed
//! ([`Trip::state_at`]).
//!
//! A trip is a list of stages, each of one of two kinds:
//! - **drive** a route: `motion` is `DRIVING` (so LOCK answers `VEHICLE_STATE:IN_MOTION`), the
//!   car is unplugged and awake, its location moves along the route at each leg's speed, the
//!   odometer grows by the distance, and its battery or fuel falls by the powertrain's
//!   consumption ([`super::physics`]). The stage ends at the destination, or where the car runs
//!   out of energy;
//! - **park**, for a while or for good: `motion` is `PARKED`. A plugged-in car whose charge state
//!   is `CHARGING` charges linearly to its charge limit, then reports `FULLY_CHARGED`; an
//!   unplugged car drains slowly; a car idle (not charging) for the trip's `asleepAfter`
//!   (default 15 minutes) falls asleep. A park stage may begin by plugging in and starting a
//!   charge.
//!
//! The profiles are scripts of those stages:
//!
//! | profile | stages |
//! |---|---|
//! | `parked` | park |
//! | `driving` | drive the route (default `city-loop`), park at the destination |
//! | `charging` | plug in and charge, park |
//! | `commute` | drive the route (default `commute`), park for the `workday` (default 8 h), drive back, plug in and charge (a car with a plug), park |
//!
//! Commands and state changes are the caller's: after one, it calls [`Trip::remainder`] for the
//! rest of the script and starts it again from the changed state (`super::simulation`). The
//! stage under way then goes on from that state without starting over, so a STOP or an unplug
//! ends the charging (the park stage charges only while the car is plugged in and `CHARGING`), a
//! command on a sleeping car restarts its idle time, and a drive goes on from where it was.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::Duration;

use super::physics::{self, DRAIN_PER_DAY, Energy, MAX_CHARGER_KW, Tank, round_state};
use super::routes::{MAX_SPEED_KMH, Route, RouteError};
use crate::domain::vehicle::{ChargeState, Location, Motion, Powertrain, VehicleSpec, VehicleState};

/// How long a parked car stays awake with nothing to do, unless a trip says otherwise.
pub(crate) const DEFAULT_ASLEEP_AFTER: Duration = Duration::minutes(15);
/// How long a `commute` parks at work, unless it says otherwise.
pub(crate) const DEFAULT_WORKDAY: Duration = Duration::hours(8);
/// The longest `asleepAfter` or `workday` a trip may ask for.
pub(crate) const MAX_STAGE: Duration = Duration::days(365);

const SECONDS_PER_HOUR: f64 = 3600.0;
const SECONDS_PER_DAY: f64 = 86_400.0;

/// A trip profile (docs/contract/test-mode.md#commands-in-simulated-and-live-mode): what the
/// vehicle does over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    Parked,
    Driving,
    Charging,
    Commute,
}

impl Profile {
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Parked => "parked",
            Profile::Driving => "driving",
            Profile::Charging => "charging",
            Profile::Commute => "commute",
        }
    }
}

/// A route by name or as JSON.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum RouteChoice {
    Named(String),
    Custom(serde_json::Value),
}

/// A trip as asked for (the admin API's body, the CLI's flags): every field but `profile` is
/// optional.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TripRequest {
    pub profile: Profile,
    /// `driving` and `commute` only: a built-in route's name or a route as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<RouteChoice>,
    /// Every leg at this speed instead of the route's own, km/h.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed_kmh: Option<f64>,
    /// The charger's power, kW (a car with a plug only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charger_kw: Option<f64>,
    /// Idle time before a parked car falls asleep (`15m`, `2h`), or `never`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asleep_after: Option<String>,
    /// `commute` only: how long the car parks at work (`8h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workday: Option<String>,
}

impl TripRequest {
    pub fn new(profile: Profile) -> TripRequest {
        TripRequest {
            profile,
            route: None,
            speed_kmh: None,
            charger_kw: None,
            asleep_after: None,
            workday: None,
        }
    }
}

/// Why a trip cannot start.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TripError {
    #[error(transparent)]
    Route(#[from] RouteError),
    #[error("route: only driving and commute trips follow a route, not {0}")]
    RouteNotUsed(&'static str),
    /// The car has no plug, or reports no battery or charge state to simulate.
    #[error("this {powertrain} cannot charge: {why}")]
    CannotCharge {
        powertrain: &'static str,
        why: &'static str,
    },
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
}

/// One stage of a trip.
#[derive(Debug, Clone, PartialEq)]
enum Stage {
    /// Drive `route` on from `from_km` (0 unless the trip was rebased mid-drive).
    Drive { route: Arc<Route>, from_km: f64 },
    /// Park for `seconds` (for good when `None`); plug in and start charging first if `plug_in`.
    Park { seconds: Option<f64>, plug_in: bool },
}

/// A trip under way: its profile, the stages left, and the settings its stages share.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Trip {
    profile: Profile,
    stages: Vec<Stage>,
    /// Stages finished before the first of `stages` (after a rebase), for [`TripStatus::step`].
    done: usize,
    /// The first stage is already under way: its start (plugging in, …) is not done again.
    resumed: bool,
    /// A drive ended where the car ran out of energy.
    ran_out: bool,
    /// `None`: never falls asleep.
    asleep_after: Option<f64>,
    /// `None`: the car has no plug.
    charger_kw: Option<f64>,
}

/// What the vehicle is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Driving,
    Charging,
    Parked,
    Asleep,
}

/// How a trip's script ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// The drive reached its destination; the car is parked there.
    Arrived,
    /// The drive stopped where the car ran out of battery and fuel.
    OutOfEnergy,
    /// The charge reached the charge limit.
    FullyCharged,
    /// The charge was stopped (STOP, an unplug) before the limit.
    ChargingStopped,
}

/// Where a drive is along its route.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteProgress {
    pub name: String,
    pub travelled_km: f64,
    pub length_km: f64,
    /// The route's waypoints, for drawing it.
    pub waypoints: Vec<Location>,
}

/// Where a trip is, beside the state it produces.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TripStatus {
    pub profile: Profile,
    pub phase: Phase,
    /// The stage under way, from 1, and how many the script has.
    pub step: usize,
    pub steps: usize,
    /// Time into the stage under way, seconds.
    pub stage_elapsed_seconds: f64,
    /// Time left in the stage under way, seconds; `None` for an open-ended stage.
    pub stage_remaining_seconds: Option<f64>,
    /// The route of the drive under way or last driven.
    pub route: Option<RouteProgress>,
    /// How the script ended, once it has (a `parked` trip never ends).
    pub ended: Option<Ending>,
}

/// A trip evaluated at a time: the state, where the trip is, and the trip from there on.
struct Evaluation {
    state: VehicleState,
    status: TripStatus,
    remainder: Trip,
}

/// A duration such as `15m`, within 1 s and [`MAX_STAGE`], as seconds.
fn stage_seconds(field: &'static str, text: &str) -> Result<f64, TripError> {
    let parsed = humantime::parse_duration(text.trim()).map_err(|error| TripError::Invalid {
        field,
        message: format!("{text:?} is not a duration such as 15m or 8h: {error}"),
    })?;
    let seconds = parsed.as_secs_f64();
    if !(1.0..=MAX_STAGE.as_seconds_f64()).contains(&seconds) {
        return Err(TripError::Invalid {
            field,
            message: format!("must be between 1s and {}d", MAX_STAGE.whole_days()),
        });
    }
    Ok(seconds)
}

fn powertrain_name(powertrain: Powertrain) -> &'static str {
    match powertrain {
        Powertrain::Bev => "BEV",
        Powertrain::Phev => "PHEV",
        Powertrain::Hev => "HEV",
        Powertrain::Ice => "ICE",
    }
}

impl Trip {
    /// The trip `request` asks for, for this vehicle as it is now. Built-in routes start where
    /// the car stands (or at 0°, 0° for a car that reports no location).
    pub(crate) fn plan(request: &TripRequest, spec: &VehicleSpec, state: &VehicleState) -> Result<Trip, TripError> {
        let profile = request.profile;
        let powertrain = spec.powertrain;
        let has_plug = physics::default_charger_kw(powertrain).is_some();
        let chargeable = has_plug && state.battery.is_some() && state.charge.is_some();

        let asleep_after = match request.asleep_after.as_deref().map(str::trim) {
            None => Some(DEFAULT_ASLEEP_AFTER.as_seconds_f64()),
            Some("never") => None,
            Some(text) => Some(stage_seconds("asleepAfter", text)?),
        };
        let charger_kw = match request.charger_kw {
            Some(_) if !has_plug => {
                return Err(TripError::CannotCharge {
                    powertrain: powertrain_name(powertrain),
                    why: "it has no plug (chargerKw applies to BEV and PHEV)",
                });
            }
            Some(kw) if !(kw.is_finite() && kw > 0.0 && kw <= MAX_CHARGER_KW) => {
                return Err(TripError::Invalid {
                    field: "chargerKw",
                    message: format!("must be above 0 and at most {MAX_CHARGER_KW} kW"),
                });
            }
            Some(kw) => Some(kw),
            None => physics::default_charger_kw(powertrain),
        };
        if let Some(speed) = request.speed_kmh
            && !(speed.is_finite() && speed > 0.0 && speed <= MAX_SPEED_KMH)
        {
            return Err(TripError::Invalid {
                field: "speedKmh",
                message: format!("must be above 0 and at most {MAX_SPEED_KMH} km/h"),
            });
        }
        if request.speed_kmh.is_some() && matches!(profile, Profile::Parked | Profile::Charging) {
            return Err(TripError::Invalid {
                field: "speedKmh",
                message: format!("only driving and commute trips have a speed, not {}", profile.as_str()),
            });
        }
        if request.workday.is_some() && profile != Profile::Commute {
            return Err(TripError::Invalid {
                field: "workday",
                message: format!("only a commute has a workday, not {}", profile.as_str()),
            });
        }

        let route = |default: &str| -> Result<Arc<Route>, TripError> {
            let anchor = state.location.clone().unwrap_or(Location {
                latitude: 0.0,
                longitude: 0.0,
            });
            let route = match &request.route {
                None => Route::named(default, &anchor)?,
                Some(RouteChoice::Named(name)) => Route::named(name.trim(), &anchor)?,
                Some(RouteChoice::Custom(json)) => Route::from_json(json)?,
            };
            Ok(Arc::new(match request.speed_kmh {
                Some(speed) => route.at_speed(speed),
                None => route,
            }))
        };
        let drive = |route: Arc<Route>| Stage::Drive { route, from_km: 0.0 };
        let park = Stage::Park {
            seconds: None,
            plug_in: false,
        };
        let stages = match profile {
            Profile::Parked | Profile::Charging if request.route.is_some() => {
                return Err(TripError::RouteNotUsed(profile.as_str()));
            }
            Profile::Parked => vec![park],
            Profile::Driving => vec![drive(route("city-loop")?), park],
            Profile::Charging => {
                if !chargeable {
                    let why = if has_plug {
                        "its state reports no battery or charge values"
                    } else {
                        "it has no plug"
                    };
                    return Err(TripError::CannotCharge {
                        powertrain: powertrain_name(powertrain),
                        why,
                    });
                }
                vec![Stage::Park {
                    seconds: None,
                    plug_in: true,
                }]
            }
            Profile::Commute => {
                let workday = match request.workday.as_deref() {
                    Some(text) => stage_seconds("workday", text)?,
                    None => DEFAULT_WORKDAY.as_seconds_f64(),
                };
                let there = route("commute")?;
                let back = Arc::new(there.reversed());
                vec![
                    drive(there),
                    Stage::Park {
                        seconds: Some(workday),
                        plug_in: false,
                    },
                    drive(back),
                    Stage::Park {
                        seconds: None,
                        plug_in: chargeable,
                    },
                ]
            }
        };
        Ok(Trip {
            profile,
            stages,
            done: 0,
            resumed: false,
            ran_out: false,
            asleep_after,
            charger_kw,
        })
    }

    /// The state `elapsed` into the trip for a vehicle that started it in `start`, and where the
    /// trip is then. A negative elapsed time reads as none.
    pub(crate) fn state_at(
        &self,
        spec: &VehicleSpec,
        start: &VehicleState,
        elapsed: Duration,
    ) -> (VehicleState, TripStatus) {
        let evaluation = self.evaluate(spec, start, elapsed);
        (evaluation.state, evaluation.status)
    }

    /// The rest of the trip from `elapsed` on, to go on from a changed state: for a state `s` at
    /// `elapsed`, `remainder(e).state_at(s, t)` is `state_at(start, e + t)` when nothing changed.
    pub(crate) fn remainder(&self, spec: &VehicleSpec, start: &VehicleState, elapsed: Duration) -> Trip {
        self.evaluate(spec, start, elapsed).remainder
    }

    fn evaluate(&self, spec: &VehicleSpec, start: &VehicleState, elapsed: Duration) -> Evaluation {
        let powertrain = spec.powertrain;
        let mut left = elapsed.as_seconds_f64();
        if left.is_nan() || left < 0.0 {
            left = 0.0;
        }
        let mut state = start.clone();
        let mut ran_out = self.ran_out;
        let mut last_route: Option<RouteProgress> = None;
        let count = self.stages.len();
        for (index, stage) in self.stages.iter().enumerate() {
            if index > 0 || !self.resumed {
                self.begin(stage, &mut state);
            }
            let duration = self.duration(stage, powertrain, &state);
            let last = index + 1 == count;
            if !last && duration <= left {
                let (ended, progress) = self.during(stage, powertrain, &state, duration);
                if let Stage::Drive { route, .. } = stage
                    && progress
                        .as_ref()
                        .is_some_and(|p| p.travelled_km + 1e-9 < route.length_km())
                {
                    ran_out = true;
                }
                last_route = progress.or(last_route);
                state = ended;
                state.motion = Motion::Parked;
                left -= duration;
                continue;
            }
            let at = left.min(duration);
            let (mut now, progress) = self.during(stage, powertrain, &state, at);
            let charging = now.charge.as_ref().is_some_and(|c| c.state == ChargeState::Charging);
            let phase = match stage {
                Stage::Drive { .. } => Phase::Driving,
                Stage::Park { .. } if charging => Phase::Charging,
                Stage::Park { .. } if now.asleep => Phase::Asleep,
                Stage::Park { .. } => Phase::Parked,
            };
            let remainder_stage = match stage {
                Stage::Drive { route, .. } => Stage::Drive {
                    route: Arc::clone(route),
                    from_km: progress.as_ref().map_or(0.0, |p| p.travelled_km),
                },
                Stage::Park { seconds, plug_in } => Stage::Park {
                    seconds: seconds.map(|s| (s - at).max(0.0)),
                    plug_in: *plug_in,
                },
            };
            let ended = if last { self.ending(&now, ran_out) } else { None };
            let route = progress.or(last_route);
            round_state(&mut now);
            let status = TripStatus {
                profile: self.profile,
                phase,
                step: self.done + index + 1,
                steps: self.done + count,
                stage_elapsed_seconds: at,
                stage_remaining_seconds: duration.is_finite().then(|| (duration - at).max(0.0)),
                route,
                ended,
            };
            let mut stages = vec![remainder_stage];
            stages.extend(self.stages.iter().skip(index + 1).cloned());
            let remainder = Trip {
                stages,
                done: self.done + index,
                resumed: true,
                ran_out,
                ..self.clone()
            };
            return Evaluation {
                state: now,
                status,
                remainder,
            };
        }
        // A trip always has a stage; an empty one leaves the car as it was.
        round_state(&mut state);
        Evaluation {
            state,
            status: TripStatus {
                profile: self.profile,
                phase: Phase::Parked,
                step: self.done,
                steps: self.done,
                stage_elapsed_seconds: 0.0,
                stage_remaining_seconds: None,
                route: None,
                ended: None,
            },
            remainder: self.clone(),
        }
    }

    /// What starting a stage does to the car.
    fn begin(&self, stage: &Stage, state: &mut VehicleState) {
        state.asleep = false;
        match stage {
            Stage::Drive { route, from_km } => {
                state.motion = Motion::Driving;
                if let Some(charge) = state.charge.as_mut() {
                    charge.is_plugged_in = false;
                    charge.state = ChargeState::NotCharging;
                }
                if state.location.is_some() {
                    state.location = Some(route.position_at(*from_km));
                }
            }
            Stage::Park { plug_in, .. } => {
                state.motion = Motion::Parked;
                if *plug_in && self.charger_kw.is_some() {
                    let full = below_limit(state).is_none_or(|below| !below);
                    if let Some(charge) = state.charge.as_mut() {
                        charge.is_plugged_in = true;
                        charge.state = if full {
                            ChargeState::FullyCharged
                        } else {
                            ChargeState::Charging
                        };
                    }
                }
            }
        }
    }

    /// How long a stage lasts from `state`, seconds (infinite for an open-ended park).
    fn duration(&self, stage: &Stage, powertrain: Powertrain, state: &VehicleState) -> f64 {
        match stage {
            Stage::Drive { route, from_km } => {
                let end = drive_end(route, *from_km, powertrain, state);
                (route.hours_to(end) - route.hours_to(*from_km)).max(0.0) * SECONDS_PER_HOUR
            }
            Stage::Park { seconds, .. } => seconds.unwrap_or(f64::INFINITY),
        }
    }

    /// The car `seconds` into a stage it began in `state`, and the drive's progress if it is one.
    fn during(
        &self,
        stage: &Stage,
        powertrain: Powertrain,
        state: &VehicleState,
        seconds: f64,
    ) -> (VehicleState, Option<RouteProgress>) {
        let mut now = state.clone();
        match stage {
            Stage::Drive { route, from_km } => {
                let end = drive_end(route, *from_km, powertrain, state);
                let reached = route
                    .distance_after(*from_km, seconds / SECONDS_PER_HOUR)
                    .min(end)
                    .max(*from_km);
                let driven = reached - *from_km;
                now.motion = Motion::Driving;
                if now.location.is_some() {
                    now.location = Some(route.position_at(reached));
                }
                if let Some(odometer) = now.odometer.as_mut() {
                    odometer.distance += driven;
                }
                Energy::of(state, powertrain).after_km(driven).write(&mut now);
                let progress = RouteProgress {
                    name: route.name.clone(),
                    travelled_km: reached,
                    length_km: route.length_km(),
                    waypoints: route
                        .waypoints
                        .iter()
                        .map(|w| Location {
                            latitude: w.latitude,
                            longitude: w.longitude,
                        })
                        .collect(),
                };
                (now, Some(progress))
            }
            Stage::Park { .. } => {
                now.motion = Motion::Parked;
                let idle_from = self.park(powertrain, state, seconds, &mut now);
                let asleep_at = self.asleep_after.map(|after| idle_from + after);
                now.asleep = state.asleep || asleep_at.is_some_and(|at| seconds >= at);
                (now, None)
            }
        }
    }

    /// Charges or drains a parked car for `seconds` from `state` into `now`; returns when it
    /// became idle (the end of its charge, or the start of the stage).
    fn park(&self, powertrain: Powertrain, state: &VehicleState, seconds: f64, now: &mut VehicleState) -> f64 {
        let Some(battery) = Tank::battery(state, powertrain) else {
            return 0.0;
        };
        let plugged = state.charge.as_ref().is_some_and(|c| c.is_plugged_in);
        let charging = state.charge.as_ref().is_some_and(|c| c.state == ChargeState::Charging);
        match self.charger_kw {
            Some(kw) if plugged && charging => {
                let limit = charge_limit(state);
                let per_hour = kw / battery.size;
                let full_at = ((limit - battery.fraction).max(0.0) / per_hour) * SECONDS_PER_HOUR;
                let fraction = if battery.fraction >= limit {
                    battery.fraction
                } else {
                    (battery.fraction + per_hour * seconds / SECONDS_PER_HOUR).min(limit)
                };
                write_battery(now, battery.with_fraction(fraction));
                if seconds >= full_at
                    && let Some(charge) = now.charge.as_mut()
                {
                    charge.state = ChargeState::FullyCharged;
                }
                full_at
            }
            _ if !plugged => {
                let fraction = battery.fraction - DRAIN_PER_DAY * seconds / SECONDS_PER_DAY;
                write_battery(now, battery.with_fraction(fraction));
                0.0
            }
            _ => 0.0,
        }
    }

    /// How the script ended, judged in its last stage.
    fn ending(&self, now: &VehicleState, ran_out: bool) -> Option<Ending> {
        let charge = now.charge.as_ref();
        let charge_ending = || match charge {
            Some(c) if c.state == ChargeState::FullyCharged => Some(Ending::FullyCharged),
            Some(c) if c.state == ChargeState::Charging && c.is_plugged_in => None,
            _ => Some(Ending::ChargingStopped),
        };
        let drive_ending = if ran_out { Ending::OutOfEnergy } else { Ending::Arrived };
        match self.profile {
            Profile::Parked => None,
            Profile::Driving => Some(drive_ending),
            Profile::Charging => charge_ending(),
            Profile::Commute => match self.stages.last() {
                Some(Stage::Park { plug_in: true, .. }) if self.charger_kw.is_some() => charge_ending(),
                _ => Some(drive_ending),
            },
        }
    }
}

/// Where a drive from `from_km` ends: the destination, or sooner if the energy runs out.
fn drive_end(route: &Route, from_km: f64, powertrain: Powertrain, state: &VehicleState) -> f64 {
    let reach = Energy::of(state, powertrain).reach_km();
    route.length_km().min(from_km + reach)
}

/// The charge limit, 1 when the state has none.
fn charge_limit(state: &VehicleState) -> f64 {
    state
        .charge_limit
        .as_ref()
        .map_or(1.0, |limit| physics::clamp_fraction(limit.limit))
}

/// Whether the battery is below the charge limit (`None` without a battery).
fn below_limit(state: &VehicleState) -> Option<bool> {
    let battery = state.battery.as_ref()?;
    Some(battery.percent_remaining < charge_limit(state))
}

fn write_battery(state: &mut VehicleState, tank: Tank) {
    if let Some(battery) = state.battery.as_mut() {
        battery.percent_remaining = tank.fraction;
        battery.range = tank.range_km();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::Fixtures;
    use crate::domain::simulator::physics::haversine_km;
    use serde_json::json;

    fn fixture(powertrain: Powertrain) -> VehicleSpec {
        let fixtures = Fixtures::embedded().expect("the built-in fixtures load");
        fixtures
            .brands
            .iter()
            .flat_map(|brand| brand.vehicles.iter())
            .find(|spec| spec.powertrain == powertrain)
            .map(|spec| (**spec).clone())
            .expect("a fixture vehicle of each powertrain")
    }

    /// A parked, unplugged, awake car of `powertrain` with a known battery.
    fn car(powertrain: Powertrain) -> (VehicleSpec, VehicleState) {
        let spec = fixture(powertrain);
        let mut state = (*spec.state).clone();
        state.motion = Motion::Parked;
        state.asleep = false;
        if let Some(charge) = state.charge.as_mut() {
            charge.is_plugged_in = false;
            charge.state = ChargeState::NotCharging;
        }
        (spec, state)
    }

    fn trip(request: serde_json::Value, spec: &VehicleSpec, state: &VehicleState) -> Trip {
        let request: TripRequest = serde_json::from_value(request).expect("a trip request");
        Trip::plan(&request, spec, state).expect("a trip that can start")
    }

    fn minutes(n: i64) -> Duration {
        Duration::minutes(n)
    }

    fn odometer(state: &VehicleState) -> f64 {
        state.odometer.as_ref().map_or(f64::NAN, |o| o.distance)
    }

    fn battery(state: &VehicleState) -> f64 {
        state.battery.as_ref().map_or(f64::NAN, |b| b.percent_remaining)
    }

    fn charge(state: &VehicleState) -> Option<(bool, ChargeState)> {
        state.charge.as_ref().map(|c| (c.is_plugged_in, c.state))
    }

    fn place(state: &VehicleState) -> (f64, f64) {
        state
            .location
            .as_ref()
            .map_or((f64::NAN, f64::NAN), |l| (l.latitude, l.longitude))
    }

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    #[test]
    fn a_30_minute_drive_moves_the_car_and_its_odometer_by_speed_times_time() {
        let (spec, start) = car(Powertrain::Bev);
        let trip = trip(
            json!({"profile": "driving", "route": "highway", "speedKmh": 100}),
            &spec,
            &start,
        );

        let (state, status) = trip.state_at(&spec, &start, minutes(30));

        assert!(
            close(odometer(&state) - odometer(&start), 50.0, 0.01),
            "{}",
            odometer(&state)
        );
        let moved = haversine_km(place(&start), place(&state));
        // The highway turns north 2 km east of the start: as the crow flies, hypot(2, 48) km.
        assert!(close(moved, 2f64.hypot(48.0), 0.05), "{moved}");
        assert_eq!(state.motion, Motion::Driving);
        assert_eq!(status.phase, Phase::Driving);
        assert!(close(status.route.map_or(0.0, |r| r.travelled_km), 50.0, 1e-6));
    }

    #[test]
    fn driving_burns_the_battery_at_the_powertrains_consumption() {
        let (spec, start) = car(Powertrain::Bev);
        let capacity = start.battery_capacity.as_ref().map_or(0.0, |c| c.capacity);
        let trip = trip(
            json!({"profile": "driving", "route": "highway", "speedKmh": 100}),
            &spec,
            &start,
        );

        let (state, _) = trip.state_at(&spec, &start, minutes(30));

        let expected = battery(&start) - 50.0 * 0.18 / capacity;
        assert!(
            close(battery(&state), expected, 1e-4),
            "{} vs {expected}",
            battery(&state)
        );
        let range = state.battery.as_ref().map_or(0.0, |b| b.range);
        let start_range = start.battery.as_ref().map_or(0.0, |b| b.range);
        assert!(range < start_range, "range follows the battery down");
    }

    #[test]
    fn an_ice_car_burns_fuel_and_its_amount_follows() {
        let (spec, start) = car(Powertrain::Ice);
        let trip = trip(json!({"profile": "driving", "route": "commute"}), &spec, &start);
        let amount = |s: &VehicleState| s.fuel.as_ref().map_or(0.0, |f| f.amount_remaining);

        let (state, _) = trip.state_at(&spec, &start, minutes(60));

        let length = Route::named("commute", start.location.as_ref().expect("a location"))
            .expect("the commute route")
            .length_km();
        assert!(close(amount(&start) - amount(&state), length * 0.075, 0.01));
    }

    #[test]
    fn a_drive_ends_parked_at_the_destination() {
        let (spec, start) = car(Powertrain::Bev);
        let trip = trip(json!({"profile": "driving", "route": "city-loop"}), &spec, &start);

        // The 14 km loop takes 21 minutes; 9 minutes parked is not yet asleep.
        let (state, status) = trip.state_at(&spec, &start, minutes(30));

        assert_eq!(state.motion, Motion::Parked);
        assert_eq!(status.ended, Some(Ending::Arrived));
        assert_eq!(status.phase, Phase::Parked);
        // The loop ends where it started.
        let back = haversine_km(place(&start), place(&state));
        assert!(back < 0.001, "{back}");
        assert!(close(odometer(&state) - odometer(&start), 14.0, 0.05));
    }

    #[test]
    fn a_car_that_runs_dry_stops_where_it_ran_out() {
        let (spec, mut start) = car(Powertrain::Bev);
        if let Some(battery) = start.battery.as_mut() {
            battery.percent_remaining = 0.02;
        }
        let capacity = start.battery_capacity.as_ref().map_or(0.0, |c| c.capacity);
        let trip = trip(json!({"profile": "driving", "route": "highway"}), &spec, &start);

        let (state, status) = trip.state_at(&spec, &start, Duration::hours(3));

        assert_eq!(status.ended, Some(Ending::OutOfEnergy));
        assert_eq!(state.motion, Motion::Parked);
        assert_eq!(battery(&state), 0.0);
        assert!(close(odometer(&state) - odometer(&start), 0.02 * capacity / 0.18, 0.01));
    }

    #[test]
    fn a_drive_unplugs_and_wakes_the_car() {
        let (spec, mut start) = car(Powertrain::Bev);
        start.asleep = true;
        if let Some(charge) = start.charge.as_mut() {
            charge.is_plugged_in = true;
            charge.state = ChargeState::Charging;
        }
        let trip = trip(json!({"profile": "driving"}), &spec, &start);

        let (state, _) = trip.state_at(&spec, &start, minutes(1));

        assert!(!state.asleep);
        assert_eq!(charge(&state), Some((false, ChargeState::NotCharging)));
    }

    #[test]
    fn a_json_route_starts_at_its_first_waypoint() {
        let (spec, start) = car(Powertrain::Bev);
        let route = json!({"name": "Workshop run", "speedKmh": 60, "waypoints": [
            {"latitude": 48.0, "longitude": 11.0}, {"latitude": 48.5, "longitude": 11.0}]});
        let trip = trip(json!({"profile": "driving", "route": route}), &spec, &start);

        let (at_start, _) = trip.state_at(&spec, &start, Duration::ZERO);
        let (later, _) = trip.state_at(&spec, &start, minutes(10));

        assert_eq!(place(&at_start), (48.0, 11.0));
        assert!(close(haversine_km((48.0, 11.0), place(&later)), 10.0, 0.001));
    }

    #[test]
    fn charging_rises_linearly_to_the_limit_then_is_fully_charged() {
        let (spec, start) = car(Powertrain::Bev);
        let capacity = start.battery_capacity.as_ref().map_or(0.0, |c| c.capacity);
        let limit = start.charge_limit.as_ref().map_or(1.0, |l| l.limit);
        let trip = trip(json!({"profile": "charging", "chargerKw": 11}), &spec, &start);

        let (hour, status) = trip.state_at(&spec, &start, Duration::hours(1));
        let (later, done) = trip.state_at(&spec, &start, Duration::hours(48));

        assert!(close(battery(&hour), battery(&start) + 11.0 / capacity, 1e-4));
        assert_eq!(charge(&hour), Some((true, ChargeState::Charging)));
        assert_eq!(status.phase, Phase::Charging);
        assert_eq!(status.ended, None);
        assert!(close(battery(&later), limit, 1e-9));
        assert_eq!(charge(&later), Some((true, ChargeState::FullyCharged)));
        assert_eq!(done.ended, Some(Ending::FullyCharged));
        let range = |s: &VehicleState| s.battery.as_ref().map_or(0.0, |b| b.range);
        assert!(
            range(&hour) > range(&start) && range(&later) > range(&hour),
            "range follows"
        );
    }

    #[test]
    fn a_stop_ends_the_charge_where_it_was() {
        let (spec, start) = car(Powertrain::Bev);
        let trip = trip(json!({"profile": "charging"}), &spec, &start);
        let (mut stopped, _) = trip.state_at(&spec, &start, Duration::hours(1));
        let rest = trip.remainder(&spec, &start, Duration::hours(1));
        if let Some(charge) = stopped.charge.as_mut() {
            charge.state = ChargeState::NotCharging;
        }

        let (later, status) = rest.state_at(&spec, &stopped, Duration::hours(5));

        assert_eq!(battery(&later), battery(&stopped), "a plugged-in car does not drain");
        assert_eq!(charge(&later), Some((true, ChargeState::NotCharging)));
        assert_eq!(status.ended, Some(Ending::ChargingStopped));
    }

    #[test]
    fn a_car_without_a_plug_cannot_start_a_charging_trip() {
        let (spec, start) = car(Powertrain::Ice);

        let error = Trip::plan(&TripRequest::new(Profile::Charging), &spec, &start).expect_err("no plug");

        assert_eq!(error.to_string(), "this ICE cannot charge: it has no plug");
    }

    #[test]
    fn a_parked_car_falls_asleep_after_its_idle_time_and_drains_slowly() {
        let (spec, start) = car(Powertrain::Bev);
        let trip = trip(json!({"profile": "parked", "asleepAfter": "20m"}), &spec, &start);

        let (awake, _) = trip.state_at(&spec, &start, minutes(19));
        let (asleep, status) = trip.state_at(&spec, &start, minutes(20));
        let (days, _) = trip.state_at(&spec, &start, Duration::days(10));

        assert!(!awake.asleep);
        assert!(asleep.asleep);
        assert_eq!(status.phase, Phase::Asleep);
        assert!(close(battery(&start) - battery(&days), 10.0 * DRAIN_PER_DAY, 1e-4));
    }

    #[test]
    fn a_command_on_a_sleeping_car_restarts_its_idle_time() {
        let (spec, start) = car(Powertrain::Bev);
        let trip = trip(json!({"profile": "parked"}), &spec, &start);
        let (mut woken, _) = trip.state_at(&spec, &start, Duration::hours(1));
        assert!(woken.asleep);
        let rest = trip.remainder(&spec, &start, Duration::hours(1));
        woken.asleep = false;

        let (soon, _) = rest.state_at(&spec, &woken, minutes(14));
        let (later, _) = rest.state_at(&spec, &woken, minutes(15));

        assert!(!soon.asleep && later.asleep);
    }

    #[test]
    fn a_car_told_never_to_sleep_stays_awake() {
        let (spec, start) = car(Powertrain::Ice);
        let trip = trip(json!({"profile": "parked", "asleepAfter": "never"}), &spec, &start);

        let (state, _) = trip.state_at(&spec, &start, Duration::days(30));

        assert!(!state.asleep);
    }

    #[test]
    fn a_commute_drives_parks_drives_back_and_charges() {
        let (spec, start) = car(Powertrain::Bev);
        let trip = trip(json!({"profile": "commute", "workday": "8h"}), &spec, &start);
        let route = Route::named("commute", start.location.as_ref().expect("a location")).expect("the route");
        let there = route.duration_hours() * 60.0;

        let phases: Vec<(Phase, usize)> = [
            10.0,
            there + 60.0,
            there + 60.0 * 8.0 + 10.0,
            2.0 * there + 60.0 * 8.0 + 10.0,
            2.0 * there + 60.0 * 8.0 + 60.0 * 20.0,
        ]
        .iter()
        .map(|m| trip.state_at(&spec, &start, Duration::seconds_f64(m * 60.0)).1)
        .map(|status| (status.phase, status.step))
        .collect();

        assert_eq!(
            phases,
            vec![
                (Phase::Driving, 1),
                (Phase::Asleep, 2),
                (Phase::Driving, 3),
                (Phase::Charging, 4),
                (Phase::Asleep, 4),
            ]
        );
        let (home, status) = trip.state_at(&spec, &start, Duration::days(2));
        assert!(haversine_km(place(&start), place(&home)) < 0.001, "back home");
        assert!(close(odometer(&home) - odometer(&start), 2.0 * route.length_km(), 0.02));
        assert_eq!(charge(&home), Some((true, ChargeState::FullyCharged)));
        assert_eq!(status.ended, Some(Ending::FullyCharged));
    }

    #[test]
    fn an_ice_commute_has_no_charge() {
        let (spec, start) = car(Powertrain::Ice);
        let trip = trip(json!({"profile": "commute"}), &spec, &start);

        let (_, status) = trip.state_at(&spec, &start, Duration::days(1));

        assert_eq!(status.ended, Some(Ending::Arrived));
        assert_eq!(status.steps, 4);
    }

    #[test]
    fn the_remainder_goes_on_exactly_where_the_trip_was() {
        let (spec, start) = car(Powertrain::Phev);
        let trip = trip(json!({"profile": "commute", "workday": "1h"}), &spec, &start);

        for split in [5, 25, 70, 95, 300] {
            let (middle, _) = trip.state_at(&spec, &start, minutes(split));
            let rest = trip.remainder(&spec, &start, minutes(split));

            let (resumed, resumed_status) = rest.state_at(&spec, &middle, minutes(400 - split));
            let (straight, straight_status) = trip.state_at(&spec, &start, minutes(400));

            assert!(close(odometer(&resumed), odometer(&straight), 0.02), "{split}");
            assert!(close(battery(&resumed), battery(&straight), 2e-4), "{split}");
            assert_eq!(resumed_status.step, straight_status.step, "{split}");
            assert_eq!(resumed_status.phase, straight_status.phase, "{split}");
        }
    }

    #[test]
    fn every_value_stays_in_range_for_every_fixture_and_profile() {
        let fixtures = Fixtures::embedded().expect("the built-in fixtures load");
        for spec in fixtures.brands.iter().flat_map(|brand| brand.vehicles.iter()) {
            for profile in [Profile::Parked, Profile::Driving, Profile::Charging, Profile::Commute] {
                let Ok(trip) = Trip::plan(&TripRequest::new(profile), spec, &spec.state) else {
                    continue;
                };
                for hours in [0.0, 0.1, 0.5, 2.0, 9.0, 30.0, 24.0 * 400.0] {
                    let (state, _) = trip.state_at(spec, &spec.state, Duration::seconds_f64(hours * 3600.0));
                    let fraction = |v: Option<f64>| v.is_none_or(|v| (0.0..=1.0).contains(&v));
                    assert!(fraction(state.battery.as_ref().map(|b| b.percent_remaining)));
                    assert!(fraction(state.fuel.as_ref().map(|f| f.percent_remaining)));
                    assert!(state.battery.as_ref().is_none_or(|b| b.range >= 0.0));
                    assert!(
                        state
                            .fuel
                            .as_ref()
                            .is_none_or(|f| f.range >= 0.0 && f.amount_remaining >= 0.0)
                    );
                    assert!(state.location.as_ref().is_none_or(|l| {
                        (-90.0..=90.0).contains(&l.latitude) && (-180.0..=180.0).contains(&l.longitude)
                    }));
                    assert!(odometer(&state) >= odometer(&spec.state), "{} {profile:?}", spec.vin);
                }
            }
        }
    }

    #[test]
    fn a_negative_elapsed_time_reads_as_the_start() {
        let (spec, start) = car(Powertrain::Bev);
        let trip = trip(json!({"profile": "driving"}), &spec, &start);

        let (state, status) = trip.state_at(&spec, &start, Duration::minutes(-5));

        assert_eq!(odometer(&state), odometer(&start));
        assert_eq!(status.stage_elapsed_seconds, 0.0);
    }

    #[test]
    fn a_trip_request_names_its_bad_field() {
        let (spec, start) = car(Powertrain::Bev);
        for (request, message) in [
            (
                json!({"profile": "parked", "route": "city-loop"}),
                "route: only driving and commute trips follow a route, not parked",
            ),
            (
                json!({"profile": "driving", "speedKmh": 900}),
                "speedKmh: must be above 0 and at most 250 km/h",
            ),
            (
                json!({"profile": "charging", "chargerKw": 0}),
                "chargerKw: must be above 0 and at most 350 kW",
            ),
            (
                json!({"profile": "parked", "asleepAfter": "soon"}),
                "asleepAfter: \"soon\" is not a duration such as 15m or 8h: expected number at 0",
            ),
            (
                json!({"profile": "charging", "speedKmh": 50}),
                "speedKmh: only driving and commute trips have a speed, not charging",
            ),
            (
                json!({"profile": "driving", "workday": "8h"}),
                "workday: only a commute has a workday, not driving",
            ),
        ] {
            let request: TripRequest = serde_json::from_value(request).expect("a request");

            let error = Trip::plan(&request, &spec, &start).expect_err("a bad request");

            assert_eq!(error.to_string(), message);
        }
    }
}
