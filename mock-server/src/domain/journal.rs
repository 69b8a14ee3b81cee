//! The request journal: what the mock received and answered, newest first (test control).
//!
//! Each app has its own bounded ring (`--journal-size`, default 1000), so one app's traffic never
//! pushes out another's. A record goes to its app's ring only when the request's credentials were
//! accepted ([`Caller`]); everything else — no credentials, a public `client_id`, Connect pages,
//! an expired token — goes to one more ring of the same size, the unattributed one, with the
//! client id it named as `claimed_app`. So a stranger can push out only other unattributed records.
//!
//! A record holds plain values (text, numbers, bytes), and only bounded copies, never the
//! server's own buffers (a parsed header value or body shares the read buffer it came from, which
//! can be hundreds of KiB): at most [`KEPT_HEADERS`] headers in [`KEPT_HEADER_BYTES`],
//! [`KEPT_BODY_BYTES`] of each body, [`KEPT_URI_PART_BYTES`] of the path and of the query,
//! [`KEPT_REASON_BYTES`] of the reason. So a record holds at most about 15 KiB
//! ([`MAX_RECORD_BYTES`]) and a full ring of the default 1000 about 15 MiB. What was cut is
//! known ([`Excerpt::is_cut`]). The `Authorization` header is masked before it is kept.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::caller::Caller;
use crate::domain::clock::MAX_OFFSET;
use crate::domain::faults::{PathPattern, PatternError};

/// The default number of records kept per app.
pub const DEFAULT_SIZE: usize = 1000;

/// The most of a request or response body a record keeps.
pub(crate) const KEPT_BODY_BYTES: usize = 4 * 1024;
/// The most header bytes (`name:value` lines) a record keeps; a header that does not fit in what
/// is left is skipped.
pub(crate) const KEPT_HEADER_BYTES: usize = 4 * 1024;
/// The most headers a record keeps.
pub(crate) const KEPT_HEADERS: usize = 64;
/// The most of the path, and of the query, a record keeps.
pub(crate) const KEPT_URI_PART_BYTES: usize = 1024;
/// The most of the reason a record keeps (reasons can quote the request).
pub(crate) const KEPT_REASON_BYTES: usize = 512;
/// The most of an (extension) method a record keeps.
const KEPT_METHOD_BYTES: usize = 32;
/// An upper bound of what one record holds: the caps above plus 1 KiB for the fixed part, the
/// request id and the app's client id.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) const MAX_RECORD_BYTES: usize =
    KEPT_HEADER_BYTES + 2 * KEPT_BODY_BYTES + 2 * KEPT_URI_PART_BYTES + KEPT_REASON_BYTES + KEPT_METHOD_BYTES + 1024;

/// One request and its answer, as bounded copies.
#[derive(Debug)]
pub(crate) struct Record {
    pub(crate) seq: u64,
    /// The `sc-request-id` the answer carried (kept as its 16 bytes, written out when shown).
    pub(crate) request_id: Uuid,
    pub(crate) at: OffsetDateTime,
    pub(crate) request: RequestExcerpt,
    /// The answer's status (499 for a connection a fault dropped).
    pub(crate) status: u16,
    /// The answer's `retry-after`, the one response header tests ask about (the others are
    /// not kept: copying them on every request is what the journal must not cost).
    pub(crate) retry_after: Option<String>,
    pub(crate) response_body: Excerpt,
    pub(crate) latency: Duration,
    pub(crate) caller: Caller,
    /// The fault rule that answered, if one did.
    pub(crate) fault: Option<u64>,
    /// Why the request failed, in plain words (every 4xx has one).
    pub(crate) reason: Option<String>,
}

/// The first bytes of something, copied, and how large it was.
#[derive(Debug, Default, Clone)]
pub(crate) struct Excerpt {
    bytes: Bytes,
    size: usize,
}

impl Excerpt {
    pub(crate) fn of(bytes: &[u8], limit: usize) -> Self {
        Excerpt {
            bytes: Bytes::copy_from_slice(&bytes[..bytes.len().min(limit)]),
            size: bytes.len(),
        }
    }

