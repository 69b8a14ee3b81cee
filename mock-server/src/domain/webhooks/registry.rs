//! The webhook registry: every app's webhooks (seeded from the fixtures), where each one points,
//! which vehicles it is subscribed to and under which grant, what it was last sent about each,
//! and its delivery log.
//!
//! The registry decides *what* to send ([`Registry::changes`], through the pure
//! [`super::diff::Diff`]) and keeps the log; sending is the sender's (outside the domain),
//! which logs each delivery here before its first attempt and each attempt as it ends.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use uuid::Uuid;

use super::diff::{Diff, Event, LastSent, Permits, Reading, Trigger};
use super::{PayloadVersion, WebhookSpec};
use crate::domain::catalogue::Entry;
use crate::domain::fixtures::Fixtures;
use crate::domain::permissions::Permission;
use crate::domain::vehicle::{Capability, VehicleState};
use crate::domain::world::Access;

/// How many deliveries each webhook's log keeps (oldest dropped first).
pub(crate) const LOG_LENGTH: usize = 200;

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

/// Where and how a webhook is sent to, and the key its deliveries are signed with.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub version: PayloadVersion,
    pub callback_url: String,
    /// The owning app's management token: the signing key.
    pub amt: String,
}

/// What to send one webhook about one vehicle now.
#[derive(Debug, Clone)]
pub struct Changes {
    pub name: String,
    pub version: PayloadVersion,
    pub diff: Diff,
    pub events: Vec<Event>,
}

