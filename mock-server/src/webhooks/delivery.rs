//! [`Webhooks`]: the apps' webhooks, their subscriptions, and a delivery engine that POSTs signed
//! events in the background and keeps a log of every attempt.
//!
//! Delivery rules (test-mode.md A8): an attempt fails on a non-2xx status, on no answer within the
//! timeout (15 s), on a connection error (a certificate the client does not trust included), and
//! — for VERIFY — on a reply whose `challenge` is not `HMAC-SHA256(AMT, challenge)`. A failed
//! delivery is retried up to 3 times with exponential backoff (1 s, 2 s, 4 s by default), then
//! dropped. Nothing here is awaited by an API request: every delivery runs in its own task.
//!
//! Bounds, so a slow or hostile receiver costs little: at most
//! [`DeliverySettings::max_in_flight`] attempts are on the wire at once (the others wait for a
//! slot, before their timeout starts), and at most [`REPLY_BYTES`] of a reply are read (the rest
//! is never downloaded; the connection is dropped).
//!
//! Events on change: the handle listens to [`World::subscribe_changes`] (from the first
//! subscription on), re-reads each subscribed vehicle's signals and sends a `VEHICLE_STATE` when
//! one of the webhook's signals changed, and a `VEHICLE_ERROR` when an error appears or resolves.
//! An event carries only the signals the grant that subscribed the vehicle permits, and a vehicle
//! whose owner signed in with a `<TYPE>.<CODE>@smartcar.com` test login reports that error for
//! every signal, as its API reads fail with it. A vehicle whose connection is gone (disconnect,
//! connection deletion) is unsubscribed.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use super::client::{self, CaCert, ClientError};
use super::payload::{self, Envelope, ErrorReport, Trigger, VehicleFacts};
use super::signing::{hash_challenge, hmac_hex};
use crate::domain::catalogue::{self, Entry};
use crate::domain::clock::{Clock, smartcar_timestamp};
use crate::domain::fixtures::Fixtures;
use crate::domain::permissions::Permission;
use crate::domain::vehicle::Capability;
use crate::domain::webhooks::signals::{self, Signal};
use crate::domain::webhooks::{PayloadVersion, WebhookSpec};
use crate::domain::world::{Access, World};

/// How deliveries are attempted. The defaults are Smartcar's.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// An attempt with no complete answer after this long has failed.
    pub timeout: Duration,
    /// Attempts after the first.
    pub retries: u32,
    /// The wait before the first retry; each later retry waits twice as long as the one before.
    pub backoff: Duration,
    /// Attempts on the wire at once, across every webhook; more wait for a free slot.
    pub max_in_flight: usize,
    /// Extra certificates to trust for `https://` receivers (`--ca-cert`), beside the system's.
    pub ca_cert: Option<CaCert>,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            timeout: Duration::from_secs(15),
            retries: 3,
            backoff: Duration::from_secs(1),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            ca_cert: None,
        }
    }
}

/// Enough for every receiver a test suite or a workshop runs, with a socket and at most
/// [`REPLY_BYTES`] of reply each.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;
/// How many deliveries each webhook's log keeps (oldest dropped first).
pub const LOG_LENGTH: usize = 200;
/// How much of a receiver's reply is read: a VERIFY answer is under 100 bytes, and a receiver
/// that streams megabytes back must not make the mock download them.
pub const REPLY_BYTES: usize = 4096;
/// How much of a receiver's reply the log keeps.
const REPLY_CHARS: usize = 2000;

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    Pending,
    Delivered,
    Failed,
}

/// One POST to the receiver.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub attempt: u32,
    pub sent_at: String,
    /// The receiver's HTTP status, if it answered.
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    /// The receiver's reply (the first 2000 characters of its first 4 KiB), if it answered.
    pub response: Option<String>,
    pub ok: bool,
    /// Why the attempt failed, in plain words.
    pub error: Option<String>,
}

/// One event sent to one webhook, with every attempt.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub delivery_id: Uuid,
    pub event_type: &'static str,
    pub vehicle_id: Option<Uuid>,
    pub callback_url: String,
    pub created_at: String,
    pub state: DeliveryState,
    /// The exact bytes sent, as text.
    pub body: String,
    pub signature: String,
    pub attempts: Vec<Attempt>,
}

