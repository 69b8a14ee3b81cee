//! The request journal: what the mock received and answered, newest first.
//!
//! - `GET /admin/requests?app&claimed_app&user&vehicle&method&path&status&since&limit` — matching
//!   records
//! - `DELETE /admin/requests[?app=]` — forget them
//!
//! Each app has its own bounded ring (`--journal-size`, default 1000), so one app's traffic never
//! pushes out another's. A record goes to its app's ring only when the request's credentials were
//! accepted ([`Caller`]); everything else — no credentials, a public `client_id`, Connect pages,
//! an expired token — goes to one more ring of the same size, the unattributed one, with the
//! client id it named as `claimed_app`. So a stranger can push out only other unattributed records.
//! `app=` reads one app's ring; without it, every ring is read. A record keeps the request and response bodies as the `Bytes` the server
//! already had (no copy) and is turned into JSON only when someone asks; secrets are masked then.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::routing::get;
use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::faults::glob;
use super::{AdminError, AppFilter};
use crate::caller::Caller;
use crate::clock::smartcar_timestamp;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/requests", get(query).delete(clear))
}

/// The default number of records kept per app.
pub const DEFAULT_SIZE: usize = 1000;

/// One request and its answer.
#[derive(Debug)]
pub struct Record {
    pub seq: u64,
    /// The `sc-request-id` the answer carried.
    pub request_id: String,
    pub at: OffsetDateTime,
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub status: StatusCode,
    /// The answer's `retry-after`, the one response header tests ask about (the others are
    /// not kept: copying them on every request is what the journal must not cost).
    pub retry_after: Option<HeaderValue>,
    pub response_body: Bytes,
    pub latency: Duration,
    pub caller: Caller,
    /// The fault rule that answered, if one did.
    pub fault: Option<u64>,
    /// Why the request failed, in plain words (every 4xx has one).
    pub reason: Option<String>,
}

/// The journal handle. Clones share the rings.
#[derive(Clone)]
pub struct Journal {
    rings: Arc<Mutex<HashMap<String, VecDeque<Arc<Record>>>>>,
    next_seq: Arc<AtomicU64>,
    size: usize,
}

impl Journal {
    pub fn new(size: usize) -> Self {
        Journal {
            rings: Arc::default(),
            next_seq: Arc::new(AtomicU64::new(1)),
            size,
        }
    }

    /// Whether records are kept at all (`--journal-size 0` turns the journal off).
    pub fn enabled(&self) -> bool {
        self.size > 0
    }