    /// Nothing kept of something `size` bytes large.
    pub(crate) fn unread(size: usize) -> Self {
        Excerpt {
            bytes: Bytes::new(),
            size,
        }
    }

    /// What was kept.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// What was kept, as text (invalid UTF-8 replaced).
    pub(crate) fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.bytes)
    }

    /// How large the original was.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// Whether some of it was not kept.
    pub(crate) fn is_cut(&self) -> bool {
        self.bytes.len() < self.size
    }
}

/// The request as a record keeps it.
#[derive(Debug)]
pub(crate) struct RequestExcerpt {
    /// Borrowed for the standard methods, so keeping one costs no allocation.
    method: Cow<'static, str>,
    path: Excerpt,
    query: Option<Excerpt>,
    headers: HeaderExcerpt,
    body: Excerpt,
    /// The body was a form, so its fields can be shown (and its secrets masked).
    form: bool,
}

impl RequestExcerpt {
    /// Keeps the method, path, query, headers (lower-case names, as HTTP/2 and the server spell
    /// them) and body of a request, within the caps.
    pub(crate) fn new<'a>(
        method: &str,
        path: &str,
        query: Option<&str>,
        headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
        body: &[u8],
    ) -> Self {
        let (headers, form) = HeaderExcerpt::of(headers);
        RequestExcerpt {
            method: method_text(method),
            path: Excerpt::of(path.as_bytes(), KEPT_URI_PART_BYTES),
            query: query.map(|query| Excerpt::of(query.as_bytes(), KEPT_URI_PART_BYTES)),
            headers,
            body: Excerpt::of(body, KEPT_BODY_BYTES),
            form,
        }
    }

    pub(crate) fn method(&self) -> &str {
        &self.method
    }

    pub(crate) fn path(&self) -> &Excerpt {
        &self.path
    }

    pub(crate) fn query(&self) -> Option<&Excerpt> {
        self.query.as_ref()
    }

    pub(crate) fn headers(&self) -> &HeaderExcerpt {
        &self.headers
    }

    pub(crate) fn body(&self) -> &Excerpt {
        &self.body
    }

    /// Whether the body is `application/x-www-form-urlencoded`.
    pub(crate) fn is_form(&self) -> bool {
        self.form
    }

    /// What this excerpt holds on the heap.
    #[cfg_attr(not(test), allow(dead_code))]
    fn heap_bytes(&self) -> usize {
        let method = match &self.method {
            Cow::Borrowed(_) => 0,
            Cow::Owned(method) => method.capacity(),
        };
        method
            + self.path.bytes.len()
            + self.query.as_ref().map_or(0, |query| query.bytes.len())
            + self.headers.lines.len()
            + self.body.bytes.len()
    }
}

/// Headers as `name:value\n` lines (names cannot hold `:`, values cannot hold a line break), in
/// one allocation.
#[derive(Debug, Default)]
pub(crate) struct HeaderExcerpt {
    lines: Box<[u8]>,
    kept: usize,
    total: usize,
}

impl HeaderExcerpt {
    /// The kept headers, and whether a `content-type` said the body is a form.
    fn of<'a>(headers: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> (Self, bool) {
        let mut lines = Vec::new();
        let mut kept = 0;
        let mut total = 0;
        let mut content_type = None;
        for (name, value) in headers {
            total += 1;
            if name == "content-type" {
                content_type.get_or_insert(value);
            }
            let masked = (name == "authorization").then(|| mask_authorization(value));
            let value_len = masked.as_ref().map_or(value.len(), Masked::len);
            let line = name.len() + value_len + 2;
            if kept == KEPT_HEADERS || lines.len() + line > KEPT_HEADER_BYTES {
                continue;
            }
            if lines.is_empty() {
                // Most requests carry a few short headers: one allocation holds them all.
                lines.reserve(256);
            }
            lines.extend_from_slice(name.as_bytes());
            lines.push(b':');
            match &masked {
                Some(masked) => masked.write_to(&mut lines),
                None => lines.extend_from_slice(value),
            }
            lines.push(b'\n');
            kept += 1;
        }
        let excerpt = HeaderExcerpt {
            lines: lines.into(),
            kept,
            total,
        };
        let form = content_type.is_some_and(|value| value.starts_with(b"application/x-www-form-urlencoded"));
        (excerpt, form)
    }

    /// The kept headers, in the order they came.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.lines.split(|&b| b == b'\n').filter_map(|line| {
            line.iter()
                .position(|&b| b == b':')
                .map(|at| (&line[..at], &line[at + 1..]))
        })
    }

    /// How many were kept.
    pub(crate) fn kept(&self) -> usize {
        self.kept
    }

    /// How many the request had.
    pub(crate) fn total(&self) -> usize {
        self.total
    }
}

