//! Fault injection ([`crate::domain::faults`]): rules that make matching requests fail, slow
//! down or lose their connection, and Connect-side faults that end the next authorization with a
//! Connect error.
//!
//! - `GET /admin/faults[?app=]` — every rule with how often it fired and how many firings remain
//!   (a rule with `times` leaves the list after its last firing; the journal names the rule that
//!   answered each request)
//! - `POST /admin/faults` — add an API rule (see [`FaultSpec`])
//! - `POST /admin/faults/connect` — add a Connect rule (see [`ConnectFaultSpec`])
//! - `DELETE /admin/faults/{id}` — remove one rule
//! - `DELETE /admin/faults[?app=]` — remove every rule (of one app)

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::{delete, get, post};
use serde_json::{Value, json};

use super::{AdminError, AppFilter, JsonBody};
use crate::domain::faults::{ConnectFaultSpec, ConnectRuleSnapshot, FaultSpec, RuleSnapshot};
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/faults", get(handle_list).post(handle_add).delete(handle_clear))
        .route("/faults/connect", post(handle_add_connect))
        .route("/faults/{id}", delete(handle_remove))
}

/// The spec as written, plus `id`, `seed`, `fired`, `remaining`, and `error` as the catalogue
/// row it named (`{"type", "code"}`).
fn rule_view(rule: &RuleSnapshot) -> Value {
    let mut view = serde_json::to_value(&rule.spec).unwrap_or_else(|_| json!({}));
    if let Value::Object(map) = &mut view {
        map.insert("id".into(), rule.id.into());
        map.insert("seed".into(), rule.seed.into());
        map.insert("fired".into(), rule.fired.into());
        map.insert("remaining".into(), rule.remaining.map_or(Value::Null, Value::from));
        if let Some(entry) = rule.error {
            map.insert("error".into(), json!({ "type": entry.kind, "code": entry.code }));
        }
    }
    view
}

/// The spec as written, plus `id`, `fired` and `remaining`.
fn connect_rule_view(rule: &ConnectRuleSnapshot) -> Value {
    let mut view = serde_json::to_value(&rule.spec).unwrap_or_else(|_| json!({}));
    if let Value::Object(map) = &mut view {
        map.insert("id".into(), rule.id.into());
        map.insert("fired".into(), rule.fired.into());
        map.insert("remaining".into(), rule.remaining.into());
    }
    view
}

/// Every rule (of one app), as the admin API shows them.
pub(crate) fn list(state: &AppState, app: Option<&str>) -> Value {
    let book = state.control.faults.list(app);
    let rules: Vec<Value> = book.rules.iter().map(rule_view).collect();
    let connect: Vec<Value> = book.connect.iter().map(connect_rule_view).collect();
    json!({ "rules": rules, "connect": connect })
}

/// Adds an API rule; the rule as the admin API shows it.
pub(crate) fn add(state: &AppState, spec: FaultSpec) -> Result<Value, AdminError> {
    let rule = state
        .control
        .faults
        .add(spec)
        .map_err(|error| AdminError::BadRequest(error.to_string()))?;
    Ok(rule_view(&rule))
}

/// Adds a Connect rule for a known app; the rule as the admin API shows it.
pub(crate) fn add_connect(state: &AppState, spec: ConnectFaultSpec) -> Result<Value, AdminError> {
    if state.fixtures.app(&spec.app).is_none() {
        return Err(AdminError::NotFound(format!("no app has client id {}", spec.app)));
    }
    let rule = state
        .control
        .faults
        .add_connect(spec)
        .map_err(|error| AdminError::BadRequest(error.to_string()))?;
    Ok(connect_rule_view(&rule))
}

/// Removes rule `id`, API or Connect.
pub(crate) fn remove(state: &AppState, id: u64) -> Result<(), AdminError> {
    if state.control.faults.remove(id) {
        Ok(())
    } else {
        Err(AdminError::NotFound(format!("no fault rule {id}")))
    }
}

async fn handle_list(State(state): State<AppState>, Query(filter): Query<AppFilter>) -> Json<Value> {
    Json(list(&state, filter.app.as_deref()))
}

async fn handle_add(
    State(state): State<AppState>,
    JsonBody(spec): JsonBody<FaultSpec>,
) -> Result<Json<Value>, AdminError> {
    add(&state, spec).map(Json)
}

async fn handle_add_connect(
    State(state): State<AppState>,
    JsonBody(spec): JsonBody<ConnectFaultSpec>,
) -> Result<Json<Value>, AdminError> {
    add_connect(&state, spec).map(Json)
}

async fn handle_remove(State(state): State<AppState>, Path(id): Path<u64>) -> Result<Json<Value>, AdminError> {
    remove(&state, id)?;
    Ok(Json(json!({ "removed": id })))
}

async fn handle_clear(State(state): State<AppState>, Query(filter): Query<AppFilter>) -> Json<Value> {
    state.control.faults.clear(filter.app.as_deref());
    Json(json!({ "cleared": true }))
}
