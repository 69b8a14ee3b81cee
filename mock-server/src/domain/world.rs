//! The mutable world: users, their vehicles and those vehicles' state, grants, codes and tokens.
//!
//! [`World`] is a cloneable handle whose methods are the platform's verbs (`sign_in`,
//! `issue_code`, `redeem_code`, `refresh`, `authorize`, `with_vehicle`); callers never see the
//! lock. It is a `std::sync::Mutex` because nothing awaits while holding it and every critical
//! section is a few map operations (mini-redis's reasoning).
//!
//! Everything is keyed by, or carries, the app's client id, so apps never see each other's users,
//! vehicles or tokens, and [`World::reset`] can clear one app without touching another. Ids and
//! tokens are UUIDs (docs/contract/api.md#vehicle-ids), kept as [`Uuid`] so a map key is 16 bytes.
//!
//! The world is bounded, so a mock left running for months has a memory ceiling whatever the
//! traffic:
//! - each app keeps at most `max_users` users (`--max-users`) and [`MAX_VEHICLES_PER_APP`]
//!   vehicles; signing in beyond either forgets the app's least recently used users (use =
//!   sign-in, Allow, a successful token exchange, refresh or API call) with their vehicles,
//!   connections, grants, codes and tokens;
//! - at most [`MAX_CODES`] codes and [`MAX_TOKEN_PAIRS`] token pairs are remembered, the oldest
//!   forgotten first;
//! - a grant lives only while its code is unredeemed or one of its tokens is remembered.
//!
//! Per app the users are an [`LruCache`] (the `lru` crate): a hash map threaded with a linked
//! list, so the touch on every API call is one hash lookup and a relink, and finding whom to
//! forget is O(1). `authorize` already looked the user up by id for its forced error; looking it
//! up in the app's cache instead does the touch for free.
//!
//! A token family is the grant: every access and refresh token issued from one code, through
//! every refresh. Reusing the code (RFC 6749 §4.1.2) or a rotated refresh token after its grace
//! period (RFC 9700 §4.14.2) revokes the whole family.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use lru::LruCache;
use smallvec::SmallVec;
use time::{Duration, OffsetDateTime};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::domain::clock::Clock;
use crate::domain::permissions::Permission;
use crate::domain::ring::{Keyed, Ring};
use crate::domain::simulator::running::Trips;
use crate::domain::simulator::simulation::{Moment, Speed};
use crate::domain::snapshot::{
    CodeSnapshot, GrantSnapshot, ResolvedApp, SnapshotError, TokenSnapshot, UserSnapshot, VehicleSnapshot, error_name,
};
use crate::domain::store::{StateStore, Ticket, Write};
use crate::domain::vehicle::{Vehicle, VehicleSpec};

/// Authorization codes live 10 minutes (docs/contract/oauth.md#lifetimes).
pub(crate) const CODE_LIFETIME: Duration = Duration::minutes(10);
/// Access tokens live 2 hours; `expires_in` is 7200.
pub(crate) const ACCESS_LIFETIME: Duration = Duration::seconds(7200);
/// Refresh tokens live 60 days.
pub(crate) const REFRESH_LIFETIME: Duration = Duration::days(60);
/// Redeemed and expired codes are remembered this long, so a reuse is told apart from a code
/// this server never issued (and revokes what the first use issued).
const CODE_MEMORY: Duration = Duration::minutes(20);

/// At most this many (access, refresh) token pairs are remembered; issuing one more forgets the
/// oldest pair, which then answers as a token this server never issued. ~5 MB at the cap
/// (a ring in issue order; see `ring`).
pub(crate) const MAX_TOKEN_PAIRS: usize = 50_000;
/// At most this many codes are remembered; issuing one more forgets the oldest (~5 MB at the
/// cap, in a ring like the pairs'; ~12 MB with their grants). Codes live 10 minutes, so this is 80
/// Allows a second for 10 minutes.
pub(crate) const MAX_CODES: usize = 50_000;
/// Users each app keeps by default (`--max-users`): under 1 KiB each with a vehicle, a grant, a
/// code and a token pair.
pub const DEFAULT_MAX_USERS: usize = 100_000;
/// Vehicles each app keeps (~300 bytes each with its fixture copy). Only `<n>-vehicles` logins
/// come near it: 999 spellings per mode could otherwise hold half a million vehicles per app.
pub(crate) const MAX_VEHICLES_PER_APP: usize = 250_000;
/// Distinct strings and scope lists kept shared; past it, a record gets its own copy (correct,
/// only larger), so odd input cannot grow the table.
const MAX_SHARED: usize = 4096;

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

/// A (user, vehicle) pair connected to an app, since `connected_at` (the first Allow).
#[derive(Debug, Clone)]
pub struct Connection {
    pub app: String,
    pub user: Uuid,
    pub vehicle: Uuid,
    pub connected_at: OffsetDateTime,
}

/// A few ids, the first kept inline: nearly every user has one vehicle and one grant, and a
/// heap list would cost them 64 bytes each (a `Vec` of 16-byte items starts with room for four).
type Ids = SmallVec<[Uuid; 1]>;

/// A vehicle owner, created on first sign-in to an app, and what hangs off them, so forgetting
/// them touches only their own records. Kept in their app's cache under their id.
#[derive(Debug)]
struct UserRecord {
    login: Arc<str>,
    mode: Mode,
    /// Set by a `<TYPE>.<CODE>@smartcar.com` test login: every non-static request fails with it.
    forced_error: Option<&'static crate::domain::catalogue::Entry>,
    /// Their vehicles' ids, so signing in again does not scan every vehicle.
    garage: Ids,
    /// Their grants that are still alive (a handful: a list is smaller than a set).
    grants: Ids,
    /// The vehicles of their latest grant, shared with the next grant of the same vehicles (a
    /// `999-vehicles` user re-authorizing costs a pointer per grant, not 16 KB).
    last_selection: Arc<[Uuid]>,
}

/// What a user approved on Connect: these permissions, for these vehicles, for this app. Alive
/// while its code is unredeemed or a token of its family is remembered. The app, scopes and
/// vehicles are shared slices, so authorizing a request hands out pointers and copies nothing.
#[derive(Debug)]
struct Grant {
    app: Arc<str>,
    user: Uuid,
    scopes: Arc<[Permission]>,
    vehicles: Arc<[Uuid]>,
    /// The code it was approved with, redeemed or not (a saved grant carries it).
    code: Option<Uuid>,
    /// Its code is still to be redeemed (and not forgotten).
    pending: bool,
    /// How many of `pairs` are still remembered.
    live_pairs: u32,
    /// The family: every (access, refresh) pair issued from it; some may be forgotten already.
    pairs: Vec<(Uuid, Uuid)>,
}

impl Keyed for Code {
    fn keys(&self) -> impl Iterator<Item = Uuid> {
        std::iter::once(self.id)
    }
}

/// An (access, refresh) pair and what is known of it.
#[derive(Debug, Clone, PartialEq)]
struct TokenPair {
    grant: Uuid,
    access: Uuid,
    refresh: Uuid,
    access_expires_at: OffsetDateTime,
    refresh_expires_at: OffsetDateTime,
    /// When the refresh token was first used (it keeps working for the grace period).
    refresh_used_at: Option<OffsetDateTime>,
}

impl Keyed for TokenPair {
    fn keys(&self) -> impl Iterator<Item = Uuid> {
        [self.access, self.refresh].into_iter()
    }
}

impl Ring<TokenPair, MAX_TOKEN_PAIRS> {
    /// The pair whose access token is `token`.
    fn by_access(&self, token: &Uuid) -> Option<&TokenPair> {
        self.get(token).filter(|pair| pair.access == *token)
    }
}

impl Grant {
    /// Its code, until redeemed (or forgotten).
    fn unredeemed_code(&self) -> Option<Uuid> {
        self.code.filter(|_| self.pending)
    }

    fn is_spent(&self) -> bool {
        !self.pending && self.live_pairs == 0
    }
}

#[derive(Debug)]
struct Code {
    id: Uuid,
    app: Arc<str>,
    redirect_uri: Arc<str>,
    grant: Uuid,
    issued_at: OffsetDateTime,
    redeemed_at: Option<OffsetDateTime>,
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
    CodeExpired {
        ago: Duration,
    },
    /// The tokens issued from its first use are revoked.
    CodeReused {
        redeemed_at: OffsetDateTime,
    },
    CodeForAnotherClient,
    RedirectMismatch {
        expected: String,
    },
    UnknownRefreshToken,
    RefreshTokenExpired {
        ago: Duration,
    },
    /// Used again after its grace period: its whole token family is revoked.
    RefreshTokenReused {
        used_at: OffsetDateTime,
    },
    RefreshTokenForAnotherClient,
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessError {
    Unknown,
    Expired { ago: Duration },
}

/// Allow came after the user was forgotten to keep the app within `--max-users`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "this user was forgotten to keep the app within its {max_users} users (--max-users); \
     please start again from the app"
)]
pub struct UserForgotten {
    pub max_users: usize,
}

