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
//! `app=` reads one app's ring; without it, every ring is read.
//!
//! A record keeps bounded copies, never the server's own buffers (a parsed header value or body
//! shares the read buffer it came from, which can be hundreds of KiB): at most
//! [`KEPT_HEADERS`] headers in [`KEPT_HEADER_BYTES`], [`KEPT_BODY_BYTES`] of each body,
//! [`KEPT_URI_PART_BYTES`] of the path and of the query, [`KEPT_REASON_BYTES`] of the reason. So a
//! record holds at most about 15 KiB ([`MAX_RECORD_BYTES`]) and a full ring of the default 1000
//! about 15 MiB. What was cut is listed in the record's `truncated`. The `Authorization` header is
//! masked before it is kept; form secrets are masked when a record is shown.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::routing::get;
use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{AdminError, AppFilter};
use crate::domain::caller::Caller;
use crate::domain::clock::smartcar_timestamp;
use crate::domain::faults::PathPattern;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/requests", get(query).delete(clear))
}

/// The default number of records kept per app.
pub const DEFAULT_SIZE: usize = 1000;

/// The most of a request or response body a record keeps.
pub const KEPT_BODY_BYTES: usize = 4 * 1024;
/// The most header bytes (`name:value` lines) a record keeps; a header that does not fit in what
/// is left is skipped.
pub const KEPT_HEADER_BYTES: usize = 4 * 1024;
/// The most headers a record keeps.
pub const KEPT_HEADERS: usize = 64;
/// The most of the path, and of the query, a record keeps.
pub const KEPT_URI_PART_BYTES: usize = 1024;
/// The most of the reason a record keeps (reasons can quote the request).
pub const KEPT_REASON_BYTES: usize = 512;
/// The most of an (extension) method a record keeps.
const KEPT_METHOD_BYTES: usize = 32;
/// An upper bound of what one record holds: the caps above plus 1 KiB for the fixed part, the
/// request id and the app's client id.
pub const MAX_RECORD_BYTES: usize =
    KEPT_HEADER_BYTES + 2 * KEPT_BODY_BYTES + 2 * KEPT_URI_PART_BYTES + KEPT_REASON_BYTES + KEPT_METHOD_BYTES + 1024;

/// One request and its answer, as bounded copies.
#[derive(Debug)]
pub struct Record {
    pub seq: u64,
    /// The `sc-request-id` the answer carried.
    pub request_id: String,
    pub at: OffsetDateTime,
    pub request: RequestExcerpt,
    pub status: StatusCode,
    /// The answer's `retry-after`, the one response header tests ask about (the others are
    /// not kept: copying them on every request is what the journal must not cost).
    pub retry_after: Option<HeaderValue>,
    pub response_body: Excerpt,
    pub latency: Duration,
    pub caller: Caller,
    /// The fault rule that answered, if one did.
    pub fault: Option<u64>,
    /// Why the request failed, in plain words (every 4xx has one).
    pub reason: Option<String>,
}

/// The first bytes of something, copied, and how large it was.
#[derive(Debug, Default)]
pub struct Excerpt {
    bytes: Box<[u8]>,
    size: usize,
}

impl Excerpt {
    pub fn of(bytes: &[u8], limit: usize) -> Self {
        Excerpt {
            bytes: bytes[..bytes.len().min(limit)].into(),
            size: bytes.len(),
        }
    }

    fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.bytes)
    }

    /// `{"kept", "size"}` when something was cut.
    fn cut(&self) -> Option<Value> {
        (self.bytes.len() < self.size).then(|| json!({ "kept": self.bytes.len(), "size": self.size }))
    }
}

/// The request as a record keeps it.
#[derive(Debug)]
pub struct RequestExcerpt {
    method: Method,
    path: Excerpt,
    query: Option<Excerpt>,
    headers: HeaderExcerpt,
    body: Excerpt,
    /// The body was a form, so its fields are shown (and its secrets masked).
    form: bool,
}

impl RequestExcerpt {
    pub fn of(method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Self {
        let method = match method.as_str().get(..KEPT_METHOD_BYTES) {
            Some(cut) if cut.len() < method.as_str().len() => Method::from_bytes(cut.as_bytes()).unwrap_or_default(),
            _ => method.clone(),
        };
        RequestExcerpt {
            method,
            path: Excerpt::of(uri.path().as_bytes(), KEPT_URI_PART_BYTES),
            query: uri
                .query()
                .map(|query| Excerpt::of(query.as_bytes(), KEPT_URI_PART_BYTES)),
            headers: HeaderExcerpt::of(headers),
            body: Excerpt::of(body, KEPT_BODY_BYTES),
            form: headers
                .get(header::CONTENT_TYPE)
                .is_some_and(|value| value.as_bytes().starts_with(b"application/x-www-form-urlencoded")),
        }
    }

    fn path(&self) -> std::borrow::Cow<'_, str> {
        self.path.text()
    }

