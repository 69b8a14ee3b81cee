//! `AppState`: what every handler can reach. Cheap to clone (a few `Arc`s).

use std::sync::Arc;

use crate::admin::Control;
use crate::clock::Clock;
use crate::connect::FlowKeys;
use crate::fixtures::Fixtures;
use crate::world::World;

/// The seed (fixtures), the mutable world, the clock, and the keys that sign Connect flows.
#[derive(Clone)]
pub struct AppState {
    pub fixtures: Arc<Fixtures>,
    pub world: World,
    pub clock: Clock,
    pub flow_keys: Arc<FlowKeys>,
    /// Test control: faults, limits, the request journal (not part of Smartcar).
    pub control: Control,
}

/// Knobs that change how the platform behaves; defaults are the real platform's.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a used refresh token keeps working (docs say 1 minute; a newer page says 10).
    pub refresh_grace: time::Duration,
    /// `GET /oauth/authorize` answers at once with a code (`--auto-approve`).
    pub auto_approve: bool,
    /// When set, the admin API needs this bearer token and is reachable from anywhere.
    pub admin_token: Option<String>,
    /// Smartcar's request limits start switched on (`--limits`).
    pub limits: bool,
    /// Records the request journal keeps per app; 0 turns it off.
    pub journal_size: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            refresh_grace: time::Duration::minutes(1),
            auto_approve: false,
            admin_token: None,
            limits: false,
            journal_size: crate::admin::journal::DEFAULT_SIZE,
        }
    }
}

impl AppState {
    pub fn new(fixtures: Fixtures) -> Self {
        Self::with_settings(fixtures, Settings::default())
    }

    pub fn with_settings(fixtures: Fixtures, settings: Settings) -> Self {
        let clock = Clock::default();
        AppState {
            fixtures: Arc::new(fixtures),
            world: World::new(clock.clone(), settings.refresh_grace),
            clock,
            flow_keys: Arc::new(FlowKeys::generate()),
            control: Control::new(&settings),
        }
    }
}
