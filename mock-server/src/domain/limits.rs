//! Smartcar's request limits (docs/contract/api.md#request-limits), off unless `--limits` or test
//! control turns them on.
//!
//! Three checks, in this order, on vehicle API requests, all on the virtual clock:
//! 1. per app, a token bucket of 120 requests refilling 2 per minute (`RATE_LIMIT`
//!    `SMARTCAR_API`, with when to retry);
//! 2. per vehicle, a throttle (unverified numbers: a bucket of 30 refilling one per 10 s)
//!    (`RATE_LIMIT` `VEHICLE`, with when to retry);
//! 3. per vehicle and calendar month, a quota (500, the docs' example) (`BILLING`
//!    `VEHICLE_REQUEST_LIMIT`).
//!
//! A refused request does not count. Only requests whose credentials an app's are counted.
//!
//! The buckets and monthly counts can be exported and restored ([`LimitCounters`]), and a
//! generation number moves whenever they change, so a state file can keep them without a write
//! per request: its saver looks at the generation once a second.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::caller::Caller;
use crate::domain::catalogue::{self, Entry};

/// The limits in force for an app.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    pub enabled: bool,
    /// Requests an app may burst (`SMARTCAR_API`).
    pub app_capacity: u32,
    /// How many of them come back per minute.
    pub app_refill_per_minute: f64,
    /// Requests a vehicle may burst (`VEHICLE`).
    pub vehicle_capacity: u32,
    /// Seconds for one vehicle request to come back.
    pub vehicle_refill_seconds: u32,
    /// Requests per vehicle per calendar month (`BILLING` `VEHICLE_REQUEST_LIMIT`).
    pub monthly_vehicle_requests: u32,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            enabled: false,
            app_capacity: 120,
            app_refill_per_minute: 2.0,
            vehicle_capacity: 30,
            vehicle_refill_seconds: 10,
            monthly_vehicle_requests: 500,
        }
    }
}

/// A change, for one app (`app`) or as the server default: only the fields given move. The body of
/// `PUT /admin/limits`, which the CLI sends.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LimitChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_capacity: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_refill_per_minute: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vehicle_capacity: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vehicle_refill_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_vehicle_requests: Option<u32>,
}

/// A request over a limit: which one, and when to come back. The text is the reason the
/// journal shows.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum LimitExceeded {
    /// The app's bucket is empty (`RATE_LIMIT` `SMARTCAR_API`).
    #[error(
        "app {app} used its {capacity} requests; they refill {refill_per_minute} per minute on the virtual clock (next in {wait} s)"
    )]
    App {
        app: Arc<str>,
        capacity: u32,
        refill_per_minute: f64,
        wait: u64,
    },
    /// The vehicle's throttle (`RATE_LIMIT` `VEHICLE`).
    #[error(
        "vehicle {vehicle} was asked more than {capacity} times; one request comes back every {refill_seconds} s (next in {wait} s)"
    )]
    Vehicle {
        vehicle: Uuid,
        capacity: u32,
        refill_seconds: u32,
        wait: u64,
    },
    /// The vehicle's monthly quota (`BILLING` `VEHICLE_REQUEST_LIMIT`).
    #[error("vehicle {vehicle} made its {quota} requests of {month} {year} (the monthly quota)")]
    Monthly {
        vehicle: Uuid,
        quota: u32,
        month: time::Month,
        year: i32,
    },
}

impl LimitExceeded {
    /// The catalogue row the request is answered with.
    pub(crate) fn entry(&self) -> &'static Entry {
        match self {
            LimitExceeded::App { .. } => &catalogue::RATE_LIMIT_SMARTCAR_API,
            LimitExceeded::Vehicle { .. } => &catalogue::RATE_LIMIT_VEHICLE,
            LimitExceeded::Monthly { .. } => {
                catalogue::find("BILLING", Some("VEHICLE_REQUEST_LIMIT")).unwrap_or(&catalogue::SERVER_INTERNAL)
            }
        }
    }

    /// Seconds until a request would be let through (`retry-after`); none for the monthly quota.
    pub(crate) fn retry_after(&self) -> Option<u64> {
        match self {
            LimitExceeded::App { wait, .. } | LimitExceeded::Vehicle { wait, .. } => Some(*wait),
            LimitExceeded::Monthly { .. } => None,
        }
    }
}

