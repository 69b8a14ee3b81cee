//! Fault injection: rules that make matching requests fail, slow down or lose their connection,
//! and Connect-side faults that end the next authorization with a Connect error.
//!
//! - `GET /admin/faults[?app=]` — every rule with how often it fired and how many firings remain
//!   (a rule with `times` leaves the list after its last firing; the journal names the rule that
//!   answered each request)
//! - `POST /admin/faults` — add an API rule (see [`FaultSpec`])
//! - `POST /admin/faults/connect` — add a Connect rule (see [`ConnectFaultSpec`])
//! - `DELETE /admin/faults/{id}` — remove one rule
//! - `DELETE /admin/faults[?app=]` — remove every rule (of one app)
//!
//! Rules are tried in the order they were added; the first that matches and fires wins. A rule
//! with a probability draws from its own generator seeded with `seed`, so the same seed and the
//! same requests give the same sequence of faults.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::Method;
use axum::routing::{delete, get, post};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{AdminError, AppFilter, JsonBody};
use crate::caller::Caller;
use crate::domain::catalogue::{self, Entry};
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/faults", get(list).post(add).delete(clear))
        .route("/faults/connect", post(add_connect))
        .route("/faults/{id}", delete(remove))
}

/// An API fault rule as a test writes it. Every matcher is optional; no matcher matches all.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vehicle: Option<Uuid>,
    /// `GET`, `POST`, … (any case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// A path pattern: `*` is any text within a segment, `**` any text at all
    /// (`/v2.0/vehicles/*/charge`, `**/odometer`); without a leading `/` it matches the path's end
    /// (`*/charge`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// A catalogue row: `{"type": "VEHICLE_STATE", "code": "ASLEEP"}` or `"VEHICLE_STATE:ASLEEP"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorName>,
    /// Seconds for a `retry-after` header (on the error, or on the real answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// Added latency: `"2s"`, or a range `"500ms..3s"` drawn from the rule's generator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<String>,
    /// Close the connection without an answer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drop: bool,
    /// How many times the rule fires; absent means always.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// The chance (0–1) that a matching request gets the fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// Seeds the rule's generator (probability, latency ranges); random when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

/// A catalogue row named by type and code.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum ErrorName {
    Text(String),
    Parts {
        #[serde(rename = "type")]
        kind: String,
        #[serde(default)]
        code: Option<String>,
    },
}

impl ErrorName {
    fn entry(&self) -> Option<&'static Entry> {
        match self {
            ErrorName::Text(text) => {
                let (kind, code) = text.split_once(':').unwrap_or((text, ""));
                catalogue::find(kind.trim(), Some(code.trim()))
            }
            ErrorName::Parts { kind, code } => catalogue::find(kind, code.as_deref()),
        }
    }
}

/// What a fired rule does to the request.
#[derive(Debug, Clone)]
pub struct Fault {
    pub rule: u64,
    pub error: Option<&'static Entry>,
    pub retry_after: Option<u64>,
    pub latency: Option<Duration>,
    pub drop: bool,
}

/// A Connect error the next authorization(s) end in (test-mode.md A4).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectFaultSpec {
    /// The app whose authorizations fail (required: Connect faults are per app).
    pub app: String,
    /// Only this login (e-mail, any case); absent means any user of the app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub error: ConnectFaultKind,
    /// How many authorizations fail; 1 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
}

/// The Connect errors a test can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectFaultKind {
    AccessDenied,
    InvalidSubscription,
    VehicleIncompatible,
    NoVehicles,
    ConfigurationError,
    ServerError,
}

impl ConnectFaultKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectFaultKind::AccessDenied => "access_denied",
            ConnectFaultKind::InvalidSubscription => "invalid_subscription",
            ConnectFaultKind::VehicleIncompatible => "vehicle_incompatible",
            ConnectFaultKind::NoVehicles => "no_vehicles",
            ConnectFaultKind::ConfigurationError => "configuration_error",
            ConnectFaultKind::ServerError => "server_error",
        }
    }
}