    pub fn next_seq(&self) -> u64 {
        self.next_seq.fetch_add(1, Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, VecDeque<Arc<Record>>>> {
        self.rings.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn record(&self, record: Record) {
        if !self.enabled() {
            return;
        }
        let record = Arc::new(record);
        let evicted = {
            // Fixtures refuse an empty client id, so "" is free for the unattributed ring.
            let key = record.caller.app.as_deref().unwrap_or("");
            let mut rings = self.lock();
            if !rings.contains_key(key) {
                rings.insert(key.to_owned(), VecDeque::with_capacity(self.size.min(1024)));
            }
            let Some(ring) = rings.get_mut(key) else {
                return;
            };
            let evicted = (ring.len() >= self.size).then(|| ring.pop_back()).flatten();
            ring.push_front(record);
            evicted
        };
        // Freed after the lock is released.
        drop(evicted);
    }

    /// Matching records, newest first.
    pub fn find(&self, filter: &Filter) -> Vec<Arc<Record>> {
        let candidates: Vec<Arc<Record>> = {
            let rings = self.lock();
            match &filter.app {
                Some(app) => rings
                    .get(app)
                    .map(|ring| ring.iter().cloned().collect())
                    .unwrap_or_default(),
                None => rings.values().flat_map(|ring| ring.iter().cloned()).collect(),
            }
        };
        let mut found: Vec<Arc<Record>> = candidates.into_iter().filter(|record| filter.accepts(record)).collect();
        found.sort_by_key(|record| std::cmp::Reverse(record.seq));
        found.truncate(filter.limit.unwrap_or(usize::MAX));
        found
    }

    pub fn clear(&self, app: Option<&str>) {
        let mut rings = self.lock();
        match app {
            Some(app) => {
                rings.remove(app);
            }
            None => rings.clear(),
        }
    }
}

/// What `GET /admin/requests` filters on; every field is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// Records whose credentials were this app's.
    pub app: Option<String>,
    /// Unattributed records that named this client id.
    pub claimed_app: Option<String>,
    pub vehicle: Option<Uuid>,
    pub user: Option<Uuid>,
    pub method: Option<String>,
    /// A glob (`*/charge`, `**/odometer`) or, without `*`, any part of the path.
    pub path: Option<String>,
    /// `429`, or a class such as `4xx`.
    pub status: Option<String>,
    /// Newer than a time (`2030-01-01T12:00:00Z`) or than a duration ago on the virtual clock (`5m`).
    pub since: Option<String>,
    pub limit: Option<usize>,
    /// Resolved from `since` by the handler.
    #[serde(skip)]
    pub since_time: Option<OffsetDateTime>,
}

impl Filter {
    fn accepts(&self, record: &Record) -> bool {
        let path = record.uri.path();
        self.claimed_app
            .as_deref()
            .is_none_or(|claimed| record.caller.claimed.as_deref() == Some(claimed))
            && self
                .vehicle
                .is_none_or(|vehicle| record.caller.vehicle == Some(vehicle))
            && self.user.is_none_or(|user| record.caller.user == Some(user))
            && self
                .method
                .as_deref()
                .is_none_or(|method| method.eq_ignore_ascii_case(record.method.as_str()))
            && self.path.as_deref().is_none_or(|pattern| {
                if pattern.contains('*') {
                    glob(pattern, path)
                } else {
                    path.contains(pattern)
                }
            })
            && self
                .status
                .as_deref()
                .is_none_or(|status| status_matches(status, record.status))
            && self.since_time.is_none_or(|since| record.at >= since)
    }
}

fn status_matches(filter: &str, status: StatusCode) -> bool {
    let code = status.as_u16().to_string();
    filter.len() == 3
        && filter
            .bytes()
            .zip(code.bytes())
            .all(|(f, c)| f == c || f.eq_ignore_ascii_case(&b'x'))
}

impl Record {
    /// The record as JSON, with credentials masked.
    pub fn view(&self) -> Value {
        json!({
            "id": self.seq,
            "request_id": self.request_id,
            "at": smartcar_timestamp(self.at),
            "app": self.caller.app,
            "claimed_app": self.caller.claimed,
            "user": self.caller.user,
            "vehicle": self.caller.vehicle,
            "method": self.method.as_str(),
            "path": self.uri.path(),
            "query": query_view(self.uri.query()),
            "headers": headers_view(&self.headers),
            "body": body_view(Some(&self.headers), &self.body),
            "status": self.status.as_u16(),
            "retry_after": self.retry_after.as_ref().and_then(|v| v.to_str().ok()),
            "response_body": body_view(None, &self.response_body),
            "latency_ms": self.latency.as_secs_f64() * 1000.0,
            "fault": self.fault,
            "reason": self.reason,
        })
    }
}

fn query_view(query: Option<&str>) -> Value {
    let mut map = Map::new();
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        map.entry(key.to_string())
            .or_insert_with(|| mask_field(&key, &value).into());
    }
    Value::Object(map)
}

/// Headers as an object of lower-case names; `authorization` keeps its scheme and, for Basic,
/// the client id, so a test can check *how* its app authenticated without the secret showing.
fn headers_view(headers: &HeaderMap) -> Value {
    let mut map = Map::new();
    for (name, value) in headers {
        let text = String::from_utf8_lossy(value.as_bytes());
        let shown = if name == header::AUTHORIZATION {
            mask_authorization(&text)
        } else {
            text.into_owned()
        };
        map.entry(name.as_str().to_owned()).or_insert(shown.into());
    }
    Value::Object(map)
}

fn mask_authorization(value: &str) -> String {
    let (scheme, credential) = value.trim().split_once(' ').unwrap_or((value, ""));
    if scheme.eq_ignore_ascii_case("basic")
        && let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(credential.trim())
        && let Some((id, _)) = String::from_utf8_lossy(&decoded).split_once(':')
    {
        return format!("{scheme} {id}:***");
    }
    let tail: String = credential
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{scheme} ***{tail}")
}

fn mask_field(key: &str, value: &str) -> String {
    match key {
        "client_secret" | "password" => "***".to_owned(),
        _ => value.to_owned(),
    }
}

/// JSON bodies as JSON, forms as objects (secrets masked), anything else as text; empty as null.
fn body_view(headers: Option<&HeaderMap>, body: &Bytes) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    let content_type = headers
        .and_then(|headers| headers.get(header::CONTENT_TYPE))
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let mut map = Map::new();
        for (key, value) in form_urlencoded::parse(body) {
            map.entry(key.to_string())
                .or_insert_with(|| mask_field(&key, &value).into());
        }
        return Value::Object(map);
    }
    serde_json::from_slice(body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

async fn query(
    State(state): State<AppState>,
    filter: Result<Query<Filter>, QueryRejection>,
) -> Result<Json<Value>, AdminError> {
    let Query(mut filter) = filter.map_err(|rejection| AdminError::BadRequest(rejection.body_text()))?;
    if let Some(since) = filter.since.as_deref() {
        filter.since_time = Some(parse_since(since, state.clock.now())?);
    }
    let records: Vec<Value> = state.control.journal.find(&filter).iter().map(|r| r.view()).collect();
    Ok(Json(json!({ "requests": records })))
}

fn parse_since(text: &str, now: OffsetDateTime) -> Result<OffsetDateTime, AdminError> {
    if let Ok(at) = OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339) {
        return Ok(at);
    }
    let ago = humantime::parse_duration(text)
        .map_err(|_| AdminError::BadRequest(format!("since {text:?} is neither an RFC 3339 time nor a duration")))?;
    // As far back as the clock can go; an RFC 3339 time reaches anything older.
    time::Duration::try_from(ago)
        .ok()
        .filter(|ago| *ago <= crate::clock::MAX_OFFSET)
        .and_then(|ago| now.checked_sub(ago))
        .ok_or_else(|| {
            AdminError::BadRequest(format!(
                "since {text:?} is too far back: a duration takes at most 100 years ({} days); give an RFC 3339 time instead",
                crate::clock::MAX_OFFSET.whole_days()
            ))
        })
}

async fn clear(State(state): State<AppState>, Query(filter): Query<AppFilter>) -> Json<Value> {
    state.control.journal.clear(filter.app.as_deref());
    Json(json!({ "cleared": true }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_filters_take_codes_and_classes() {
        assert!(status_matches("429", StatusCode::TOO_MANY_REQUESTS));
        assert!(status_matches("4xx", StatusCode::NOT_FOUND));
        assert!(!status_matches("5xx", StatusCode::NOT_FOUND));
    }

    #[test]
    fn basic_credentials_show_the_client_id_only() {
        let encoded = base64::engine::general_purpose::STANDARD.encode("demo-client:demo-secret");

        assert_eq!(mask_authorization(&format!("Basic {encoded}")), "Basic demo-client:***");
        assert_eq!(mask_authorization("Bearer 0123456789abcdef"), "Bearer ***cdef");
    }
}
