//! The world as a file ([`crate::domain::snapshot`]):
//!
//! - `GET /admin/snapshot[?app=]` — the whole world, or one app's part, as a snapshot
//! - `PUT /admin/snapshot[?app=]` — replace the whole world, or one app's part, with a snapshot
//!
//! A snapshot gathers what the world, the webhook registry, the fault rules, the limits and the
//! clock hold; loading one checks all of it before changing anything, so a refused snapshot
//! leaves the server as it was.
//!
//! With a state file, the test-control part and the limits' counters are kept in it from here
//! too: after each admin change ([`persist_control`]), and once a second and at shutdown when a
//! counted request or a fired rule moved them ([`persist_counters`]).

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::routing::get;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::{AdminError, AppFilter};
use crate::domain::faults::{ConnectFaultSpec, FaultSpec, Faults};
use crate::domain::limits::{LimitChange, LimitCounters, LimitSettings, Limits};
use crate::domain::snapshot::{self, AppSnapshot, ConnectFaultRule, Snapshot, SnapshotError, WebhookSnapshot};
use crate::domain::store::Write;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/snapshot", get(handle_save).put(handle_load))
}

async fn handle_save(
    State(state): State<AppState>,
    Query(filter): Query<AppFilter>,
) -> Result<Json<Snapshot>, AdminError> {
    save(&state, filter.app.as_deref()).map(Json)
}

async fn handle_load(
    State(state): State<AppState>,
    Query(filter): Query<AppFilter>,
    body: Bytes,
) -> Result<Json<Value>, AdminError> {
    let snapshot = snapshot::parse(&body).map_err(|error| AdminError::BadRequest(error.to_string()))?;
    let app = filter.app.as_deref();
    load(&state, app, &snapshot).map_err(|error| AdminError::BadRequest(error.to_string()))?;
    let users: usize = snapshot.apps.values().map(|app| app.users.len()).sum();
    Ok(Json(json!({
        "loaded": app.unwrap_or("everything"),
        "apps": snapshot.apps.len(),
        "users": users,
    })))
}

/// The whole world (`None`: every app, the clock, the server-wide limits and rules) or one app's
/// part. Apps with nothing to say are left out of a whole-world snapshot.
pub(crate) fn save(state: &AppState, app: Option<&str>) -> Result<Snapshot, AdminError> {
    save_parts(state, app, true)
}

/// The test-control part of the whole world (clock, limits, rules, webhooks): a snapshot without
/// users, as the state file keeps it beside the users.
pub(crate) fn save_control(state: &AppState) -> Snapshot {
    save_parts(state, None, false).unwrap_or_default()
}

fn save_parts(state: &AppState, app: Option<&str>, with_users: bool) -> Result<Snapshot, AdminError> {
    super::known_app(state, app)?;
    let rules = state.control.faults.list(None);
    let mut snapshot = Snapshot {
        version: snapshot::FORMAT_VERSION,
        ..Snapshot::default()
    };
    if app.is_none() {
        let offset = state.clock.offset().whole_milliseconds();
        snapshot.clock_offset_ms = i64::try_from(offset).ok();
        snapshot.default_limits = Some(state.control.limits.settings(None));
        snapshot.faults = rules
            .rules
            .iter()
            .filter(|rule| rule.spec.app.is_none())
            .filter_map(as_loaded)
            .collect();
    }
    let default_limits = state.control.limits.settings(None);
    for fixture in &state.fixtures.apps {
        let client_id = fixture.client_id.as_str();
        if app.is_some_and(|app| app != client_id) {
            continue;
        }
        let (users, spent_codes) = if with_users {
            state.world.export(client_id)
        } else {
            (Vec::new(), Vec::new())
        };
        let registry = state.webhooks.registry();
        let webhooks = fixture
            .webhooks
            .iter()
            .filter_map(|spec| {
                let callback_url = registry
                    .target(spec.id)
                    .map(|target| target.callback_url)
                    .filter(|url| *url != spec.callback_url);
                let mut vehicles = registry
                    .log(spec.id)
                    .map(|log| log.subscribed_vehicles)
                    .unwrap_or_default();
                vehicles.sort_unstable();
                (callback_url.is_some() || !vehicles.is_empty()).then_some(WebhookSnapshot {
                    id: spec.id,
                    callback_url,
                    vehicles,
                })
            })
            .collect();
        let limits = Some(state.control.limits.settings(Some(client_id))).filter(|limits| *limits != default_limits);
        let part = AppSnapshot {
            users,
            spent_codes,
            webhooks,
            limits,
            faults: rules
                .rules
                .iter()
                .filter(|rule| rule.spec.app.as_deref() == Some(client_id))
                .filter_map(as_loaded)
                .collect(),
            connect_faults: rules
                .connect
                .iter()
                .filter(|rule| rule.spec.app == client_id && rule.remaining > 0)
                .map(|rule| ConnectFaultRule {
                    email: rule.spec.email.clone(),
                    error: rule.spec.error,
                    times: u32::try_from(rule.remaining).ok(),
                })
                .collect(),
        };
        let empty = part.users.is_empty()
            && part.spent_codes.is_empty()
            && part.webhooks.is_empty()
            && part.limits.is_none()
            && part.faults.is_empty()
            && part.connect_faults.is_empty();
        if app.is_some() || !empty {
            snapshot.apps.insert(client_id.to_owned(), part);
        }
    }
    Ok(snapshot)
}