/// The method as a record keeps it: a standard one as a constant, any other cut to
/// `KEPT_METHOD_BYTES`.
fn method_text(method: &str) -> Cow<'static, str> {
    const STANDARD: [&str; 9] = [
        "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE",
    ];
    match STANDARD.iter().find(|standard| **standard == method) {
        Some(standard) => Cow::Borrowed(standard),
        None => Cow::Owned(cut_at_char(method, KEPT_METHOD_BYTES).to_owned()),
    }
}

/// `text` cut to at most `limit` bytes at a character boundary.
fn cut_at_char(text: &str, limit: usize) -> &str {
    let mut end = text.len().min(limit);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `reason` cut to [`KEPT_REASON_BYTES`] at a character boundary.
fn cut_reason(mut reason: String) -> String {
    if reason.len() > KEPT_REASON_BYTES {
        let end = cut_at_char(&reason, KEPT_REASON_BYTES).len();
        reason.truncate(end);
        reason.push('…');
    }
    reason.shrink_to_fit();
    reason
}

/// Keeps the scheme and, for Basic, the client id, so a test can check *how* its app
/// authenticated without the secret showing: `Basic demo-client:***`, `Bearer ***cdef`.
fn mask_authorization(value: &[u8]) -> Masked<'_> {
    let Ok(text) = std::str::from_utf8(value) else {
        return Masked::Owned(mask_text(&String::from_utf8_lossy(value)).into_owned());
    };
    match mask_text(text) {
        Cow::Borrowed(_) => {
            let (scheme, tail) = bearer_parts(text);
            Masked::Parts(scheme, tail)
        }
        Cow::Owned(masked) => Masked::Owned(masked),
    }
}

/// A masked `Authorization` value: `<scheme> ***<tail>` as two borrowed parts (no allocation, the
/// case of every bearer token), or a text.
enum Masked<'a> {
    Parts(&'a str, &'a str),
    Owned(String),
}

impl Masked<'_> {
    fn len(&self) -> usize {
        match self {
            Masked::Parts(scheme, tail) => scheme.len() + 4 + tail.len(),
            Masked::Owned(text) => text.len(),
        }
    }

    fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            Masked::Parts(scheme, tail) => {
                out.extend_from_slice(scheme.as_bytes());
                out.extend_from_slice(b" ***");
                out.extend_from_slice(tail.as_bytes());
            }
            Masked::Owned(text) => out.extend_from_slice(text.as_bytes()),
        }
    }
}

/// `Basic <id>:***` when `value` is Basic credentials (owned); otherwise borrowed, meaning
/// [`bearer_parts`] masks it.
fn mask_text(value: &str) -> Cow<'_, str> {
    let (scheme, credential) = value.trim().split_once(' ').unwrap_or((value, ""));
    if scheme.eq_ignore_ascii_case("basic")
        && let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(credential.trim())
        && let Some((id, _)) = String::from_utf8_lossy(&decoded).split_once(':')
    {
        return Cow::Owned(format!("{scheme} {id}:***"));
    }
    Cow::Borrowed(value)
}

/// The scheme and the last four characters of the credential.
fn bearer_parts(value: &str) -> (&str, &str) {
    let (scheme, credential) = value.trim().split_once(' ').unwrap_or((value, ""));
    let tail_start = credential.char_indices().rev().nth(3).map_or(0, |(at, _)| at);
    (scheme, &credential[tail_start..])
}