struct Rule {
    id: u64,
    spec: FaultSpec,
    method: Option<Method>,
    path: Option<PathPattern>,
    error: Option<&'static Entry>,
    latency: Option<(Duration, Duration)>,
    seed: u64,
    rng: StdRng,
    fired: u64,
}

struct ConnectRule {
    id: u64,
    spec: ConnectFaultSpec,
    fired: u64,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    rules: Vec<Rule>,
    connect: Vec<ConnectRule>,
}

/// The rule book. Clones share it; an atomic count lets requests skip the lock when it is empty.
#[derive(Clone, Default)]
pub struct Faults {
    inner: Arc<Mutex<Inner>>,
    active: Arc<AtomicUsize>,
}

impl Faults {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn recount(&self, inner: &Inner) {
        self.active
            .store(inner.rules.len() + inner.connect.len(), Ordering::Relaxed);
    }

    /// Adds an API rule; its id, or why the spec makes no sense.
    pub fn add(&self, spec: FaultSpec) -> Result<Value, String> {
        let error = match &spec.error {
            Some(name) => Some(
                name.entry()
                    .ok_or_else(|| format!("{name:?} is not in the error catalogue"))?,
            ),
            None => None,
        };
        let method = match &spec.method {
            Some(method) => Some(
                Method::from_bytes(method.to_ascii_uppercase().as_bytes())
                    .map_err(|_| format!("{method:?} is not an HTTP method"))?,
            ),
            None => None,
        };
        let latency = spec.latency.as_deref().map(parse_latency).transpose()?;
        let path = spec.path.as_deref().map(PathPattern::parse).transpose()?;
        if let Some(p) = spec.probability
            && !(0.0..=1.0).contains(&p)
        {
            return Err(format!("probability must be between 0 and 1, got {p}"));
        }
        if spec.times == Some(0) {
            return Err("times must be at least 1 (leave it out for a rule that always fires)".to_owned());
        }
        if error.is_none() && latency.is_none() && !spec.drop && spec.retry_after.is_none() {
            return Err("a rule needs an error, a latency, drop or retry_after".to_owned());
        }
        let seed = spec.seed.unwrap_or_else(rand::random);
        let mut inner = self.lock();
        inner.next_id += 1;
        let rule = Rule {
            id: inner.next_id,
            spec,
            method,
            path,
            error,
            latency,
            seed,
            rng: StdRng::seed_from_u64(seed),
            fired: 0,
        };
        let view = rule.view();
        inner.rules.push(rule);
        self.recount(&inner);
        Ok(view)
    }

    /// Adds a Connect rule (`times` is at least 1: the handler checks).
    pub fn add_connect(&self, spec: ConnectFaultSpec) -> Value {
        let mut inner = self.lock();
        inner.next_id += 1;
        let rule = ConnectRule {
            id: inner.next_id,
            spec,
            fired: 0,
        };
        let view = rule.view();
        inner.connect.push(rule);
        self.recount(&inner);
        view
    }

    /// The fault for this request, if a rule fires (counting it). A rule that has fired its
    /// last time leaves the rule book, so a long-lived server's book (and every request's walk
    /// through it) does not grow with the rules tests add and use up.
    pub fn take(&self, caller: &Caller, method: &Method, path: &str) -> Option<Fault> {
        if self.active.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let mut inner = self.lock();
        let (index, fault) = inner
            .rules
            .iter_mut()
            .enumerate()
            .find_map(|(index, rule)| rule.fire(caller, method, path).map(|fault| (index, fault)))?;
        if inner.rules[index].remaining() == Some(0) {
            inner.rules.remove(index);
            self.recount(&inner);
        }
        Some(fault)
    }

