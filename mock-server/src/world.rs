//! The mutable world: users, their vehicles and those vehicles' state, grants, codes and tokens.
//!
//! [`World`] is a cloneable handle whose methods are the platform's verbs (`sign_in`,
//! `issue_code`, `redeem_code`, `refresh`, `authorize`, `with_vehicle`); callers never see the
//! lock. It is a `std::sync::Mutex` because nothing awaits while holding it and every critical
//! section is a few map operations (mini-redis's reasoning).
//!
//! Everything is keyed by, or carries, the app's client id, so apps never see each other's users,
//! vehicles or tokens, and [`World::reset`] can clear one app without touching another.
//! Ids and tokens are UUIDs (smartcar-api.md §9.1), kept as [`Uuid`] so a map key is 16 bytes.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use time::{Duration, OffsetDateTime};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::clock::Clock;
use crate::fixtures::{VehicleSpec, VehicleState};
use crate::permissions::Permission;

/// Authorization codes live 10 minutes (test-mode.md A5).
pub const CODE_LIFETIME: Duration = Duration::minutes(10);
/// Access tokens live 2 hours; `expires_in` is 7200.
pub const ACCESS_LIFETIME: Duration = Duration::seconds(7200);
/// Refresh tokens live 60 days.
pub const REFRESH_LIFETIME: Duration = Duration::days(60);

/// Connect's `mode`: which credentials sign in and how strictly vehicles behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Test,
    Simulated,
    Live,
}

impl Mode {
    pub fn parse(text: &str) -> Option<Mode> {
        match text {
            "test" => Some(Mode::Test),
            "simulated" => Some(Mode::Simulated),
            "live" => Some(Mode::Live),
            _ => None,
        }
    }
}

/// A vehicle owner, created on first sign-in to an app.
#[derive(Debug, Clone)]
pub struct User {
    pub id: Uuid,
    pub app: String,
    pub mode: Mode,
    pub login: String,
    /// Set by a `<TYPE>.<CODE>@smartcar.com` test login: every non-static request fails with it.
    pub forced_error: Option<&'static crate::catalogue::Entry>,
}

/// One connected vehicle: its fixture identity plus its own copy of the state.
#[derive(Debug, Clone)]
pub struct Vehicle {
    pub id: Uuid,
    pub app: String,
    pub user: Uuid,
    pub mode: Mode,
    pub spec: Arc<VehicleSpec>,
    /// Shared with the fixture until the first change (`Arc::make_mut`), so a new user's vehicle
    /// costs a pointer, not a copy of every value.
    pub state: Arc<VehicleState>,
    /// When the state last changed: `sc-data-age`.
    pub updated_at: OffsetDateTime,
}

/// What a user approved on Connect: these permissions, for these vehicles, for this app.
#[derive(Debug, Clone)]
pub struct Grant {
    pub app: String,
    pub user: Uuid,
    pub scopes: Vec<Permission>,
    pub vehicles: Vec<Uuid>,
    pub created_at: OffsetDateTime,
}

/// A (user, vehicle) pair connected to an app, since `connected_at` (the first Allow).
#[derive(Debug, Clone)]
pub struct Connection {
    pub app: String,
    pub user: Uuid,
    pub vehicle: Uuid,
    pub connected_at: OffsetDateTime,
}

#[derive(Debug)]
struct Code {
    app: String,
    redirect_uri: String,
    grant: Uuid,
    issued_at: OffsetDateTime,
    redeemed_at: Option<OffsetDateTime>,
}

#[derive(Debug)]
struct AccessToken {
    grant: Uuid,
    expires_at: OffsetDateTime,
}

#[derive(Debug)]
struct RefreshToken {
    app: String,
    grant: Uuid,
    expires_at: OffsetDateTime,
    used_at: Option<OffsetDateTime>,
}

/// Tokens as the token endpoint returns them.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: Uuid,
    pub refresh_token: Uuid,
    pub expires_in: i64,
    pub user: Uuid,
    pub vehicles: Vec<Uuid>,
}