/// Why a change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LimitError {
    #[error("app_refill_per_minute must be a number of at least 0")]
    NegativeRefill,
}

/// A token bucket as it stood when last touched: it refills from `at` on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Bucket {
    pub(crate) tokens: f64,
    /// Virtual time.
    #[serde(with = "time::serde::rfc3339")]
    pub(crate) at: OffsetDateTime,
}

impl Bucket {
    /// Takes one token, or says in how many seconds one will be back.
    fn take(&mut self, capacity: u32, per_second: f64, now: OffsetDateTime) -> Result<(), u64> {
        let elapsed = (now - self.at).as_seconds_f64().max(0.0);
        self.tokens = (self.tokens + elapsed * per_second).min(f64::from(capacity));
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        if per_second <= 0.0 {
            return Err(u64::MAX);
        }
        Err(((1.0 - self.tokens) / per_second).ceil().max(1.0) as u64)
    }
}

/// What the limits have counted: each app's and each vehicle's bucket and each vehicle's requests
/// per month. The settings are not in it (they belong to test control's part of a snapshot).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LimitCounters {
    /// Client id → the app's bucket.
    pub(crate) apps: BTreeMap<String, Bucket>,
    /// Vehicle → its throttle.
    pub(crate) vehicles: BTreeMap<Uuid, Bucket>,
    pub(crate) monthly: Vec<MonthlyCount>,
}

/// Requests a vehicle made in one calendar month (virtual time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MonthlyCount {
    pub(crate) vehicle: Uuid,
    pub(crate) year: i32,
    /// 1 to 12.
    pub(crate) month: u8,
    pub(crate) requests: u32,
}

/// Vehicles whose throttle and monthly count are kept at once: as many as one app may have. A
/// vehicle the world has forgotten keeps its counts until the room is needed; then buckets start
/// full again and past months' counts go, and past even that every vehicle count starts over, as
/// after a reset (only a mock asked about more vehicles than one app may hold gets there).
const MAX_COUNTED_VEHICLES: usize = crate::domain::world::MAX_VEHICLES_PER_APP;

#[derive(Default)]
struct Inner {
    default: LimitSettings,
    per_app: HashMap<String, LimitSettings>,
    apps: HashMap<String, Bucket>,
    vehicles: HashMap<Uuid, Bucket>,
    /// `(vehicle, year, month)` → requests counted.
    monthly: HashMap<(Uuid, i32, u8), u32>,
    /// Moves with every change of the counters (or the settings): kept under the lock a counted
    /// request holds anyway, so counting costs no more than before.
    generation: u64,
}

impl Inner {
    /// Keeps the vehicle counts within [`MAX_COUNTED_VEHICLES`] before `vehicle` is counted.
    fn make_room_for(&mut self, vehicle: Uuid, now: OffsetDateTime) {
        let month = (now.year(), u8::from(now.month()));
        let new_bucket = !self.vehicles.contains_key(&vehicle);
        let new_count = !self.monthly.contains_key(&(vehicle, month.0, month.1));
        if new_bucket && self.vehicles.len() >= MAX_COUNTED_VEHICLES {
            self.vehicles.clear();
        }
        if new_count && self.monthly.len() >= MAX_COUNTED_VEHICLES {
            self.monthly
                .retain(|(_, year, month_of), _| (*year, *month_of) == month);
            if self.monthly.len() >= MAX_COUNTED_VEHICLES {
                self.monthly.clear();
            }
        }
    }
}

/// The limits handle. Clones share it; while every limit is off, requests skip the lock.
#[derive(Clone, Default)]
pub(crate) struct Limits {
    inner: Arc<Mutex<Inner>>,
    any_enabled: Arc<AtomicBool>,
}

