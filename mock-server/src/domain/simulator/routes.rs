//! Routes a `driving` trip follows: a list of waypoints, each leg driven in a straight line at a
//! constant speed.
//!
//! A route is given one of two ways:
//! - **by name**, one of [`BUILT_IN`] (`city-loop`, `commute`, `highway`): a shape drawn as
//!   offsets in km north and east of where the car stands when the trip starts, so the car
//!   drives around its own town wherever its fixture puts it;
//! - **as JSON**, with absolute coordinates; the car starts at the first waypoint (it is moved
//!   there when the trip begins):
//!   `{"name": "To the workshop", "speedKmh": 50, "waypoints": [{"latitude": 42.36,
//!   "longitude": -71.06}, {"latitude": 42.37, "longitude": -71.02, "speedKmh": 80}]}`. A
//!   waypoint's `speedKmh` is the speed of the leg that *ends* at it; `speedKmh` at the top is
//!   every other leg's.
//!
//! A leg's length is its great-circle distance ([`super::physics::haversine_km`]); a point part
//! way along a leg is interpolated linearly in latitude and longitude (the short way across the
//! antimeridian), which is exact enough for legs of a few km and keeps the arithmetic checkable.

use serde::{Deserialize, Serialize};

use super::physics::{KM_PER_DEGREE, haversine_km, longitude_step, wrap_longitude};
use crate::domain::vehicle::Location;

/// The most waypoints a route may have.
pub(crate) const MAX_WAYPOINTS: usize = 1000;
/// The fastest a leg may be driven, km/h.
pub(crate) const MAX_SPEED_KMH: f64 = 250.0;
/// The longest a route may be, km.
pub(crate) const MAX_LENGTH_KM: f64 = 20_000.0;
/// The longest a route's name may be, in characters.
pub(crate) const MAX_NAME_CHARS: usize = 80;

/// A route as JSON gives it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Route {
    pub name: String,
    /// The speed of every leg whose end waypoint does not name its own.
    pub speed_kmh: f64,
    pub waypoints: Vec<Waypoint>,
    /// Each leg's length, km, measured once ([`Route::measured`]): a read of a driving car walks
    /// the legs several times, and a route may have a thousand.
    #[serde(skip)]
    lengths: Vec<f64>,
}

/// One point of a route.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Waypoint {
    pub latitude: f64,
    pub longitude: f64,
    /// The speed of the leg that ends here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed_kmh: Option<f64>,
}

/// Why a route was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RouteError {
    #[error("no built-in route is called {name:?} (built in: {known})")]
    UnknownName { name: String, known: String },
    #[error("route: {0}")]
    Json(String),
    #[error("route.{field}: {message}")]
    Invalid { field: String, message: String },
}

/// A built-in route: legs as `(north km, east km, speed km/h)` of the leg's end, from the start.
struct Shape {
    name: &'static str,
    description: &'static str,
    legs: &'static [(f64, f64, f64)],
}

/// The built-in routes, by name.
const SHAPES: &[Shape] = &[
    Shape {
        name: "city-loop",
        description: "14 km around town at 40 km/h, back where it started (21 min)",
        legs: &[
            (0.0, 2.0, 40.0),
            (1.5, 2.0, 40.0),
            (1.5, 4.0, 40.0),
            (3.0, 4.0, 40.0),
            (3.0, 0.0, 40.0),
            (0.0, 0.0, 40.0),
        ],
    },
    Shape {
        name: "commute",
        description: "24 km to work: 3 km of town at 40 km/h, 18 km of highway at 100, 3 km at 40 (20 min)",
        legs: &[(0.0, 3.0, 40.0), (0.0, 21.0, 100.0), (3.0, 21.0, 40.0)],
    },
    Shape {
        name: "highway",
        description: "200 km: 2 km to the highway at 50 km/h, then 198 km at 110 (1 h 50 min)",
        legs: &[(0.0, 2.0, 50.0), (100.0, 2.0, 110.0), (198.0, 2.0, 110.0)],
    },
];

/// The names of the built-in routes, with what each is.
pub(crate) const BUILT_IN: &[&str] = &["city-loop", "commute", "highway"];

/// `(name, description)` of every built-in route.
pub(crate) fn built_in() -> impl Iterator<Item = (&'static str, &'static str)> {
    SHAPES.iter().map(|shape| (shape.name, shape.description))
}

