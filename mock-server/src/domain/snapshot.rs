//! The world as a file: one serialisable model of everything a test can set up — users, their
//! vehicles and state, grants, codes, tokens with their expiries, webhook subscriptions and
//! callback overrides, limit settings, fault rules, the clock offset.
//!
//! The same shape is what `GET /admin/snapshot` writes and what `PUT /admin/snapshot` and
//! `--scenario FILE` read, so a world saved from a live server is a scenario. A hand-written
//! scenario may leave out what the platform can fill in: ids (drawn at load), a vehicle's VIN
//! (the brand's first fixture vehicle), its state (the fixture's; `state` is merged over it key by
//! key), a grant's scopes (the app's default scope), its vehicles (all of the user's), expiries
//! (a fresh token's). Tokens and codes it names are UUIDs, as the platform's are.
//!
//! Unknown fields are errors, as in the fixtures; [`parse`] names the JSON path of a bad field
//! and what was expected, and [`Snapshot::resolve`] the path of a reference the fixtures do not
//! know (a brand, an app).
//!
//! What is not in it: the request journal, webhook delivery logs, simulator trips, rule counters
//! (a loaded fault rule starts from its `times`), and limit buckets (they start full).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::catalogue::{self, Entry};
use crate::domain::faults::FaultSpec;
use crate::domain::fixtures::Fixtures;
use crate::domain::limits::LimitSettings;
use crate::domain::permissions::Permission;
use crate::domain::vehicle::{VehicleSpec, VehicleState};
use crate::domain::world::Mode;

/// The version of the format this build writes and reads.
pub(crate) const FORMAT_VERSION: u32 = 1;

/// The whole world, or one app's part of it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Snapshot {
    #[serde(default = "format_version")]
    pub version: u32,
    /// How far the virtual clock is from wall time, in milliseconds (absent: leave the clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_offset_ms: Option<i64>,
    /// The server-wide limit settings (absent: leave them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_limits: Option<LimitSettings>,
    /// Fault rules that name no app.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultSpec>,
    /// Each app's part, by client id.
    #[serde(default)]
    pub apps: BTreeMap<String, AppSnapshot>,
}

fn format_version() -> u32 {
    FORMAT_VERSION
}

/// One app's users and what hangs off them, and its test-control settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AppSnapshot {
    #[serde(default)]
    pub users: Vec<UserSnapshot>,
    /// Redeemed codes whose grant is revoked: a reuse is still told apart from a code never issued.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spent_codes: Vec<CodeSnapshot>,
    /// The app's webhooks whose callback URL was changed or that have subscribed vehicles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<WebhookSnapshot>,
    /// The app's own limit settings (absent: the server default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<LimitSettings>,
    /// API fault rules of this app (their `app` may be left out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultSpec>,
    /// Connect fault rules of this app (their `app` may be left out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connect_faults: Vec<ConnectFaultRule>,
}

/// A Connect fault rule inside its app's part: [`crate::domain::faults::ConnectFaultSpec`] whose `app` is implied.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectFaultRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub error: crate::domain::sign_in::ConnectErrorCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
}

/// A vehicle owner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UserSnapshot {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    /// The login they sign in with on Connect: signing in with it finds this user.
    pub login: String,
    #[serde(default = "test_mode")]
    pub mode: Mode,
    /// A test login's forced error, `"TYPE:CODE"` (`"VEHICLE_STATE:ASLEEP"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forced_error: Option<String>,
    #[serde(default)]
    pub vehicles: Vec<VehicleSnapshot>,
    #[serde(default)]
    pub grants: Vec<GrantSnapshot>,
}

fn test_mode() -> Mode {
    Mode::Test
}

/// One of a user's vehicles: a fixture brand's vehicle with its own state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VehicleSnapshot {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    /// A fixture brand (`FORD`): the vehicle is that brand's vehicle with this VIN, or its first.
    pub brand: String,
    /// A VIN of the brand's fixtures picks that vehicle; another VIN is the brand's first vehicle
    /// under this VIN (a fleet of one model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vin: Option<String>,
    /// Merged over the fixture's state key by key (`{"battery": {"percentRemaining": 0.12}}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<serde_json::Value>,
    /// When the state last changed (`sc-data-age`); absent: at load.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub updated_at: Option<OffsetDateTime>,
    /// When the app was first connected to it; absent: at load.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub connected_at: Option<OffsetDateTime>,
    /// The user disconnected it from the app.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disconnected: bool,
}

/// What a user approved on Connect, with the code that redeems it and the tokens issued from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GrantSnapshot {
    /// Absent: drawn at load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    /// Absent: the app's default scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<Permission>>,
    /// Ids of the user's vehicles it reaches; absent: all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vehicles: Option<Vec<Uuid>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<CodeSnapshot>,
    /// Its token family, oldest first.
    #[serde(default)]
    pub tokens: Vec<TokenSnapshot>,
}