/// One subscribed vehicle: what its grant lets events carry, and what was last sent about it.
#[derive(Debug, Clone)]
struct Subscription {
    scopes: Arc<[Permission]>,
    forced_error: Option<&'static Entry>,
    sent: LastSent,
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

/// A webhook as the fixtures declare it: its app, the app's AMT, its spec.
#[derive(Debug)]
struct Seed {
    app: String,
    amt: String,
    spec: WebhookSpec,
}

#[derive(Debug)]
struct Inner {
    hooks: Mutex<HashMap<Uuid, Hook>>,
    /// The fixtures' webhooks, for [`Registry::reset`].
    seed: Vec<Seed>,
    /// The webhook whose log just changed (a delivery logged, an attempt, a settlement), for the
    /// dashboard. Bounded: a listener that falls behind skips, and refetches.
    logged: tokio::sync::broadcast::Sender<Uuid>,
}

/// The handle. Clones share one registry.
#[derive(Debug, Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

impl Registry {
    /// The fixtures' webhooks, none subscribed yet.
    pub fn new(fixtures: &Fixtures) -> Self {
        let seed = fixtures
            .apps
            .iter()
            .flat_map(|app| {
                app.webhooks.iter().map(|spec| Seed {
                    app: app.client_id.clone(),
                    amt: app.amt.clone(),
                    spec: spec.clone(),
                })
            })
            .collect();
        let registry = Registry {
            inner: Arc::new(Inner {
                hooks: Mutex::new(HashMap::new()),
                seed,
                logged: tokio::sync::broadcast::channel(64).0,
            }),
        };
        registry.reset(None);
        registry
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Uuid, Hook>> {
        self.inner.hooks.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The id of each webhook whose log changes from now on.
    pub fn subscribe_logged(&self) -> tokio::sync::broadcast::Receiver<Uuid> {
        self.inner.logged.subscribe()
    }

    /// Every webhook's id, sorted.
    pub fn ids(&self) -> Vec<Uuid> {
        let mut ids: Vec<Uuid> = self.lock().keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// The webhook `id` if it is one of `app`'s.
    pub fn owned_by(&self, app: &str, id: &str) -> Option<Uuid> {
        let id = Uuid::try_parse(id.trim()).ok()?;
        self.lock().get(&id).filter(|hook| hook.app == app).map(|_| id)
    }

    /// Subscribes `vehicle` with the grant behind `access`, which decides what events may carry;
    /// re-subscribing starts over under the new grant. `false` for an unknown webhook.
    pub fn subscribe(&self, webhook: Uuid, vehicle: Uuid, access: &Access) -> bool {
        let mut hooks = self.lock();
        let Some(hook) = hooks.get_mut(&webhook) else {
            return false;
        };
        let subscription = Subscription {
            scopes: Arc::clone(&access.scopes),
            forced_error: access.forced_error,
            sent: LastSent::default(),
        };
        hook.subscriptions.insert(vehicle, subscription);
        true
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

    /// The webhooks `vehicle` is subscribed to.
    pub fn subscribed_to(&self, vehicle: Uuid) -> Vec<Uuid> {
        self.lock()
            .iter()
            .filter(|(_, hook)| hook.subscriptions.contains_key(&vehicle))
            .map(|(id, _)| *id)
            .collect()
    }

    /// Points the webhook at `url`; it is unverified until a VERIFY there succeeds. `false` for
    /// an unknown webhook.
    pub fn set_callback_url(&self, webhook: Uuid, url: &str) -> bool {
        let mut hooks = self.lock();
        let Some(hook) = hooks.get_mut(&webhook) else {
            return false;
        };
        url.clone_into(&mut hook.callback_url);
        hook.verified = None;
        true
    }

    /// Where the webhook sends, or `None` for an unknown webhook.
    pub fn target(&self, webhook: Uuid) -> Option<Target> {
        let hooks = self.lock();
        let hook = hooks.get(&webhook)?;
        Some(Target {
            name: hook.spec.name.clone(),
            version: hook.spec.version,
            callback_url: hook.callback_url.clone(),
            amt: hook.amt.clone(),
        })
    }

    /// What `webhook` should be sent about subscribed `vehicle`, which reads `state` with
    /// `capabilities` now; what is sent is remembered, so the next call sends only what changed
    /// from here. `None` if the webhook is unknown or the vehicle not subscribed to it.
    pub fn changes(
        &self,
        webhook: Uuid,
        vehicle: Uuid,
        state: &VehicleState,
        capabilities: &[Capability],
        trigger: Trigger,
    ) -> Option<Changes> {
        let mut hooks = self.lock();
        let hook = hooks.get_mut(&webhook)?;
        let subscription = hook.subscriptions.get_mut(&vehicle)?;
        let permits = Permits {
            scopes: &subscription.scopes,
            forced_error: subscription.forced_error,
        };
        let (diff, sent) = Diff::between(
            &subscription.sent,
            &hook.spec.signals,
            permits,
            Reading { state, capabilities },
        );
        subscription.sent = sent;
        let events = diff.events(hook.spec.version, trigger);
        Some(Changes {
            name: hook.spec.name.clone(),
            version: hook.spec.version,
            diff,
            events,
        })
    }

    /// Adds a delivery to the webhook's log (dropping the oldest beyond [`LOG_LENGTH`]) and
    /// answers where to send it and the signing key; `None` for an unknown webhook.
    pub fn log_delivery(&self, webhook: Uuid, delivery: Delivery) -> Option<(String, String)> {
        let mut hooks = self.lock();
        let hook = hooks.get_mut(&webhook)?;
        hook.deliveries.push_back(delivery);
        while hook.deliveries.len() > LOG_LENGTH {
            hook.deliveries.pop_front();
        }
        let _ = self.inner.logged.send(webhook);
        Some((hook.callback_url.clone(), hook.amt.clone()))
    }

    /// Adds an attempt to a logged delivery.
    pub fn record_attempt(&self, webhook: Uuid, delivery: Uuid, attempt: Attempt) {
        if let Some(entry) = self
            .lock()
            .get_mut(&webhook)
            .and_then(|hook| hook.deliveries.iter_mut().rev().find(|d| d.delivery_id == delivery))
        {
            entry.attempts.push(attempt);
            let _ = self.inner.logged.send(webhook);
        }
    }

    /// Settles a logged delivery; a VERIFY's outcome is the webhook's `verified`.
    pub fn finish(&self, webhook: Uuid, delivery: Uuid, state: DeliveryState, is_verify: bool) {
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
        let _ = self.inner.logged.send(webhook);
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
        for seed in &self.inner.seed {
            if app.is_none_or(|app| app == seed.app) {
                hooks.insert(
                    seed.spec.id,
                    Hook {
                        app: seed.app.clone(),
                        amt: seed.amt.clone(),
                        callback_url: seed.spec.callback_url.clone(),
                        spec: seed.spec.clone(),
                        verified: None,
                        subscriptions: HashMap::new(),
                        deliveries: VecDeque::new(),
                    },
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> (Registry, Uuid, String) {
        let fixtures = Fixtures::embedded().expect("the built-in fixtures load");
        let app = fixtures
            .apps
            .iter()
            .find(|app| !app.webhooks.is_empty())
            .expect("an app with a webhook");
        (Registry::new(&fixtures), app.webhooks[0].id, app.client_id.clone())
    }

    fn access(app: &str) -> Access {
        Access {
            app: Arc::from(app),
            user: Uuid::new_v4(),
            scopes: Arc::from(Permission::ALL),
            vehicles: Arc::from([]),
            forced_error: None,
        }
    }

    #[test]
    fn a_webhook_belongs_to_its_app_only() {
        let (registry, webhook, app) = registry();

        assert_eq!(registry.owned_by(&app, &webhook.to_string()), Some(webhook));
        assert_eq!(registry.owned_by("another-app", &webhook.to_string()), None);
        assert_eq!(registry.owned_by(&app, "not-a-uuid"), None);
    }

    #[test]
    fn only_a_subscribed_vehicle_has_changes_and_the_second_look_finds_none() {
        let (registry, webhook, app) = registry();
        let vehicle = Uuid::new_v4();
        let state = VehicleState::default();

        let before = registry.changes(webhook, vehicle, &state, &[], Trigger::SignalUpdated);
        registry.subscribe(webhook, vehicle, &access(&app));
        let first = registry.changes(webhook, vehicle, &state, &[], Trigger::FirstDelivery);
        let second = registry.changes(webhook, vehicle, &state, &[], Trigger::SignalUpdated);

        assert!(before.is_none());
        assert!(!first.expect("subscribed").events.is_empty());
        assert!(second.expect("subscribed").events.is_empty());
    }

    #[test]
    fn the_log_keeps_the_latest_deliveries_only() {
        let (registry, webhook, _) = registry();
        let delivery = |n: usize| Delivery {
            delivery_id: Uuid::new_v4(),
            event_type: "VERIFY",
            vehicle_id: None,
            callback_url: String::new(),
            created_at: n.to_string(),
            state: DeliveryState::Pending,
            body: String::new(),
            signature: String::new(),
            attempts: Vec::new(),
        };

        for n in 0..LOG_LENGTH + 5 {
            registry.log_delivery(webhook, delivery(n));
        }

        let log = registry.log(webhook).expect("a known webhook");
        assert_eq!(log.deliveries.len(), LOG_LENGTH);
        assert_eq!(log.deliveries[0].created_at, "5");
    }

    #[test]
    fn a_reset_restores_the_fixture_s_callback_url_and_forgets_subscriptions() {
        let (registry, webhook, app) = registry();
        let original = registry.target(webhook).expect("a known webhook").callback_url;
        registry.set_callback_url(webhook, "http://elsewhere.test/hook");
        registry.subscribe(webhook, Uuid::new_v4(), &access(&app));

        registry.reset(Some(&app));

        assert_eq!(registry.target(webhook).map(|t| t.callback_url), Some(original));
        assert!(
            registry
                .log(webhook)
                .is_some_and(|log| log.subscribed_vehicles.is_empty())
        );
    }
}
