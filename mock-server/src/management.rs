//! The management API (docs/contract/management.md), authenticated with the app's management token
//! as `Authorization: Basic base64("default:" + AMT)`:
//!
//! - `GET /v{ver}/management/connections?user_id&vehicle_id&limit&cursor` — the app's
//!   connections, newest first: `{"connections":[{"vehicleId","userId","connectedAt"}],
//!   "paging":{"cursor": <string or null>}}`;
//! - `DELETE /v{ver}/management/connections?user_id=…` or `?vehicle_id=…` (exactly one) — revokes
//!   those connections at once (tokens stop reaching the vehicles, webhook subscriptions end):
//!   `{"connections":[{"vehicleId","userId"}]}`.
//!
//! The mock's choices where Smartcar is silent (docs/contract/management.md#paging): the default
//! page size is 100 and the largest 1000; `cursor` is opaque (base64url of the last connection's
//! position), so pages stay right when connections are added or deleted in between; `paging` never
//! carries `count`; `DELETE` with both or neither filter is 400 VALIDATION.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::credentials::{ApiVersion, Credentials, management_app, query_pairs, query_value};
use crate::domain::clock::smartcar_timestamp;
use crate::domain::world::Connection;
use crate::error::ApiError;
use crate::request::SmartcarJson;
use crate::state::AppState;

/// Page size when `limit` is absent.
pub(crate) const DEFAULT_LIMIT: usize = 100;
/// The largest `limit` accepted.
pub(crate) const MAX_LIMIT: usize = 1000;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route(
        "/{version}/management/connections",
        get(list_connections).delete(delete_connections),
    )
}

/// `user_id` / `vehicle_id` filters; each must be a UUID when given.
struct Filters {
    user: Option<Uuid>,
    vehicle: Option<Uuid>,
}

impl Filters {
    fn parse(query: &[(String, String)]) -> Result<Filters, ApiError> {
        let uuid = |name: &str| -> Result<Option<Uuid>, ApiError> {
            match query_value(query, name) {
                None => Ok(None),
                Some(text) => Uuid::try_parse(text.trim())
                    .map(Some)
                    .map_err(|_| ApiError::validation(name, format!("must be a UUID, got {text:?}"))),
            }
        };
        Ok(Filters {
            user: uuid("user_id")?,
            vehicle: uuid("vehicle_id")?,
        })
    }

    fn matches(&self, connection: &Connection) -> bool {
        self.user.is_none_or(|user| connection.user == user)
            && self.vehicle.is_none_or(|vehicle| connection.vehicle == vehicle)
    }
}

/// Where a page ends: the last connection's `(connectedAt, vehicle)`, the list's sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    connected_at_ns: i128,
    vehicle: Uuid,
}

impl Cursor {
    fn of(connection: &Connection) -> Cursor {
        Cursor {
            connected_at_ns: connection.connected_at.unix_timestamp_nanos(),
            vehicle: connection.vehicle,
        }
    }

    fn encode(self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}", self.connected_at_ns, self.vehicle))
    }

    fn decode(text: &str) -> Option<Cursor> {
        let bytes = URL_SAFE_NO_PAD.decode(text.trim()).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (at, vehicle) = text.split_once(':')?;
        Some(Cursor {
            connected_at_ns: at.parse().ok()?,
            vehicle: Uuid::try_parse(vehicle).ok()?,
        })
    }

    /// Whether `connection` comes after this position (newest first, then by vehicle id).
    fn is_before(self, connection: &Connection) -> bool {
        let at = connection.connected_at.unix_timestamp_nanos();
        at < self.connected_at_ns || (at == self.connected_at_ns && connection.vehicle > self.vehicle)
    }
}

fn limit(query: &[(String, String)]) -> Result<usize, ApiError> {
    match query_value(query, "limit") {
        None => Ok(DEFAULT_LIMIT),
        Some(text) => match text.trim().parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(ApiError::validation(
                "limit",
                format!("must be a whole number from 1 to {MAX_LIMIT}, got {text:?}"),
            )),
        },
    }
}

/// `GET /v{ver}/management/connections`.
async fn list_connections(
    State(state): State<AppState>,
    _: ApiVersion,
    RawQuery(raw): RawQuery,
    credentials: Credentials,
) -> Result<Response, ApiError> {
    let app = management_app(&state, &credentials)?;
    let query = query_pairs(raw.as_deref());
    let filters = Filters::parse(&query)?;
    let limit = limit(&query)?;
    let after = match query_value(&query, "cursor").filter(|text| !text.trim().is_empty()) {
        None => None,
        Some(text) => Some(
            Cursor::decode(text)
                .ok_or_else(|| ApiError::validation("cursor", format!("{text:?} is not a cursor this API gave out")))?,
        ),
    };
    let mut matching = state
        .world
        .connections(&app.client_id)
        .into_iter()
        .filter(|connection| filters.matches(connection))
        .filter(|connection| after.is_none_or(|cursor| cursor.is_before(connection)))
        .peekable();
    let page: Vec<Connection> = matching.by_ref().take(limit).collect();
    let more = matching.peek().is_some();
    let cursor = match page.last() {
        Some(last) if more => Value::String(Cursor::of(last).encode()),
        _ => Value::Null,
    };
    let connections: Vec<Value> = page
        .iter()
        .map(|c| {
            json!({
                "vehicleId": c.vehicle.to_string(),
                "userId": c.user.to_string(),
                "connectedAt": smartcar_timestamp(c.connected_at),
            })
        })
        .collect();
    let body = json!({ "connections": connections, "paging": { "cursor": cursor } });
    Ok(SmartcarJson(StatusCode::OK, body).into_response())
}

/// `DELETE /v{ver}/management/connections` with exactly one of `user_id` / `vehicle_id`.
async fn delete_connections(
    State(state): State<AppState>,
    _: ApiVersion,
    RawQuery(raw): RawQuery,
    credentials: Credentials,
) -> Result<Response, ApiError> {
    let app = management_app(&state, &credentials)?;
    let query = query_pairs(raw.as_deref());
    let filters = Filters::parse(&query)?;
    if filters.user.is_some() == filters.vehicle.is_some() {
        return Err(ApiError::validation(
            "user_id",
            "exactly one of user_id and vehicle_id is required",
        ));
    }
    let mut deleted = Vec::new();
    for connection in state.world.connections(&app.client_id) {
        if filters.matches(&connection) && state.world.disconnect(connection.user, connection.vehicle) {
            state.webhooks.registry().forget_vehicle(connection.vehicle);
            deleted.push(json!({
                "vehicleId": connection.vehicle.to_string(),
                "userId": connection.user.to_string(),
            }));
        }
    }
    Ok(SmartcarJson(StatusCode::OK, json!({ "connections": deleted })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_survives_a_round_trip() {
        let cursor = Cursor {
            connected_at_ns: 1_700_000_000_123_000_000,
            vehicle: Uuid::new_v4(),
        };

        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
    }

    #[test]
    fn a_made_up_cursor_is_refused() {
        assert_eq!(Cursor::decode("not-a-cursor"), None);
    }
}