/// An authorization code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CodeSnapshot {
    pub code: Uuid,
    pub redirect_uri: String,
    /// Absent: at load (a code lives 10 minutes).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub issued_at: Option<OffsetDateTime>,
    /// Set once it was exchanged: a second exchange is a reuse.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub redeemed_at: Option<OffsetDateTime>,
}

/// An access and refresh token pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TokenSnapshot {
    pub access_token: Uuid,
    pub refresh_token: Uuid,
    /// Absent: 2 hours after load. A past time makes an expired access token.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub access_expires_at: Option<OffsetDateTime>,
    /// Absent: 60 days after load.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub refresh_expires_at: Option<OffsetDateTime>,
    /// When the refresh token was first used (it works for the grace period after).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub refresh_used_at: Option<OffsetDateTime>,
}

/// One of the app's fixture webhooks as it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WebhookSnapshot {
    pub id: Uuid,
    /// Absent: the fixture's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    /// Ids of the app's vehicles subscribed to it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vehicles: Vec<Uuid>,
}

/// Why a snapshot was refused: where in it, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SnapshotError {
    /// The JSON path of the offending value (`apps.demo-client.users[0].vehicles[1].brand`), or
    /// `.` for the whole document.
    pub path: String,
    pub message: String,
}

impl SnapshotError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        let path = path.into();
        SnapshotError {
            path: if path.is_empty() { ".".to_owned() } else { path },
            message: message.into(),
        }
    }
}

/// Reads a snapshot, naming the path of a field that is not what was expected.
pub(crate) fn parse(json: &[u8]) -> Result<Snapshot, SnapshotError> {
    let deserializer = &mut serde_json::Deserializer::from_slice(json);
    let snapshot: Snapshot = serde_path_to_error::deserialize(deserializer)
        .map_err(|error| SnapshotError::new(error.path().to_string(), error.inner().to_string()))?;
    if snapshot.version != FORMAT_VERSION {
        return Err(SnapshotError::new(
            "version",
            format!(
                "this build reads snapshot version {FORMAT_VERSION}, the file is version {}",
                snapshot.version
            ),
        ));
    }
    Ok(snapshot)
}

/// A snapshot checked against the fixtures, with every default filled in: ready for the world.
#[derive(Debug, Clone)]
pub struct ResolvedApp {
    pub app: String,
    pub users: Vec<ResolvedUser>,
    pub spent_codes: Vec<ResolvedCode>,
    /// Read back from the world's own store: already on disk, and over a cap it is trimmed (the
    /// least recently used forgotten) instead of refused.
    pub from_store: bool,
}

#[derive(Debug, Clone)]
pub struct ResolvedUser {
    pub id: Uuid,
    pub login: String,
    pub mode: Mode,
    pub forced_error: Option<&'static Entry>,
    pub vehicles: Vec<ResolvedVehicle>,
    pub grants: Vec<ResolvedGrant>,
    /// Where it came from, for the world's own checks (duplicate ids).
    pub path: String,
}

#[derive(Debug, Clone)]
pub struct ResolvedVehicle {
    pub id: Uuid,
    pub spec: Arc<VehicleSpec>,
    pub state: Arc<VehicleState>,
    pub updated_at: OffsetDateTime,
    pub connected_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone)]
pub struct ResolvedGrant {
    pub id: Uuid,
    pub scopes: Arc<[Permission]>,
    pub vehicles: Arc<[Uuid]>,
    pub code: Option<ResolvedCode>,
    pub tokens: Vec<ResolvedTokens>,
}

#[derive(Debug, Clone)]
pub struct ResolvedCode {
    pub code: Uuid,
    pub redirect_uri: String,
    pub issued_at: OffsetDateTime,
    pub redeemed_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone)]
pub struct ResolvedTokens {
    pub access_token: Uuid,
    pub refresh_token: Uuid,
    pub access_expires_at: OffsetDateTime,
    pub refresh_expires_at: OffsetDateTime,
    pub refresh_used_at: Option<OffsetDateTime>,
}

impl Snapshot {
    /// Adds `later` to this snapshot: its users, codes, webhooks and rules join ours, its
    /// settings (clock, limits) win.
    pub fn merge(&mut self, later: Snapshot) {
        if later.clock_offset_ms.is_some() {
            self.clock_offset_ms = later.clock_offset_ms;
        }
        if later.default_limits.is_some() {
            self.default_limits = later.default_limits;
        }
        self.faults.extend(later.faults);
        for (client_id, part) in later.apps {
            let ours = self.apps.entry(client_id).or_default();
            ours.users.extend(part.users);
            ours.spent_codes.extend(part.spent_codes);
            ours.webhooks.extend(part.webhooks);
            if part.limits.is_some() {
                ours.limits = part.limits;
            }
            ours.faults.extend(part.faults);
            ours.connect_faults.extend(part.connect_faults);
        }
    }