impl Route {
    /// The built-in route `name`, starting at `anchor`.
    pub(crate) fn named(name: &str, anchor: &Location) -> Result<Route, RouteError> {
        let shape = SHAPES
            .iter()
            .find(|shape| shape.name == name)
            .ok_or_else(|| RouteError::UnknownName {
                name: name.to_owned(),
                known: BUILT_IN.join(", "),
            })?;
        let start = Waypoint {
            latitude: anchor.latitude.clamp(-89.0, 89.0),
            longitude: wrap_longitude(anchor.longitude),
            speed_kmh: None,
        };
        let cos = start.latitude.to_radians().cos();
        let mut waypoints = vec![start];
        waypoints.extend(shape.legs.iter().map(|&(north, east, speed)| Waypoint {
            latitude: (start.latitude + north / KM_PER_DEGREE).clamp(-90.0, 90.0),
            longitude: wrap_longitude(start.longitude + east / (KM_PER_DEGREE * cos)),
            speed_kmh: Some(speed),
        }));
        let speed_kmh = shape.legs.first().map_or(50.0, |leg| leg.2);
        Ok(Route {
            name: shape.name.to_owned(),
            speed_kmh,
            waypoints,
            lengths: Vec::new(),
        }
        .measured())
    }

    /// A route given as JSON, checked.
    pub(crate) fn from_json(value: &serde_json::Value) -> Result<Route, RouteError> {
        let route: Route = serde_path_to_error::deserialize(value)
            .map_err(|error| RouteError::Json(format!("{}: {}", error.path(), error.inner())))?;
        route.checked()
    }

