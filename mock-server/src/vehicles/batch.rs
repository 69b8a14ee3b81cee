//! `POST /v{ver}/vehicles/{id}/batch` (docs/contract/api.md#batch):
//! `{"requests":[{"path":"/odometer"},…]}` → `{"responses":[{"path","code","headers","body"},…]}`.
//!
//! Every item is a GET answered by the same [`super::dispatch`] as a lone request, so permission,
//! capability and test-login errors are per item; order is kept; paths are echoed with a leading
//! `/`; the request's `sc-unit-system` applies to every item. Error items carry a complete error
//! body (with `statusCode`) in the path's envelope and a `headers` object. An unknown path fails
//! the whole batch with 400 VALIDATION.
//!
//! A batch takes at most [`MAX_ITEMS`] requests (400 VALIDATION beyond), and each item counts
//! against the request limits as a lone request would: the batch itself counted as its first item
//! when it came in (so an app with no requests left gets a 429 for the whole batch), each further
//! item is counted before it is answered, and one over a limit is answered with that limit's error.

use axum::http::Method;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::units::UnitSystem;
use super::{Reply, VehicleRequest, dispatch, endpoints};
use crate::domain::caller::Caller;
use crate::domain::world::Access;
use crate::error::ApiError;
use crate::request;
use crate::state::AppState;

/// The most requests one batch may hold. Smartcar documents none; 50 covers every readable
/// endpoint (about 30) with room for repeats, where a 1 MiB body could otherwise hold some 50,000
/// items, each answered under the world's lock.
pub(crate) const MAX_ITEMS: usize = 50;

/// `odometer`, `/odometer/`, `/` → `/odometer`, `/odometer`, `/`.
pub(crate) fn normalise(path: &str) -> String {
    let trimmed = path.trim().trim_matches('/');
    format!("/{trimmed}")
}

/// The batch's paths, or the VALIDATION error that fails the whole request.
fn paths(body: Option<&Value>) -> Result<Vec<String>, ApiError> {
    let requests = body
        .and_then(|body| body.get("requests"))
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::validation("requests", "must be an array of {\"path\": \"/…\"} objects"))?;
    if requests.len() > MAX_ITEMS {
        return Err(ApiError::validation(
            "requests",
            format!(
                "a batch takes at most {MAX_ITEMS} requests (the mock's cap), this one has {}; split it",
                requests.len()
            ),
        ));
    }
    requests
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let field = format!("requests[{i}].path");
            let path = item
                .get("path")
                .and_then(Value::as_str)
                .ok_or_else(|| ApiError::validation(&field, "must be a string"))?;
            let path = normalise(path);
            if endpoints::find(&Method::GET, &path).is_none() {
                return Err(ApiError::validation(
                    &field,
                    format!("{path} is not a vehicle endpoint"),
                ));
            }
            Ok(path)
        })
        .collect()
}

pub(super) fn answer(
    state: &AppState,
    access: &Access,
    vehicle_id: &str,
    body: Option<&Value>,
    units: UnitSystem,
) -> Result<Reply, ApiError> {
    let id = Uuid::try_parse(vehicle_id)
        .map_err(|_| ApiError::validation("vehicle_id", format!("{vehicle_id:?} is not a UUID")))?;
    if !access.vehicles.contains(&id) {
        return Err(ApiError::authentication(format!(
            "vehicle {id} is not connected to this access token"
        )));
    }
    let paths = paths(body)?;
    let context = request::current();
    let request_id = context.id.to_string();
    let caller = Caller {
        app: Some(access.app.clone()),
        user: Some(access.user),
        vehicle: Some(id),
        claimed: None,
    };
    let responses: Vec<Value> = paths
        .iter()
        .enumerate()
        .map(|(i, path)| {
            let item = VehicleRequest {
                method: &Method::GET,
                path,
                query: &[],
                body: None,
                units,
            };
            // The first item was counted as the batch request itself.
            let counted = if i == 0 {
                Ok(())
            } else {
                state
                    .control
                    .limits
                    .check(&caller, state.clock.now())
                    .map_err(ApiError::from)
            };
            match counted.and_then(|()| dispatch(state, access, vehicle_id, &item)) {
                Ok(reply) => {
                    let headers: Map<String, Value> = reply
                        .headers()
                        .into_iter()
                        .map(|(name, value)| (name.to_owned(), Value::String(value)))
                        .collect();
                    json!({ "path": path, "code": 200, "headers": headers, "body": reply.body })
                }
                Err(error) => {
                    let mut headers = Map::new();
                    headers.insert("content-type".into(), "application/json; charset=utf-8".into());
                    if let Some(seconds) = error.retry_after() {
                        // Python reads `Retry-After`, Node `retry-after`
                        // (docs/contract/api.md#batch).
                        headers.insert("retry-after".into(), seconds.to_string().into());
                        headers.insert("Retry-After".into(), seconds.to_string().into());
                    }
                    json!({
                        "path": path,
                        "code": error.entry().status,
                        "headers": headers,
                        "body": error.body(context.envelope, &request_id),
                    })
                }
            }
        })
        .collect();
    Ok(Reply {
        body: json!({ "responses": responses }),
        data_age: None,
        fetched_at: state.clock.now(),
        units,
    })
}
