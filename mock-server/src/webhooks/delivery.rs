//! [`Webhooks`]: the sender. It POSTs signed events in the background, with retries, and logs
//! every attempt in the [registry](crate::domain::webhooks::registry), which decides what to send.
//!
//! Delivery rules (docs/contract/webhooks.md#delivery): an attempt fails on a non-2xx status, on no
//! answer within the timeout (15 s), on a connection error (a certificate the client does not trust
//! included), and — for VERIFY — on a reply whose `challenge` is not `HMAC-SHA256(AMT, challenge)`.
//! A failed delivery is retried up to 3 times with exponential backoff (1 s, 2 s, 4 s by default),
//! then dropped. Nothing here is awaited by an API request: every delivery runs in its own task.
//!
//! Bounds, so a slow or hostile receiver costs little: at most
//! [`DeliverySettings::max_in_flight`] attempts are on the wire at once (the others wait for a
//! slot, before their timeout starts), and at most [`REPLY_BYTES`] of a reply are read (the rest
//! is never downloaded; the connection is dropped).
//!
//! Events on change: the sender listens to [`World::subscribe_changes`] (from the first
//! subscription on), reads each subscribed vehicle and sends what the registry's
//! [diff](crate::domain::webhooks::diff) says changed. A vehicle whose connection is gone
//! (disconnect, connection deletion) is unsubscribed.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use super::client::{self, CaCert, ClientError};
use super::payload::{self, Envelope, VehicleFacts};
use super::signing::{hash_challenge, hmac_hex};
use crate::domain::clock::{Clock, smartcar_timestamp};
use crate::domain::fixtures::Fixtures;
use crate::domain::webhooks::PayloadVersion;
use crate::domain::webhooks::diff::{Event, Trigger};
use crate::domain::webhooks::registry::{Attempt, Delivery, DeliveryState, Registry};
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
pub(crate) const DEFAULT_MAX_IN_FLIGHT: usize = 64;
/// How much of a receiver's reply is read: a VERIFY answer is under 100 bytes, and a receiver
/// that streams megabytes back must not make the mock download them.
pub(crate) const REPLY_BYTES: usize = 4096;
/// How much of a receiver's reply the log keeps.
const REPLY_CHARS: usize = 2000;

#[derive(Debug)]
struct Inner {
    registry: Registry,
    world: World,
    clock: Clock,
    /// Built once; every delivery shares its connection pool.
    client: reqwest::Client,
    settings: DeliverySettings,
    /// One permit per attempt on the wire ([`DeliverySettings::max_in_flight`]).
    slots: Semaphore,
    /// Attempts waiting for a permit.
    waiting: AtomicUsize,
    listening: AtomicBool,
}