/// A rule as it would be loaded to go on where it stands: the firings it has left, its seed.
fn as_loaded(rule: &crate::domain::faults::RuleSnapshot) -> Option<FaultSpec> {
    if rule.remaining == Some(0) {
        return None;
    }
    let mut spec = rule.spec.clone();
    spec.times = rule.remaining.and_then(|left| u32::try_from(left).ok());
    spec.seed = Some(rule.seed);
    Some(spec)
}

/// Replaces the whole world (`None`) or one app's part with `snapshot`, after checking all of it:
/// on an error nothing has changed.
pub(crate) fn load(state: &AppState, app: Option<&str>, snapshot: &Snapshot) -> Result<(), SnapshotError> {
    load_checked(state, app, snapshot, false)
}

/// Puts back the world a state file held: as [`load`], except that subscriptions of vehicles no
/// longer there are dropped and caps trim (the least recently used go) instead of refusing.
pub(crate) fn restore(state: &AppState, mut snapshot: Snapshot) -> Result<(), SnapshotError> {
    for part in snapshot.apps.values_mut() {
        let vehicles: std::collections::HashSet<uuid::Uuid> = part
            .users
            .iter()
            .flat_map(|user| &user.vehicles)
            .filter_map(|vehicle| vehicle.id)
            .collect();
        for webhook in &mut part.webhooks {
            webhook.vehicles.retain(|vehicle| vehicles.contains(vehicle));
        }
    }
    load_checked(state, None, &snapshot, true)
}