    /// What serde cannot check: a name, 2 to [`MAX_WAYPOINTS`] waypoints on the globe, speeds
    /// above 0 and at most [`MAX_SPEED_KMH`], a length above 0 and at most [`MAX_LENGTH_KM`].
    pub(crate) fn checked(self) -> Result<Route, RouteError> {
        let invalid = |field: String, message: String| Err(RouteError::Invalid { field, message });
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
            return invalid(
                "name".into(),
                format!("must be 1 to {MAX_NAME_CHARS} printable characters"),
            );
        }
        if !(2..=MAX_WAYPOINTS).contains(&self.waypoints.len()) {
            return invalid(
                "waypoints".into(),
                format!("needs 2 to {MAX_WAYPOINTS} waypoints, got {}", self.waypoints.len()),
            );
        }
        let speed_ok = |speed: f64| speed.is_finite() && speed > 0.0 && speed <= MAX_SPEED_KMH;
        if !speed_ok(self.speed_kmh) {
            return invalid(
                "speedKmh".into(),
                format!("must be above 0 and at most {MAX_SPEED_KMH} km/h"),
            );
        }
        for (i, waypoint) in self.waypoints.iter().enumerate() {
            if !(-90.0..=90.0).contains(&waypoint.latitude) {
                return invalid(format!("waypoints[{i}].latitude"), "must be between -90 and 90".into());
            }
            if !(-180.0..=180.0).contains(&waypoint.longitude) {
                return invalid(
                    format!("waypoints[{i}].longitude"),
                    "must be between -180 and 180".into(),
                );
            }
            match waypoint.speed_kmh {
                Some(_) if i == 0 => {
                    return invalid(
                        "waypoints[0].speedKmh".into(),
                        "the first waypoint starts the route; a speed belongs to the leg that ends at a waypoint"
                            .into(),
                    );
                }
                Some(speed) if !speed_ok(speed) => {
                    return invalid(
                        format!("waypoints[{i}].speedKmh"),
                        format!("must be above 0 and at most {MAX_SPEED_KMH} km/h"),
                    );
                }
                _ => {}
            }
        }
        let length = self.length_km();
        if !(length > 0.0 && length <= MAX_LENGTH_KM) {
            return invalid(
                "waypoints".into(),
                format!("the route must be longer than 0 and at most {MAX_LENGTH_KM} km, got {length:.3} km"),
            );
        }
        Ok(Route {
            name: name.to_owned(),
            ..self
        }
        .measured())
    }

    /// Every leg driven at `speed_kmh` instead (a trip's `speedKmh`).
    pub(crate) fn at_speed(mut self, speed_kmh: f64) -> Route {
        self.speed_kmh = speed_kmh;
        for waypoint in self.waypoints.iter_mut().skip(1) {
            waypoint.speed_kmh = Some(speed_kmh);
        }
        self
    }

    /// The way back: the same legs in reverse, each at its own speed.
    pub(crate) fn reversed(&self) -> Route {
        let mut waypoints: Vec<Waypoint> = self.waypoints.iter().rev().copied().collect();
        // The leg that ended at waypoint i+1 ends at waypoint i on the way back.
        let speeds: Vec<Option<f64>> = self.waypoints.iter().map(|w| w.speed_kmh).collect();
        for (i, waypoint) in waypoints.iter_mut().enumerate() {
            let original = self.waypoints.len() - 1 - i;
            waypoint.speed_kmh = if i == 0 { None } else { speeds[original + 1] };
        }
        Route {
            name: format!("{} (back)", self.name),
            speed_kmh: self.speed_kmh,
            waypoints,
            lengths: Vec::new(),
        }
        .measured()
    }

    /// The same route with its legs' lengths measured.
    fn measured(mut self) -> Route {
        self.lengths = self
            .waypoints
            .windows(2)
            .map(|pair| {
                haversine_km(
                    (pair[0].latitude, pair[0].longitude),
                    (pair[1].latitude, pair[1].longitude),
                )
            })
            .collect();
        self
    }

    /// The legs: `(from, to, length km, speed km/h)`.
    fn legs(&self) -> impl Iterator<Item = (&Waypoint, &Waypoint, f64, f64)> {
        self.waypoints.windows(2).enumerate().map(|(i, pair)| {
            let (from, to) = (&pair[0], &pair[1]);
            let length = self
                .lengths
                .get(i)
                .copied()
                .unwrap_or_else(|| haversine_km((from.latitude, from.longitude), (to.latitude, to.longitude)));
            (from, to, length, to.speed_kmh.unwrap_or(self.speed_kmh))
        })
    }

    /// The whole route's length, km.
    pub(crate) fn length_km(&self) -> f64 {
        self.legs().map(|(_, _, length, _)| length).sum()
    }

    /// How long the whole route takes, hours.
    pub(crate) fn duration_hours(&self) -> f64 {
        self.hours_to(f64::INFINITY)
    }

    /// How far along the route the car is after driving `hours` from `from_km` (capped at the
    /// end).
    pub(crate) fn distance_after(&self, from_km: f64, hours: f64) -> f64 {
        let mut position = 0.0;
        let mut left = hours.max(0.0);
        for (_, _, length, speed) in self.legs() {
            let end = position + length;
            if end <= from_km {
                position = end;
                continue;
            }
            let start = position.max(from_km);
            let leg_hours = (end - start) / speed;
            if leg_hours >= left {
                return start + left * speed;
            }
            left -= leg_hours;
            position = end;
        }
        position
    }

    /// How long it takes to drive from the start to `to_km` along the route, hours.
    pub(crate) fn hours_to(&self, to_km: f64) -> f64 {
        let mut position = 0.0;
        let mut hours = 0.0;
        for (_, _, length, speed) in self.legs() {
            let driven = (to_km - position).clamp(0.0, length);
            hours += driven / speed;
            position += length;
            if position >= to_km {
                break;
            }
        }
        hours
    }

    /// Where the car is `km` along the route (the end beyond it).
    pub(crate) fn position_at(&self, km: f64) -> Location {
        let mut position = 0.0;
        for (from, to, length, _) in self.legs() {
            if km <= position + length {
                let fraction = if length > 0.0 {
                    ((km - position) / length).clamp(0.0, 1.0)
                } else {
                    1.0
                };
                // A leg's end is its waypoint exactly, not the sum's last rounding.
                if fraction >= 1.0 {
                    return Location {
                        latitude: to.latitude,
                        longitude: to.longitude,
                    };
                }
                return Location {
                    latitude: from.latitude + fraction * (to.latitude - from.latitude),
                    longitude: wrap_longitude(from.longitude + fraction * longitude_step(from.longitude, to.longitude)),
                };
            }
            position += length;
        }
        let last = self.waypoints.last().copied().unwrap_or(Waypoint {
            latitude: 0.0,
            longitude: 0.0,
            speed_kmh: None,
        });
        Location {
            latitude: last.latitude,
            longitude: last.longitude,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn boston() -> Location {
        Location {
            latitude: 42.3601,
            longitude: -71.0589,
        }
    }

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    #[test]
    fn every_built_in_route_is_valid_wherever_it_starts() {
        for name in BUILT_IN {
            for anchor in [
                boston(),
                Location {
                    latitude: -33.86,
                    longitude: 151.2,
                },
                Location {
                    latitude: 10.0,
                    longitude: 179.99,
                },
            ] {
                let route = Route::named(name, &anchor).expect("a built-in route");

                let checked = route.clone().checked();
                assert_eq!(checked.as_ref(), Ok(&route), "{name} at {anchor:?}");
            }
        }
        assert_eq!(built_in().count(), BUILT_IN.len());
    }

    #[test]
    fn built_in_routes_have_the_lengths_their_descriptions_give() {
        for (name, km) in [("city-loop", 14.0), ("commute", 24.0), ("highway", 200.0)] {
            let route = Route::named(name, &boston()).expect("a built-in route");

            // Offsets are drawn on a flat map; on the sphere they are a little off.
            assert!(
                close(route.length_km(), km, km * 0.002),
                "{name}: {}",
                route.length_km()
            );
        }
    }

    #[test]
    fn a_built_in_route_starts_where_the_car_is() {
        let route = Route::named("commute", &boston()).expect("a built-in route");

        assert_eq!(route.position_at(0.0), boston());
    }

    #[test]
    fn an_unknown_name_lists_the_built_in_routes() {
        let error = Route::named("moon", &boston()).expect_err("no such route");

        assert_eq!(
            error.to_string(),
            "no built-in route is called \"moon\" (built in: city-loop, commute, highway)"
        );
    }

    #[test]
    fn distance_follows_each_legs_speed() {
        let route = Route::named("commute", &boston()).expect("a built-in route");
        let first = route.legs().next().map(|leg| leg.2).unwrap_or_default();

        // The first leg (about 3 km) at 40 km/h, then 6 minutes at 100 km/h.
        let hours = first / 40.0 + 0.1;

        assert!(close(route.distance_after(0.0, hours), first + 10.0, 1e-9));
        assert!(close(route.hours_to(first + 10.0), hours, 1e-9));
        assert!(close(route.distance_after(first, 0.1), first + 10.0, 1e-9));
        assert!(close(route.distance_after(0.0, 99.0), route.length_km(), 1e-9));
    }

    #[test]
    fn a_point_along_a_leg_is_that_far_from_its_start() {
        let route = Route::from_json(&json!({
            "name": "north", "speedKmh": 60,
            "waypoints": [{"latitude": 40.0, "longitude": -105.0}, {"latitude": 41.0, "longitude": -105.0}]
        }))
        .expect("a valid route");

        let at = route.position_at(25.0);

        assert!(close(
            haversine_km((40.0, -105.0), (at.latitude, at.longitude)),
            25.0,
            1e-6
        ));
    }

    #[test]
    fn a_leg_across_the_antimeridian_goes_the_short_way() {
        let route = Route::from_json(&json!({
            "name": "dateline", "speedKmh": 60,
            "waypoints": [{"latitude": 0.0, "longitude": 179.9}, {"latitude": 0.0, "longitude": -179.9}]
        }))
        .expect("a valid route");

        let middle = route.position_at(route.length_km() / 2.0);

        assert!(route.length_km() < 23.0, "{}", route.length_km());
        assert!(close(middle.longitude.abs(), 180.0, 1e-9), "{middle:?}");
    }

    #[test]
    fn the_way_back_keeps_each_legs_speed() {
        let route = Route::named("commute", &boston()).expect("a built-in route");

        let back = route.reversed();

        assert!(close(back.length_km(), route.length_km(), 1e-9));
        assert!(close(back.duration_hours(), route.duration_hours(), 1e-9));
        assert_eq!(back.position_at(back.length_km()), boston());
    }

    #[test]
    fn a_route_json_is_checked_and_names_the_bad_field() {
        for (route, message) in [
            (
                json!({"name": "x", "speedKmh": 50, "waypoints": [{"latitude": 1.0, "longitude": 1.0}]}),
                "route.waypoints: needs 2 to 1000 waypoints, got 1",
            ),
            (
                json!({"name": "x", "speedKmh": 50, "waypoints": [
                    {"latitude": 1.0, "longitude": 1.0}, {"latitude": 91.0, "longitude": 1.0}]}),
                "route.waypoints[1].latitude: must be between -90 and 90",
            ),
            (
                json!({"name": "x", "speedKmh": 0, "waypoints": [
                    {"latitude": 1.0, "longitude": 1.0}, {"latitude": 2.0, "longitude": 1.0}]}),
                "route.speedKmh: must be above 0 and at most 250 km/h",
            ),
            (
                json!({"name": "x", "speedKmh": 50, "waypoints": [
                    {"latitude": 1.0, "longitude": 1.0}, {"latitude": 1.0, "longitude": 1.0}]}),
                "route.waypoints: the route must be longer than 0 and at most 20000 km, got 0.000 km",
            ),
            (
                json!({"name": "", "speedKmh": 50, "waypoints": []}),
                "route.name: must be 1 to 80 printable characters",
            ),
        ] {
            let error = Route::from_json(&route).expect_err("an invalid route");

            assert_eq!(error.to_string(), message);
        }
        let typo = Route::from_json(&json!({"name": "x", "speed": 50, "waypoints": []})).expect_err("a typo");
        assert!(typo.to_string().starts_with("route: speed: unknown field"), "{typo}");
    }
}