/// A webhook's delivery log, as `GET /v{ver}/webhooks/{id}/deliveries` returns it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookLog {
    pub webhook_id: Uuid,
    pub name: String,
    pub callback_url: String,
    pub version: PayloadVersion,
    /// The last VERIFY's outcome; `null` before any.
    pub verified: Option<bool>,
    pub subscribed_vehicles: Vec<Uuid>,
    /// Oldest first.
    pub deliveries: Vec<Delivery>,
}

/// One subscribed vehicle: what its grant lets events carry, and what was last sent about it, so
/// that only changes are sent.
#[derive(Debug, Clone)]
struct Subscription {
    /// The permissions of the grant whose access token subscribed the vehicle.
    scopes: Arc<[Permission]>,
    /// The error a `<TYPE>.<CODE>@smartcar.com` owner's vehicle fails every read with.
    forced_error: Option<&'static Entry>,
    signals: HashMap<&'static str, Value>,
    errors: Vec<ErrorReport>,
}

impl Subscription {
    fn new(access: &Access) -> Self {
        Subscription {
            scopes: access.scopes.clone(),
            forced_error: access.forced_error,
            signals: HashMap::new(),
            errors: Vec::new(),
        }
    }
}

#[derive(Debug)]
struct Hook {
    app: String,
    amt: String,
    spec: WebhookSpec,
    callback_url: String,
    verified: Option<bool>,
    subscriptions: HashMap<Uuid, Subscription>,
    deliveries: VecDeque<Delivery>,
}

#[derive(Debug)]
struct Inner {
    world: World,
    clock: Clock,
    /// Built once; every delivery shares its connection pool.
    client: reqwest::Client,
    settings: DeliverySettings,
    /// One permit per attempt on the wire ([`DeliverySettings::max_in_flight`]).
    slots: Semaphore,
    /// Attempts waiting for a permit.
    waiting: AtomicUsize,
    hooks: Mutex<HashMap<Uuid, Hook>>,
    /// The fixtures' webhooks, for [`Webhooks::reset`].
    seed: Vec<(String, String, WebhookSpec)>,
    listening: AtomicBool,
}

/// The handle. Clones share one registry.
#[derive(Debug, Clone)]
pub struct Webhooks {
    inner: Arc<Inner>,
}

/// An event about to be sent.
struct Outgoing {
    webhook: Uuid,
    delivery_id: Uuid,
    event_type: &'static str,
    vehicle: Option<Uuid>,
    body: Value,
    /// For VERIFY: the answer the receiver must give.
    expected_answer: Option<String>,
}

impl Webhooks {
    /// The fixtures' webhooks, delivering with `settings`. Fails when the delivery client cannot
    /// be built (its TLS settings), so a bad `--ca-cert` stops the mock at start-up instead of
    /// every delivery failing later.
    pub fn try_new(
        fixtures: &Fixtures,
        world: World,
        clock: Clock,
        settings: DeliverySettings,
    ) -> Result<Self, ClientError> {
        let seed: Vec<(String, String, WebhookSpec)> = fixtures
            .apps
            .iter()
            .flat_map(|app| {
                app.webhooks
                    .iter()
                    .map(|spec| (app.client_id.clone(), app.amt.clone(), spec.clone()))
            })
            .collect();
        let client = client::build(settings.ca_cert.as_ref())?;
        let webhooks = Webhooks {
            inner: Arc::new(Inner {
                world,
                clock,
                client,
                slots: Semaphore::new(settings.max_in_flight.clamp(1, Semaphore::MAX_PERMITS)),
                waiting: AtomicUsize::new(0),
                settings,
                hooks: Mutex::new(HashMap::new()),
                seed,
                listening: AtomicBool::new(false),
            }),
        };
        webhooks.reset(None);
        Ok(webhooks)
    }

    /// Delivery attempts on the wire now.
    pub fn in_flight(&self) -> usize {
        self.inner
            .settings
            .max_in_flight
            .clamp(1, Semaphore::MAX_PERMITS)
            .saturating_sub(self.inner.slots.available_permits())
    }