/// Why a code or refresh token was refused; the oauth module turns these into RFC 6749 errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantError {
    UnknownCode,
    CodeExpired { ago: Duration },
    CodeReused { redeemed_at: OffsetDateTime },
    CodeForAnotherClient,
    RedirectMismatch { expected: String },
    UnknownRefreshToken,
    RefreshTokenExpired { ago: Duration },
    RefreshTokenReused { used_at: OffsetDateTime },
    RefreshTokenForAnotherClient,
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessError {
    Unknown,
    Expired { ago: Duration },
}

/// What a valid access token lets its bearer do.
#[derive(Debug, Clone)]
pub struct Access {
    pub app: String,
    pub user: Uuid,
    pub scopes: Vec<Permission>,
    pub vehicles: Vec<Uuid>,
    pub forced_error: Option<&'static crate::catalogue::Entry>,
}

#[derive(Debug, Default)]
struct Inner {
    users: HashMap<Uuid, User>,
    /// `(app, mode, lower-case login)` → user: the same login is the same person.
    logins: HashMap<(String, Mode, String), Uuid>,
    vehicles: HashMap<Uuid, Vehicle>,
    /// user → their vehicles' ids, so signing in again does not scan every vehicle.
    garages: HashMap<Uuid, Vec<Uuid>>,
    grants: HashMap<Uuid, Grant>,
    /// `(user, vehicle)` → when it was first connected. Users belong to one app.
    connections: HashMap<(Uuid, Uuid), OffsetDateTime>,
    codes: HashMap<Uuid, Code>,
    access_tokens: HashMap<Uuid, AccessToken>,
    refresh_tokens: HashMap<Uuid, RefreshToken>,
    /// Token pairs in the order they were issued, so the oldest can be forgotten: the stores
    /// stay bounded however many grants a long-running CI server sees.
    issued: VecDeque<(Uuid, Uuid)>,
    /// Expired codes are swept when the store reaches this size (then twice what is left), so
    /// issuing a code costs O(1) amortised instead of a scan of every code.
    sweep_codes_at: usize,
}

/// At most this many (access, refresh) token pairs are remembered; issuing one more forgets the
/// oldest pair, which then answers as a token this server never issued. ~10 MB at the cap.
pub const MAX_TOKEN_PAIRS: usize = 50_000;

/// A vehicle's state changed (a command, test control). Webhook delivery listens for these.
#[derive(Debug, Clone)]
pub struct VehicleChanged {
    pub app: String,
    pub user: Uuid,
    pub vehicle: Uuid,
    pub at: OffsetDateTime,
}

/// The handle. Clones share one world.
#[derive(Debug, Clone)]
pub struct World {
    inner: Arc<Mutex<Inner>>,
    changes: broadcast::Sender<VehicleChanged>,
    clock: Clock,
    /// How long a used refresh token keeps working (test-mode.md A5: 1 minute in the docs).
    refresh_grace: Duration,
}