fn load_checked(
    state: &AppState,
    app: Option<&str>,
    snapshot: &Snapshot,
    from_store: bool,
) -> Result<(), SnapshotError> {
    if let Some(app) = app {
        if state.fixtures.app(app).is_none() {
            return Err(SnapshotError::new("", format!("no app has client id {app} (?app=)")));
        }
        let foreign = [
            (snapshot.clock_offset_ms.is_some(), "clockOffsetMs"),
            (snapshot.default_limits.is_some(), "defaultLimits"),
            (!snapshot.faults.is_empty(), "faults"),
        ];
        if let Some((_, field)) = foreign.iter().find(|(present, _)| *present) {
            return Err(SnapshotError::new(
                *field,
                "belongs to the whole server; load the snapshot without ?app= to set it",
            ));
        }
    }
    // The virtual time the snapshot's defaults (fresh expiries, connection times) are filled at.
    let now = match snapshot.clock_offset_ms {
        Some(ms) => OffsetDateTime::now_utc().saturating_add(time::Duration::milliseconds(ms)),
        None => state.clock.now(),
    };
    let mut resolved = snapshot.resolve(&state.fixtures, now)?;
    for part in &mut resolved {
        part.from_store = from_store;
    }
    let (faults, connect_faults) = checked_rules(snapshot)?;
    let limits = checked_limits(snapshot)?;
    for (client_id, part) in &snapshot.apps {
        for (i, webhook) in part.webhooks.iter().enumerate() {
            if let Some(url) = &webhook.callback_url
                && !url::Url::parse(url).is_ok_and(|url| matches!(url.scheme(), "http" | "https"))
            {
                return Err(SnapshotError::new(
                    format!("apps.{client_id}.webhooks[{i}].callbackUrl"),
                    format!("expected an http or https URL, got {url:?}"),
                ));
            }
        }
    }
    if let Some(ms) = snapshot.clock_offset_ms {
        let offset = time::Duration::milliseconds(ms);
        if offset.abs() > crate::domain::clock::MAX_OFFSET {
            return Err(SnapshotError::new(
                "clockOffsetMs",
                crate::domain::clock::OutOfRange.to_string(),
            ));
        }
    }

    let vehicles: Vec<uuid::Uuid> = state.world.vehicles(app).iter().map(|v| v.id).collect();
    state.world.replace(app, resolved)?;
    let registry = state.webhooks.registry();
    registry.reset(app);
    state.control.faults.clear(app);
    state.control.limits.reset(app, &vehicles);
    if let Some(ms) = snapshot.clock_offset_ms {
        state.clock.reset();
        state.clock.advance(time::Duration::milliseconds(ms));
    }
    for part in snapshot.apps.values() {
        for webhook in &part.webhooks {
            if let Some(url) = &webhook.callback_url {
                registry.set_callback_url(webhook.id, url);
            }
            for vehicle in &webhook.vehicles {
                if let Some(access) = state.world.access_to_vehicle(*vehicle) {
                    state.webhooks.restore_subscription(webhook.id, *vehicle, &access);
                }
            }
        }
    }
    // Checked above on a scratch book, so these cannot fail.
    for rule in faults {
        let _ = state.control.faults.add(rule);
    }
    for rule in connect_faults {
        let _ = state.control.faults.add_connect(rule);
    }
    for change in limits {
        let _ = state.control.limits.change(change);
    }
    if !from_store {
        persist_control(state);
    }
    Ok(())
}

/// Keeps the test-control part and the counters in the state file, if there is one, before the
/// answer goes out.
pub(crate) fn persist_control(state: &AppState) {
    persist(state, true);
}

/// Keeps the counters (the limits' buckets and monthly counts, the firings fault rules have left)
/// in the state file if they moved since they were last handed to it, and waits until they are on
/// disk. What the saver does once a second and a shutdown does last.
pub(crate) fn persist_counters(state: &AppState) {
    persist(state, false);
}

/// Whether everything counted so far is on disk; `None` without a state file.
pub(crate) fn counters_saved(state: &AppState) -> Option<bool> {
    if !state.world.has_store() {
        return None;
    }
    let now = Generations::of(state);
    Some(state.control.saves.lock().saved == Some(now))
}

/// Puts back the counters a state file held (after its world: loading the limit settings empties
/// the buckets). The file holds what memory now holds, so nothing is left to save.
pub(crate) fn restore_counters(state: &AppState, counters: LimitCounters) {
    state.control.limits.restore_counters(counters);
    let now = Generations::of(state);
    let mut marks = state.control.saves.lock();
    marks.queued = Some(now);
    marks.saved = Some(now);
}

/// How far the state file has come with the counters, which are saved apart from the answers
/// that move them.
#[derive(Debug, Default)]
pub(crate) struct Saves(Mutex<Marks>);