    /// Checks every reference against the fixtures (apps, brands, webhooks, error names) and
    /// fills in what was left out, at `now` on the virtual clock. Ids named twice are refused.
    pub fn resolve(&self, fixtures: &Fixtures, now: OffsetDateTime) -> Result<Vec<ResolvedApp>, SnapshotError> {
        let mut ids = HashSet::new();
        let mut apps = Vec::with_capacity(self.apps.len());
        for (client_id, app) in &self.apps {
            let path = format!("apps.{client_id}");
            let Some(fixture) = fixtures.app(client_id) else {
                return Err(SnapshotError::new(path, "no app of the fixtures has this client id"));
            };
            let mut users = Vec::with_capacity(app.users.len());
            for (i, user) in app.users.iter().enumerate() {
                users.push(resolve_user(
                    user,
                    &format!("{path}.users[{i}]"),
                    fixtures,
                    &fixture.default_scope,
                    now,
                    &mut ids,
                )?);
            }
            let mut spent_codes = Vec::new();
            for (i, code) in app.spent_codes.iter().enumerate() {
                let path = format!("{path}.spentCodes[{i}]");
                unique(&mut ids, code.code, &format!("{path}.code"))?;
                spent_codes.push(resolve_code(code, now));
            }
            for (i, webhook) in app.webhooks.iter().enumerate() {
                if !fixture.webhooks.iter().any(|spec| spec.id == webhook.id) {
                    return Err(SnapshotError::new(
                        format!("{path}.webhooks[{i}].id"),
                        format!("the app has no webhook {} in the fixtures", webhook.id),
                    ));
                }
                for (j, vehicle) in webhook.vehicles.iter().enumerate() {
                    let owned = users.iter().flat_map(|u| &u.vehicles).any(|v| v.id == *vehicle);
                    if !owned {
                        return Err(SnapshotError::new(
                            format!("{path}.webhooks[{i}].vehicles[{j}]"),
                            format!("no vehicle of this app has id {vehicle}"),
                        ));
                    }
                }
            }
            for (i, rule) in app.faults.iter().enumerate() {
                if rule.app.as_ref().is_some_and(|named| named != client_id) {
                    return Err(SnapshotError::new(
                        format!("{path}.faults[{i}].app"),
                        format!("a rule under apps.{client_id} is for that app; leave app out"),
                    ));
                }
            }
            apps.push(ResolvedApp {
                app: client_id.clone(),
                users,
                spent_codes,
                from_store: false,
            });
        }
        Ok(apps)
    }
}

fn unique(ids: &mut HashSet<Uuid>, id: Uuid, path: &str) -> Result<(), SnapshotError> {
    if ids.insert(id) {
        Ok(())
    } else {
        Err(SnapshotError::new(path, format!("{id} is named twice in the snapshot")))
    }
}

