//! Smartcar's request limits ([`crate::domain::limits`]), switchable:
//!
//! - `GET /admin/limits[?app=]` — the settings in force (for one app)
//! - `PUT /admin/limits` — change them, for one app (`"app"`) or as the server default

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use serde_json::{Value, json};

use super::{AdminError, AppFilter, JsonBody};
use crate::domain::limits::{LimitChange, LimitSettings};
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/limits", get(show).put(change))
}

async fn show(State(state): State<AppState>, Query(filter): Query<AppFilter>) -> Json<LimitSettings> {
    Json(state.control.limits.settings(filter.app.as_deref()))
}

async fn change(
    State(state): State<AppState>,
    JsonBody(change): JsonBody<LimitChange>,
) -> Result<Json<Value>, AdminError> {
    let app = change.app.clone();
    let settings = state
        .control
        .limits
        .change(change)
        .map_err(|error| AdminError::BadRequest(error.to_string()))?;
    let mut body = serde_json::to_value(settings).unwrap_or_else(|_| json!({}));
    if let (Value::Object(map), Some(app)) = (&mut body, app) {
        map.insert("app".into(), app.into());
    }
    Ok(Json(body))
}