/// What a valid access token lets its bearer do. Cheap to clone (three `Arc`s shared with the
/// grant), so it can travel with a request.
#[derive(Debug, Clone)]
pub struct Access {
    pub app: Arc<str>,
    pub user: Uuid,
    pub scopes: Arc<[Permission]>,
    pub vehicles: Arc<[Uuid]>,
    pub forced_error: Option<&'static crate::domain::catalogue::Entry>,
}

#[derive(Debug, Default)]
struct Inner {
    /// app → its users, least recently used first to go.
    users: HashMap<Arc<str>, LruCache<Uuid, UserRecord>>,
    /// `(app, mode, lower-case login)` → user: the same login is the same person.
    logins: HashMap<(Arc<str>, Mode, Arc<str>), Uuid>,
    vehicles: HashMap<Uuid, Vehicle>,
    /// app → how many of `vehicles` are its.
    vehicle_counts: HashMap<Arc<str>, usize>,
    /// Strings many records repeat (app ids, redirect URIs) and scope lists many grants repeat,
    /// each kept once and shared: a record holds a pointer, not a copy.
    shared_names: HashSet<Arc<str>>,
    shared_scopes: HashSet<Arc<[Permission]>>,
    grants: HashMap<Uuid, Grant>,
    /// Codes in the order they were issued, the oldest forgotten first.
    codes: Ring<Code, MAX_CODES>,
    /// The remembered token pairs, in the order they were issued.
    tokens: Ring<TokenPair, MAX_TOKEN_PAIRS>,
    /// Pairs a snapshot's import pushed out of `tokens`, to be forgotten once it is in.
    evicted: Vec<TokenPair>,
    /// The simulator's trips, caught up whenever their vehicle is touched.
    trips: Trips,
    /// Moves whenever a vehicle is added or forgotten (kept across resets), so a watcher can tell
    /// the set of vehicles changed without walking it.
    census: u64,
    /// Users forgotten since the store last heard (always empty without a store).
    forgotten: Vec<(String, Uuid)>,
    /// Access tokens of pairs forgotten or revoked since the store last heard.
    forgotten_pairs: Vec<Uuid>,
}

/// A vehicle's state changed (a command, test control). Webhook delivery listens for these.
#[derive(Debug, Clone)]
pub struct VehicleChanged {
    pub app: Arc<str>,
    pub user: Uuid,
    pub vehicle: Uuid,
    pub at: OffsetDateTime,
}

/// The handle. Clones share one world.
#[derive(Debug, Clone)]
pub struct World {
    inner: Arc<Mutex<Inner>>,
    shared: Shared,
}

/// What every handle of one world carries beside the world itself.
#[derive(Debug, Clone)]
struct Shared {
    changes: broadcast::Sender<VehicleChanged>,
    clock: Clock,
    /// How long a used refresh token keeps working (1 minute: docs/contract/oauth.md#lifetimes).
    refresh_grace: Duration,
    /// Users each app keeps (`--max-users`); at least 1.
    max_users: usize,
    /// Vehicles each app keeps.
    max_vehicles: usize,
    /// How much faster than wall time trips run (`--sim-speed`).
    sim_speed: Speed,
    /// Where changes are kept beyond memory (`--state`); `None` keeps nothing and costs nothing.
    store: Option<Arc<dyn StateStore>>,
}

/// A handle that does not keep the world alive (the simulator's ticker holds one).
#[derive(Debug, Clone)]
pub struct WeakWorld {
    inner: std::sync::Weak<Mutex<Inner>>,
    shared: Shared,
}

impl World {
    pub fn new(clock: Clock, refresh_grace: Duration, max_users: usize) -> Self {
        let (changes, _) = broadcast::channel(1024);
        World {
            inner: Arc::default(),
            shared: Shared {
                changes,
                clock,
                refresh_grace,
                max_users: max_users.max(1),
                max_vehicles: MAX_VEHICLES_PER_APP,
                sim_speed: Speed::REAL_TIME,
                store: None,
            },
        }
    }

    /// The same world keeping every change in `store` before it is answered.
    pub fn with_store(mut self, store: Arc<dyn StateStore>) -> Self {
        self.shared.store = Some(store);
        self
    }

    /// Whether changes are kept beyond memory.
    pub fn has_store(&self) -> bool {
        self.shared.store.is_some()
    }

    /// Hands the store a batch of its own (the test-control settings); wait on the ticket before
    /// answering.
    pub fn store_write(&self, batch: Vec<Write>) -> Ticket {
        match &self.shared.store {
            Some(store) => store.write(batch),
            None => Ticket::done(),
        }
    }

    /// Queues, under the lock, the records of `users` of `app` as they stand and the users
    /// forgotten since the last call; the caller waits on the ticket once the lock is released.
    fn persist(&self, inner: &mut Inner, app: &str, users: &[Uuid], pairs: &[Uuid]) -> Ticket {
        let forgotten = std::mem::take(&mut inner.forgotten);
        let forgotten_pairs = std::mem::take(&mut inner.forgotten_pairs);
        let Some(store) = &self.shared.store else {
            return Ticket::done();
        };
        let mut batch: Vec<Write> = forgotten
            .into_iter()
            .map(|(app, id)| Write::User { app, id, doc: None })
            .collect();
        if !forgotten_pairs.is_empty() {
            batch.push(Write::ForgetTokens(forgotten_pairs));
        }
        batch.extend(pairs.iter().filter_map(|access| inner.token_write(*access)));
        for id in users {
            let doc = inner
                .users
                .get(app)
                .and_then(|users| users.peek(id))
                .map(|record| Box::new(inner.user_snapshot(*id, record, false)));
            batch.push(Write::User {
                app: app.to_owned(),
                id: *id,
                doc,
            });
        }
        store.write(batch)
    }

    /// The same world whose trips run `speed` times faster than wall time.
    pub fn with_sim_speed(mut self, speed: Speed) -> Self {
        self.shared.sim_speed = speed;
        self
    }

    pub fn sim_speed(&self) -> Speed {
        self.shared.sim_speed
    }

    pub fn clock(&self) -> &Clock {
        &self.shared.clock
    }

    /// Now on the virtual clock and on the wall, read once.
    pub fn moment(&self) -> Moment {
        let wall = OffsetDateTime::now_utc();
        Moment {
            virtual_time: wall.saturating_add(self.shared.clock.offset()),
            wall,
        }
    }

    /// A handle that lets the world go when every other handle is dropped.
    pub fn downgrade(&self) -> WeakWorld {
        WeakWorld {
            inner: Arc::downgrade(&self.inner),
            shared: self.shared.clone(),
        }
    }

    /// Runs `f` on the simulator's trips and every vehicle under the lock, at `now` (the
    /// simulator's entry point: start, stop, tick). Announce what changed afterwards.
    pub fn with_trips<R>(&self, f: impl FnOnce(&mut Trips, &mut HashMap<Uuid, Vehicle>, Moment) -> R) -> R {
        let now = self.moment();
        let mut inner = self.lock();
        let Inner { trips, vehicles, .. } = &mut *inner;
        f(trips, vehicles, now)
    }

    /// Tells subscribers (webhook delivery) that a vehicle changed.
    pub fn announce(&self, change: VehicleChanged) {
        // No receiver (no webhooks) is fine.
        let _ = self.shared.changes.send(change);
    }

