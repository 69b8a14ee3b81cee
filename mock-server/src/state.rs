//! `AppState`: what every handler can reach. Cheap to clone (a few `Arc`s).

use std::sync::Arc;

use crate::clock::Clock;
use crate::connect::FlowKeys;
use crate::fixtures::Fixtures;
use crate::webhooks::{DeliverySettings, Webhooks};
use crate::world::World;

/// The seed (fixtures), the mutable world, the clock, and the keys that sign Connect flows.
#[derive(Clone)]
pub struct AppState {
    pub fixtures: Arc<Fixtures>,
    pub world: World,
    pub clock: Clock,
    pub flow_keys: Arc<FlowKeys>,
    pub webhooks: Webhooks,
}

/// Knobs that change how the platform behaves; defaults are the real platform's.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a used refresh token keeps working (docs say 1 minute; a newer page says 10).
    pub refresh_grace: time::Duration,
    /// Webhook delivery timeout, retries and backoff (15 s, 3, 1 s doubling).
    pub webhook_delivery: DeliverySettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            refresh_grace: time::Duration::minutes(1),
            webhook_delivery: DeliverySettings::default(),
        }
    }
}

impl AppState {
    pub fn new(fixtures: Fixtures) -> Self {
        Self::with_settings(fixtures, Settings::default())
    }

    pub fn with_settings(fixtures: Fixtures, settings: Settings) -> Self {
        let clock = Clock::default();
        let world = World::new(clock.clone(), settings.refresh_grace);
        let webhooks = Webhooks::new(
            &fixtures,
            world.clone(),
            clock.clone(),
            settings.webhook_delivery.clone(),
        );
        AppState {
            fixtures: Arc::new(fixtures),
            world,
            clock,
            flow_keys: Arc::new(FlowKeys::generate()),
            webhooks,
        }
    }
}