    /// Delivery attempts waiting for a free slot now.
    pub fn waiting(&self) -> usize {
        self.inner.waiting.load(Ordering::SeqCst)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Uuid, Hook>> {
        self.inner.hooks.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The webhook `id` if it is one of `app`'s.
    pub fn owned_by(&self, app: &str, id: &str) -> Option<Uuid> {
        let id = Uuid::try_parse(id.trim()).ok()?;
        self.lock().get(&id).filter(|hook| hook.app == app).map(|_| id)
    }

    /// The webhook ids of `app`.
    pub fn of_app(&self, app: &str) -> Vec<Uuid> {
        self.lock()
            .iter()
            .filter(|(_, hook)| hook.app == app)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Subscribes `vehicle` with the grant behind `access` (which decides what events may carry)
    /// and sends its first delivery. Re-subscribing sends it again, under the new grant.
    pub fn subscribe(&self, webhook: Uuid, vehicle: Uuid, access: &Access) {
        self.ensure_listening();
        if let Some(hook) = self.lock().get_mut(&webhook) {
            hook.subscriptions.insert(vehicle, Subscription::new(access));
        }
        let outgoing = self.changes(webhook, vehicle, Trigger::FirstDelivery);
        self.send_all(outgoing);
    }

    /// Stops events about `vehicle`; `false` if it was not subscribed.
    pub fn unsubscribe(&self, webhook: Uuid, vehicle: Uuid) -> bool {
        self.lock()
            .get_mut(&webhook)
            .is_some_and(|hook| hook.subscriptions.remove(&vehicle).is_some())
    }

    /// Unsubscribes `vehicle` from every webhook (its connection was deleted or disconnected).
    pub fn forget_vehicle(&self, vehicle: Uuid) {
        for hook in self.lock().values_mut() {
            hook.subscriptions.remove(&vehicle);
        }
    }

    /// Sends a VERIFY challenge; the delivery id, or `None` for an unknown webhook.
    pub fn verify(&self, webhook: Uuid) -> Option<Uuid> {
        let (name, version, amt) = {
            let hooks = self.lock();
            let hook = hooks.get(&webhook)?;
            (hook.spec.name.clone(), hook.spec.version, hook.amt.clone())
        };
        let challenge = Uuid::new_v4().simple().to_string();
        let delivery_id = Uuid::new_v4();
        let body = match version {
            PayloadVersion::V4 => payload::verify_v4(&self.envelope(webhook, &name, delivery_id), &challenge),
            PayloadVersion::V2 => payload::verify_v2(webhook, &challenge),
        };
        self.send(Outgoing {
            webhook,
            delivery_id,
            event_type: "VERIFY",
            vehicle: None,
            body,
            expected_answer: Some(hash_challenge(&amt, &challenge)),
        });
        Some(delivery_id)
    }

    /// Points the webhook at `url` and verifies it there, as the Dashboard does when the callback
    /// URL changes. The VERIFY's delivery id, or `None` for an unknown webhook.
    pub fn set_callback_url(&self, webhook: Uuid, url: &str) -> Option<Uuid> {
        {
            let mut hooks = self.lock();
            let hook = hooks.get_mut(&webhook)?;
            url.clone_into(&mut hook.callback_url);
            hook.verified = None;
        }
        self.verify(webhook)
    }

    /// Sends every subscribed webhook what changed about `vehicle` (the listener calls this).
    pub fn announce(&self, vehicle: Uuid) {
        let webhooks: Vec<Uuid> = self
            .lock()
            .iter()
            .filter(|(_, hook)| hook.subscriptions.contains_key(&vehicle))
            .map(|(id, _)| *id)
            .collect();
        for webhook in webhooks {
            let outgoing = self.changes(webhook, vehicle, Trigger::SignalUpdated);
            self.send_all(outgoing);
        }
    }

    /// Sends `vehicle`'s full state to `webhook` now, changed or not (test control).
    pub fn deliver_state(&self, webhook: Uuid, vehicle: Uuid) -> Option<Uuid> {
        if let Some(sent) = self
            .lock()
            .get_mut(&webhook)
            .and_then(|hook| hook.subscriptions.get_mut(&vehicle))
        {
            sent.signals.clear();
        }
        let outgoing = self.changes(webhook, vehicle, Trigger::SignalUpdated);
        let first = outgoing.first().map(|o| o.delivery_id);
        self.send_all(outgoing);
        first
    }

    /// The webhook's log, or `None` for an unknown webhook.
    pub fn log(&self, webhook: Uuid) -> Option<WebhookLog> {
        let hooks = self.lock();
        let hook = hooks.get(&webhook)?;
        let mut subscribed: Vec<Uuid> = hook.subscriptions.keys().copied().collect();
        subscribed.sort_unstable();
        Some(WebhookLog {
            webhook_id: webhook,
            name: hook.spec.name.clone(),
            callback_url: hook.callback_url.clone(),
            version: hook.spec.version,
            verified: hook.verified,
            subscribed_vehicles: subscribed,
            deliveries: hook.deliveries.iter().cloned().collect(),
        })
    }

    /// Forgets subscriptions and logs and restores the fixtures' callback URLs, for one app
    /// (`Some`) or every app (`None`). Deliveries in flight finish but are not logged.
    pub fn reset(&self, app: Option<&str>) {
        let mut hooks = self.lock();
        hooks.retain(|_, hook| app.is_some_and(|app| hook.app != app));
        for (owner, amt, spec) in &self.inner.seed {
            if app.is_none_or(|app| app == owner) {
                hooks.insert(
                    spec.id,
                    Hook {
                        app: owner.clone(),
                        amt: amt.clone(),
                        callback_url: spec.callback_url.clone(),
                        spec: spec.clone(),
                        verified: None,
                        subscriptions: HashMap::new(),
                        deliveries: VecDeque::new(),
                    },
                );
            }
        }
    }

    /// Starts listening to the world's changes (once, and only inside a Tokio runtime).
    fn ensure_listening(&self) {
        if self.inner.listening.swap(true, Ordering::SeqCst) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.inner.listening.store(false, Ordering::SeqCst);
            return;
        };
        let mut changes = self.inner.world.subscribe_changes();
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        runtime.spawn(async move {
            loop {
                match changes.recv().await {
                    Ok(change) => {
                        let Some(inner) = weak.upgrade() else { break };
                        Webhooks { inner }.announce(change.vehicle);
                    }
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => break,
                }
            }
        });
    }

    fn envelope<'a>(&self, webhook: Uuid, name: &'a str, delivery_id: Uuid) -> Envelope<'a> {
        Envelope {
            webhook_id: webhook,
            webhook_name: name,
            event_id: Uuid::new_v4(),
            delivery_id,
            delivered_at: self.inner.clock.now(),
        }
    }