    /// Users each app keeps before the least recently used is forgotten.
    pub fn max_users(&self) -> usize {
        self.shared.max_users
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The user behind `login` on this app and mode (created on first sign-in, forgetting the
    /// app's least recently used user beyond `max_users`) and their vehicles built from `specs`
    /// (matched by VIN, created from the fixture on first use so each user has their own copy of
    /// the state).
    pub fn sign_in(
        &self,
        app: &str,
        mode: Mode,
        login: &str,
        forced_error: Option<&'static crate::domain::catalogue::Entry>,
        specs: &[Arc<VehicleSpec>],
    ) -> (Uuid, Vec<Vehicle>) {
        let now = self.shared.clock.now();
        let mut inner = self.lock();
        let app_name = inner.shared_name(app);
        let lower = login.to_lowercase();
        let key = (Arc::clone(&app_name), mode, Arc::<str>::from(lower.as_str()));
        let known = inner.logins.get(&key).copied();
        let id = match known {
            Some(id) if inner.users.get_mut(app).is_some_and(|users| users.promote(&id)) => id,
            _ => {
                let id = Uuid::new_v4();
                let login = if lower == login {
                    Arc::clone(&key.2)
                } else {
                    Arc::from(login)
                };
                let record = UserRecord {
                    login,
                    mode,
                    forced_error,
                    garage: Ids::new(),
                    grants: Ids::new(),
                    last_selection: Arc::from([]),
                };
                inner.logins.insert(key, id);
                inner
                    .users
                    .entry(app_name)
                    .or_insert_with(LruCache::unbounded)
                    .put(id, record);
                id
            }
        };
        let vehicles = inner.garage(app, id, specs, now);
        inner.make_room(app, self.shared.max_users, self.shared.max_vehicles);
        let ticket = self.persist(&mut inner, app, &[id], &[]);
        drop(inner);
        ticket.wait();
        (id, vehicles)
    }

    /// Records an approval and issues the code that redeems it; refused if the user has been
    /// forgotten since signing in.
    pub fn issue_code(
        &self,
        app: &str,
        redirect_uri: &str,
        user: Uuid,
        scopes: &[Permission],
        vehicles: Vec<Uuid>,
    ) -> Result<Uuid, UserForgotten> {
        let now = self.shared.clock.now();
        let mut inner = self.lock();
        inner.forget_old_codes(now);
        let grant = Uuid::new_v4();
        let code = inner.codes.mint();
        let app_name = inner.shared_name(app);
        let redirect_uri = inner.shared_name(redirect_uri);
        let scopes = inner.shared_scopes(scopes);
        let Inner {
            users,
            vehicles: cars,
            grants,
            codes,
            ..
        } = &mut *inner;
        let record = users
            .get_mut(app)
            .and_then(|users| users.get_mut(&user))
            .ok_or(UserForgotten {
                max_users: self.shared.max_users,
            })?;
        for vehicle in &vehicles {
            if let Some(car) = cars.get_mut(vehicle).filter(|car| car.user == user) {
                car.connected_at.get_or_insert(now);
            }
        }
        if *record.last_selection != *vehicles {
            record.last_selection = Arc::from(vehicles);
        }
        record.grants.push(grant);
        grants.insert(
            grant,
            Grant {
                app: Arc::clone(&app_name),
                user,
                scopes,
                vehicles: Arc::clone(&record.last_selection),
                code: Some(code),
                pending: true,
                // Most grants issue one pair: room for exactly that.
                pairs: Vec::with_capacity(1),
                live_pairs: 0,
            },
        );
        // `forget_old_codes` made room: nothing is pushed out here.
        codes.push(Code {
            id: code,
            app: app_name,
            redirect_uri,
            grant,
            issued_at: now,
            redeemed_at: None,
        });
        let ticket = self.persist(&mut inner, app, &[user], &[]);
        drop(inner);
        ticket.wait();
        Ok(code)
    }

    /// Exchanges a code for tokens. Codes are single-use and bound to the client and the
    /// redirect URI they were issued for (RFC 6749 §4.1.2, §4.1.3); a second use revokes the
    /// tokens the first one issued.
    pub fn redeem_code(&self, app: &str, code: &str, redirect_uri: Option<&str>) -> Result<Tokens, GrantError> {
        let now = self.shared.clock.now();
        let mut inner = self.lock();
        let key = Uuid::try_parse(code).map_err(|_| GrantError::UnknownCode)?;
        let record = inner.codes.get_mut(&key).ok_or(GrantError::UnknownCode)?;
        if *record.app != *app {
            return Err(GrantError::CodeForAnotherClient);
        }
        if let Some(redeemed_at) = record.redeemed_at {
            let grant = record.grant;
            let owner = inner.grants.get(&grant).map(|grant| grant.user);
            inner.drop_grant(grant);
            let ticket = self.persist(&mut inner, app, &owner.into_iter().collect::<Vec<_>>(), &[]);
            drop(inner);
            ticket.wait();
            return Err(GrantError::CodeReused { redeemed_at });
        }
        let age = now - record.issued_at;
        if age >= CODE_LIFETIME {
            return Err(GrantError::CodeExpired {
                ago: age.saturating_sub(CODE_LIFETIME),
            });
        }
        if redirect_uri != Some(&*record.redirect_uri) {
            return Err(GrantError::RedirectMismatch {
                expected: record.redirect_uri.to_string(),
            });
        }
        record.redeemed_at = Some(now);
        let grant = record.grant;
        let Some(pending) = inner.grants.get_mut(&grant) else {
            return Err(GrantError::UnknownCode);
        };
        pending.pending = false;
        let tokens = inner.issue_tokens(grant, now).ok_or(GrantError::UnknownCode)?;
        let ticket = self.persist(&mut inner, app, &[tokens.user], &[tokens.access_token]);
        drop(inner);
        ticket.wait();
        Ok(tokens)
    }

    /// Rotates a refresh token. The old one keeps working for the grace period; earlier access
    /// tokens stay valid (docs/contract/oauth.md#refresh). Used after the grace period, it revokes
    /// its whole token family.
    pub fn refresh(&self, app: &str, token: &str) -> Result<Tokens, GrantError> {
        let now = self.shared.clock.now();
        let grace = self.shared.refresh_grace;
        let mut inner = self.lock();
        let key = Uuid::try_parse(token).map_err(|_| GrantError::UnknownRefreshToken)?;
        let Inner { tokens, grants, .. } = &mut *inner;
        let record = tokens
            .get_mut(&key)
            .filter(|pair| pair.refresh == key)
            .ok_or(GrantError::UnknownRefreshToken)?;
        let grant = record.grant;
        let owner = grants.get(&grant).ok_or(GrantError::UnknownRefreshToken)?;
        if *owner.app != *app {
            return Err(GrantError::RefreshTokenForAnotherClient);
        }
        if now >= record.refresh_expires_at {
            return Err(GrantError::RefreshTokenExpired {
                ago: now - record.refresh_expires_at,
            });
        }
        let used = record.access;
        match record.refresh_used_at {
            Some(used_at) if now - used_at >= grace => {
                let owner = owner.user;
                inner.drop_grant(grant);
                let ticket = self.persist(&mut inner, app, &[owner], &[]);
                drop(inner);
                ticket.wait();
                return Err(GrantError::RefreshTokenReused { used_at });
            }
            Some(_) => {}
            None => record.refresh_used_at = Some(now),
        }
        let tokens = inner.issue_tokens(grant, now).ok_or(GrantError::UnknownRefreshToken)?;
        let ticket = self.persist(&mut inner, app, &[tokens.user], &[used, tokens.access_token]);
        drop(inner);
        ticket.wait();
        Ok(tokens)
    }

    /// What a bearer token allows, or why it allows nothing. A success counts as a use of the
    /// user (they are forgotten last).
    pub fn authorize(&self, token: &str) -> Result<Access, AccessError> {
        let now = self.shared.clock.now();
        let key = Uuid::try_parse(token).map_err(|_| AccessError::Unknown)?;
        let mut inner = self.lock();
        let Inner {
            tokens, grants, users, ..
        } = &mut *inner;
        let record = tokens
            .get(&key)
            .filter(|pair| pair.access == key)
            .ok_or(AccessError::Unknown)?;
        if now >= record.access_expires_at {
            return Err(AccessError::Expired {
                ago: now - record.access_expires_at,
            });
        }
        let grant = grants.get(&record.grant).ok_or(AccessError::Unknown)?;
        let app_users = users.get_mut(&*grant.app).ok_or(AccessError::Unknown)?;
        // `get` moves the user to the most recently used end; a user already there is only read,
        // so a token used over and over writes nothing the other cores must then fetch back.
        let owner = match app_users.peek_mru() {
            Some((id, record)) if *id == grant.user => record,
            _ => app_users.get(&grant.user).ok_or(AccessError::Unknown)?,
        };
        Ok(Access {
            app: Arc::clone(&grant.app),
            user: grant.user,
            scopes: Arc::clone(&grant.scopes),
            vehicles: Arc::clone(&grant.vehicles),
            forced_error: owner.forced_error,
        })
    }

    /// Runs `f` on a vehicle under the lock; `None` if there is no such vehicle. For reads:
    /// changes made here are not announced (use [`World::update_vehicle`]).
    /// A vehicle a trip runs on is brought up to now first.
    pub fn with_vehicle<R>(&self, id: Uuid, f: impl FnOnce(&mut Vehicle) -> R) -> Option<R> {
        let now = self.moment();
        let mut inner = self.lock();
        let Inner { vehicles, trips, .. } = &mut *inner;
        let vehicle = vehicles.get_mut(&id)?;
        trips.catch_up(vehicle, now);
        Some(f(vehicle))
    }

    /// Runs `f` on a vehicle under the lock; if it returns `Ok`, the state counts as changed:
    /// `updated_at` (and so `sc-data-age`) moves to now and subscribers hear of it. A vehicle a
    /// trip runs on is brought up to now and woken first, and its trip goes on from the change.
    pub fn update_vehicle<T, E>(&self, id: Uuid, f: impl FnOnce(&mut Vehicle) -> Result<T, E>) -> Option<Result<T, E>> {
        let moment = self.moment();
        let now = moment.virtual_time;
        let (result, change) = {
            let mut inner = self.lock();
            let Inner { vehicles, trips, .. } = &mut *inner;
            let vehicle = vehicles.get_mut(&id)?;
            trips.catch_up(vehicle, moment);
            trips.wake(vehicle);
            let result = f(vehicle);
            if result.is_ok() {
                vehicle.updated_at = now;
            }
            trips.rebase(vehicle, moment);
            let change = VehicleChanged {
                app: vehicle.app.clone(),
                user: vehicle.user,
                vehicle: id,
                at: now,
            };
            let ticket = if result.is_ok() {
                self.persist(&mut inner, &change.app, &[change.user], &[])
            } else {
                Ticket::done()
            };
            drop(inner);
            ticket.wait();
            (result, change)
        };
        if result.is_ok() {
            // No receiver (no webhooks) is fine.
            let _ = self.shared.changes.send(change);
        }
        Some(result)
    }

    /// Every state change from now on.
    pub fn subscribe_changes(&self) -> broadcast::Receiver<VehicleChanged> {
        self.shared.changes.subscribe()
    }

    /// The app's connections, newest first.
    pub fn connections(&self, app: &str) -> Vec<Connection> {
        let inner = self.lock();
        let mut connections: Vec<Connection> = inner
            .users
            .get(app)
            .into_iter()
            .flat_map(|users| users.iter())
            .flat_map(|(user, record)| record.garage.iter().map(move |vehicle| (*user, *vehicle)))
            .filter_map(|(user, vehicle)| {
                let connected_at = inner.vehicles.get(&vehicle)?.connected_at?;
                Some(Connection {
                    app: app.to_owned(),
                    user,
                    vehicle,
                    connected_at,
                })
            })
            .collect();
        connections.sort_by(|a, b| b.connected_at.cmp(&a.connected_at).then(a.vehicle.cmp(&b.vehicle)));
        connections
    }

    /// Whether `user` still has `vehicle` connected (not disconnected or deleted).
    pub fn is_connected(&self, user: Uuid, vehicle: Uuid) -> bool {
        self.lock()
            .vehicles
            .get(&vehicle)
            .is_some_and(|car| car.user == user && car.connected_at.is_some())
    }

    /// Revokes the app's access to `vehicle` for `user`: every token of theirs stops reaching it
    /// at once (disconnect, connection deletion). `false` if it was not connected.
    pub fn disconnect(&self, user: Uuid, vehicle: Uuid) -> bool {
        let mut inner = self.lock();
        let was_connected = inner
            .vehicles
            .get_mut(&vehicle)
            .filter(|car| car.user == user)
            .and_then(|car| car.connected_at.take())
            .is_some();
        let Inner {
            users,
            vehicles,
            grants,
            ..
        } = &mut *inner;
        let record = vehicles
            .get(&vehicle)
            .and_then(|car| users.get(&car.app))
            .and_then(|users| users.peek(&user));
        for id in record.into_iter().flat_map(|record| record.grants.iter()) {
            if let Some(grant) = grants.get_mut(id)
                && grant.vehicles.contains(&vehicle)
            {
                grant.vehicles = grant.vehicles.iter().copied().filter(|id| *id != vehicle).collect();
            }
        }
        let owner = inner.vehicles.get(&vehicle).map(|car| car.app.clone());
        let ticket = match owner {
            Some(app) => self.persist(&mut inner, &app, &[user], &[]),
            None => Ticket::done(),
        };
        drop(inner);
        ticket.wait();
        was_connected
    }

    /// The app and user an access token was issued to, expired or not (who is calling, for the
    /// request journal and test control); `None` for a token this server never issued.
    pub fn token_owner(&self, token: &str) -> Option<(String, Uuid)> {
        let key = Uuid::try_parse(token).ok()?;
        let inner = self.lock();
        let grant = inner.grants.get(&inner.tokens.by_access(&key)?.grant)?;
        Some((grant.app.to_string(), grant.user))
    }

    /// A copy of every vehicle of one app (`Some`) or of all apps, oldest first.
    pub fn vehicles(&self, app: Option<&str>) -> Vec<Vehicle> {
        let now = self.moment();
        let mut inner = self.lock();
        let Inner { vehicles, trips, .. } = &mut *inner;
        let mut vehicles: Vec<Vehicle> = vehicles
            .values_mut()
            .filter(|vehicle| app.is_none_or(|app| *vehicle.app == *app))
            .map(|vehicle| {
                trips.catch_up(vehicle, now);
                vehicle.clone()
            })
            .collect();
        vehicles.sort_by(|a, b| a.updated_at.cmp(&b.updated_at).then(a.id.cmp(&b.id)));
        vehicles
    }

    /// A number that moves whenever a vehicle is added or forgotten: a cheap "did the set of
    /// vehicles change" for a watcher (the dashboard), instead of listing them all.
    pub fn census(&self) -> u64 {
        self.lock().census
    }

    /// Forgets everything about one app (`Some`) or every app (`None`). Fixtures stay.
    pub fn reset(&self, app: Option<&str>) {
        let mut inner = self.lock();
        let ticket = self.store_write(vec![Write::Clear(app.map(str::to_owned))]);
        let Some(app) = app else {
            // A running ticker stays the only one: it stops by itself once no trip is left.
            let (ticking, census) = (inner.trips.ticking, inner.census);
            *inner = Inner::default();
            inner.trips.ticking = ticking;
            inner.census = census.wrapping_add(1);
            drop(inner);
            ticket.wait();
            return;
        };
        if let Some(mut users) = inner.users.remove(app) {
            while let Some((id, record)) = users.pop_lru() {
                inner.forget_user(app, id, record);
            }
        }
        inner.vehicle_counts.remove(app);
        // Redeemed codes whose grant is already gone belong to no user any more.
        inner.codes.retain(|code| *code.app != *app);
        inner.forgotten.clear();
        inner.forgotten_pairs.clear();
        drop(inner);
        ticket.wait();
    }
}

/// Export and import of the world as a [`snapshot`](crate::domain::snapshot): the seam that
/// scenario files and `GET`/`PUT /admin/snapshot` stand on.
impl World {
    /// One app's users (least recently used first, so importing them in order keeps who is
    /// forgotten first) with their vehicles, grants, codes and tokens, and its spent codes.
    pub fn export(&self, app: &str) -> (Vec<UserSnapshot>, Vec<CodeSnapshot>) {
        let now = self.moment();
        let mut inner = self.lock();
        let Inner {
            users,
            vehicles,
            trips,
            grants,
            codes,
            ..
        } = &mut *inner;
        let mut spent: Vec<CodeSnapshot> = codes
            .iter()
            .filter(|code| *code.app == *app && !grants.contains_key(&code.grant))
            .map(code_snapshot)
            .collect();
        spent.sort_by_key(|code| code.issued_at);
        if let Some(app_users) = users.get(app) {
            for (_, record) in app_users.iter() {
                for id in &record.garage {
                    if let Some(car) = vehicles.get_mut(id) {
                        trips.catch_up(car, now);
                    }
                }
            }
        }
        let inner = &*inner;
        // The cache iterates most recently used first.
        let mut exported: Vec<UserSnapshot> = inner
            .users
            .get(app)
            .into_iter()
            .flat_map(|users| users.iter())
            .map(|(id, record)| inner.user_snapshot(*id, record, true))
            .collect();
        exported.reverse();
        (exported, spent)
    }

    /// Replaces the world of one app (`Some`, and `apps` may hold only that app) or the whole
    /// world with `apps`, in one step: a snapshot that breaks a cap or names an id another app
    /// holds is refused and nothing changes.
    pub fn replace(&self, only: Option<&str>, apps: Vec<ResolvedApp>) -> Result<(), SnapshotError> {
        let mut inner = self.lock();
        let mut pairs = 0;
        let mut code_count = 0;
        for app in &apps {
            if app.from_store {
                continue;
            }
            let path = format!("apps.{}", app.app);
            if only.is_some_and(|only| only != app.app) {
                return Err(SnapshotError::new(
                    path,
                    format!("only app {} is being replaced (?app=)", only.unwrap_or_default()),
                ));
            }
            if app.users.len() > self.shared.max_users {
                return Err(SnapshotError::new(
                    format!("{path}.users"),
                    format!(
                        "{} users is more than the {} each app keeps (--max-users)",
                        app.users.len(),
                        self.shared.max_users
                    ),
                ));
            }
            let vehicles: usize = app.users.iter().map(|user| user.vehicles.len()).sum();
            if vehicles > self.shared.max_vehicles {
                return Err(SnapshotError::new(
                    format!("{path}.users"),
                    format!(
                        "{vehicles} vehicles is more than the {} each app keeps",
                        self.shared.max_vehicles
                    ),
                ));
            }
            let mut logins = HashSet::new();
            for user in &app.users {
                if !logins.insert((user.mode, user.login.to_lowercase())) {
                    return Err(SnapshotError::new(
                        format!("{}.login", user.path),
                        format!(
                            "{:?} signs in as an earlier user of the app in the same mode",
                            user.login
                        ),
                    ));
                }
                for grant in &user.grants {
                    pairs += grant.tokens.len();
                    code_count += usize::from(grant.code.is_some());
                }
            }
            code_count += app.spent_codes.len();
        }
        if pairs > MAX_TOKEN_PAIRS {
            return Err(SnapshotError::new(
                "apps",
                format!("{pairs} token pairs is more than the {MAX_TOKEN_PAIRS} the server remembers"),
            ));
        }
        if code_count > MAX_CODES {
            return Err(SnapshotError::new(
                "apps",
                format!("{code_count} codes is more than the {MAX_CODES} the server remembers"),
            ));
        }
        if let Some(only) = only {
            inner.check_free(only, &apps)?;
        }
        match only {
            None => {
                let (ticking, census) = (inner.trips.ticking, inner.census);
                *inner = Inner::default();
                inner.trips.ticking = ticking;
                inner.census = census.wrapping_add(1);
            }
            Some(app) => inner.clear_app(app),
        }
        let mut new_codes = Vec::new();
        // A world read back from its own store is on disk already; anything else replaces it there.
        let from_store = !apps.is_empty() && apps.iter().all(|app| app.from_store);
        let mut batch = if from_store {
            Vec::new()
        } else {
            vec![Write::Clear(only.map(str::to_owned))]
        };
        for app in apps {
            let name = app.app.clone();
            let from_store = app.from_store;
            let ids: Vec<Uuid> = app.users.iter().map(|user| user.id).collect();
            inner.import(app, &mut new_codes);
            if from_store {
                // A store's file holds what it held when the process stopped, which a cap
                // lowered since may not allow: forget the least recently used as usual.
                inner.make_room(&name, self.shared.max_users, self.shared.max_vehicles);
            } else if self.shared.store.is_some() {
                let users = inner.users.get(name.as_str());
                for id in ids {
                    let Some(record) = users.and_then(|users| users.peek(&id)) else {
                        continue;
                    };
                    batch.push(Write::User {
                        app: name.clone(),
                        id,
                        doc: Some(Box::new(inner.user_snapshot(id, record, false))),
                    });
                    let pairs = record
                        .grants
                        .iter()
                        .filter_map(|grant| inner.grants.get(grant))
                        .flat_map(|grant| grant.pairs.iter().map(|(access, _)| *access));
                    batch.extend(pairs.filter_map(|access| inner.token_write(access)));
                }
            }
        }
        new_codes.sort_by_key(|code| code.issued_at);
        for code in new_codes {
            if let Some(forgotten) = inner.codes.push(code) {
                inner.forgot_code(forgotten);
            }
        }
        for pair in std::mem::take(&mut inner.evicted) {
            inner.forgotten(pair);
        }
        let forgotten = std::mem::take(&mut inner.forgotten);
        batch.extend(
            forgotten
                .into_iter()
                .map(|(app, id)| Write::User { app, id, doc: None }),
        );
        let forgotten_pairs = std::mem::take(&mut inner.forgotten_pairs);
        if !forgotten_pairs.is_empty() {
            batch.push(Write::ForgetTokens(forgotten_pairs));
        }
        let ticket = if batch.is_empty() {
            Ticket::done()
        } else {
            self.store_write(batch)
        };
        drop(inner);
        ticket.wait();
        Ok(())
    }

    /// What the user owning `vehicle` let the app do with it: the union of the scopes of their
    /// grants that reach it (a webhook subscription carries what its grant allows).
    pub fn access_to_vehicle(&self, vehicle: Uuid) -> Option<Access> {
        let inner = self.lock();
        let car = inner.vehicles.get(&vehicle)?;
        let record = inner.users.get(&car.app)?.peek(&car.user)?;
        let mut scopes: Vec<Permission> = record
            .grants
            .iter()
            .filter_map(|id| inner.grants.get(id))
            .filter(|grant| grant.vehicles.contains(&vehicle))
            .flat_map(|grant| grant.scopes.iter().copied())
            .collect();
        scopes.sort_unstable();
        scopes.dedup();
        Some(Access {
            app: Arc::clone(&car.app),
            user: car.user,
            scopes: scopes.into(),
            vehicles: Arc::from([vehicle]),
            forced_error: record.forced_error,
        })
    }
}

fn code_snapshot(code: &Code) -> CodeSnapshot {
    CodeSnapshot {
        code: code.id,
        redirect_uri: code.redirect_uri.to_string(),
        issued_at: Some(code.issued_at),
        redeemed_at: code.redeemed_at,
    }
}

impl WeakWorld {
    /// The world, while another handle keeps it alive.
    pub fn upgrade(&self) -> Option<World> {
        Some(World {
            inner: self.inner.upgrade()?,
            shared: self.shared.clone(),
        })
    }
}

impl Inner {
    /// `text` as a shared string: the one kept, or a new one kept from now on.
    fn shared_name(&mut self, text: &str) -> Arc<str> {
        if let Some(kept) = self.shared_names.get(text) {
            return Arc::clone(kept);
        }
        let new: Arc<str> = Arc::from(text);
        if self.shared_names.len() < MAX_SHARED {
            self.shared_names.insert(Arc::clone(&new));
        }
        new
    }

    /// `scopes` as a shared list, as [`Inner::shared_name`] does for strings.
    fn shared_scopes(&mut self, scopes: &[Permission]) -> Arc<[Permission]> {
        if let Some(kept) = self.shared_scopes.get(scopes) {
            return Arc::clone(kept);
        }
        let new: Arc<[Permission]> = Arc::from(scopes);
        if self.shared_scopes.len() < MAX_SHARED {
            self.shared_scopes.insert(Arc::clone(&new));
        }
        new
    }

    /// A user's record as a snapshot: their vehicles (a state still the fixture's is left out),
    /// their grants with their codes and the tokens still remembered.
    fn user_snapshot(&self, id: Uuid, record: &UserRecord, with_tokens: bool) -> UserSnapshot {
        let vehicles = record
            .garage
            .iter()
            .filter_map(|vehicle| {
                let car = self.vehicles.get(vehicle)?;
                let connected_at = car.connected_at;
                Some(VehicleSnapshot {
                    id: Some(car.id),
                    brand: car.spec.make.clone(),
                    vin: Some(car.spec.vin.clone()),
                    state: if Arc::ptr_eq(&car.state, &car.spec.state) {
                        None
                    } else {
                        serde_json::to_value(&*car.state).ok()
                    },
                    updated_at: Some(car.updated_at),
                    connected_at,
                    disconnected: connected_at.is_none(),
                })
            })
            .collect();
        let grants = record
            .grants
            .iter()
            .filter_map(|grant_id| {
                let grant = self.grants.get(grant_id)?;
                let tokens = if with_tokens {
                    grant
                        .pairs
                        .iter()
                        .filter_map(|(access, refresh)| self.token_snapshot(*access, *refresh))
                        .collect()
                } else {
                    Vec::new()
                };
                let code = grant.code.and_then(|code| self.codes.get(&code).map(code_snapshot));
                Some(GrantSnapshot {
                    id: Some(*grant_id),
                    scopes: Some(grant.scopes.to_vec()),
                    vehicles: Some(grant.vehicles.to_vec()),
                    code,
                    tokens,
                })
            })
            .collect();
        UserSnapshot {
            id: Some(id),
            login: record.login.to_string(),
            mode: record.mode,
            forced_error: record.forced_error.map(error_name),
            vehicles,
            grants,
        }
    }

    /// A remembered token pair as a snapshot.
    fn token_snapshot(&self, access: Uuid, refresh: Uuid) -> Option<TokenSnapshot> {
        let pair = self.tokens.by_access(&access).filter(|pair| pair.refresh == refresh)?;
        Some(TokenSnapshot {
            access_token: access,
            refresh_token: refresh,
            access_expires_at: Some(pair.access_expires_at),
            refresh_expires_at: Some(pair.refresh_expires_at),
            refresh_used_at: pair.refresh_used_at,
        })
    }

    /// The store's write for the pair of access token `access`, as it stands.
    fn token_write(&self, access: Uuid) -> Option<Write> {
        let pair = self.tokens.by_access(&access)?;
        let (grant_id, refresh) = (pair.grant, pair.refresh);
        let grant = self.grants.get(&grant_id)?;
        Some(Write::Token {
            app: grant.app.to_string(),
            user: grant.user,
            grant: grant_id,
            pair: self.token_snapshot(access, refresh)?,
        })
    }

    /// Forgets one app's users with everything that hangs off them, and its spent codes.
    fn clear_app(&mut self, app: &str) {
        if let Some(mut users) = self.users.remove(app) {
            while let Some((id, record)) = users.pop_lru() {
                self.forget_user(app, id, record);
            }
        }
        self.vehicle_counts.remove(app);
        self.codes.retain(|code| *code.app != *app);
    }

    /// Refuses a snapshot for `app` alone that names an id another app holds.
    fn check_free(&self, app: &str, apps: &[ResolvedApp]) -> Result<(), SnapshotError> {
        let theirs = |owner: &str| owner != app;
        let taken_user = |id: &Uuid| {
            self.users
                .iter()
                .any(|(owner, users)| theirs(owner) && users.contains(id))
        };
        let taken_vehicle = |id: &Uuid| self.vehicles.get(id).is_some_and(|car| theirs(&car.app));
        let taken_code = |id: &Uuid| self.codes.get(id).is_some_and(|code| theirs(&code.app));
        let token_app = |grant: Uuid| self.grants.get(&grant).map(|grant| grant.app.to_string());
        let taken_token = |id: &Uuid| {
            self.tokens
                .get(id)
                .map(|pair| pair.grant)
                .and_then(token_app)
                .is_some_and(|owner| theirs(&owner))
        };
        let taken = |path: &str, id: Uuid| SnapshotError::new(path, format!("{id} belongs to another app"));
        for app in apps {
            for user in &app.users {
                if taken_user(&user.id) {
                    return Err(taken(&format!("{}.id", user.path), user.id));
                }
                if let Some(vehicle) = user.vehicles.iter().find(|vehicle| taken_vehicle(&vehicle.id)) {
                    return Err(taken(&format!("{}.vehicles", user.path), vehicle.id));
                }
                for grant in &user.grants {
                    if let Some(code) = grant.code.as_ref().filter(|code| taken_code(&code.code)) {
                        return Err(taken(&format!("{}.grants", user.path), code.code));
                    }
                    for pair in &grant.tokens {
                        for id in [pair.access_token, pair.refresh_token] {
                            if taken_token(&id) {
                                return Err(taken(&format!("{}.grants", user.path), id));
                            }
                        }
                    }
                }
            }
            if let Some(code) = app.spent_codes.iter().find(|code| taken_code(&code.code)) {
                return Err(taken(&format!("apps.{}.spentCodes", app.app), code.code));
            }
        }
        Ok(())
    }

    /// A code of a snapshot, bound to `grant`, to `new_codes`: they are queued oldest first once
    /// every app is in.
    fn restore_code(
        &mut self,
        code: crate::domain::snapshot::ResolvedCode,
        app: &str,
        grant: Uuid,
        new_codes: &mut Vec<Code>,
    ) {
        let app = self.shared_name(app);
        let redirect_uri = self.shared_name(&code.redirect_uri);
        new_codes.push(Code {
            id: code.code,
            app,
            redirect_uri,
            grant,
            issued_at: code.issued_at,
            redeemed_at: code.redeemed_at,
        });
    }

    /// Adds an app's part of a checked snapshot; its codes go to `new_codes` with when they were
    /// issued, to be queued oldest first.
    fn import(&mut self, app: ResolvedApp, new_codes: &mut Vec<Code>) {
        let name = app.app;
        let shared_app = self.shared_name(&name);
        for code in app.spent_codes {
            // A grant no one holds: reusing the code revokes nothing more.
            self.restore_code(code, &name, Uuid::new_v4(), new_codes);
        }
        for user in app.users {
            let mut record = UserRecord {
                login: Arc::from(user.login.as_str()),
                mode: user.mode,
                forced_error: user.forced_error,
                garage: Ids::with_capacity(user.vehicles.len()),
                grants: Ids::new(),
                last_selection: Arc::from([]),
            };
            for vehicle in user.vehicles {
                record.garage.push(vehicle.id);
                self.census = self.census.wrapping_add(1);
                self.vehicles.insert(
                    vehicle.id,
                    Vehicle {
                        id: vehicle.id,
                        app: Arc::clone(&shared_app),
                        user: user.id,
                        mode: user.mode,
                        spec: vehicle.spec,
                        state: vehicle.state,
                        updated_at: vehicle.updated_at,
                        connected_at: vehicle.connected_at,
                    },
                );
            }
            *self.vehicle_counts.entry(Arc::clone(&shared_app)).or_default() += record.garage.len();
            for grant in user.grants {
                let id = grant.id;
                let pending = grant.code.as_ref().is_some_and(|code| code.redeemed_at.is_none());
                let code_id = grant.code.as_ref().map(|code| code.code);
                if let Some(code) = grant.code {
                    self.restore_code(code, &name, id, new_codes);
                }
                let mut pairs = Vec::with_capacity(grant.tokens.len());
                for tokens in grant.tokens {
                    let evicted = self.tokens.push(TokenPair {
                        grant: id,
                        access: tokens.access_token,
                        refresh: tokens.refresh_token,
                        access_expires_at: tokens.access_expires_at,
                        refresh_expires_at: tokens.refresh_expires_at,
                        refresh_used_at: tokens.refresh_used_at,
                    });
                    self.evicted.extend(evicted);
                    pairs.push((tokens.access_token, tokens.refresh_token));
                }
                let live_pairs = u32::try_from(pairs.len()).unwrap_or(u32::MAX);
                record.last_selection = Arc::clone(&grant.vehicles);
                let scopes = self.shared_scopes(&grant.scopes);
                let grant = Grant {
                    app: Arc::clone(&shared_app),
                    user: user.id,
                    scopes,
                    vehicles: grant.vehicles,
                    code: code_id,
                    pending,
                    pairs,
                    live_pairs,
                };
                // A grant with neither a code to redeem nor a token is already over.
                if !grant.is_spent() {
                    record.grants.push(id);
                    self.grants.insert(id, grant);
                }
            }
            self.logins.insert(
                (Arc::clone(&shared_app), user.mode, Arc::from(user.login.to_lowercase())),
                user.id,
            );
            self.users
                .entry(Arc::clone(&shared_app))
                .or_insert_with(LruCache::unbounded)
                .put(user.id, record);
        }
    }

    /// The user's vehicles for `specs`, created on first use.
    fn garage(&mut self, app: &str, user: Uuid, specs: &[Arc<VehicleSpec>], now: OffsetDateTime) -> Vec<Vehicle> {
        let shared_app = self.shared_name(app);
        let Inner {
            users,
            vehicles,
            vehicle_counts,
            census,
            ..
        } = self;
        let Some(record) = users.get_mut(app).and_then(|users| users.peek_mut(&user)) else {
            return Vec::new();
        };
        let app = shared_app;
        let count = vehicle_counts.entry(Arc::clone(&app)).or_default();
        specs
            .iter()
            .map(|spec| {
                let existing = record
                    .garage
                    .iter()
                    .filter_map(|id| vehicles.get(id))
                    .find(|v| v.spec.vin == spec.vin)
                    .cloned();
                existing.unwrap_or_else(|| {
                    let vehicle = Vehicle {
                        id: Uuid::new_v4(),
                        app: Arc::clone(&app),
                        user,
                        mode: record.mode,
                        spec: Arc::clone(spec),
                        state: Arc::clone(&spec.state),
                        updated_at: now,
                        connected_at: None,
                    };
                    vehicles.insert(vehicle.id, vehicle.clone());
                    *census = census.wrapping_add(1);
                    record.garage.push(vehicle.id);
                    *count += 1;
                    vehicle
                })
            })
            .collect()
    }

    /// Forgets the app's least recently used users until it has at most `max_users` users and
    /// `max_vehicles` vehicles. The user just signed in is the most recently used, so it stays
    /// (`max_users` is at least 1, and a last user is kept whatever its vehicles).
    fn make_room(&mut self, app: &str, max_users: usize, max_vehicles: usize) {
        loop {
            let vehicles = self.vehicle_counts.get(app).copied().unwrap_or(0);
            let Some(users) = self.users.get_mut(app) else {
                return;
            };
            if users.len() <= max_users && (vehicles <= max_vehicles || users.len() <= 1) {
                return;
            }
            let Some((id, forgotten)) = users.pop_lru() else {
                return;
            };
            self.forget_user(app, id, forgotten);
        }
    }

    /// Forgets a user (already out of their app's cache) and everything that hangs off them.
    fn forget_user(&mut self, app: &str, id: Uuid, record: UserRecord) {
        self.forgotten.push((app.to_owned(), id));
        if let Some(count) = self.vehicle_counts.get_mut(app) {
            *count = count.saturating_sub(record.garage.len());
        }
        let login = (
            self.shared_name(app),
            record.mode,
            Arc::from(record.login.to_lowercase()),
        );
        self.logins.remove(&login);
        for vehicle in record.garage {
            self.vehicles.remove(&vehicle);
            self.census = self.census.wrapping_add(1);
            self.trips.forget(vehicle);
        }
        for grant in record.grants {
            self.drop_grant(grant);
        }
    }

    /// Forgets a grant with its unredeemed code and its whole token family.
    fn drop_grant(&mut self, id: Uuid) {
        let Some(grant) = self.grants.remove(&id) else {
            return;
        };
        if let Some(code) = grant.unredeemed_code() {
            self.codes.remove(&code);
        }
        for (access, _) in grant.pairs {
            if self.tokens.remove(&access).is_some() {
                self.forgotten_pairs.push(access);
            }
        }
        if let Some(record) = self
            .users
            .get_mut(&*grant.app)
            .and_then(|users| users.peek_mut(&grant.user))
        {
            record.grants.retain(|grant| *grant != id);
        }
    }

    /// Accounts for a pair the ring no longer holds; its grant goes too once nothing of it is left.
    fn forgotten(&mut self, pair: TokenPair) {
        self.forgotten_pairs.push(pair.access);
        let Inner { grants, tokens, .. } = self;
        let spent = grants.get_mut(&pair.grant).is_some_and(|grant| {
            grant.live_pairs = grant.live_pairs.saturating_sub(1);
            // A family refreshed thousands of times whose pairs the ring has since let go keeps
            // a list about the size of what is left, not of what it once held.
            if grant.pairs.len() > 4 * grant.live_pairs as usize + 16 {
                grant.pairs.retain(|(access, _)| tokens.by_access(access).is_some());
                grant.pairs.shrink_to(2 * grant.pairs.len());
            }
            grant.is_spent()
        });
        if spent {
            self.drop_grant(pair.grant);
        }
    }

    /// Forgets codes past [`CODE_MEMORY`] and, beyond [`MAX_CODES`], the oldest; a grant whose
    /// code was never redeemed goes with it.
    fn forget_old_codes(&mut self, now: OffsetDateTime) {
        while let Some(oldest) = self.codes.front() {
            let keep = oldest.is_some_and(|code| now - code.issued_at < CODE_MEMORY);
            if keep && !self.codes.is_full() {
                break;
            }
            if let Some(Some(code)) = self.codes.pop_front() {
                self.forgot_code(code);
            }
        }
    }

    /// Accounts for a code its ring no longer holds: a grant whose code was never redeemed goes
    /// with it.
    fn forgot_code(&mut self, code: Code) {
        let spent = self.grants.get_mut(&code.grant).is_some_and(|grant| {
            if grant.unredeemed_code() == Some(code.id) {
                grant.pending = false;
            }
            grant.is_spent()
        });
        if spent {
            self.drop_grant(code.grant);
        }
    }

    /// Issues a token pair from a live grant and counts it as a use of its user; `None` if the
    /// grant is gone.
    fn issue_tokens(&mut self, grant_id: Uuid, now: OffsetDateTime) -> Option<Tokens> {
        let Inner {
            users, grants, tokens, ..
        } = self;
        let grant = grants.get_mut(&grant_id)?;
        if let Some(users) = users.get_mut(&*grant.app) {
            users.promote(&grant.user);
        }
        // Drop forgotten pairs from the family now and then, so a grant refreshed for months
        // keeps a list about the size of what is still remembered.
        if grant.pairs.len() >= 2 * grant.live_pairs as usize + 16 {
            grant.pairs.retain(|(access, _)| tokens.by_access(access).is_some());
        }
        let pair = TokenPair {
            grant: grant_id,
            access: tokens.mint(),
            refresh: tokens.mint(),
            access_expires_at: now.saturating_add(ACCESS_LIFETIME),
            refresh_expires_at: now.saturating_add(REFRESH_LIFETIME),
            refresh_used_at: None,
        };
        let forgotten = tokens.push(pair.clone());
        grant.pairs.push((pair.access, pair.refresh));
        grant.live_pairs = grant.live_pairs.saturating_add(1);
        let issued = Tokens {
            access_token: pair.access,
            refresh_token: pair.refresh,
            expires_in: ACCESS_LIFETIME.whole_seconds(),
            user: grant.user,
            vehicles: grant.vehicles.to_vec(),
        };
        if let Some(forgotten) = forgotten {
            self.forgotten(forgotten);
        }
        Some(issued)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = "demo-client";
    const REDIRECT: &str = "https://example.com/auth";

    fn world() -> World {
        World::new(Clock::default(), Duration::minutes(1), DEFAULT_MAX_USERS)
    }

    fn spec() -> Arc<VehicleSpec> {
        static SPEC: std::sync::OnceLock<Arc<VehicleSpec>> = std::sync::OnceLock::new();
        let spec = SPEC.get_or_init(|| {
            let fixtures = crate::domain::fixtures::Fixtures::embedded().expect("fixtures");
            Arc::clone(&fixtures.brand("CHEVROLET").expect("brand").vehicles[0])
        });
        Arc::clone(spec)
    }

    /// Signs `login` in with one vehicle, allows it and exchanges the code.
    fn connect(world: &World, login: &str) -> Tokens {
        let (user, vehicles) = world.sign_in(APP, Mode::Test, login, None, &[spec()]);
        let ids = vehicles.iter().map(|v| v.id).collect();
        let code = world.issue_code(APP, REDIRECT, user, &[], ids).expect("a known user");
        world
            .redeem_code(APP, &code.to_string(), Some(REDIRECT))
            .expect("a fresh code")
    }

    fn works(world: &World, tokens: &Tokens) -> bool {
        world.authorize(&tokens.access_token.to_string()).is_ok()
    }

    #[test]
    fn the_oldest_token_pair_is_forgotten_once_the_store_is_full() {
        let world = world();
        let first = connect(&world, "someone@example.com");
        let mut latest = first.clone();
        for _ in 0..MAX_TOKEN_PAIRS {
            latest = world
                .refresh(APP, &latest.refresh_token.to_string())
                .expect("a fresh refresh token");
        }

        assert!(matches!(
            world.authorize(&first.access_token.to_string()),
            Err(AccessError::Unknown)
        ));
        assert!(works(&world, &latest));
    }

    #[test]
    fn a_family_whose_pairs_were_forgotten_keeps_a_short_list() {
        let world = world();
        let mut old = connect(&world, "old@example.com");
        for _ in 0..1000 {
            old = world.refresh(APP, &old.refresh_token.to_string()).expect("fresh");
        }
        let mut new = connect(&world, "new@example.com");
        for _ in 0..MAX_TOKEN_PAIRS - 10 {
            new = world.refresh(APP, &new.refresh_token.to_string()).expect("fresh");
        }

        assert!(
            works(&world, &old),
            "the newest pairs of the old family are still remembered"
        );
        let inner = world.lock();
        let family = inner
            .grants
            .values()
            .find(|grant| grant.pairs.iter().any(|(access, _)| *access == old.access_token))
            .expect("the old family");
        assert!(family.pairs.len() <= 64, "{} pairs listed", family.pairs.len());
        assert!(family.pairs.capacity() <= 128, "room for {}", family.pairs.capacity());
    }

    #[test]
    fn authorizing_shares_the_grant_s_slices_instead_of_copying_them() {
        let world = world();
        let tokens = connect(&world, "a@example.com");
        let token = tokens.access_token.to_string();

        let first = world.authorize(&token).expect("a fresh token");
        let second = world.authorize(&token).expect("a fresh token");

        assert!(Arc::ptr_eq(&first.app, &second.app));
        assert!(Arc::ptr_eq(&first.scopes, &second.scopes));
        assert!(Arc::ptr_eq(&first.vehicles, &second.vehicles));
    }

    #[test]
    fn the_census_moves_when_vehicles_come_or_go_and_not_on_a_sign_in_again() {
        let world = world();
        let empty = world.census();
        connect(&world, "a@example.com");
        let one = world.census();
        connect(&world, "a@example.com");
        let again = world.census();
        world.reset(None);

        assert_ne!(one, empty);
        assert_eq!(again, one);
        assert_ne!(world.census(), one);
    }

    #[test]
    fn signing_in_again_finds_the_same_user() {
        let world = world();

        let (once, _) = world.sign_in(APP, Mode::Test, "Driver@Example.com", None, &[spec()]);
        let (again, _) = world.sign_in(APP, Mode::Test, "driver@example.com", None, &[spec()]);

        assert_eq!(once, again);
    }

    #[test]
    fn the_user_beyond_the_cap_forgets_the_least_recently_used_one_and_its_tokens() {
        let world = World::new(Clock::default(), Duration::minutes(1), 1000);
        let users: Vec<Tokens> = (0..1000)
            .map(|i| connect(&world, &format!("{i}@example.com")))
            .collect();
        // The first user calls the API, so the second is now the least recently used.
        assert!(works(&world, &users[0]));

        let newcomer = connect(&world, "1000@example.com");

        assert!(works(&world, &newcomer));
        assert!(works(&world, &users[0]));
        assert_eq!(
            world.authorize(&users[1].access_token.to_string()).err(),
            Some(AccessError::Unknown)
        );
        assert!(
            world.refresh(APP, &users[1].refresh_token.to_string()).is_err(),
            "its refresh token is forgotten too"
        );
        assert!(users[2..].iter().all(|tokens| works(&world, tokens)));
        assert_eq!(world.vehicles(Some(APP)).len(), 1000, "its vehicle went with it");
        assert_eq!(world.connections(APP).len(), 1000);
    }

    #[test]
    fn a_forgotten_user_signing_in_again_is_a_new_user() {
        let world = World::new(Clock::default(), Duration::minutes(1), 1);
        let (first, _) = world.sign_in(APP, Mode::Test, "a@example.com", None, &[spec()]);
        world.sign_in(APP, Mode::Test, "b@example.com", None, &[spec()]);

        let (again, _) = world.sign_in(APP, Mode::Test, "a@example.com", None, &[spec()]);

        assert_ne!(first, again);
        assert_eq!(world.vehicles(Some(APP)).len(), 1);
    }

    #[test]
    fn allowing_after_the_user_was_forgotten_is_refused() {
        let world = World::new(Clock::default(), Duration::minutes(1), 1);
        let (first, vehicles) = world.sign_in(APP, Mode::Test, "a@example.com", None, &[spec()]);
        world.sign_in(APP, Mode::Test, "b@example.com", None, &[spec()]);

        let result = world.issue_code(APP, REDIRECT, first, &[], vec![vehicles[0].id]);

        assert_eq!(result, Err(UserForgotten { max_users: 1 }));
    }

    #[test]
    fn users_beyond_the_vehicle_cap_forget_the_least_recently_used() {
        let mut world = world();
        world.shared.max_vehicles = 5;
        let specs: Vec<Arc<VehicleSpec>> = (0..3)
            .map(|i| {
                let mut spec = (*spec()).clone();
                spec.vin = format!("1FAKEVIN00000000{i}");
                Arc::new(spec)
            })
            .collect();
        let (first, _) = world.sign_in(APP, Mode::Test, "a@example.com", None, &specs);
        let (second, _) = world.sign_in(APP, Mode::Test, "b@example.com", None, &specs);

        let owners: HashSet<Uuid> = world.vehicles(Some(APP)).iter().map(|v| v.user).collect();

        assert_eq!(owners, HashSet::from([second]));
        assert_ne!(first, second);
    }

    #[test]
    fn the_cap_is_per_app() {
        let world = World::new(Clock::default(), Duration::minutes(1), 1);
        let ours = connect(&world, "a@example.com");

        world.sign_in("other-app", Mode::Test, "b@example.com", None, &[spec()]);

        assert!(works(&world, &ours));
    }

    #[test]
    fn a_reused_code_revokes_the_tokens_its_first_use_issued() {
        let world = world();
        let (user, vehicles) = world.sign_in(APP, Mode::Test, "a@example.com", None, &[spec()]);
        let code = world
            .issue_code(APP, REDIRECT, user, &[], vec![vehicles[0].id])
            .expect("a known user")
            .to_string();
        let first = world.redeem_code(APP, &code, Some(REDIRECT)).expect("a fresh code");
        let refreshed = world
            .refresh(APP, &first.refresh_token.to_string())
            .expect("a fresh refresh token");

        let reuse = world.redeem_code(APP, &code, Some(REDIRECT));

        assert!(matches!(reuse, Err(GrantError::CodeReused { .. })));
        assert!(!works(&world, &first));
        assert!(!works(&world, &refreshed), "tokens refreshed from it are revoked too");
        assert!(world.refresh(APP, &refreshed.refresh_token.to_string()).is_err());
    }

    #[test]
    fn a_refresh_token_reused_after_its_grace_period_revokes_its_family() {
        let world = world();
        let first = connect(&world, "a@example.com");
        let second = world
            .refresh(APP, &first.refresh_token.to_string())
            .expect("a fresh refresh token");
        let third = world
            .refresh(APP, &second.refresh_token.to_string())
            .expect("a fresh refresh token");
        world.clock().advance(Duration::minutes(2));

        let reuse = world.refresh(APP, &first.refresh_token.to_string());

        assert!(matches!(reuse, Err(GrantError::RefreshTokenReused { .. })));
        assert!(!works(&world, &first));
        assert!(!works(&world, &third));
        assert!(world.refresh(APP, &third.refresh_token.to_string()).is_err());
    }

    #[test]
    fn another_family_of_the_same_user_survives_a_revocation() {
        let world = world();
        let revoked = connect(&world, "a@example.com");
        let other = connect(&world, "a@example.com");
        world
            .refresh(APP, &revoked.refresh_token.to_string())
            .expect("a fresh refresh token");
        world.clock().advance(Duration::minutes(2));

        let _ = world.refresh(APP, &revoked.refresh_token.to_string());

        assert!(!works(&world, &revoked));
        assert!(works(&world, &other));
    }

    #[test]
    fn a_user_reauthorizing_forever_keeps_the_grants_bounded() {
        let world = world();
        for _ in 0..MAX_TOKEN_PAIRS + 100 {
            connect(&world, "ci@example.com");
        }

        let inner = world.lock();
        assert!(inner.grants.len() <= MAX_TOKEN_PAIRS, "{} grants", inner.grants.len());
        assert!(inner.codes.len() <= MAX_CODES);
    }

    #[test]
    fn unredeemed_codes_and_their_grants_are_forgotten() {
        let world = world();
        let (user, _) = world.sign_in(APP, Mode::Test, "a@example.com", None, &[spec()]);
        for _ in 0..100 {
            world
                .issue_code(APP, REDIRECT, user, &[], Vec::new())
                .expect("a known user");
        }
        world.clock().advance(CODE_MEMORY);

        world
            .issue_code(APP, REDIRECT, user, &[], Vec::new())
            .expect("a known user");

        let inner = world.lock();
        assert_eq!(inner.codes.len(), 1);
        assert_eq!(inner.grants.len(), 1);
    }

    #[test]
    fn tokens_issued_at_the_clock_s_furthest_reach_work() {
        let world = world();
        // The clock stops at its limit (100 years ahead) rather than going further.
        world.clock().advance(crate::domain::clock::MAX_OFFSET * 2);

        let tokens = connect(&world, "a@example.com");

        assert!(works(&world, &tokens));
    }
}