    /// The Connect error the next authorization of `login` at `app` ends in, if any (counting it).
    pub fn take_connect(&self, app: &str, login: &str) -> Option<(u64, ConnectFaultKind)> {
        if self.active.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let mut inner = self.lock();
        let index = inner.connect.iter().position(|rule| {
            rule.spec.app == app
                && rule.remaining() > 0
                && rule
                    .spec
                    .email
                    .as_deref()
                    .is_none_or(|email| email.eq_ignore_ascii_case(login))
        })?;
        let rule = &mut inner.connect[index];
        rule.fired += 1;
        let taken = (rule.id, rule.spec.error);
        if rule.remaining() == 0 {
            inner.connect.remove(index);
            self.recount(&inner);
        }
        Some(taken)
    }

    pub fn list(&self, app: Option<&str>) -> Value {
        let inner = self.lock();
        let rules: Vec<Value> = inner
            .rules
            .iter()
            .filter(|rule| app.is_none_or(|app| rule.spec.app.as_deref() == Some(app)))
            .map(Rule::view)
            .collect();
        let connect: Vec<Value> = inner
            .connect
            .iter()
            .filter(|rule| app.is_none_or(|app| rule.spec.app == app))
            .map(ConnectRule::view)
            .collect();
        json!({ "rules": rules, "connect": connect })
    }

    pub fn remove(&self, id: u64) -> bool {
        let mut inner = self.lock();
        let before = inner.rules.len() + inner.connect.len();
        inner.rules.retain(|rule| rule.id != id);
        inner.connect.retain(|rule| rule.id != id);
        let removed = inner.rules.len() + inner.connect.len() < before;
        self.recount(&inner);
        removed
    }

    /// Removes the rules of one app (those naming it), or every rule.
    pub fn clear(&self, app: Option<&str>) {
        let mut inner = self.lock();
        match app {
            Some(app) => {
                inner.rules.retain(|rule| rule.spec.app.as_deref() != Some(app));
                inner.connect.retain(|rule| rule.spec.app != app);
            }
            None => {
                inner.rules.clear();
                inner.connect.clear();
            }
        }
        self.recount(&inner);
    }
}

impl Rule {
    fn remaining(&self) -> Option<u64> {
        self.spec.times.map(|times| u64::from(times).saturating_sub(self.fired))
    }

    fn matches(&self, caller: &Caller, method: &Method, path: &str) -> bool {
        let spec = &self.spec;
        spec.app.as_deref().is_none_or(|app| caller.app.as_deref() == Some(app))
            && spec.user.is_none_or(|user| caller.user == Some(user))
            && spec.vehicle.is_none_or(|vehicle| caller.vehicle == Some(vehicle))
            && self.method.as_ref().is_none_or(|m| m == method)
            && self.path.as_ref().is_none_or(|pattern| pattern.matches(path))
    }

    fn fire(&mut self, caller: &Caller, method: &Method, path: &str) -> Option<Fault> {
        if self.remaining() == Some(0) || !self.matches(caller, method, path) {
            return None;
        }
        if let Some(p) = self.spec.probability
            && self.rng.random::<f64>() >= p
        {
            return None;
        }
        self.fired += 1;
        let latency = self.latency.map(|(min, max)| {
            if max > min {
                let span = u64::try_from((max - min).as_millis()).unwrap_or(u64::MAX);
                min + Duration::from_millis(self.rng.random_range(0..=span))
            } else {
                min
            }
        });
        Some(Fault {
            rule: self.id,
            error: self.error,
            retry_after: self.spec.retry_after,
            latency,
            drop: self.spec.drop,
        })
    }

    fn view(&self) -> Value {
        let mut view = serde_json::to_value(&self.spec).unwrap_or_else(|_| json!({}));
        if let Value::Object(map) = &mut view {
            map.insert("id".into(), self.id.into());
            map.insert("seed".into(), self.seed.into());
            map.insert("fired".into(), self.fired.into());
            map.insert("remaining".into(), self.remaining().map_or(Value::Null, Value::from));
            if let Some(entry) = self.error {
                map.insert("error".into(), json!({ "type": entry.kind, "code": entry.code }));
            }
        }
        view
    }
}

