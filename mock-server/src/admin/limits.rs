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
    Router::new().route("/limits", get(handle_show).put(handle_change))
}

/// Applies `change`; the settings in force after it (for its app, or the server default).
pub(crate) fn change(state: &AppState, change: LimitChange) -> Result<LimitSettings, AdminError> {
    super::known_app(state, change.app.as_deref())?;
    state
        .control
        .limits
        .change(change)
        .map_err(|error| AdminError::BadRequest(error.to_string()))
}

async fn handle_show(State(state): State<AppState>, Query(filter): Query<AppFilter>) -> Json<LimitSettings> {
    Json(state.control.limits.settings(filter.app.as_deref()))
}

async fn handle_change(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<LimitChange>,
) -> Result<Json<Value>, AdminError> {
    let app = request.app.clone();
    let settings = change(&state, request)?;
    let mut body = serde_json::to_value(settings).unwrap_or_else(|_| json!({}));
    if let (Value::Object(map), Some(app)) = (&mut body, app) {
        map.insert("app".into(), app.into());
    }
    Ok(Json(body))
}