    /// The events `webhook` should get about `vehicle` now, updating what was last sent.
    fn changes(&self, webhook: Uuid, vehicle: Uuid, trigger: Trigger) -> Vec<Outgoing> {
        let Some((facts, capabilities, updated_at)) = self.inner.world.with_vehicle(vehicle, |v| {
            (
                VehicleFacts {
                    id: v.id,
                    user: v.user,
                    make: v.spec.make.clone(),
                    model: v.spec.model.clone(),
                    year: v.spec.year,
                    vin: v.spec.vin.clone(),
                    mode: v.mode,
                    state: (*v.state).clone(),
                },
                v.spec.capabilities.clone(),
                v.updated_at,
            )
        }) else {
            return Vec::new();
        };
        if !self.inner.world.is_connected(facts.user, vehicle) {
            // Disconnected (by the user, `DELETE /application`, or the management API): the
            // subscription ends with the connection.
            self.forget_vehicle(vehicle);
            return Vec::new();
        }
        let mut hooks = self.lock();
        let Some(hook) = hooks.get_mut(&webhook) else {
            return Vec::new();
        };
        let Some(sent) = hook.subscriptions.get_mut(&vehicle) else {
            return Vec::new();
        };
        // A signal the grant does not permit is not mentioned at all, not even as an error.
        let wanted: Vec<&'static Signal> = hook
            .spec
            .signals
            .iter()
            .filter_map(|code| signals::find(code))
            .filter(|signal| sent.scopes.contains(&signal.permission))
            .collect();
        let (readable, errors) = evaluate(&wanted, &facts, &capabilities, sent.forced_error);
        let changed: Vec<&'static Signal> = readable
            .iter()
            .filter(|(signal, body)| sent.signals.get(signal.code) != Some(body))
            .map(|(signal, _)| *signal)
            .collect();
        let mut reports: Vec<ErrorReport> = errors.iter().filter(|e| !sent.errors.contains(e)).cloned().collect();
        reports.extend(
            sent.errors
                .iter()
                .filter(|old| !errors.iter().any(|e| e.entry == old.entry))
                .map(|old| ErrorReport {
                    resolved: true,
                    ..old.clone()
                }),
        );
        sent.signals = readable.iter().map(|(s, body)| (s.code, body.clone())).collect();
        sent.errors.clone_from(&errors);
        let first = trigger == Trigger::FirstDelivery;
        let name = hook.spec.name.clone();
        let version = hook.spec.version;
        drop(hooks);

        let mut outgoing = Vec::new();
        match version {
            PayloadVersion::V4 => {
                if first || !changed.is_empty() {
                    let delivery_id = Uuid::new_v4();
                    let envelope = self.envelope(webhook, &name, delivery_id);
                    outgoing.push(Outgoing {
                        webhook,
                        delivery_id,
                        event_type: "VEHICLE_STATE",
                        vehicle: Some(vehicle),
                        body: payload::state_v4(&envelope, &facts, &readable, trigger, &changed),
                        expected_answer: None,
                    });
                }
                if !reports.is_empty() {
                    let delivery_id = Uuid::new_v4();
                    let envelope = self.envelope(webhook, &name, delivery_id);
                    outgoing.push(Outgoing {
                        webhook,
                        delivery_id,
                        event_type: "VEHICLE_ERROR",
                        vehicle: Some(vehicle),
                        body: payload::error_v4(&envelope, &facts, &reports),
                        expected_answer: None,
                    });
                }
            }
            PayloadVersion::V2 => {
                if first || !changed.is_empty() || !reports.is_empty() {
                    let signals: Vec<&'static Signal> = readable.iter().map(|(s, _)| *s).collect();
                    outgoing.push(Outgoing {
                        webhook,
                        delivery_id: Uuid::new_v4(),
                        event_type: "dynamic",
                        vehicle: Some(vehicle),
                        body: payload::data_v2(
                            webhook,
                            Uuid::new_v4(),
                            &facts,
                            &signals,
                            &errors,
                            &smartcar_timestamp(updated_at),
                        ),
                        expected_answer: None,
                    });
                }
            }
        }
        outgoing
    }

