//! The vehicle simulator (test control): trip profiles that move a vehicle's state through
//! time — `parked`, `driving`, `charging`, `commute` — as pure functions of the state a trip
//! started from and the time elapsed.
//!
//! - [`control`]: the verbs the admin API and the CLI call; the ticker; simulated vehicles.
//! - [`routes`]: the waypoints a drive follows, built in or given as JSON.
//! - [`physics`]: distances, consumption, charging, drain, rounding.
//! - [`trip`]: a profile as a script of stages, and the state at any time into it.
//! - [`simulation`]: one vehicle's running trip against the virtual clock and wall time.
//! - [`running`]: the trips running in the world, caught up on every touch, announced throttled.
//!
//! The rules and why they were chosen: `docs/simulator.md`.

pub(crate) mod control;
pub(crate) mod physics;
pub(crate) mod routes;
pub(crate) mod running;
pub(crate) mod simulation;
pub(crate) mod trip;