    /// What this excerpt holds on the heap (a method longer than 15 bytes is boxed).
    fn heap_bytes(&self) -> usize {
        let method = self.method.as_str().len();
        (if method > 15 { method } else { 0 })
            + self.path.bytes.len()
            + self.query.as_ref().map_or(0, |query| query.bytes.len())
            + self.headers.lines.len()
            + self.body.bytes.len()
    }
}

/// Headers as `name:value\n` lines (names cannot hold `:`, values cannot hold a line break), in
/// one allocation.
#[derive(Debug, Default)]
struct HeaderExcerpt {
    lines: Box<[u8]>,
    kept: usize,
    total: usize,
}

impl HeaderExcerpt {
    fn of(headers: &HeaderMap) -> Self {
        let mut lines = Vec::new();
        let mut kept = 0;
        for (name, value) in headers {
            let masked;
            let value = if name == header::AUTHORIZATION {
                masked = mask_authorization(&String::from_utf8_lossy(value.as_bytes()));
                masked.as_bytes()
            } else {
                value.as_bytes()
            };
            let line = name.as_str().len() + value.len() + 2;
            if kept == KEPT_HEADERS || lines.len() + line > KEPT_HEADER_BYTES {
                continue;
            }
            lines.extend_from_slice(name.as_str().as_bytes());
            lines.push(b':');
            lines.extend_from_slice(value);
            lines.push(b'\n');
            kept += 1;
        }
        HeaderExcerpt {
            lines: lines.into(),
            kept,
            total: headers.len(),
        }
    }

    fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.lines.split(|&b| b == b'\n').filter_map(|line| {
            line.iter()
                .position(|&b| b == b':')
                .map(|at| (&line[..at], &line[at + 1..]))
        })
    }
}

