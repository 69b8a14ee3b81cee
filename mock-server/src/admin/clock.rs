//! The virtual clock. Codes, tokens, the refresh grace, `sc-data-age`/`sc-fetched-at` and the
//! limits all read it, so moving it ages everything at once.
//!
//! - `GET /admin/clock` — `{"now", "offset_seconds"}`
//! - `POST /admin/clock/advance` — `{"by": "2h"}` (`61d`, `11m`, `90s`, …)
//! - `PUT /admin/clock` — `{"now": "2030-01-01T00:00:00Z"}`
//! - `DELETE /admin/clock` — back to wall time
//!
//! The clock is the server's, shared by every app. It stays within 100 years of wall time
//! ([`crate::domain::clock::MAX_OFFSET`]); a move beyond that is a 400 that says the range.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{AdminError, JsonBody};
use crate::domain::clock::{Clock, smartcar_timestamp};
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/clock", get(show).put(set).delete(reset))
        .route("/clock/advance", post(advance))
}

fn view(clock: &Clock) -> Json<Value> {
    Json(json!({
        "now": smartcar_timestamp(clock.now()),
        "offset_seconds": clock.offset().whole_seconds(),
    }))
}

async fn show(State(state): State<AppState>) -> Json<Value> {
    view(&state.clock)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    by: String,
}

/// A duration in humantime's words: `2h`, `61d`, `11m`, `1h 30m`.
pub fn parse_duration(text: &str) -> Result<time::Duration, AdminError> {
    let duration = humantime::parse_duration(text.trim())
        .map_err(|error| AdminError::BadRequest(format!("{text:?} is not a duration like 2h, 61d or 11m: {error}")))?;
    time::Duration::try_from(duration)
        .map_err(|_| AdminError::BadRequest(format!("{text:?} is too long: {}", crate::domain::clock::OutOfRange)))
}

async fn advance(State(state): State<AppState>, JsonBody(body): JsonBody<Advance>) -> Result<Json<Value>, AdminError> {
    state
        .clock
        .try_advance(parse_duration(&body.by)?)
        .map_err(|range| AdminError::BadRequest(format!("cannot advance by {:?}: {range}", body.by)))?;
    Ok(view(&state.clock))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Set {
    now: String,
}

async fn set(State(state): State<AppState>, JsonBody(body): JsonBody<Set>) -> Result<Json<Value>, AdminError> {
    let to = OffsetDateTime::parse(body.now.trim(), &Rfc3339)
        .map_err(|error| AdminError::BadRequest(format!("{:?} is not an RFC 3339 time: {error}", body.now)))?;
    state
        .clock
        .set(to)
        .map_err(|range| AdminError::BadRequest(format!("cannot set the clock to {:?}: {range}", body.now)))?;
    Ok(view(&state.clock))
}

async fn reset(State(state): State<AppState>) -> Json<Value> {
    state.clock.reset();
    view(&state.clock)
}
