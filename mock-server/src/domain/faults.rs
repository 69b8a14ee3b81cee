//! Fault injection as the platform keeps it: rules that make matching requests fail, slow down
//! or lose their connection, and Connect-side rules that end the next authorization(s) of an app
//! with a Connect error.
//!
//! Rules are tried in the order they were added; the first that matches and fires wins. A rule
//! with a probability draws from its own generator seeded with `seed`, so the same seed and the
//! same requests give the same sequence of faults. A rule with `times` leaves the book after its
//! last firing, so a long-lived server's book (and every request's walk through it) does not grow
//! with the rules tests add and use up.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::caller::Caller;
use crate::domain::catalogue::{self, Entry};
use crate::domain::sign_in::ConnectErrorCode;

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
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
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
    /// The catalogue row this names, if any.
    pub fn entry(&self) -> Option<&'static Entry> {
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
pub(crate) struct Fault {
    pub(crate) rule: u64,
    pub(crate) error: Option<&'static Entry>,
    pub(crate) retry_after: Option<u64>,
    pub(crate) latency: Option<Duration>,
    pub(crate) drop: bool,
}

/// A Connect error the next authorization(s) end in (docs/contract/connect.md#connect-errors).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectFaultSpec {
    /// The app whose authorizations fail (required: Connect faults are per app).
    pub app: String,
    /// Only this login (e-mail, any case); absent means any user of the app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub error: ConnectErrorCode,
    /// How many authorizations fail; 1 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
}

