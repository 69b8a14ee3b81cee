//! The simulator's subcommands (`mock-server vehicle trip …`, `mock-server vehicle create …`),
//! calling the admin API of the simulator (`POST /admin/simulator/…`):
//!
//! | subcommand | admin call |
//! |---|---|
//! | `vehicle trip ID driving --route city-loop --speed 50` | `POST /admin/vehicles/{id}/trip` |
//! | `vehicle trip ID driving --route my-route.json` (or the JSON itself) | `POST /admin/vehicles/{id}/trip` |
//! | `vehicle trip ID charging --charger-kw 22`, `… parked --asleep-after 30m`, `… commute --workday 8h` | `POST /admin/vehicles/{id}/trip` |
//! | `vehicle trip ID status`, `vehicle trip ID stop` | `GET`, `DELETE /admin/vehicles/{id}/trip` |
//! | `vehicle routes` | `GET /admin/simulator/routes` |
//! | `vehicle simulated [--app demo-client]` | `GET /admin/simulator/vehicles` |
//! | `vehicle create --powertrain BEV --name "Workshop car"` | `POST /admin/simulator/vehicles` |

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use mock_server::AppFilter;
use mock_server::CreateVehicle;
use mock_server::{Powertrain, Profile, RouteChoice, TripRequest};
use reqwest::Method;
use serde_json::Value;

use super::{Target, call};

/// The most bytes a `--route` file may have (a route of 1000 waypoints is under 100 KB).
const MAX_ROUTE_FILE_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum TripAction {
    /// Still; a slow battery drain; asleep after `--asleep-after` idle.
    Parked,
    /// Follow `--route` (default city-loop), then park at the destination.
    Driving,
    /// Plug in and charge to the charge limit at `--charger-kw`.
    Charging,
    /// Drive to work, park for `--workday`, drive back, plug in and charge.
    Commute,
    /// Where the trip is now.
    Status,
    /// Stop the trip; the values stay where it got them.
    Stop,
}

#[derive(Debug, Args)]
pub(super) struct TripArgs {
    /// The vehicle's id.
    id: String,
    /// A profile to start, or `status` / `stop`.
    #[arg(value_enum)]
    action: TripAction,
    /// A built-in route (`mock-server vehicle routes`), a JSON file, or the route's JSON itself.
    #[arg(long)]
    route: Option<String>,
    /// Drive every leg at this speed, km/h.
    #[arg(long)]
    speed: Option<f64>,
    /// The charger's power, kW.
    #[arg(long)]
    charger_kw: Option<f64>,
    /// Idle time before a parked car falls asleep (`15m`), or `never`.
    #[arg(long)]
    asleep_after: Option<String>,
    /// How long a commute parks at work (`8h`).
    #[arg(long)]
    workday: Option<String>,
}

#[derive(Debug, Args)]
pub(super) struct CreateArgs {
    /// BEV, PHEV, HEV or ICE.
    #[arg(long, value_parser = parse_powertrain)]
    powertrain: Powertrain,
    /// The vehicle's name (up to 80 characters).
    #[arg(long)]
    name: String,
    /// The app (default: the first app of the fixtures).
    #[arg(long)]
    client_id: Option<String>,
}

/// `BEV`, `phev`, …: the powertrain as the admin API spells it, in any case.
fn parse_powertrain(text: &str) -> Result<Powertrain, String> {
    serde_json::from_value(Value::String(text.to_uppercase()))
        .map_err(|_| format!("{text:?} is not a powertrain: BEV, PHEV, HEV or ICE"))
}

/// `vehicle trip …`: the admin API's own [`TripRequest`].
pub(super) async fn trip(target: &Target, args: TripArgs) -> anyhow::Result<Value> {
    let id = uuid::Uuid::try_parse(&args.id).with_context(|| format!("{:?} is not a vehicle id", args.id))?;
    let path = format!("/admin/vehicles/{id}/trip");
    let profile = match args.action {
        TripAction::Status => return call(target.request(Method::GET, &path)?).await,
        TripAction::Stop => return call(target.request(Method::DELETE, &path)?).await,
        TripAction::Parked => Profile::Parked,
        TripAction::Driving => Profile::Driving,
        TripAction::Charging => Profile::Charging,
        TripAction::Commute => Profile::Commute,
    };
    let request = TripRequest {
        route: args.route.as_deref().map(route_choice).transpose()?,
        speed_kmh: args.speed,
        charger_kw: args.charger_kw,
        asleep_after: args.asleep_after,
        workday: args.workday,
        ..TripRequest::new(profile)
    };
    call(target.request(Method::POST, &path)?.json(&request)).await
}

/// `--route`: JSON as given, a `.json` file's contents, or a built-in route's name.
fn route_choice(route: &str) -> anyhow::Result<RouteChoice> {
    let trimmed = route.trim();
    if trimmed.starts_with('{') {
        return Ok(RouteChoice::Custom(
            serde_json::from_str(trimmed).context("--route is not a JSON object")?,
        ));
    }
    if trimmed.ends_with(".json") {
        let size = std::fs::metadata(trimmed)
            .with_context(|| format!("reading --route {trimmed}"))?
            .len();
        if size > MAX_ROUTE_FILE_BYTES {
            bail!("--route {trimmed} has {size} bytes; a route file is capped at {MAX_ROUTE_FILE_BYTES} bytes");
        }
        let text = std::fs::read_to_string(trimmed).with_context(|| format!("reading --route {trimmed}"))?;
        return Ok(RouteChoice::Custom(
            serde_json::from_str(&text).with_context(|| format!("--route {trimmed} is not JSON"))?,
        ));
    }
    Ok(RouteChoice::Named(trimmed.to_owned()))
}

