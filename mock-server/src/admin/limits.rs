//! Smartcar's request limits (test-mode.md A7), off unless `--limits` or an admin call turns them on.
//!
//! - `GET /admin/limits[?app=]` — the settings in force (for one app)
//! - `PUT /admin/limits` — change them, for one app (`"app"`) or as the server default
//!
//! Three checks, in this order, on vehicle API requests (`/v…/user`, `/v…/vehicles…`), all on the
//! virtual clock:
//! 1. per app, a token bucket of 120 requests refilling 2 per minute → 429 `RATE_LIMIT`
//!    `SMARTCAR_API` with `retry-after`;
//! 2. per vehicle, a throttle (unverified numbers: a bucket of 30 refilling one per 10 s) → 429
//!    `RATE_LIMIT` `VEHICLE` with `retry-after`;
//! 3. per vehicle and calendar month, a quota (500, the docs' example) → 430 `BILLING`
//!    `VEHICLE_REQUEST_LIMIT`.
//!
//! A refused request does not count.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{AdminError, AppFilter, JsonBody};
use crate::domain::caller::Caller;
use crate::domain::catalogue;
use crate::error::ApiError;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/limits", get(show).put(change))
}

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

/// A change: only the fields given move.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Change {
    app: Option<String>,
    enabled: Option<bool>,
    app_capacity: Option<u32>,
    app_refill_per_minute: Option<f64>,
    vehicle_capacity: Option<u32>,
    vehicle_refill_seconds: Option<u32>,
    monthly_vehicle_requests: Option<u32>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: OffsetDateTime,
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

#[derive(Default)]
struct Inner {
    default: LimitSettings,
    per_app: HashMap<String, LimitSettings>,
    apps: HashMap<String, Bucket>,
    vehicles: HashMap<Uuid, Bucket>,
    /// `(vehicle, year, month)` → requests counted.
    monthly: HashMap<(Uuid, i32, u8), u32>,
}

/// The limits handle. Clones share it; while every limit is off, requests skip the lock.
#[derive(Clone, Default)]
pub struct Limits {
    inner: Arc<Mutex<Inner>>,
    any_enabled: Arc<AtomicBool>,
}

impl Limits {
    pub fn new(enabled: bool) -> Self {
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

    pub fn settings(&self, app: Option<&str>) -> LimitSettings {
        let inner = self.lock();
        app.and_then(|app| inner.per_app.get(app).copied())
            .unwrap_or(inner.default)
    }

    /// Counts a vehicle API request, or refuses it with the limit it hit.
    pub fn check(&self, caller: &Caller, now: OffsetDateTime) -> Result<(), ApiError> {
        if !self.any_enabled.load(Ordering::Relaxed) {
            return Ok(());
        }
        let Some(app) = caller.app.as_deref() else {
            return Ok(());
        };
        let mut inner = self.lock();
        let settings = inner.per_app.get(app).copied().unwrap_or(inner.default);
        if !settings.enabled {
            return Ok(());
        }
        let app_rate = settings.app_refill_per_minute / 60.0;
        let mut app_bucket = *inner.apps.entry(app.to_owned()).or_insert(Bucket {
            tokens: f64::from(settings.app_capacity),
            at: now,
        });
        if let Err(wait) = app_bucket.take(settings.app_capacity, app_rate, now) {
            inner.apps.insert(app.to_owned(), app_bucket);
            return Err(ApiError::new(
                &catalogue::RATE_LIMIT_SMARTCAR_API,
                format!(
                    "app {app} used its {} requests; they refill {} per minute on the virtual clock (next in {wait} s)",
                    settings.app_capacity, settings.app_refill_per_minute
                ),
            )
            .with_retry_after(wait));
        }
        let Some(vehicle) = caller.vehicle else {
            inner.apps.insert(app.to_owned(), app_bucket);
            return Ok(());
        };
        let vehicle_rate = 1.0 / f64::from(settings.vehicle_refill_seconds.max(1));
        let mut vehicle_bucket = *inner.vehicles.entry(vehicle).or_insert(Bucket {
            tokens: f64::from(settings.vehicle_capacity),
            at: now,
        });
        if let Err(wait) = vehicle_bucket.take(settings.vehicle_capacity, vehicle_rate, now) {
            inner.vehicles.insert(vehicle, vehicle_bucket);
            return Err(ApiError::new(
                &catalogue::RATE_LIMIT_VEHICLE,
                format!(
                    "vehicle {vehicle} was asked more than {} times; one request comes back every {} s (next in {wait} s)",
                    settings.vehicle_capacity, settings.vehicle_refill_seconds
                ),
            )
            .with_retry_after(wait));
        }
        let month = (vehicle, now.year(), u8::from(now.month()));
        let used = inner.monthly.get(&month).copied().unwrap_or(0);
        if used >= settings.monthly_vehicle_requests {
            let entry =
                catalogue::find("BILLING", Some("VEHICLE_REQUEST_LIMIT")).unwrap_or(&catalogue::SERVER_INTERNAL);
            return Err(ApiError::new(
                entry,
                format!(
                    "vehicle {vehicle} made its {} requests of {} {} (the monthly quota)",
                    settings.monthly_vehicle_requests,
                    now.month(),
                    now.year()
                ),
            ));
        }
        inner.monthly.insert(month, used + 1);
        inner.apps.insert(app.to_owned(), app_bucket);
        inner.vehicles.insert(vehicle, vehicle_bucket);
        Ok(())
    }

    fn change(&self, change: Change) -> Result<LimitSettings, String> {
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
            return Err("app_refill_per_minute must be a number of at least 0".to_owned());
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
        self.refresh_flag(&inner);
        Ok(settings)
    }

    /// Back to full buckets and the server default, for one app or all.
    pub fn reset(&self, app: Option<&str>, vehicles: &[Uuid]) {
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
                *inner = Inner {
                    default,
                    ..Inner::default()
                };
            }
        }
        self.refresh_flag(&inner);
    }
}

async fn show(State(state): State<AppState>, Query(filter): Query<AppFilter>) -> Json<LimitSettings> {
    Json(state.control.limits.settings(filter.app.as_deref()))
}

async fn change(State(state): State<AppState>, JsonBody(change): JsonBody<Change>) -> Result<Json<Value>, AdminError> {
    let app = change.app.clone();
    let settings = state.control.limits.change(change).map_err(AdminError::BadRequest)?;
    let mut body = serde_json::to_value(settings).unwrap_or_else(|_| json!({}));
    if let (Value::Object(map), Some(app)) = (&mut body, app) {
        map.insert("app".into(), app.into());
    }
    Ok(Json(body))
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
}