/// The journal handle. Clones share the rings.
#[derive(Clone)]
pub(crate) struct Journal {
    rings: Arc<Mutex<HashMap<String, VecDeque<Arc<Record>>>>>,
    next_seq: Arc<AtomicU64>,
    size: usize,
    /// Every new record, for the dashboard's live tail. Bounded: a listener that falls behind
    /// skips records (and refetches), it never makes the journal wait or grow.
    recorded: tokio::sync::broadcast::Sender<Arc<Record>>,
    /// How many [`LiveRecords`] are open: with none (no dashboard), a record is not offered to the
    /// channel, whose every send takes a lock all requests would share.
    listeners: Arc<AtomicUsize>,
}

/// The records written from now on (see [`Journal::subscribe`]).
#[derive(Debug)]
pub(crate) struct LiveRecords {
    receiver: tokio::sync::broadcast::Receiver<Arc<Record>>,
    listeners: Arc<AtomicUsize>,
}

impl LiveRecords {
    /// The next record; `Lagged` when this listener fell more than the channel holds behind.
    pub(crate) async fn recv(&mut self) -> Result<Arc<Record>, tokio::sync::broadcast::error::RecvError> {
        self.receiver.recv().await
    }
}

impl Drop for LiveRecords {
    fn drop(&mut self) {
        self.listeners.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Records a live listener may fall behind by before it skips.
const LIVE_CAPACITY: usize = 64;

impl Journal {
    pub(crate) fn new(size: usize) -> Self {
        Journal {
            rings: Arc::default(),
            next_seq: Arc::new(AtomicU64::new(1)),
            size,
            recorded: tokio::sync::broadcast::channel(LIVE_CAPACITY).0,
            listeners: Arc::default(),
        }
    }

    /// Every record from now on, as it is written (the dashboard's live tail).
    pub(crate) fn subscribe(&self) -> LiveRecords {
        self.listeners.fetch_add(1, Ordering::Relaxed);
        LiveRecords {
            receiver: self.recorded.subscribe(),
            listeners: Arc::clone(&self.listeners),
        }
    }

    /// Whether records are kept at all (`--journal-size 0` turns the journal off).
    pub(crate) fn enabled(&self) -> bool {
        self.size > 0
    }

    pub(crate) fn next_seq(&self) -> u64 {
        self.next_seq.fetch_add(1, Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, VecDeque<Arc<Record>>>> {
        self.rings.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn record(&self, mut record: Record) {
        if !self.enabled() {
            return;
        }
        record.reason = record.reason.map(cut_reason);
        let record = Arc::new(record);
        if self.listeners.load(Ordering::Relaxed) > 0 {
            // A listener that has just gone is fine.
            let _ = self.recorded.send(record.clone());
        }
        let evicted = {
            // Fixtures refuse an empty client id, so "" is free for the unattributed ring.
            let key = record.caller.app.as_deref().unwrap_or("");
            let mut rings = self.lock();
            let ring = match rings.get_mut(key) {
                Some(ring) => ring,
                None => rings
                    .entry(key.to_owned())
                    .or_insert_with(|| VecDeque::with_capacity(self.size.min(1024))),
            };
            let evicted = (ring.len() >= self.size).then(|| ring.pop_back()).flatten();
            ring.push_front(record);
            evicted
        };
        // Freed after the lock is released.
        drop(evicted);
    }

    /// Matching records, newest first.
    pub(crate) fn find(&self, filter: &Filter) -> Vec<Arc<Record>> {
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

    pub(crate) fn clear(&self, app: Option<&str>) {
        let mut rings = self.lock();
        match app {
            Some(app) => {
                rings.remove(app);
            }
            None => rings.clear(),
        }
    }
}

/// Which records to find; every field is optional.
#[derive(Debug, Default)]
pub(crate) struct Filter {
    /// Records whose credentials were this app's.
    pub(crate) app: Option<String>,
    /// Unattributed records that named this client id.
    pub(crate) claimed_app: Option<String>,
    pub(crate) vehicle: Option<Uuid>,
    pub(crate) user: Option<Uuid>,
    /// Any case.
    pub(crate) method: Option<String>,
    pub(crate) path: Option<PathFilter>,
    /// `429`, or a class such as `4xx`.
    pub(crate) status: Option<String>,
    /// Records at or after this time on the virtual clock.
    pub(crate) since: Option<OffsetDateTime>,
    pub(crate) limit: Option<usize>,
}

/// A path filter: a glob (`*/charge`, `**/odometer`), or, without `*`, any part of the path.
#[derive(Debug, Clone)]
pub(crate) enum PathFilter {
    Pattern(PathPattern),
    Part(String),
}

impl PathFilter {
    pub(crate) fn parse(text: &str) -> Result<PathFilter, PatternError> {
        if text.contains('*') {
            PathPattern::parse(text).map(PathFilter::Pattern)
        } else {
            Ok(PathFilter::Part(text.to_owned()))
        }
    }

    fn matches(&self, path: &str) -> bool {
        match self {
            PathFilter::Pattern(pattern) => pattern.matches(path),
            PathFilter::Part(part) => path.contains(part.as_str()),
        }
    }
}

impl Filter {
    fn accepts(&self, record: &Record) -> bool {
        let path = record.request.path.text();
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
                .is_none_or(|method| method.eq_ignore_ascii_case(&record.request.method))
            && self.path.as_ref().is_none_or(|filter| filter.matches(&path))
            && self
                .status
                .as_deref()
                .is_none_or(|status| status_matches(status, record.status))
            && self.since.is_none_or(|since| record.at >= since)
    }
}

/// Whether `status` is the code `filter` names (`429`) or in the class it names (`4xx`).
fn status_matches(filter: &str, status: u16) -> bool {
    let code = status.to_string();
    filter.len() == 3
        && filter
            .bytes()
            .zip(code.bytes())
            .all(|(f, c)| f == c || f.eq_ignore_ascii_case(&b'x'))
}

/// Why a `since` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SinceError {
    #[error("since {0:?} is neither an RFC 3339 time nor a duration")]
    Unreadable(String),
    #[error(
        "since {text:?} is too far back: a duration takes at most 100 years ({days} days); give an RFC 3339 time instead",
        days = MAX_OFFSET.whole_days()
    )]
    TooFarBack { text: String },
}

/// A `since`: an RFC 3339 time (`2030-01-01T12:00:00Z`), or a duration ago from `now` (`5m`), as
/// far back as the clock can go.
pub(crate) fn since(text: &str, now: OffsetDateTime) -> Result<OffsetDateTime, SinceError> {
    if let Ok(at) = OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339) {
        return Ok(at);
    }
    let ago = humantime::parse_duration(text).map_err(|_| SinceError::Unreadable(text.to_owned()))?;
    time::Duration::try_from(ago)
        .ok()
        .filter(|ago| *ago <= MAX_OFFSET)
        .and_then(|ago| now.checked_sub(ago))
        .ok_or_else(|| SinceError::TooFarBack { text: text.to_owned() })
}

impl Record {
    /// What this record holds, in place and on the heap (allocator overhead aside).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn retained_bytes(&self) -> usize {
        std::mem::size_of::<Record>()
            + self.request.heap_bytes()
            + self.retry_after.as_ref().map_or(0, String::capacity)
            + self.response_body.bytes.len()
            + self.reason.as_ref().map_or(0, String::capacity)
            + self.caller.app.as_ref().map_or(0, |app| app.len())
            + self.caller.claimed.as_ref().map_or(0, String::capacity)
    }
}

#[cfg(test)]
/// The largest request a record can be asked to keep: 100 headers of 4000 bytes, a 30 KB
/// path and query, a 10 KB method, a megabyte of body.
pub(crate) fn largest_record() -> Record {
    let long_value = "v".repeat(4000);
    let names: Vec<String> = (0..100).map(|i| format!("x-header-{i}")).collect();
    let mut headers: Vec<(&str, &[u8])> = names
        .iter()
        .map(|name| (name.as_str(), long_value.as_bytes()))
        .collect();
    headers.push(("authorization", b"Bearer 0123456789abcdef"));
    let long = "a".repeat(30_000);
    let path = format!("/v2.0/{long}");
    let method = "M".repeat(10_000);
    let megabyte = vec![b'x'; 1024 * 1024];
    Record {
        seq: 1,
        request_id: Uuid::new_v4(),
        at: OffsetDateTime::UNIX_EPOCH,
        request: RequestExcerpt::new(&method, &path, Some(&format!("q={long}")), headers, &megabyte),
        status: 200,
        retry_after: None,
        response_body: Excerpt::of(&megabyte, KEPT_BODY_BYTES),
        latency: Duration::ZERO,
        caller: Caller {
            app: Some(Arc::from("demo-client")),
            ..Caller::default()
        },
        fault: None,
        reason: Some(cut_reason("é".repeat(100_000))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_live_tail_hears_records_while_open_and_the_journal_keeps_them_after_it_closed() {
        let journal = Journal::new(10);
        let mut live = journal.subscribe();

        journal.record(largest_record());
        let heard = live.recv().await.expect("a record");
        drop(live);
        journal.record(largest_record());

        assert_eq!(heard.status, largest_record().status);
        assert_eq!(journal.listeners.load(Ordering::Relaxed), 0);
        assert_eq!(journal.find(&Filter::default()).len(), 2);
    }

    #[test]
    fn status_filters_take_codes_and_classes() {
        assert!(status_matches("429", 429));
        assert!(status_matches("4xx", 404));
        assert!(!status_matches("5xx", 404));
    }

    #[test]
    fn a_record_of_the_largest_request_holds_at_most_max_record_bytes() {
        let record = largest_record();

        assert!(
            record.retained_bytes() <= MAX_RECORD_BYTES,
            "{} > {MAX_RECORD_BYTES}",
            record.retained_bytes()
        );
        const { assert!(MAX_RECORD_BYTES <= 16 * 1024) };
        assert!(record.request.path().is_cut());
        assert_eq!(record.request.headers().total(), 101);
        assert!(record.reason.as_ref().is_some_and(|r| r.len() <= KEPT_REASON_BYTES + 3));
    }

    #[test]
    fn the_authorization_header_is_masked_before_it_is_kept() {
        let excerpt = RequestExcerpt::new(
            "GET",
            "/v2.0/vehicles",
            None,
            [("authorization", &b"Bearer 0123456789abcdef"[..])],
            b"",
        );

        let kept: Vec<_> = excerpt.headers().iter().collect();

        assert_eq!(kept, vec![(&b"authorization"[..], &b"Bearer ***cdef"[..])]);
    }

    #[test]
    fn basic_credentials_show_the_client_id_only() {
        let encoded = base64::engine::general_purpose::STANDARD.encode("demo-client:demo-secret");

        let masked = |value: &str| {
            let mut out = Vec::new();
            mask_authorization(value.as_bytes()).write_to(&mut out);
            String::from_utf8(out).expect("text")
        };

        assert_eq!(masked(&format!("Basic {encoded}")), "Basic demo-client:***");
        assert_eq!(masked("Bearer 0123456789abcdef"), "Bearer ***cdef");
        assert_eq!(masked("Bearer ab"), "Bearer ***ab");
    }

    #[test]
    fn a_form_body_is_recognised_by_its_content_type() {
        let form = RequestExcerpt::new(
            "POST",
            "/oauth/token",
            None,
            [("content-type", &b"application/x-www-form-urlencoded; charset=utf-8"[..])],
            b"a=b",
        );

        assert!(form.is_form());
    }

    #[test]
    fn since_takes_a_time_or_a_duration_within_the_clock_s_reach() {
        let now = time::macros::datetime!(2030-01-01 12:00 UTC);

        assert_eq!(since("5m", now), Ok(time::macros::datetime!(2030-01-01 11:55 UTC)));
        assert_eq!(
            since("2029-12-31T00:00:00Z", now),
            Ok(time::macros::datetime!(2029-12-31 00:00 UTC))
        );
        assert!(matches!(since("200y", now), Err(SinceError::TooFarBack { .. })));
        assert!(matches!(since("soon", now), Err(SinceError::Unreadable(_))));
    }
}