/// `reason` cut to [`KEPT_REASON_BYTES`] at a character boundary.
fn cut_reason(mut reason: String) -> String {
    if reason.len() > KEPT_REASON_BYTES {
        let mut end = KEPT_REASON_BYTES;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
        reason.push('…');
    }
    reason.shrink_to_fit();
    reason
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

    pub fn record(&self, mut record: Record) {
        if !self.enabled() {
            return;
        }
        record.reason = record.reason.map(cut_reason);
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
    /// Compiled from a `path` with `*` by the handler.
    #[serde(skip)]
    pub path_pattern: Option<PathPattern>,
}

impl Filter {
    fn accepts(&self, record: &Record) -> bool {
        let path = record.request.path();
        let path = path.as_ref();
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
                .is_none_or(|method| method.eq_ignore_ascii_case(record.request.method.as_str()))
            && match (&self.path_pattern, self.path.as_deref()) {
                (Some(pattern), _) => pattern.matches(path),
                (None, Some(part)) => path.contains(part),
                (None, None) => true,
            }
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
    /// The record as JSON, with form secrets masked and what was cut listed in `truncated`.
    pub fn view(&self) -> Value {
        let request = &self.request;
        let mut truncated = Map::new();
        let mut cut = |name: &str, what: Option<Value>| {
            if let Some(what) = what {
                truncated.insert(name.to_owned(), what);
            }
        };
        cut("path", request.path.cut());
        cut("query", request.query.as_ref().and_then(Excerpt::cut));
        cut(
            "headers",
            (request.headers.kept < request.headers.total)
                .then(|| json!({ "kept": request.headers.kept, "of": request.headers.total })),
        );
        cut("body", request.body.cut());
        cut("response_body", self.response_body.cut());
        json!({
            "id": self.seq,
            "request_id": self.request_id,
            "at": smartcar_timestamp(self.at),
            "app": self.caller.app,
            "claimed_app": self.caller.claimed,
            "user": self.caller.user,
            "vehicle": self.caller.vehicle,
            "method": request.method.as_str(),
            "path": request.path(),
            "query": query_view(request.query.as_ref()),
            "headers": headers_view(&request.headers),
            "body": body_view(request.form, &request.body),
            "status": self.status.as_u16(),
            "retry_after": self.retry_after.as_ref().and_then(|v| v.to_str().ok()),
            "response_body": body_view(false, &self.response_body),
            "latency_ms": self.latency.as_secs_f64() * 1000.0,
            "fault": self.fault,
            "reason": self.reason,
            "truncated": if truncated.is_empty() { Value::Null } else { Value::Object(truncated) },
        })
    }

    /// What this record holds, in place and on the heap (allocator overhead aside).
    pub fn retained_bytes(&self) -> usize {
        std::mem::size_of::<Record>()
            + self.request_id.capacity()
            + self.request.heap_bytes()
            + self.response_body.bytes.len()
            + self.reason.as_ref().map_or(0, String::capacity)
            + self.caller.app.as_ref().map_or(0, |app| app.len())
            + self.caller.claimed.as_ref().map_or(0, String::capacity)
    }
}

fn query_view(query: Option<&Excerpt>) -> Value {
    let mut map = Map::new();
    for (key, value) in form_urlencoded::parse(query.map_or(&[][..], |query| &query.bytes)) {
        map.entry(key.to_string())
            .or_insert_with(|| mask_field(&key, &value).into());
    }
    Value::Object(map)
}

/// Headers as an object of lower-case names. `authorization` was masked when it was kept: it
/// keeps its scheme and, for Basic, the client id, so a test can check *how* its app
/// authenticated without the secret showing.
fn headers_view(headers: &HeaderExcerpt) -> Value {
    let mut map = Map::new();
    for (name, value) in headers.iter() {
        map.entry(String::from_utf8_lossy(name).into_owned())
            .or_insert_with(|| String::from_utf8_lossy(value).into_owned().into());
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

/// JSON bodies as JSON, forms as objects (secrets masked), anything else (a cut JSON body too)
/// as text; empty as null.
fn body_view(form: bool, body: &Excerpt) -> Value {
    if body.size == 0 {
        return Value::Null;
    }
    if form {
        let mut map = Map::new();
        for (key, value) in form_urlencoded::parse(&body.bytes) {
            map.entry(key.to_string())
                .or_insert_with(|| mask_field(&key, &value).into());
        }
        return Value::Object(map);
    }
    serde_json::from_slice(&body.bytes).unwrap_or_else(|_| Value::String(body.text().into_owned()))
}

async fn query(
    State(state): State<AppState>,
    filter: Result<Query<Filter>, QueryRejection>,
) -> Result<Json<Value>, AdminError> {
    let Query(mut filter) = filter.map_err(|rejection| AdminError::BadRequest(rejection.body_text()))?;
    if let Some(since) = filter.since.as_deref() {
        filter.since_time = Some(parse_since(since, state.clock.now())?);
    }
    if let Some(pattern) = filter.path.as_deref().filter(|pattern| pattern.contains('*')) {
        filter.path_pattern =
            Some(PathPattern::parse(pattern).map_err(|error| AdminError::BadRequest(error.to_string()))?);
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
        .filter(|ago| *ago <= crate::domain::clock::MAX_OFFSET)
        .and_then(|ago| now.checked_sub(ago))
        .ok_or_else(|| {
            AdminError::BadRequest(format!(
                "since {text:?} is too far back: a duration takes at most 100 years ({} days); give an RFC 3339 time instead",
                crate::domain::clock::MAX_OFFSET.whole_days()
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
    fn a_record_of_the_largest_request_holds_at_most_max_record_bytes() {
        let mut headers = HeaderMap::new();
        for i in 0..100 {
            let name = axum::http::HeaderName::try_from(format!("x-header-{i}")).expect("a name");
            headers.insert(name, HeaderValue::from_str(&"v".repeat(4000)).expect("a value"));
        }
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer 0123456789abcdef"),
        );
        let long = "a".repeat(30_000);
        let uri: Uri = format!("/v2.0/{long}?q={long}").parse().expect("a URI");
        let method = Method::from_bytes("M".repeat(10_000).as_bytes()).expect("a method");
        let megabyte = vec![b'x'; 1024 * 1024];

        let record = Record {
            seq: 1,
            request_id: Uuid::new_v4().to_string(),
            at: OffsetDateTime::UNIX_EPOCH,
            request: RequestExcerpt::of(&method, &uri, &headers, &megabyte),
            status: StatusCode::OK,
            retry_after: None,
            response_body: Excerpt::of(&megabyte, KEPT_BODY_BYTES),
            latency: Duration::ZERO,
            caller: Caller {
                app: Some(Arc::from("demo-client")),
                ..Caller::default()
            },
            fault: None,
            reason: Some(cut_reason("é".repeat(100_000))),
        };

        assert!(
            record.retained_bytes() <= MAX_RECORD_BYTES,
            "{} > {MAX_RECORD_BYTES}",
            record.retained_bytes()
        );
        const { assert!(MAX_RECORD_BYTES <= 16 * 1024) };
        let view = record.view();
        assert_eq!(view["truncated"]["path"], json!({ "kept": 1024, "size": 30_006 }));
        assert_eq!(view["headers"]["authorization"], "Bearer ***cdef");
        assert!(
            view["reason"]
                .as_str()
                .is_some_and(|r| r.len() <= KEPT_REASON_BYTES + 3)
        );
    }

    #[test]
    fn basic_credentials_show_the_client_id_only() {
        let encoded = base64::engine::general_purpose::STANDARD.encode("demo-client:demo-secret");

        assert_eq!(mask_authorization(&format!("Basic {encoded}")), "Basic demo-client:***");
        assert_eq!(mask_authorization("Bearer 0123456789abcdef"), "Bearer ***cdef");
    }
}