impl ConnectRule {
    fn remaining(&self) -> u64 {
        u64::from(self.spec.times.unwrap_or(1)).saturating_sub(self.fired)
    }

    fn view(&self) -> Value {
        let mut view = serde_json::to_value(&self.spec).unwrap_or_else(|_| json!({}));
        if let Value::Object(map) = &mut view {
            map.insert("id".into(), self.id.into());
            map.insert("fired".into(), self.fired.into());
            map.insert("remaining".into(), self.remaining().into());
        }
        view
    }
}

/// The longest latency a rule may add: longer than any client's timeout worth testing, short
/// enough that a typo (`2y` for `2s`) cannot park requests until the server stops.
pub const MAX_LATENCY: Duration = Duration::from_secs(10 * 60);

/// `"2s"` or `"500ms..3s"`, at most [`MAX_LATENCY`].
fn parse_latency(text: &str) -> Result<(Duration, Duration), String> {
    let parse = |part: &str| {
        let duration = humantime::parse_duration(part.trim()).map_err(|error| format!("latency {part:?}: {error}"))?;
        if duration > MAX_LATENCY {
            return Err(format!("latency {part:?} is longer than the 10 minutes a rule may add"));
        }
        Ok(duration)
    };
    match text.split_once("..") {
        Some((min, max)) => {
            let (min, max) = (parse(min)?, parse(max)?);
            if max < min {
                return Err(format!("latency range {text:?} ends before it starts"));
            }
            Ok((min, max))
        }
        None => {
            let fixed = parse(text)?;
            Ok((fixed, fixed))
        }
    }
}

/// A path pattern, compiled once: `*` is any run of characters except `/`, `**` any run at all;
/// a pattern that does not start with `/` or `**` matches the end of the path (`*/charge`,
/// `charge`). Every other character stands for itself.
///
/// Compiled to a regular expression, whose engine matches in time linear in the path, however
/// many stars the pattern has (a backtracking matcher is exponential in them).
#[derive(Debug, Clone)]
pub struct PathPattern(regex::Regex);

/// Patterns are short; this keeps a compiled one small too.
const MAX_PATTERN_CHARS: usize = 1024;

impl PathPattern {
    pub fn parse(pattern: &str) -> Result<Self, String> {
        if pattern.chars().count() > MAX_PATTERN_CHARS {
            return Err(format!("a path pattern has at most {MAX_PATTERN_CHARS} characters"));
        }
        let mut expression = String::from(r"(?s)\A");
        if !pattern.starts_with('/') && !pattern.starts_with("**") {
            expression.push_str(".*/");
        }
        let mut rest = pattern;
        while let Some(star) = rest.find('*') {
            expression.push_str(&regex::escape(&rest[..star]));
            rest = &rest[star..];
            if let Some(after) = rest.strip_prefix("**") {
                expression.push_str(".*");
                rest = after;
            } else {
                expression.push_str("[^/]*");
                rest = &rest[1..];
            }
        }
        expression.push_str(&regex::escape(rest));
        expression.push_str(r"\z");
        regex::RegexBuilder::new(&expression)
            .size_limit(1 << 20)
            .build()
            .map(PathPattern)
            .map_err(|error| format!("path pattern {pattern:?} is too complex: {error}"))
    }

    pub fn matches(&self, path: &str) -> bool {
        self.0.is_match(path)
    }
}

async fn list(State(state): State<AppState>, Query(filter): Query<AppFilter>) -> Json<Value> {
    Json(state.control.faults.list(filter.app.as_deref()))
}

async fn add(State(state): State<AppState>, JsonBody(spec): JsonBody<FaultSpec>) -> Result<Json<Value>, AdminError> {
    state.control.faults.add(spec).map(Json).map_err(AdminError::BadRequest)
}