    fn send_all(&self, outgoing: Vec<Outgoing>) {
        for event in outgoing {
            self.send(event);
        }
    }

    /// Logs the delivery and runs its attempts in the background.
    fn send(&self, event: Outgoing) {
        let bytes = serde_json::to_vec(&event.body).unwrap_or_default();
        let (url, amt) = {
            let mut hooks = self.lock();
            let Some(hook) = hooks.get_mut(&event.webhook) else {
                return;
            };
            let signature = hmac_hex(&hook.amt, &bytes);
            hook.deliveries.push_back(Delivery {
                delivery_id: event.delivery_id,
                event_type: event.event_type,
                vehicle_id: event.vehicle,
                callback_url: hook.callback_url.clone(),
                created_at: smartcar_timestamp(self.inner.clock.now()),
                state: DeliveryState::Pending,
                body: String::from_utf8_lossy(&bytes).into_owned(),
                signature,
                attempts: Vec::new(),
            });
            while hook.deliveries.len() > LOG_LENGTH {
                hook.deliveries.pop_front();
            }
            (hook.callback_url.clone(), hook.amt.clone())
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.finish(
                event.webhook,
                event.delivery_id,
                DeliveryState::Failed,
                event.expected_answer.is_some(),
            );
            return;
        };
        let this = self.clone();
        runtime.spawn(async move {
            this.run(event, url, amt, bytes).await;
        });
    }

    /// Waits for a slot on the wire; the permit frees it when dropped.
    async fn slot(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.inner.waiting.fetch_add(1, Ordering::SeqCst);
        // `acquire` fails only on a closed semaphore, and this one is never closed.
        let permit = self.inner.slots.acquire().await.ok();
        self.inner.waiting.fetch_sub(1, Ordering::SeqCst);
        permit
    }

    async fn run(self, event: Outgoing, url: String, amt: String, bytes: Vec<u8>) {
        let settings = self.inner.settings.clone();
        let signature = hmac_hex(&amt, &bytes);
        let is_verify = event.expected_answer.is_some();
        for attempt in 1..=settings.retries.saturating_add(1) {
            if attempt > 1 {
                let factor = 2u32.saturating_pow(attempt - 2);
                tokio::time::sleep(settings.backoff.saturating_mul(factor)).await;
            }
            let slot = self.slot().await;
            let sent_at = smartcar_timestamp(self.inner.clock.now());
            let started = Instant::now();
            let request = self
                .inner
                .client
                .post(&url)
                .header("content-type", "application/json")
                .header("sc-signature", &signature)
                .body(bytes.clone());
            let result = tokio::time::timeout(settings.timeout, async {
                let response = request.send().await?;
                let status = response.status();
                let reply = read_reply(response).await?;
                Ok::<_, reqwest::Error>((status, String::from_utf8_lossy(&reply).into_owned()))
            })
            .await;
            drop(slot);
            let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let (status_code, response, error) = match result {
                Err(_) => (
                    None,
                    None,
                    Some(format!("timeout: no answer within {:?}", settings.timeout)),
                ),
                Ok(Err(error)) => (None, None, Some(format!("could not deliver: {}", error_chain(&error)))),
                Ok(Ok((status, text))) => {
                    let error = if !status.is_success() {
                        Some(format!("status: the receiver answered {status}, not 2xx"))
                    } else {
                        event
                            .expected_answer
                            .as_deref()
                            .and_then(|expected| challenge_problem(&text, expected))
                    };
                    (
                        Some(status.as_u16()),
                        Some(text.chars().take(REPLY_CHARS).collect()),
                        error,
                    )
                }
            };
            let ok = error.is_none();
            self.record(
                event.webhook,
                event.delivery_id,
                Attempt {
                    attempt,
                    sent_at,
                    status_code,
                    latency_ms,
                    response,
                    ok,
                    error,
                },
            );
            if ok {
                self.finish(event.webhook, event.delivery_id, DeliveryState::Delivered, is_verify);
                return;
            }
        }
        self.finish(event.webhook, event.delivery_id, DeliveryState::Failed, is_verify);
    }