/// Why a rule was refused. The messages are what test control answers with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum FaultError {
    #[error("{0:?} is not in the error catalogue")]
    UnknownError(ErrorName),
    #[error("{0:?} is not an HTTP method")]
    NotAMethod(String),
    #[error("{0}")]
    Latency(#[from] LatencyError),
    #[error("{0}")]
    Pattern(#[from] PatternError),
    #[error("probability must be between 0 and 1, got {0}")]
    Probability(f64),
    #[error("times must be at least 1 (leave it out for a rule that always fires)")]
    NeverFires,
    #[error("a rule needs an error, a latency, drop or retry_after")]
    DoesNothing,
    #[error("times must be at least 1")]
    ConnectNeverFires,
}

/// An API rule as it stands: its spec, what it resolved to, and how often it fired.
#[derive(Debug, Clone)]
pub(crate) struct RuleSnapshot {
    pub(crate) id: u64,
    pub(crate) spec: FaultSpec,
    /// The catalogue row `spec.error` names.
    pub(crate) error: Option<&'static Entry>,
    /// The generator's seed (the spec's, or the random one drawn for it).
    pub(crate) seed: u64,
    pub(crate) fired: u64,
    /// Firings left; `None` for a rule that always fires.
    pub(crate) remaining: Option<u64>,
}

/// A Connect rule as it stands.
#[derive(Debug, Clone)]
pub(crate) struct ConnectRuleSnapshot {
    pub(crate) id: u64,
    pub(crate) spec: ConnectFaultSpec,
    pub(crate) fired: u64,
    pub(crate) remaining: u64,
}

/// Every rule (of one app, or of all), in the order they are tried.
#[derive(Debug, Clone, Default)]
pub(crate) struct RuleBook {
    pub(crate) rules: Vec<RuleSnapshot>,
    pub(crate) connect: Vec<ConnectRuleSnapshot>,
}

struct Rule {
    id: u64,
    spec: FaultSpec,
    /// Upper-cased, as request methods are compared.
    method: Option<Box<str>>,
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
    /// Moves whenever a rule fires (or the book changes), so a state file's saver can tell, once
    /// a second, whether the firings left have changed without a write per request.
    generation: u64,
}

/// The rule book. Clones share it; an atomic count lets requests skip the lock when it is empty.
#[derive(Clone, Default)]
pub(crate) struct Faults {
    inner: Arc<Mutex<Inner>>,
    active: Arc<AtomicUsize>,
}

impl Faults {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn recount(&self, inner: &mut Inner) {
        inner.generation = inner.generation.wrapping_add(1);
        self.active
            .store(inner.rules.len() + inner.connect.len(), Ordering::Relaxed);
    }

    /// Adds an API rule, or says why the spec makes no sense.
    pub(crate) fn add(&self, spec: FaultSpec) -> Result<RuleSnapshot, FaultError> {
        let error = match &spec.error {
            Some(name) => Some(name.entry().ok_or_else(|| FaultError::UnknownError(name.clone()))?),
            None => None,
        };
        let method = match &spec.method {
            Some(method) if is_method(method) => Some(method.to_ascii_uppercase().into_boxed_str()),
            Some(method) => return Err(FaultError::NotAMethod(method.clone())),
            None => None,
        };
        let latency = spec.latency.as_deref().map(parse_latency).transpose()?;
        let path = spec.path.as_deref().map(PathPattern::parse).transpose()?;
        if let Some(p) = spec.probability
            && !(0.0..=1.0).contains(&p)
        {
            return Err(FaultError::Probability(p));
        }
        if spec.times == Some(0) {
            return Err(FaultError::NeverFires);
        }
        if error.is_none() && latency.is_none() && !spec.drop && spec.retry_after.is_none() {
            return Err(FaultError::DoesNothing);
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
        let snapshot = rule.snapshot();
        inner.rules.push(rule);
        self.recount(&mut inner);
        Ok(snapshot)
    }

    /// Adds a Connect rule. Whether its app exists is the caller's to check (against the
    /// fixtures).
    pub(crate) fn add_connect(&self, spec: ConnectFaultSpec) -> Result<ConnectRuleSnapshot, FaultError> {
        if spec.times == Some(0) {
            return Err(FaultError::ConnectNeverFires);
        }
        let mut inner = self.lock();
        inner.next_id += 1;
        let rule = ConnectRule {
            id: inner.next_id,
            spec,
            fired: 0,
        };
        let snapshot = rule.snapshot();
        inner.connect.push(rule);
        self.recount(&mut inner);
        Ok(snapshot)
    }

    /// The fault for this request (`method` as sent, `path` without its query), if a rule fires
    /// (counting it). A rule that has fired its last time leaves the book.
    pub(crate) fn take(&self, caller: &Caller, method: &str, path: &str) -> Option<Fault> {
        if self.active.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let mut inner = self.lock();
        let (index, fault) = inner
            .rules
            .iter_mut()
            .enumerate()
            .find_map(|(index, rule)| rule.fire(caller, method, path).map(|fault| (index, fault)))?;
        inner.generation = inner.generation.wrapping_add(1);
        if inner.rules[index].remaining() == Some(0) {
            inner.rules.remove(index);
            self.recount(&mut inner);
        }
        Some(fault)
    }

    /// The Connect error the next authorization of `login` at `app` ends in, with the rule's id,
    /// if a rule fires (counting it).
    pub(crate) fn take_connect(&self, app: &str, login: &str) -> Option<(u64, ConnectErrorCode)> {
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
        inner.generation = inner.generation.wrapping_add(1);
        let rule = &mut inner.connect[index];
        rule.fired += 1;
        let taken = (rule.id, rule.spec.error);
        if rule.remaining() == 0 {
            inner.connect.remove(index);
            self.recount(&mut inner);
        }
        Some(taken)
    }

    /// A number that moves whenever a rule fires or the book changes.
    pub(crate) fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// The rules naming `app` (every rule when `None`), in the order they are tried.
    pub(crate) fn list(&self, app: Option<&str>) -> RuleBook {
        let inner = self.lock();
        RuleBook {
            rules: inner
                .rules
                .iter()
                .filter(|rule| app.is_none_or(|app| rule.spec.app.as_deref() == Some(app)))
                .map(Rule::snapshot)
                .collect(),
            connect: inner
                .connect
                .iter()
                .filter(|rule| app.is_none_or(|app| rule.spec.app == app))
                .map(ConnectRule::snapshot)
                .collect(),
        }
    }

    /// Removes rule `id`; `false` if there is none.
    pub(crate) fn remove(&self, id: u64) -> bool {
        let mut inner = self.lock();
        let before = inner.rules.len() + inner.connect.len();
        inner.rules.retain(|rule| rule.id != id);
        inner.connect.retain(|rule| rule.id != id);
        let removed = inner.rules.len() + inner.connect.len() < before;
        self.recount(&mut inner);
        removed
    }

    /// Removes the rules of one app (those naming it), or every rule.
    pub(crate) fn clear(&self, app: Option<&str>) {
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
        self.recount(&mut inner);
    }
}

/// An HTTP method as RFC 9110 §9.1 spells one: a token (letters, digits and ``!#$%&'*+-.^_`|~``).
fn is_method(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl Rule {
    fn remaining(&self) -> Option<u64> {
        self.spec.times.map(|times| u64::from(times).saturating_sub(self.fired))
    }

    fn matches(&self, caller: &Caller, method: &str, path: &str) -> bool {
        let spec = &self.spec;
        spec.app.as_deref().is_none_or(|app| caller.app.as_deref() == Some(app))
            && spec.user.is_none_or(|user| caller.user == Some(user))
            && spec.vehicle.is_none_or(|vehicle| caller.vehicle == Some(vehicle))
            && self.method.as_deref().is_none_or(|m| m == method)
            && self.path.as_ref().is_none_or(|pattern| pattern.matches(path))
    }

    fn fire(&mut self, caller: &Caller, method: &str, path: &str) -> Option<Fault> {
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

    fn snapshot(&self) -> RuleSnapshot {
        RuleSnapshot {
            id: self.id,
            spec: self.spec.clone(),
            error: self.error,
            seed: self.seed,
            fired: self.fired,
            remaining: self.remaining(),
        }
    }
}

impl ConnectRule {
    fn remaining(&self) -> u64 {
        u64::from(self.spec.times.unwrap_or(1)).saturating_sub(self.fired)
    }

    fn snapshot(&self) -> ConnectRuleSnapshot {
        ConnectRuleSnapshot {
            id: self.id,
            spec: self.spec.clone(),
            fired: self.fired,
            remaining: self.remaining(),
        }
    }
}

/// The longest latency a rule may add: longer than any client's timeout worth testing, short
/// enough that a typo (`2y` for `2s`) cannot park requests until the server stops.
pub(crate) const MAX_LATENCY: Duration = Duration::from_secs(10 * 60);

/// Why a latency was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LatencyError {
    #[error("latency {part:?}: {message}")]
    Unreadable { part: String, message: String },
    #[error("latency {part:?} is longer than the 10 minutes a rule may add")]
    TooLong { part: String },
    #[error("latency range {text:?} ends before it starts")]
    Backwards { text: String },
}

/// `"2s"` or `"500ms..3s"`, at most [`MAX_LATENCY`].
pub(crate) fn parse_latency(text: &str) -> Result<(Duration, Duration), LatencyError> {
    let parse = |part: &str| {
        let duration = humantime::parse_duration(part.trim()).map_err(|error| LatencyError::Unreadable {
            part: part.to_owned(),
            message: error.to_string(),
        })?;
        if duration > MAX_LATENCY {
            return Err(LatencyError::TooLong { part: part.to_owned() });
        }
        Ok(duration)
    };
    match text.split_once("..") {
        Some((min, max)) => {
            let (min, max) = (parse(min)?, parse(max)?);
            if max < min {
                return Err(LatencyError::Backwards { text: text.to_owned() });
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
pub(crate) struct PathPattern(regex::Regex);

/// Patterns are short; this keeps a compiled one small too.
const MAX_PATTERN_CHARS: usize = 1024;

/// Why a path pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PatternError {
    #[error("a path pattern has at most {MAX_PATTERN_CHARS} characters")]
    TooLong,
    #[error("path pattern {pattern:?} is too complex: {message}")]
    TooComplex { pattern: String, message: String },
}

impl PathPattern {
    pub(crate) fn parse(pattern: &str) -> Result<Self, PatternError> {
        if pattern.chars().count() > MAX_PATTERN_CHARS {
            return Err(PatternError::TooLong);
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
            .map_err(|error| PatternError::TooComplex {
                pattern: pattern.to_owned(),
                message: error.to_string(),
            })
    }

    pub(crate) fn matches(&self, path: &str) -> bool {
        self.0.is_match(path)
    }
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

        assert!(error.to_string().contains("10 minutes"), "{error}");
        assert_eq!(parse_latency("10m"), Ok((MAX_LATENCY, MAX_LATENCY)));
    }

    #[test]
    fn a_method_is_an_rfc_token() {
        assert!(is_method("GET") && is_method("purge") && is_method("M-SEARCH"));
        assert!(!is_method("") && !is_method("GET /") && !is_method("GÉT"));
    }

    #[test]
    fn a_rule_matches_the_method_whatever_case_it_was_written_in() {
        let faults = Faults::default();
        faults
            .add(FaultSpec {
                method: Some("post".to_owned()),
                drop: true,
                ..FaultSpec::default()
            })
            .expect("a sound rule");

        assert!(faults.take(&Caller::default(), "GET", "/x").is_none());
        assert!(faults.take(&Caller::default(), "POST", "/x").is_some());
    }

    #[test]
    fn a_rule_with_times_leaves_the_book_after_its_last_firing() {
        let faults = Faults::default();
        let rule = faults
            .add(FaultSpec {
                error: Some(ErrorName::Text("VEHICLE_STATE:ASLEEP".to_owned())),
                times: Some(1),
                ..FaultSpec::default()
            })
            .expect("a sound rule");

        let fault = faults.take(&Caller::default(), "GET", "/v2.0/vehicles");

        assert_eq!(fault.map(|fault| fault.rule), Some(rule.id));
        assert!(faults.list(None).rules.is_empty());
    }

    #[test]
    fn a_firing_moves_the_generation_and_a_miss_does_not() {
        let faults = Faults::default();
        faults
            .add(FaultSpec {
                method: Some("POST".to_owned()),
                drop: true,
                ..FaultSpec::default()
            })
            .expect("a sound rule");
        let added = faults.generation();

        let _ = faults.take(&Caller::default(), "GET", "/x");
        let missed = faults.generation();
        let _ = faults.take(&Caller::default(), "POST", "/x");

        assert_eq!(missed, added);
        assert_ne!(faults.generation(), missed);
    }

    #[test]
    fn a_rule_that_does_nothing_is_refused() {
        let refused = Faults::default().add(FaultSpec::default()).map(|rule| rule.id);

        assert_eq!(refused, Err(FaultError::DoesNothing));
    }
}