fn resolve_user(
    user: &UserSnapshot,
    path: &str,
    fixtures: &Fixtures,
    default_scope: &[Permission],
    now: OffsetDateTime,
    ids: &mut HashSet<Uuid>,
) -> Result<ResolvedUser, SnapshotError> {
    let id = user.id.unwrap_or_else(Uuid::new_v4);
    unique(ids, id, &format!("{path}.id"))?;
    if user.login.trim().is_empty() {
        return Err(SnapshotError::new(
            format!("{path}.login"),
            "expected a login, got an empty string",
        ));
    }
    let forced_error = match &user.forced_error {
        None => None,
        Some(name) => {
            let (kind, code) = name.split_once(':').unwrap_or((name, ""));
            Some(catalogue::find(kind.trim(), Some(code.trim())).ok_or_else(|| {
                SnapshotError::new(
                    format!("{path}.forcedError"),
                    format!("{name:?} is not in the error catalogue (expected \"TYPE:CODE\")"),
                )
            })?)
        }
    };
    let mut vehicles = Vec::with_capacity(user.vehicles.len());
    for (i, vehicle) in user.vehicles.iter().enumerate() {
        vehicles.push(resolve_vehicle(
            vehicle,
            &format!("{path}.vehicles[{i}]"),
            fixtures,
            now,
            ids,
        )?);
    }
    let all: Arc<[Uuid]> = vehicles.iter().map(|v| v.id).collect();
    let mut grants = Vec::with_capacity(user.grants.len());
    for (i, grant) in user.grants.iter().enumerate() {
        let path = format!("{path}.grants[{i}]");
        let grant_id = grant.id.unwrap_or_else(Uuid::new_v4);
        unique(ids, grant_id, &format!("{path}.id"))?;
        let reach: Arc<[Uuid]> = match &grant.vehicles {
            None => Arc::clone(&all),
            Some(named) => {
                if let Some((j, id)) = named.iter().enumerate().find(|(_, id)| !all.contains(id)) {
                    return Err(SnapshotError::new(
                        format!("{path}.vehicles[{j}]"),
                        format!("the user has no vehicle with id {id}"),
                    ));
                }
                named.iter().copied().collect()
            }
        };
        let code = match &grant.code {
            Some(code) => {
                unique(ids, code.code, &format!("{path}.code.code"))?;
                Some(resolve_code(code, now))
            }
            None => None,
        };
        let mut tokens = Vec::with_capacity(grant.tokens.len());
        for (j, pair) in grant.tokens.iter().enumerate() {
            let path = format!("{path}.tokens[{j}]");
            unique(ids, pair.access_token, &format!("{path}.accessToken"))?;
            unique(ids, pair.refresh_token, &format!("{path}.refreshToken"))?;
            tokens.push(ResolvedTokens {
                access_token: pair.access_token,
                refresh_token: pair.refresh_token,
                access_expires_at: pair
                    .access_expires_at
                    .unwrap_or_else(|| now.saturating_add(crate::domain::world::ACCESS_LIFETIME)),
                refresh_expires_at: pair
                    .refresh_expires_at
                    .unwrap_or_else(|| now.saturating_add(crate::domain::world::REFRESH_LIFETIME)),
                refresh_used_at: pair.refresh_used_at,
            });
        }
        grants.push(ResolvedGrant {
            id: grant_id,
            scopes: grant.scopes.as_deref().unwrap_or(default_scope).into(),
            vehicles: reach,
            code,
            tokens,
        });
    }
    Ok(ResolvedUser {
        id,
        login: user.login.clone(),
        mode: user.mode,
        forced_error,
        vehicles,
        grants,
        path: path.to_owned(),
    })
}

fn resolve_vehicle(
    vehicle: &VehicleSnapshot,
    path: &str,
    fixtures: &Fixtures,
    now: OffsetDateTime,
    ids: &mut HashSet<Uuid>,
) -> Result<ResolvedVehicle, SnapshotError> {
    let id = vehicle.id.unwrap_or_else(Uuid::new_v4);
    unique(ids, id, &format!("{path}.id"))?;
    let brand = fixtures
        .brand(&vehicle.brand.to_ascii_uppercase())
        .filter(|brand| !brand.vehicles.is_empty())
        .ok_or_else(|| {
            let known: Vec<&str> = fixtures.brands.iter().map(|b| b.make.as_str()).collect();
            SnapshotError::new(
                format!("{path}.brand"),
                format!(
                    "expected a fixture brand ({}), got {:?}",
                    known.join(", "),
                    vehicle.brand
                ),
            )
        })?;
    let spec = match &vehicle.vin {
        None => Arc::clone(&brand.vehicles[0]),
        Some(vin) => match brand.vehicles.iter().find(|spec| spec.vin == *vin) {
            Some(spec) => Arc::clone(spec),
            None => {
                if vin.len() != 17 || !vin.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(SnapshotError::new(
                        format!("{path}.vin"),
                        format!("expected 17 letters and digits, got {vin:?}"),
                    ));
                }
                let mut spec = (*brand.vehicles[0]).clone();
                spec.vin.clone_from(vin);
                Arc::new(spec)
            }
        },
    };
    let state = match &vehicle.state {
        None => Arc::clone(&spec.state),
        Some(patch) => Arc::new(spec.state.patched(patch).map_err(|error| match error {
            crate::domain::vehicle::PatchError::NotAnObject => {
                SnapshotError::new(format!("{path}.state"), "expected a JSON object")
            }
            crate::domain::vehicle::PatchError::Invalid { path: inner, message } => {
                SnapshotError::new(format!("{path}.state.{inner}"), message)
            }
        })?),
    };
    Ok(ResolvedVehicle {
        id,
        spec,
        state,
        updated_at: vehicle.updated_at.unwrap_or(now),
        connected_at: if vehicle.disconnected {
            None
        } else {
            Some(vehicle.connected_at.unwrap_or(now))
        },
    })
}

fn resolve_code(code: &CodeSnapshot, now: OffsetDateTime) -> ResolvedCode {
    ResolvedCode {
        code: code.code,
        redirect_uri: code.redirect_uri.clone(),
        issued_at: code.issued_at.unwrap_or(now),
        redeemed_at: code.redeemed_at,
    }
}

/// `"TYPE:CODE"` (or `"TYPE"`) for a catalogue row, as [`UserSnapshot::forced_error`] names it.
pub(crate) fn error_name(entry: &Entry) -> String {
    match entry.code {
        Some(code) => format!("{}:{code}", entry.kind),
        None => entry.kind.to_owned(),
    }
}
