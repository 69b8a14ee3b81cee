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
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{AdminError, JsonBody};
use crate::domain::clock::{Clock, smartcar_timestamp};
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/clock", get(show).put(handle_set).delete(handle_reset))
        .route("/clock/advance", post(handle_advance))
}

/// The body of `POST /admin/clock/advance`: how far to move the clock, as text (`2h`, `61d`, `11m`,
/// `1h 30m`), so the CLI and the admin API read the same words.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClockAdvance {
    pub by: String,
}

impl From<std::time::Duration> for ClockAdvance {
    fn from(by: std::time::Duration) -> Self {
        ClockAdvance {
            by: humantime::format_duration(by).to_string(),
        }
    }
}

/// The body of `PUT /admin/clock`: the time to set, as RFC 3339 text.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClockSet {
    pub now: String,
}

impl From<OffsetDateTime> for ClockSet {
    fn from(now: OffsetDateTime) -> Self {
        // Formatting fails only for years beyond four digits, which the clock refuses anyway.
        let now = now.format(&Rfc3339).unwrap_or_else(|_| now.to_string());
        ClockSet { now }
    }
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

/// A duration in humantime's words: `2h`, `61d`, `11m`, `1h 30m`.
fn parse_duration(text: &str) -> Result<time::Duration, AdminError> {
    let duration = humantime::parse_duration(text.trim())
        .map_err(|error| AdminError::BadRequest(format!("{text:?} is not a duration like 2h, 61d or 11m: {error}")))?;
    time::Duration::try_from(duration)
        .map_err(|_| AdminError::BadRequest(format!("{text:?} is too long: {}", crate::domain::clock::OutOfRange)))
}

/// Moves the clock forward; the new time.
pub(crate) fn advance(clock: &Clock, request: &ClockAdvance) -> Result<OffsetDateTime, AdminError> {
    clock
        .try_advance(parse_duration(&request.by)?)
        .map_err(|range| AdminError::BadRequest(format!("cannot advance by {:?}: {range}", request.by)))?;
    Ok(clock.now())
}

/// Sets the clock; the new time.
pub(crate) fn set(clock: &Clock, request: &ClockSet) -> Result<OffsetDateTime, AdminError> {
    let to = OffsetDateTime::parse(request.now.trim(), &Rfc3339)
        .map_err(|error| AdminError::BadRequest(format!("{:?} is not an RFC 3339 time: {error}", request.now)))?;
    clock
        .set(to)
        .map_err(|range| AdminError::BadRequest(format!("cannot set the clock to {:?}: {range}", request.now)))?;
    Ok(clock.now())
}

async fn handle_advance(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<ClockAdvance>,
) -> Result<Json<Value>, AdminError> {
    advance(&state.clock, &request)?;
    Ok(view(&state.clock))
}

async fn handle_set(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<ClockSet>,
) -> Result<Json<Value>, AdminError> {
    set(&state.clock, &request)?;
    Ok(view(&state.clock))
}

async fn handle_reset(State(state): State<AppState>) -> Json<Value> {
    state.clock.reset();
    view(&state.clock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duration_advances_by_the_text_the_admin_api_reads() {
        let request = ClockAdvance::from(std::time::Duration::from_secs(2 * 3600 + 90));

        assert_eq!(request.by, "2h 1m 30s");
        assert_eq!(parse_duration(&request.by).ok(), Some(time::Duration::seconds(7290)));
    }

    #[test]
    fn a_time_is_set_as_rfc_3339_text() {
        let request = ClockSet::from(time::macros::datetime!(2030-01-01 00:00:00 UTC));

        assert_eq!(request.now, "2030-01-01T00:00:00Z");
    }
}