#[derive(Debug, Default)]
struct Marks {
    /// The generations of the last batch handed to the writer.
    queued: Option<Generations>,
    /// The generations known to be on disk.
    saved: Option<Generations>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Generations {
    limits: u64,
    faults: u64,
}

impl Generations {
    fn of(state: &AppState) -> Self {
        Generations {
            limits: state.control.limits.generation(),
            faults: state.control.faults.generation(),
        }
    }
}

impl Saves {
    fn lock(&self) -> MutexGuard<'_, Marks> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn persist(state: &AppState, always: bool) {
    if !state.world.has_store() {
        return;
    }
    let (ticket, generations) = {
        // Held while the documents are made and queued, so the writer gets them in the order they
        // were made: an older document never lands after a newer one.
        let mut marks = state.control.saves.lock();
        // Read before the documents are made, so they hold at least what these count.
        let generations = Generations::of(state);
        let queued = marks.queued;
        let limits_moved = queued.is_none_or(|queued| queued.limits != generations.limits);
        let faults_moved = queued.is_none_or(|queued| queued.faults != generations.faults);
        let mut batch = Vec::new();
        // The control document holds the firings the rules have left.
        if always || faults_moved {
            let Ok(control) = serde_json::to_string(&save_control(state)) else {
                return;
            };
            batch.push(Write::Control(control));
        }
        // Only when they moved: with limits on, they grow with the vehicles asked about.
        if limits_moved {
            let Ok(counters) = serde_json::to_string(&state.control.limits.export_counters().1) else {
                return;
            };
            batch.push(Write::Counters(counters));
        }
        if batch.is_empty() {
            return;
        }
        marks.queued = Some(generations);
        (state.world.store_write(batch), generations)
    };
    ticket.wait();
    let mut marks = state.control.saves.lock();
    // Batches commit in order, so whatever was queued before is on disk too; a later batch may
    // have been confirmed first.
    let saved = marks.saved.map_or(generations, |saved| Generations {
        limits: saved.limits.max(generations.limits),
        faults: saved.faults.max(generations.faults),
    });
    marks.saved = Some(saved);
}

/// Every fault rule of the snapshot with its app filled in, each tried on a scratch rule book.
fn checked_rules(snapshot: &Snapshot) -> Result<(Vec<FaultSpec>, Vec<ConnectFaultSpec>), SnapshotError> {
    let scratch = Faults::default();
    let mut rules = Vec::new();
    let mut connect = Vec::new();
    let mut api = |spec: FaultSpec, path: String| {
        scratch
            .add(spec.clone())
            .map_err(|error| SnapshotError::new(path, error.to_string()))?;
        rules.push(spec);
        Ok::<_, SnapshotError>(())
    };
    for (i, rule) in snapshot.faults.iter().enumerate() {
        api(rule.clone(), format!("faults[{i}]"))?;
    }
    for (client_id, part) in &snapshot.apps {
        for (i, rule) in part.faults.iter().enumerate() {
            let mut spec = rule.clone();
            spec.app = Some(client_id.clone());
            api(spec, format!("apps.{client_id}.faults[{i}]"))?;
        }
        for (i, rule) in part.connect_faults.iter().enumerate() {
            let spec = ConnectFaultSpec {
                app: client_id.clone(),
                email: rule.email.clone(),
                error: rule.error,
                times: rule.times,
            };
            scratch.add_connect(spec.clone()).map_err(|error| {
                SnapshotError::new(format!("apps.{client_id}.connectFaults[{i}]"), error.to_string())
            })?;
            connect.push(spec);
        }
    }
    Ok((rules, connect))
}

/// The limit changes the snapshot makes (server default first), each tried on scratch limits.
fn checked_limits(snapshot: &Snapshot) -> Result<Vec<LimitChange>, SnapshotError> {
    let scratch = Limits::default();
    let mut changes = Vec::new();
    let mut parts: BTreeMap<String, &LimitSettings> = BTreeMap::new();
    for (client_id, part) in &snapshot.apps {
        if let Some(limits) = &part.limits {
            parts.insert(client_id.clone(), limits);
        }
    }
    let all = snapshot
        .default_limits
        .as_ref()
        .map(|limits| (None, limits, "defaultLimits".to_owned()))
        .into_iter()
        .chain(
            parts
                .into_iter()
                .map(|(app, limits)| (Some(app.clone()), limits, format!("apps.{app}.limits"))),
        );
    for (app, limits, path) in all {
        let change = LimitChange {
            app,
            enabled: Some(limits.enabled),
            app_capacity: Some(limits.app_capacity),
            app_refill_per_minute: Some(limits.app_refill_per_minute),
            vehicle_capacity: Some(limits.vehicle_capacity),
            vehicle_refill_seconds: Some(limits.vehicle_refill_seconds),
            monthly_vehicle_requests: Some(limits.monthly_vehicle_requests),
        };
        scratch
            .change(change.clone())
            .map_err(|error| SnapshotError::new(path, error.to_string()))?;
        changes.push(change);
    }
    Ok(changes)
}