/// `vehicle routes`.
pub(super) async fn routes(target: &Target) -> anyhow::Result<Value> {
    call(target.request(Method::GET, "/admin/simulator/routes")?).await
}

/// `vehicle simulated [--app]`.
pub(super) async fn list(target: &Target, app: Option<String>) -> anyhow::Result<Value> {
    call(
        target
            .request(Method::GET, "/admin/simulator/vehicles")?
            .query(&AppFilter { app }),
    )
    .await
}

/// `vehicle create …`: the admin API's own [`CreateVehicle`].
pub(super) async fn create(target: &Target, args: CreateArgs) -> anyhow::Result<Value> {
    let request = CreateVehicle {
        powertrain: args.powertrain,
        name: args.name,
        client_id: args.client_id,
    };
    call(
        target
            .request(Method::POST, "/admin/simulator/vehicles")?
            .json(&request),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    #[test]
    fn a_route_is_a_name_or_json() {
        assert_eq!(
            route_choice(" city-loop ").ok(),
            Some(RouteChoice::Named("city-loop".to_owned()))
        );
        assert_eq!(
            route_choice(r#"{"name": "x", "speedKmh": 50, "waypoints": []}"#).ok(),
            Some(RouteChoice::Custom(
                serde_json::json!({"name": "x", "speedKmh": 50, "waypoints": []})
            ))
        );
        assert!(route_choice("/no/such/route.json").is_err());
    }

    #[test]
    fn trip_and_create_parse_as_the_issue_writes_them() {
        for args in [
            &[
                "mock-server",
                "vehicle",
                "trip",
                "ID",
                "driving",
                "--route",
                "highway",
                "--speed",
                "90",
            ][..],
            &["mock-server", "vehicle", "trip", "ID", "charging", "--charger-kw", "22"],
            &[
                "mock-server",
                "vehicle",
                "trip",
                "ID",
                "parked",
                "--asleep-after",
                "never",
            ],
            &["mock-server", "vehicle", "trip", "ID", "stop"],
            &[
                "mock-server",
                "vehicle",
                "create",
                "--powertrain",
                "bev",
                "--name",
                "Workshop car",
            ],
            &["mock-server", "vehicle", "routes"],
            &["mock-server", "vehicle", "simulated", "--app", "demo-client"],
        ] {
            let cli = Cli::try_parse_from(args.iter().copied());
            assert!(
                matches!(
                    cli,
                    Ok(Cli {
                        command: Some(Command::Vehicle(_)),
                        ..
                    })
                ),
                "{args:?}"
            );
        }
        assert!(
            Cli::try_parse_from(["mock-server", "vehicle", "create", "--powertrain", "EV", "--name", "x"]).is_err()
        );
    }

    /// A mock on port 0 in this runtime (it serves until dropped), and the `--server` target for it.
    async fn server() -> (mock_server::MockServer, Target) {
        let server = mock_server::MockServer::builder().start().await;
        let target = Target {
            server: server.uri(),
            admin_token: None,
        };
        (server, target)
    }

    fn args<T: clap::FromArgMatches + clap::Args>(words: &[&str]) -> T {
        let command = T::augment_args(clap::Command::new("vehicle").no_binary_name(true));
        let matches = command.try_get_matches_from(words).expect("the words parse");
        T::from_arg_matches(&matches).expect("the arguments")
    }

    #[tokio::test]
    async fn the_subcommands_create_a_vehicle_and_start_show_and_stop_its_trip() {
        let (_server, target) = server().await;

        let created = create(&target, args(&["--powertrain", "bev", "--name", "CLI car"]))
            .await
            .expect("vehicle create");
        let id = created["vehicle_id"].as_str().expect("an id").to_owned();
        let started = trip(&target, args(&[&id, "driving", "--route", "highway", "--speed", "90"]))
            .await
            .expect("vehicle trip … driving");
        let status = trip(&target, args(&[&id, "status"]))
            .await
            .expect("vehicle trip … status");
        let stopped = trip(&target, args(&[&id, "stop"])).await.expect("vehicle trip … stop");
        let refused = trip(&target, args(&[&id, "charging", "--charger-kw", "900"])).await;
        let listed = list(&target, None).await.expect("vehicle simulated");

        assert_eq!(created["name"], "CLI car");
        assert_eq!(started["trip"]["route"]["name"], "highway");
        assert_eq!(status["trip"]["profile"], "driving");
        assert_eq!(stopped["state"]["motion"], "PARKED");
        assert_eq!(
            refused.expect_err("a charger above the cap").to_string(),
            "400 Bad Request: chargerKw: must be above 0 and at most 350 kW"
        );
        assert_eq!(listed["vehicles"][0]["name"], "CLI car");
        assert_eq!(listed["vehicles"][0]["trip"], Value::Null);
    }
}
