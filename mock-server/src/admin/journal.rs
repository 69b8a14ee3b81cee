//! The request journal ([`crate::domain::journal`]): what the mock received and answered, newest
//! first.
//!
//! - `GET /admin/requests?app&claimed_app&user&vehicle&method&path&status&since&limit` — matching
//!   records
//! - `DELETE /admin/requests[?app=]` — forget them
//!
//! `app=` reads one app's ring; without it, every ring is read. A record shows what was cut in
//! its `truncated`; form secrets (`client_secret`, `password`) are masked when it is shown.

use axum::Json;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{AdminError, AppFilter};
use crate::domain::clock::smartcar_timestamp;
use crate::domain::journal::{self, Excerpt, Filter, HeaderExcerpt, PathFilter, Record};
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/requests", get(handle_find).delete(handle_clear))
}

/// The query of `GET /admin/requests`; every field is optional, and the records must match all
/// that are given.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JournalQuery {
    /// Records whose credentials were this app's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// Unattributed records that named this client id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_app: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vehicle: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// A glob (`*/charge`, `**/odometer`) or, without `*`, any part of the path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `429`, or a class such as `4xx`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Newer than a time (`2030-01-01T12:00:00Z`) or than a duration ago on the virtual clock (`5m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// At most this many records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// The matching records, newest first, as the admin API shows them.
pub(crate) fn find(state: &AppState, query: &JournalQuery) -> Result<Vec<Value>, AdminError> {
    let bad = |error: &dyn std::error::Error| AdminError::BadRequest(error.to_string());
    let since = match query.since.as_deref() {
        Some(text) => Some(journal::since(text, state.clock.now()).map_err(|error| bad(&error))?),
        None => None,
    };
    let path = match query.path.as_deref() {
        Some(text) => Some(PathFilter::parse(text).map_err(|error| bad(&error))?),
        None => None,
    };
    let filter = Filter {
        app: query.app.clone(),
        claimed_app: query.claimed_app.clone(),
        vehicle: query.vehicle,
        user: query.user,
        method: query.method.clone(),
        path,
        status: query.status.clone(),
        since,
        limit: query.limit,
    };
    Ok(state.control.journal.find(&filter).iter().map(|r| view(r)).collect())
}

async fn handle_find(
    State(state): State<AppState>,
    query: Result<Query<JournalQuery>, QueryRejection>,
) -> Result<Json<Value>, AdminError> {
    let Query(query) = query.map_err(|rejection| AdminError::BadRequest(rejection.body_text()))?;
    Ok(Json(json!({ "requests": find(&state, &query)? })))
}

async fn handle_clear(State(state): State<AppState>, Query(filter): Query<AppFilter>) -> Json<Value> {
    state.control.journal.clear(filter.app.as_deref());
    Json(json!({ "cleared": true }))
}

/// The record as JSON, with form secrets masked and what was cut listed in `truncated`.
pub(crate) fn view(record: &Record) -> Value {
    let request = &record.request;
    let mut truncated = Map::new();
    let mut cut = |name: &str, what: Option<Value>| {
        if let Some(what) = what {
            truncated.insert(name.to_owned(), what);
        }
    };
    cut("path", cut_view(request.path()));
    cut("query", request.query().and_then(cut_view));
    let headers = request.headers();
    cut(
        "headers",
        (headers.kept() < headers.total()).then(|| json!({ "kept": headers.kept(), "of": headers.total() })),
    );
    cut("body", cut_view(request.body()));
    cut("response_body", cut_view(&record.response_body));
    json!({
        "id": record.seq,
        "request_id": record.request_id,
        "at": smartcar_timestamp(record.at),
        "app": record.caller.app,
        "claimed_app": record.caller.claimed,
        "user": record.caller.user,
        "vehicle": record.caller.vehicle,
        "method": request.method(),
        "path": request.path().text(),
        "query": query_view(request.query()),
        "headers": headers_view(headers),
        "body": body_view(request.is_form(), request.body()),
        "status": record.status,
        "retry_after": record.retry_after,
        "response_body": body_view(false, &record.response_body),
        "latency_ms": record.latency.as_secs_f64() * 1000.0,
        "fault": record.fault,
        "reason": record.reason,
        "truncated": if truncated.is_empty() { Value::Null } else { Value::Object(truncated) },
    })
}

/// `{"kept", "size"}` when something was cut.
fn cut_view(excerpt: &Excerpt) -> Option<Value> {
    excerpt
        .is_cut()
        .then(|| json!({ "kept": excerpt.bytes().len(), "size": excerpt.size() }))
}

fn query_view(query: Option<&Excerpt>) -> Value {
    let mut map = Map::new();
    for (key, value) in form_urlencoded::parse(query.map_or(&[][..], Excerpt::bytes)) {
        map.entry(key.to_string())
            .or_insert_with(|| mask_field(&key, &value).into());
    }
    Value::Object(map)
}

/// Headers as an object of lower-case names. `authorization` was masked when it was kept: it
/// keeps its scheme and, for Basic, the client id.
fn headers_view(headers: &HeaderExcerpt) -> Value {
    let mut map = Map::new();
    for (name, value) in headers.iter() {
        map.entry(String::from_utf8_lossy(name).into_owned())
            .or_insert_with(|| String::from_utf8_lossy(value).into_owned().into());
    }
    Value::Object(map)
}

fn mask_field(key: &str, value: &str) -> String {
    match key {
        "client_secret" | "password" => "***".to_owned(),
        _ => value.to_owned(),
    }
}

/// JSON bodies as JSON, forms as objects (secrets masked), anything else (a cut JSON body too)
/// as text; empty, or kept by its size only, as null.
fn body_view(form: bool, body: &Excerpt) -> Value {
    if body.bytes().is_empty() {
        return Value::Null;
    }
    if form {
        let mut map = Map::new();
        for (key, value) in form_urlencoded::parse(body.bytes()) {
            map.entry(key.to_string())
                .or_insert_with(|| mask_field(&key, &value).into());
        }
        return Value::Object(map);
    }
    serde_json::from_slice(body.bytes()).unwrap_or_else(|_| Value::String(body.text().into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_record_shows_what_was_cut_and_no_secret() {
        let view = view(&crate::domain::journal::largest_record());

        assert_eq!(view["truncated"]["path"], json!({ "kept": 1024, "size": 30_006 }));
        assert_eq!(view["truncated"]["headers"], json!({ "kept": 2, "of": 101 }));
        assert_eq!(view["headers"]["x-header-0"].as_str().map(str::len), Some(4000));
        assert_eq!(view["headers"]["authorization"], "Bearer ***cdef");
    }

    #[test]
    fn form_secrets_are_masked_when_shown() {
        let body = Excerpt::of(b"grant_type=refresh_token&client_secret=s3cret", 4096);

        assert_eq!(
            body_view(true, &body),
            json!({ "grant_type": "refresh_token", "client_secret": "***" })
        );
    }
}