impl Limits {
    pub(crate) fn new(enabled: bool) -> Self {
        let limits = Limits::default();
        limits.lock().default.enabled = enabled;
        limits.any_enabled.store(enabled, Ordering::Relaxed);
        limits
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn refresh_flag(&self, inner: &Inner) {
        let any = inner.default.enabled || inner.per_app.values().any(|s| s.enabled);
        self.any_enabled.store(any, Ordering::Relaxed);
    }

    pub(crate) fn settings(&self, app: Option<&str>) -> LimitSettings {
        let inner = self.lock();
        app.and_then(|app| inner.per_app.get(app).copied())
            .unwrap_or(inner.default)
    }

    /// Counts a vehicle API request, or refuses it with the limit it hit.
    pub(crate) fn check(&self, caller: &Caller, now: OffsetDateTime) -> Result<(), LimitExceeded> {
        if !self.any_enabled.load(Ordering::Relaxed) {
            return Ok(());
        }
        let Some(app_id) = caller.app.as_ref() else {
            return Ok(());
        };
        let app: &str = app_id;
        let mut inner = self.lock();
        let settings = inner.per_app.get(app).copied().unwrap_or(inner.default);
        if !settings.enabled {
            return Ok(());
        }
        // Even a refused request moves its bucket's clock.
        inner.generation = inner.generation.wrapping_add(1);
        let app_rate = settings.app_refill_per_minute / 60.0;
        let mut app_bucket = *inner.apps.entry(app.to_owned()).or_insert(Bucket {
            tokens: f64::from(settings.app_capacity),
            at: now,
        });
        if let Err(wait) = app_bucket.take(settings.app_capacity, app_rate, now) {
            inner.apps.insert(app.to_owned(), app_bucket);
            return Err(LimitExceeded::App {
                app: Arc::clone(app_id),
                capacity: settings.app_capacity,
                refill_per_minute: settings.app_refill_per_minute,
                wait,
            });
        }
        let Some(vehicle) = caller.vehicle else {
            inner.apps.insert(app.to_owned(), app_bucket);
            return Ok(());
        };
        inner.make_room_for(vehicle, now);
        let vehicle_rate = 1.0 / f64::from(settings.vehicle_refill_seconds.max(1));
        let mut vehicle_bucket = *inner.vehicles.entry(vehicle).or_insert(Bucket {
            tokens: f64::from(settings.vehicle_capacity),
            at: now,
        });
        if let Err(wait) = vehicle_bucket.take(settings.vehicle_capacity, vehicle_rate, now) {
            inner.vehicles.insert(vehicle, vehicle_bucket);
            return Err(LimitExceeded::Vehicle {
                vehicle,
                capacity: settings.vehicle_capacity,
                refill_seconds: settings.vehicle_refill_seconds,
                wait,
            });
        }
        let month = (vehicle, now.year(), u8::from(now.month()));
        let used = inner.monthly.get(&month).copied().unwrap_or(0);
        if used >= settings.monthly_vehicle_requests {
            return Err(LimitExceeded::Monthly {
                vehicle,
                quota: settings.monthly_vehicle_requests,
                month: now.month(),
                year: now.year(),
            });
        }
        inner.monthly.insert(month, used + 1);
        inner.apps.insert(app.to_owned(), app_bucket);
        inner.vehicles.insert(vehicle, vehicle_bucket);
        Ok(())
    }

    /// Applies a change (for its app, or as the default) and answers the settings now in force.
    /// New settings start from full buckets.
    pub(crate) fn change(&self, change: LimitChange) -> Result<LimitSettings, LimitError> {
        let mut inner = self.lock();
        let base = change
            .app
            .as_deref()
            .and_then(|app| inner.per_app.get(app).copied())
            .unwrap_or(inner.default);
        let settings = LimitSettings {
            enabled: change.enabled.unwrap_or(base.enabled),
            app_capacity: change.app_capacity.unwrap_or(base.app_capacity),
            app_refill_per_minute: change.app_refill_per_minute.unwrap_or(base.app_refill_per_minute),
            vehicle_capacity: change.vehicle_capacity.unwrap_or(base.vehicle_capacity),
            vehicle_refill_seconds: change.vehicle_refill_seconds.unwrap_or(base.vehicle_refill_seconds),
            monthly_vehicle_requests: change.monthly_vehicle_requests.unwrap_or(base.monthly_vehicle_requests),
        };
        if !settings.app_refill_per_minute.is_finite() || settings.app_refill_per_minute < 0.0 {
            return Err(LimitError::NegativeRefill);
        }
        match change.app {
            Some(app) => {
                // New settings start from full buckets.
                inner.apps.remove(&app);
                inner.per_app.insert(app, settings);
            }
            None => {
                inner.default = settings;
                inner.apps.clear();
            }
        }
        inner.vehicles.clear();
        inner.generation = inner.generation.wrapping_add(1);
        self.refresh_flag(&inner);
        Ok(settings)
    }

    /// Back to full buckets and the server default, for one app or all.
    pub(crate) fn reset(&self, app: Option<&str>, vehicles: &[Uuid]) {
        let mut inner = self.lock();
        match app {
            Some(app) => {
                inner.per_app.remove(app);
                inner.apps.remove(app);
                for vehicle in vehicles {
                    inner.vehicles.remove(vehicle);
                }
                inner.monthly.retain(|(vehicle, _, _), _| !vehicles.contains(vehicle));
            }
            None => {
                let default = inner.default;
                let generation = inner.generation;
                *inner = Inner {
                    default,
                    generation,
                    ..Inner::default()
                };
            }
        }
        inner.generation = inner.generation.wrapping_add(1);
        self.refresh_flag(&inner);
    }

    /// A number that moves whenever the counters change: equal twice, nothing was counted between.
    pub(crate) fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// The counters as they stand, with the generation they stand at.
    pub(crate) fn export_counters(&self) -> (u64, LimitCounters) {
        let inner = self.lock();
        let mut monthly: Vec<MonthlyCount> = inner
            .monthly
            .iter()
            .map(|(&(vehicle, year, month), &requests)| MonthlyCount {
                vehicle,
                year,
                month,
                requests,
            })
            .collect();
        monthly.sort_unstable_by_key(|count| (count.vehicle, count.year, count.month));
        let counters = LimitCounters {
            apps: inner.apps.iter().map(|(app, bucket)| (app.clone(), *bucket)).collect(),
            vehicles: inner
                .vehicles
                .iter()
                .map(|(vehicle, bucket)| (*vehicle, *bucket))
                .collect(),
            monthly,
        };
        (inner.generation, counters)
    }

    /// Puts back counters exported before (the settings stay as they are). A bucket whose tokens
    /// are not a number of at least 0 starts full instead.
    pub(crate) fn restore_counters(&self, counters: LimitCounters) {
        let sound = |bucket: &Bucket| bucket.tokens.is_finite() && bucket.tokens >= 0.0;
        let mut inner = self.lock();
        inner.apps = counters.apps.into_iter().filter(|(_, bucket)| sound(bucket)).collect();
        inner.vehicles = counters
            .vehicles
            .into_iter()
            .filter(|(_, bucket)| sound(bucket))
            .collect();
        inner.monthly = counters
            .monthly
            .into_iter()
            .map(|count| ((count.vehicle, count.year, count.month), count.requests))
            .collect();
        inner.generation = inner.generation.wrapping_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_bucket_says_when_the_next_token_comes() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let mut bucket = Bucket { tokens: 1.0, at: now };

        assert_eq!(bucket.take(120, 2.0 / 60.0, now), Ok(()));
        assert_eq!(bucket.take(120, 2.0 / 60.0, now), Err(30));
        assert_eq!(bucket.take(120, 2.0 / 60.0, now + time::Duration::seconds(30)), Ok(()));
    }

    fn caller(vehicle: Option<Uuid>) -> Caller {
        Caller {
            app: Some(Arc::from("demo-client")),
            vehicle,
            ..Caller::default()
        }
    }

    #[test]
    fn an_app_over_its_bucket_is_told_when_to_come_back() {
        let limits = Limits::new(true);
        limits
            .change(LimitChange {
                app_capacity: Some(1),
                ..LimitChange::default()
            })
            .expect("a sound change");
        let now = OffsetDateTime::UNIX_EPOCH;

        let first = limits.check(&caller(None), now);
        let second = limits.check(&caller(None), now).expect_err("the bucket is empty");

        assert_eq!(first, Ok(()));
        assert_eq!(second.entry().code, Some("SMARTCAR_API"));
        assert_eq!(second.retry_after(), Some(30));
    }

    #[test]
    fn the_monthly_quota_has_no_retry_after() {
        let limits = Limits::new(true);
        limits
            .change(LimitChange {
                monthly_vehicle_requests: Some(0),
                ..LimitChange::default()
            })
            .expect("a sound change");

        let refused = limits
            .check(&caller(Some(Uuid::new_v4())), OffsetDateTime::UNIX_EPOCH)
            .expect_err("no requests this month");

        assert_eq!(refused.entry().kind, "BILLING");
        assert_eq!(refused.retry_after(), None);
    }

    #[test]
    fn a_request_no_app_s_credentials_prove_is_never_limited() {
        let limits = Limits::new(true);
        limits
            .change(LimitChange {
                app_capacity: Some(0),
                ..LimitChange::default()
            })
            .expect("a sound change");

        assert_eq!(limits.check(&Caller::default(), OffsetDateTime::UNIX_EPOCH), Ok(()));
    }

    #[test]
    fn counters_exported_and_restored_go_on_where_they_stood() {
        let limits = Limits::new(true);
        limits
            .change(LimitChange {
                app_capacity: Some(5),
                monthly_vehicle_requests: Some(4),
                ..LimitChange::default()
            })
            .expect("a sound change");
        let vehicle = Uuid::new_v4();
        let now = OffsetDateTime::UNIX_EPOCH;
        for _ in 0..3 {
            limits.check(&caller(Some(vehicle)), now).expect("under every limit");
        }
        let (generation, counters) = limits.export_counters();
        let json = serde_json::to_string(&counters).expect("counters serialise");
        let restarted = Limits::new(true);
        restarted
            .change(LimitChange {
                app_capacity: Some(5),
                monthly_vehicle_requests: Some(4),
                ..LimitChange::default()
            })
            .expect("a sound change");

        restarted.restore_counters(serde_json::from_str(&json).expect("counters read back"));

        assert_eq!(restarted.export_counters().1, counters);
        assert_eq!(counters.apps["demo-client"].tokens, 2.0);
        assert_eq!(
            counters.monthly,
            [MonthlyCount {
                vehicle,
                year: 1970,
                month: 1,
                requests: 3
            }]
        );
        assert_eq!(restarted.check(&caller(Some(vehicle)), now), Ok(()));
        let over = restarted
            .check(&caller(Some(vehicle)), now)
            .expect_err("the fifth request of the month");
        assert_eq!(over.entry().kind, "BILLING");
        assert_eq!(limits.generation(), generation, "nothing was counted after the export");
    }

    #[test]
    fn counting_a_request_moves_the_generation_and_nothing_else_does() {
        let limits = Limits::new(true);
        let before = limits.generation();

        let _ = limits.settings(None);
        let unmoved = limits.generation();
        limits
            .check(&caller(None), OffsetDateTime::UNIX_EPOCH)
            .expect("a full bucket");

        assert_eq!(unmoved, before);
        assert_ne!(limits.generation(), before);
    }

    #[test]
    fn counting_more_vehicles_than_one_app_may_hold_keeps_the_counts_bounded() {
        let limits = Limits::new(true);
        let now = OffsetDateTime::UNIX_EPOCH;
        let next_month = now + time::Duration::days(31);
        // The app's bucket must not be what refuses: let it hold every request.
        limits
            .change(LimitChange {
                app_capacity: Some(u32::MAX),
                ..LimitChange::default()
            })
            .expect("a sound change");

        for _ in 0..MAX_COUNTED_VEHICLES {
            assert_eq!(limits.check(&caller(Some(Uuid::new_v4())), now), Ok(()));
        }
        let full = {
            let inner = limits.lock();
            (inner.vehicles.len(), inner.monthly.len())
        };
        assert_eq!(limits.check(&caller(Some(Uuid::new_v4())), next_month), Ok(()));
        let inner = limits.lock();

        assert_eq!(full, (MAX_COUNTED_VEHICLES, MAX_COUNTED_VEHICLES));
        assert_eq!((inner.vehicles.len(), inner.monthly.len()), (1, 1));
    }

    #[test]
    fn a_negative_refill_is_refused() {
        let change = LimitChange {
            app_refill_per_minute: Some(-1.0),
            ..LimitChange::default()
        };

        assert_eq!(Limits::new(false).change(change), Err(LimitError::NegativeRefill));
    }
}