/// The handle. Clones share one sender and one registry.
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
        let client = client::build(settings.ca_cert.as_ref())?;
        Ok(Webhooks {
            inner: Arc::new(Inner {
                registry: Registry::new(fixtures),
                world,
                clock,
                client,
                slots: Semaphore::new(settings.max_in_flight.clamp(1, Semaphore::MAX_PERMITS)),
                waiting: AtomicUsize::new(0),
                settings,
                listening: AtomicBool::new(false),
            }),
        })
    }

    /// The webhooks, their subscriptions and delivery logs.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
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

    /// Subscribes `vehicle` with the grant behind `access` (which decides what events may carry)
    /// and sends its first delivery. Re-subscribing sends it again, under the new grant.
    pub fn subscribe(&self, webhook: Uuid, vehicle: Uuid, access: &Access) {
        self.ensure_listening();
        self.inner.registry.subscribe(webhook, vehicle, access);
        self.deliver(webhook, vehicle, Trigger::FirstDelivery);
    }

    /// Subscribes `vehicle` again as a snapshot or state file had it, without a first delivery
    /// (it was sent when the subscription was made), and listens for its changes from now on.
    pub fn restore_subscription(&self, webhook: Uuid, vehicle: Uuid, access: &Access) {
        self.ensure_listening();
        self.inner.registry.subscribe(webhook, vehicle, access);
    }

    /// Sends a VERIFY challenge; the delivery id, or `None` for an unknown webhook.
    pub fn verify(&self, webhook: Uuid) -> Option<Uuid> {
        let target = self.inner.registry.target(webhook)?;
        let challenge = Uuid::new_v4().simple().to_string();
        let delivery_id = Uuid::new_v4();
        let body = match target.version {
            PayloadVersion::V4 => payload::verify_v4(&self.envelope(webhook, &target.name, delivery_id), &challenge),
            PayloadVersion::V2 => payload::verify_v2(webhook, &challenge),
        };
        self.send(Outgoing {
            webhook,
            delivery_id,
            event_type: "VERIFY",
            vehicle: None,
            body,
            expected_answer: Some(hash_challenge(&target.amt, &challenge)),
        });
        Some(delivery_id)
    }

    /// Points the webhook at `url` and verifies it there, as the Dashboard does when the callback
    /// URL changes. The VERIFY's delivery id, or `None` for an unknown webhook.
    pub fn set_callback_url(&self, webhook: Uuid, url: &str) -> Option<Uuid> {
        if !self.inner.registry.set_callback_url(webhook, url) {
            return None;
        }
        self.verify(webhook)
    }

    /// Sends every subscribed webhook what changed about `vehicle` (the listener calls this).
    pub fn announce(&self, vehicle: Uuid) {
        for webhook in self.inner.registry.subscribed_to(vehicle) {
            self.deliver(webhook, vehicle, Trigger::SignalUpdated);
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

    /// Reads `vehicle`, asks the registry what `webhook` should get about it now, and sends it.
    fn deliver(&self, webhook: Uuid, vehicle: Uuid, trigger: Trigger) {
        let read = self.inner.world.with_vehicle(vehicle, |v| {
            let facts = VehicleFacts {
                id: v.id,
                user: v.user,
                make: v.spec.make.clone(),
                model: v.spec.model.clone(),
                year: v.spec.year,
                vin: v.spec.vin.clone(),
                mode: v.mode,
                state: (*v.state).clone(),
            };
            (facts, v.spec.capabilities.clone(), v.updated_at)
        });
        let Some((facts, capabilities, updated_at)) = read else {
            return;
        };
        if !self.inner.world.is_connected(facts.user, vehicle) {
            // Disconnected (by the user, `DELETE /application`, or the management API): the
            // subscription ends with the connection.
            self.inner.registry.forget_vehicle(vehicle);
            return;
        }
        let Some(changes) = self
            .inner
            .registry
            .changes(webhook, vehicle, &facts.state, &capabilities, trigger)
        else {
            return;
        };
        let diff = &changes.diff;
        for event in changes.events {
            let delivery_id = Uuid::new_v4();
            let (event_type, body) = match event {
                Event::VehicleState => {
                    let envelope = self.envelope(webhook, &changes.name, delivery_id);
                    let body = payload::state_v4(&envelope, &facts, &diff.readable, trigger, &diff.changed);
                    ("VEHICLE_STATE", body)
                }
                Event::VehicleError => {
                    let envelope = self.envelope(webhook, &changes.name, delivery_id);
                    ("VEHICLE_ERROR", payload::error_v4(&envelope, &facts, &diff.reports))
                }
                Event::LegacyData => {
                    let signals: Vec<_> = diff.readable.iter().map(|(signal, _)| *signal).collect();
                    let data_age = smartcar_timestamp(updated_at);
                    let body = payload::data_v2(webhook, Uuid::new_v4(), &facts, &signals, &diff.errors, &data_age);
                    ("dynamic", body)
                }
            };
            self.send(Outgoing {
                webhook,
                delivery_id,
                event_type,
                vehicle: Some(vehicle),
                body,
                expected_answer: None,
            });
        }
    }

    /// Logs the delivery and runs its attempts in the background.
    fn send(&self, event: Outgoing) {
        let bytes = serde_json::to_vec(&event.body).unwrap_or_default();
        let registry = &self.inner.registry;
        let Some(target) = registry.target(event.webhook) else {
            return;
        };
        let delivery = Delivery {
            delivery_id: event.delivery_id,
            event_type: event.event_type,
            vehicle_id: event.vehicle,
            callback_url: target.callback_url,
            created_at: smartcar_timestamp(self.inner.clock.now()),
            state: DeliveryState::Pending,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            signature: hmac_hex(&target.amt, &bytes),
            attempts: Vec::new(),
        };
        let Some((url, amt)) = registry.log_delivery(event.webhook, delivery) else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            registry.finish(
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
            self.inner.registry.record_attempt(
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
                self.inner
                    .registry
                    .finish(event.webhook, event.delivery_id, DeliveryState::Delivered, is_verify);
                return;
            }
        }
        self.inner
            .registry
            .finish(event.webhook, event.delivery_id, DeliveryState::Failed, is_verify);
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