    fn record(&self, webhook: Uuid, delivery: Uuid, attempt: Attempt) {
        if let Some(entry) = self
            .lock()
            .get_mut(&webhook)
            .and_then(|hook| hook.deliveries.iter_mut().rev().find(|d| d.delivery_id == delivery))
        {
            entry.attempts.push(attempt);
        }
    }

    fn finish(&self, webhook: Uuid, delivery: Uuid, state: DeliveryState, is_verify: bool) {
        let mut hooks = self.lock();
        let Some(hook) = hooks.get_mut(&webhook) else {
            return;
        };
        if is_verify {
            hook.verified = Some(state == DeliveryState::Delivered);
        }
        if let Some(entry) = hook.deliveries.iter_mut().rev().find(|d| d.delivery_id == delivery) {
            entry.state = state;
        }
    }
}

/// At most [`REPLY_BYTES`] of the reply, read as it arrives; the rest is left unread.
async fn read_reply(mut response: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut reply = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = REPLY_BYTES.saturating_sub(reply.len());
        if chunk.len() >= room {
            reply.extend_from_slice(chunk.get(..room).unwrap_or_default());
            break;
        }
        reply.extend_from_slice(&chunk);
    }
    Ok(reply)
}

/// The signals this vehicle can report now, and the errors keeping the others back, checked in
/// the vehicle API's order: capability, then the owner's forced test-mode error, then sleep.
fn evaluate(
    wanted: &[&'static Signal],
    facts: &VehicleFacts,
    capabilities: &[Capability],
    forced_error: Option<&'static Entry>,
) -> (Vec<(&'static Signal, Value)>, Vec<ErrorReport>) {
    let (capable, incapable): (Vec<&'static Signal>, Vec<&'static Signal>) = wanted
        .iter()
        .partition(|signal| capabilities.contains(&signal.capability));
    let mut errors = Vec::new();
    if !incapable.is_empty() {
        errors.push(ErrorReport {
            entry: &catalogue::VEHICLE_NOT_CAPABLE,
            signals: incapable.iter().map(|s| s.code).collect(),
            resolved: false,
        });
    }
    let unreadable = match forced_error {
        Some(entry) => Some(entry),
        None if facts.state.asleep => Some(&catalogue::VEHICLE_STATE_ASLEEP),
        None => None,
    };
    if let Some(entry) = unreadable {
        if !capable.is_empty() {
            errors.push(ErrorReport {
                entry,
                signals: capable.iter().map(|s| s.code).collect(),
                resolved: false,
            });
        }
        return (Vec::new(), errors);
    }
    let readable = capable
        .into_iter()
        .filter_map(|signal| signal.body(&facts.state).map(|body| (signal, body)))
        .collect();
    (readable, errors)
}

/// Why a VERIFY reply is not the right answer, or `None` if it is.
fn challenge_problem(reply: &str, expected: &str) -> Option<String> {
    let parsed: Option<Value> = serde_json::from_str(reply).ok();
    match parsed.as_ref().and_then(|v| v.get("challenge")).and_then(Value::as_str) {
        Some(answer) if answer.eq_ignore_ascii_case(expected) => None,
        Some(answer) => Some(format!(
            "wrong challenge answer: got {answer:?}, expected HMAC-SHA256(AMT, challenge) = {expected:?}"
        )),
        None => Some(format!(
            "wrong challenge answer: the reply is not JSON with a \"challenge\" string (expected {{\"challenge\":{expected:?}}})"
        )),
    }
}

/// An error with its causes: `error sending request: … : Connection refused`.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