async fn add_connect(
    State(state): State<AppState>,
    JsonBody(spec): JsonBody<ConnectFaultSpec>,
) -> Result<Json<Value>, AdminError> {
    if state.fixtures.app(&spec.app).is_none() {
        return Err(AdminError::NotFound(format!("no app has client id {}", spec.app)));
    }
    if spec.times == Some(0) {
        return Err(AdminError::BadRequest("times must be at least 1".to_owned()));
    }
    Ok(Json(state.control.faults.add_connect(spec)))
}

async fn remove(State(state): State<AppState>, Path(id): Path<u64>) -> Result<Json<Value>, AdminError> {
    if state.control.faults.remove(id) {
        Ok(Json(json!({ "removed": id })))
    } else {
        Err(AdminError::NotFound(format!("no fault rule {id}")))
    }
}

async fn clear(State(state): State<AppState>, Query(filter): Query<AppFilter>) -> Json<Value> {
    state.control.faults.clear(filter.app.as_deref());
    Json(json!({ "cleared": true }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(pattern: &str, path: &str) -> bool {
        PathPattern::parse(pattern).expect("a pattern").matches(path)
    }

    #[test]
    fn a_single_star_stays_within_a_segment() {
        assert!(glob("/v2.0/vehicles/*/charge", "/v2.0/vehicles/abc/charge"));
        assert!(!glob("/v2.0/vehicles/*/charge", "/v2.0/vehicles/abc/charge/limit"));
        assert!(glob("**/charge", "/v2.0/vehicles/abc/charge"));
        assert!(glob("/v*/vehicles/**", "/v3/vehicles/abc/signals"));
        assert!(!glob("/oauth/token", "/oauth/tokens"));
        assert!(glob("*/charge", "/v2.0/vehicles/abc/charge"));
        assert!(!glob("*/charge", "/v2.0/vehicles/abc/charge/limit"));
        assert!(glob("charge", "/v2.0/vehicles/abc/charge"));
        assert!(glob("/v2.0/**odometer", "/v2.0/vehicles/abc/odometer"));
        assert!(glob("/v2.0/vehicles/***", "/v2.0/vehicles/abc/odometer"));
    }

    #[test]
    fn other_characters_stand_for_themselves() {
        assert!(glob("/v2.0/vehicles/*/charge", "/v2.0/vehicles/a.b/charge"));
        assert!(!glob("/v2.0/vehicles/*/charge", "/v2x0/vehicles/abc/charge"));
        assert!(glob("/a?b[c]{d}(e)+$^|\\", "/a?b[c]{d}(e)+$^|\\"));
        assert!(!glob("/a?b", "/axb"));
        assert!(glob("**", "/anything\nat/all"));
    }

    #[test]
    fn a_pattern_full_of_double_stars_matches_in_linear_time() {
        let pattern = format!("/{}b", "**a".repeat(16));
        let path = format!("/{}", "a".repeat(200));
        let (done, finished) = std::sync::mpsc::channel();

        // On a thread of its own, so an exponential matcher fails the test instead of hanging it.
        std::thread::spawn(move || {
            let _ = done.send(glob(&pattern, &path));
        });

        assert_eq!(finished.recv_timeout(Duration::from_secs(5)), Ok(false));
    }

    #[test]
    fn latencies_are_fixed_or_ranges() {
        assert_eq!(
            parse_latency("2s"),
            Ok((Duration::from_secs(2), Duration::from_secs(2)))
        );
        assert_eq!(
            parse_latency("500ms..3s"),
            Ok((Duration::from_millis(500), Duration::from_secs(3)))
        );
        assert!(parse_latency("3s..1s").is_err());
    }

    #[test]
    fn a_latency_longer_than_ten_minutes_is_refused_with_the_cap() {
        let error = parse_latency("1s..292277026596y").expect_err("too long");

        assert!(error.contains("10 minutes"), "{error}");
        assert_eq!(parse_latency("10m"), Ok((MAX_LATENCY, MAX_LATENCY)));
    }
}
