//! `AppState`: what every handler can reach — the domain's handles (fixtures, world, clock, the
//! webhook registry behind its sender, test control's stores) and the Connect flow keys. Cheap to
//! clone: one `Arc`, because axum clones the state several times per request and each `Arc` clone
//! is an atomic shared between cores. Each handle is itself a cheap clone, so a narrower state
//! can be handed out per route.

use std::sync::Arc;

use crate::admin::Control;
use crate::connect::FlowKeys;
use crate::domain::clock::Clock;
use crate::domain::fixtures::Fixtures;
use crate::domain::world::World;
use crate::webhooks::client::ClientError;
use crate::webhooks::{DeliverySettings, Webhooks};

/// The seed (fixtures), the mutable world, the clock, and the keys that sign Connect flows.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// What [`AppState`] points to; its fields are reached through `Deref` (`state.world`).
pub struct Shared {
    pub fixtures: Arc<Fixtures>,
    pub world: World,
    pub clock: Clock,
    pub flow_keys: Arc<FlowKeys>,
    /// The sender; its [`Webhooks::registry`] holds the webhooks, subscriptions and logs.
    pub webhooks: Webhooks,
    /// Test control: faults, limits, the request journal (not part of Smartcar).
    pub(crate) control: Control,
}

/// Knobs that change how the platform behaves; defaults are the real platform's.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a used refresh token keeps working (1 minute; Smartcar's pages disagree:
    /// docs/contract/oauth.md#lifetimes).
    pub refresh_grace: time::Duration,
    /// Webhook delivery timeout, retries and backoff (15 s, 3, 1 s doubling).
    pub webhook_delivery: DeliverySettings,
    /// `GET /oauth/authorize` answers at once with a code (`--auto-approve`).
    pub auto_approve: bool,
    /// When set, the admin API needs this bearer token and is reachable from anywhere.
    pub admin_token: Option<String>,
    /// Smartcar's request limits start switched on (`--limits`).
    pub limits: bool,
    /// Records the request journal keeps per app; 0 turns it off.
    pub journal_size: usize,
    /// Users each app keeps; beyond it the least recently used is forgotten (`--max-users`).
    pub max_users: usize,
    /// How much faster than wall time simulator trips run (`--sim-speed`).
    pub sim_speed: crate::domain::simulator::simulation::Speed,
    /// Where the world keeps its changes (`--state`); `None`: memory only.
    pub store: Option<Arc<dyn crate::domain::store::StateStore>>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            refresh_grace: time::Duration::minutes(1),
            webhook_delivery: DeliverySettings::default(),
            auto_approve: false,
            admin_token: None,
            limits: false,
            journal_size: crate::domain::journal::DEFAULT_SIZE,
            max_users: crate::domain::world::DEFAULT_MAX_USERS,
            sim_speed: crate::domain::simulator::simulation::Speed::REAL_TIME,
            store: None,
        }
    }
}

impl AppState {
    pub fn new(fixtures: Fixtures) -> Self {
        Self::with_settings(fixtures, Settings::default())
    }

    /// For tests and embedders whose settings are known to be sound: panics where
    /// [`AppState::try_with_settings`] would fail (a webhook client that cannot be built). The
    /// binaries use `try_with_settings`.
    pub fn with_settings(fixtures: Fixtures, settings: Settings) -> Self {
        // `{:#}` prints the error with its causes.
        Self::try_with_settings(fixtures, settings).unwrap_or_else(|error| panic!("{:#}", anyhow::Error::from(error)))
    }

    /// Fails when the webhook delivery client cannot be built from `settings` (its TLS).
    pub fn try_with_settings(fixtures: Fixtures, settings: Settings) -> Result<Self, ClientError> {
        let clock = Clock::default();
        let mut world =
            World::new(clock.clone(), settings.refresh_grace, settings.max_users).with_sim_speed(settings.sim_speed);
        if let Some(store) = &settings.store {
            world = world.with_store(Arc::clone(store));
        }
        let webhooks = Webhooks::try_new(
            &fixtures,
            world.clone(),
            clock.clone(),
            settings.webhook_delivery.clone(),
        )?;
        Ok(AppState(Arc::new(Shared {
            fixtures: Arc::new(fixtures),
            world,
            clock,
            flow_keys: Arc::new(FlowKeys::generate()),
            webhooks,
            control: Control::new(&settings),
        })))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}