impl World {
    pub fn new(clock: Clock, refresh_grace: Duration) -> Self {
        let (changes, _) = broadcast::channel(1024);
        World {
            inner: Arc::default(),
            changes,
            clock,
            refresh_grace,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The user behind `login` on this app and mode, created on first sign-in.
    pub fn sign_in(
        &self,
        app: &str,
        mode: Mode,
        login: &str,
        forced_error: Option<&'static crate::catalogue::Entry>,
    ) -> Uuid {
        let mut inner = self.lock();
        let key = (app.to_owned(), mode, login.to_lowercase());
        if let Some(id) = inner.logins.get(&key) {
            return *id;
        }
        let id = Uuid::new_v4();
        inner.users.insert(
            id,
            User {
                id,
                app: app.to_owned(),
                mode,
                login: login.to_owned(),
                forced_error,
            },
        );
        inner.logins.insert(key, id);
        id
    }

    /// The user's vehicles built from `specs` (matched by VIN), created from the fixture on first
    /// use so each user has their own copy of the state.
    pub fn garage(&self, user: Uuid, specs: &[Arc<VehicleSpec>]) -> Vec<Vehicle> {
        let now = self.clock.now();
        let mut inner = self.lock();
        let Some(owner) = inner.users.get(&user).cloned() else {
            return Vec::new();
        };
        specs
            .iter()
            .map(|spec| {
                let existing = inner
                    .garages
                    .get(&user)
                    .into_iter()
                    .flatten()
                    .filter_map(|id| inner.vehicles.get(id))
                    .find(|v| v.spec.vin == spec.vin)
                    .cloned();
                existing.unwrap_or_else(|| {
                    let vehicle = Vehicle {
                        id: Uuid::new_v4(),
                        app: owner.app.clone(),
                        user,
                        mode: owner.mode,
                        spec: Arc::clone(spec),
                        state: Arc::clone(&spec.state),
                        updated_at: now,
                    };
                    inner.vehicles.insert(vehicle.id, vehicle.clone());
                    inner.garages.entry(user).or_default().push(vehicle.id);
                    vehicle
                })
            })
            .collect()
    }

    /// Records an approval and issues the code that redeems it.
    pub fn issue_code(
        &self,
        app: &str,
        redirect_uri: &str,
        user: Uuid,
        scopes: Vec<Permission>,
        vehicles: Vec<Uuid>,
    ) -> Uuid {
        let now = self.clock.now();
        let mut inner = self.lock();
        if inner.codes.len() >= inner.sweep_codes_at {
            inner.codes.retain(|_, code| now - code.issued_at < CODE_LIFETIME * 2);
            inner.sweep_codes_at = (inner.codes.len() * 2).max(1024);
        }
        for vehicle in &vehicles {
            inner.connections.entry((user, *vehicle)).or_insert(now);
        }
        let grant = Uuid::new_v4();
        inner.grants.insert(
            grant,
            Grant {
                app: app.to_owned(),
                user,
                scopes,
                vehicles,
                created_at: now,
            },
        );
        let code = Uuid::new_v4();
        inner.codes.insert(
            code,
            Code {
                app: app.to_owned(),
                redirect_uri: redirect_uri.to_owned(),
                grant,
                issued_at: now,
                redeemed_at: None,
            },
        );
        code
    }

    /// Exchanges a code for tokens. Codes are single-use and bound to the client and the
    /// redirect URI they were issued for (RFC 6749 §4.1.2, §4.1.3).
    pub fn redeem_code(&self, app: &str, code: &str, redirect_uri: Option<&str>) -> Result<Tokens, GrantError> {
        let now = self.clock.now();
        let mut inner = self.lock();
        let key = Uuid::try_parse(code).map_err(|_| GrantError::UnknownCode)?;
        let record = inner.codes.get_mut(&key).ok_or(GrantError::UnknownCode)?;
        if record.app != app {
            return Err(GrantError::CodeForAnotherClient);
        }
        if let Some(redeemed_at) = record.redeemed_at {
            return Err(GrantError::CodeReused { redeemed_at });
        }
        let age = now - record.issued_at;
        if age >= CODE_LIFETIME {
            return Err(GrantError::CodeExpired {
                ago: age - CODE_LIFETIME,
            });
        }
        if redirect_uri != Some(record.redirect_uri.as_str()) {
            return Err(GrantError::RedirectMismatch {
                expected: record.redirect_uri.clone(),
            });
        }
        record.redeemed_at = Some(now);
        let grant = record.grant;
        Ok(issue_tokens(&mut inner, grant, now))
    }

    /// Rotates a refresh token. The old one keeps working for the grace period; earlier access
    /// tokens stay valid (smartcar-api.md §3.2).
    pub fn refresh(&self, app: &str, token: &str) -> Result<Tokens, GrantError> {
        let now = self.clock.now();
        let grace = self.refresh_grace;
        let mut inner = self.lock();
        let key = Uuid::try_parse(token).map_err(|_| GrantError::UnknownRefreshToken)?;
        let record = inner
            .refresh_tokens
            .get_mut(&key)
            .ok_or(GrantError::UnknownRefreshToken)?;
        if record.app != app {
            return Err(GrantError::RefreshTokenForAnotherClient);
        }
        if now >= record.expires_at {
            return Err(GrantError::RefreshTokenExpired {
                ago: now - record.expires_at,
            });
        }
        match record.used_at {
            Some(used_at) if now - used_at >= grace => return Err(GrantError::RefreshTokenReused { used_at }),
            Some(_) => {}
            None => record.used_at = Some(now),
        }
        let grant = record.grant;
        Ok(issue_tokens(&mut inner, grant, now))
    }

    /// What a bearer token allows, or why it allows nothing.
    pub fn authorize(&self, token: &str) -> Result<Access, AccessError> {
        let now = self.clock.now();
        let key = Uuid::try_parse(token).map_err(|_| AccessError::Unknown)?;
        let inner = self.lock();
        let record = inner.access_tokens.get(&key).ok_or(AccessError::Unknown)?;
        if now >= record.expires_at {
            return Err(AccessError::Expired {
                ago: now - record.expires_at,
            });
        }
        let grant = inner.grants.get(&record.grant).ok_or(AccessError::Unknown)?;
        let forced_error = inner.users.get(&grant.user).and_then(|user| user.forced_error);
        Ok(Access {
            app: grant.app.clone(),
            user: grant.user,
            scopes: grant.scopes.clone(),
            vehicles: grant.vehicles.clone(),
            forced_error,
        })
    }

    /// Runs `f` on a vehicle under the lock; `None` if there is no such vehicle. For reads:
    /// changes made here are not announced (use [`World::update_vehicle`]).
    pub fn with_vehicle<R>(&self, id: Uuid, f: impl FnOnce(&mut Vehicle) -> R) -> Option<R> {
        self.lock().vehicles.get_mut(&id).map(f)
    }

    /// Runs `f` on a vehicle under the lock; if it returns `Ok`, the state counts as changed:
    /// `updated_at` (and so `sc-data-age`) moves to now and subscribers hear of it.
    pub fn update_vehicle<T, E>(&self, id: Uuid, f: impl FnOnce(&mut Vehicle) -> Result<T, E>) -> Option<Result<T, E>> {
        let now = self.clock.now();
        let (result, change) = {
            let mut inner = self.lock();
            let vehicle = inner.vehicles.get_mut(&id)?;
            let result = f(vehicle);
            if result.is_ok() {
                vehicle.updated_at = now;
            }
            let change = VehicleChanged {
                app: vehicle.app.clone(),
                user: vehicle.user,
                vehicle: id,
                at: now,
            };
            (result, change)
        };
        if result.is_ok() {
            // No receiver (no webhooks) is fine.
            let _ = self.changes.send(change);
        }
        Some(result)
    }

    /// Every state change from now on.
    pub fn subscribe_changes(&self) -> broadcast::Receiver<VehicleChanged> {
        self.changes.subscribe()
    }

    /// The app's connections, newest first.
    pub fn connections(&self, app: &str) -> Vec<Connection> {
        let inner = self.lock();
        let mut connections: Vec<Connection> = inner
            .connections
            .iter()
            .filter_map(|((user, vehicle), connected_at)| {
                let owner = inner.users.get(user)?;
                (owner.app == app).then(|| Connection {
                    app: owner.app.clone(),
                    user: *user,
                    vehicle: *vehicle,
                    connected_at: *connected_at,
                })
            })
            .collect();
        connections.sort_by(|a, b| b.connected_at.cmp(&a.connected_at).then(a.vehicle.cmp(&b.vehicle)));
        connections
    }

    /// Whether `user` still has `vehicle` connected (not disconnected or deleted).
    pub fn is_connected(&self, user: Uuid, vehicle: Uuid) -> bool {
        self.lock().connections.contains_key(&(user, vehicle))
    }

    /// Revokes the app's access to `vehicle` for `user`: every token of theirs stops reaching it
    /// at once (disconnect, connection deletion). `false` if it was not connected.
    pub fn disconnect(&self, user: Uuid, vehicle: Uuid) -> bool {
        let mut inner = self.lock();
        let was_connected = inner.connections.remove(&(user, vehicle)).is_some();
        for grant in inner.grants.values_mut().filter(|grant| grant.user == user) {
            grant.vehicles.retain(|id| *id != vehicle);
        }
        was_connected
    }

    /// The app and user an access token was issued to, expired or not (who is calling, for the
    /// request journal and test control); `None` for a token this server never issued.
    pub fn token_owner(&self, token: &str) -> Option<(String, Uuid)> {
        let key = Uuid::try_parse(token).ok()?;
        let inner = self.lock();
        let grant = inner.grants.get(&inner.access_tokens.get(&key)?.grant)?;
        Some((grant.app.clone(), grant.user))
    }

    /// A copy of every vehicle of one app (`Some`) or of all apps, oldest first.
    pub fn vehicles(&self, app: Option<&str>) -> Vec<Vehicle> {
        let inner = self.lock();
        let mut vehicles: Vec<Vehicle> = inner
            .vehicles
            .values()
            .filter(|vehicle| app.is_none_or(|app| vehicle.app == app))
            .cloned()
            .collect();
        vehicles.sort_by(|a, b| a.updated_at.cmp(&b.updated_at).then(a.id.cmp(&b.id)));
        vehicles
    }

    /// Forgets everything about one app (`Some`) or every app (`None`). Fixtures stay.
    pub fn reset(&self, app: Option<&str>) {
        let mut inner = self.lock();
        let Some(app) = app else {
            *inner = Inner::default();
            return;
        };
        let grants: std::collections::HashSet<Uuid> = inner
            .grants
            .iter()
            .filter(|(_, g)| g.app == app)
            .map(|(id, _)| *id)
            .collect();
        let Inner { users, connections, .. } = &mut *inner;
        connections.retain(|(user, _), _| users.get(user).is_none_or(|user| user.app != app));
        inner.users.retain(|_, user| user.app != app);
        inner.logins.retain(|(owner, _, _), _| owner != app);
        inner.vehicles.retain(|_, vehicle| vehicle.app != app);
        let Inner { users, garages, .. } = &mut *inner;
        garages.retain(|user, _| users.contains_key(user));
        inner.grants.retain(|_, grant| grant.app != app);
        inner.codes.retain(|_, code| code.app != app);
        inner.refresh_tokens.retain(|_, token| token.app != app);
        inner.access_tokens.retain(|_, token| !grants.contains(&token.grant));
    }
}

fn issue_tokens(inner: &mut Inner, grant: Uuid, now: OffsetDateTime) -> Tokens {
    let access_token = Uuid::new_v4();
    let refresh_token = Uuid::new_v4();
    inner.access_tokens.insert(
        access_token,
        AccessToken {
            grant,
            expires_at: now + ACCESS_LIFETIME,
        },
    );
    let (app, user, vehicles) = inner
        .grants
        .get(&grant)
        .map(|g| (g.app.clone(), g.user, g.vehicles.clone()))
        .unwrap_or_default();
    inner.refresh_tokens.insert(
        refresh_token,
        RefreshToken {
            app,
            grant,
            expires_at: now + REFRESH_LIFETIME,
            used_at: None,
        },
    );
    inner.issued.push_back((access_token, refresh_token));
    while inner.issued.len() > MAX_TOKEN_PAIRS {
        if let Some((access, refresh)) = inner.issued.pop_front() {
            inner.access_tokens.remove(&access);
            inner.refresh_tokens.remove(&refresh);
        }
    }
    Tokens {
        access_token,
        refresh_token,
        expires_in: ACCESS_LIFETIME.whole_seconds(),
        user,
        vehicles,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world() -> World {
        World::new(Clock::default(), Duration::minutes(1))
    }

    fn first_tokens(world: &World) -> Tokens {
        let user = world.sign_in("demo-client", Mode::Test, "someone@example.com", None);
        let code = world.issue_code("demo-client", "https://example.com/auth", user, Vec::new(), Vec::new());
        world
            .redeem_code("demo-client", &code.to_string(), Some("https://example.com/auth"))
            .expect("a fresh code")
    }

    #[test]
    fn the_oldest_token_pair_is_forgotten_once_the_store_is_full() {
        let world = world();
        let first = first_tokens(&world);
        let mut latest = first.clone();
        for _ in 0..MAX_TOKEN_PAIRS {
            latest = world
                .refresh("demo-client", &latest.refresh_token.to_string())
                .expect("a fresh refresh token");
        }

        assert!(matches!(
            world.authorize(&first.access_token.to_string()),
            Err(AccessError::Unknown)
        ));
        assert!(world.authorize(&latest.access_token.to_string()).is_ok());
    }

    #[test]
    fn signing_in_again_finds_the_same_user() {
        let world = world();

        let once = world.sign_in("demo-client", Mode::Test, "Driver@Example.com", None);
        let again = world.sign_in("demo-client", Mode::Test, "driver@example.com", None);

        assert_eq!(once, again);
    }
}
