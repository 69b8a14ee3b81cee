//! The compatibility API (docs/contract/compatibility.md), authenticated with the app's client
//! credentials (`Authorization: Basic base64(client_id:client_secret)`):
//!
//! - `GET /v{ver}/compatibility?vin&scope&country&mode&test_mode_compatibility_level` —
//!   `{"compatible","reason","capabilities":[{"permission","endpoint","capable","reason"}]}`
//!   (v1.0: `{"compatible"}`);
//! - `GET /v{ver}/compatibility/matrix?region&scope&make&type` — `{"<MAKE>":[{"model",
//!   "startYear","endYear","type","endpoints","permissions"}]}`.
//!
//! The answers come from the fixtures' table ([`crate::domain::compatibility`]). Test mode
//! (`mode=test`, or any level — Node and Ruby force test mode with one) answers from the level
//! and ignores the VIN.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};

use crate::credentials::{ApiVersion, Credentials, client_app, query_pairs, query_value};
use crate::domain::compatibility::{LEVELS, Model, Verdict, endpoint};
use crate::domain::permissions::Permission;
use crate::domain::vehicle::Powertrain;
use crate::error::ApiError;
use crate::request::SmartcarJson;
use crate::state::AppState;

/// One model of the matrix, its permissions sorted by their human names.
fn matrix_entry(model: &Model) -> Value {
    let mut named: Vec<(&str, Permission)> = model.permissions.iter().map(|p| (endpoint(*p).1, *p)).collect();
    named.sort_by_key(|(name, _)| *name);
    json!({
        "model": model.model,
        "startYear": model.start_year,
        "endYear": model.end_year,
        "type": model.powertrain,
        "endpoints": named.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
        "permissions": named.iter().map(|(_, p)| p.as_str()).collect::<Vec<_>>(),
    })
}

/// The v2 body of a verdict for `scope` (one capability per permission, in request order).
fn verdict_body(verdict: &Verdict, scope: &[Permission]) -> Value {
    match verdict {
        Verdict::Incompatible(reason) => {
            json!({ "compatible": false, "reason": reason.as_str(), "capabilities": [] })
        }
        Verdict::Compatible { supported, otherwise } => {
            let capabilities: Vec<Value> = scope
                .iter()
                .map(|permission| {
                    let capable = supported.contains(permission);
                    json!({
                        "permission": permission.as_str(),
                        "endpoint": endpoint(*permission).0,
                        "capable": capable,
                        "reason": if capable { Value::Null } else { otherwise.as_str().into() },
                    })
                })
                .collect();
            json!({ "compatible": true, "reason": null, "capabilities": capabilities })
        }
    }
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/{version}/compatibility", get(compatibility))
        .route("/{version}/compatibility/matrix", get(matrix))
}

/// Every value of `name` (also `name[]`, as array-minded clients send), split on spaces.
fn words(query: &[(String, String)], name: &str) -> Vec<String> {
    let bracketed = format!("{name}[]");
    query
        .iter()
        .filter(|(key, _)| key == name || *key == bracketed)
        .flat_map(|(_, value)| value.split([' ', ',']).map(str::to_owned).collect::<Vec<_>>())
        .filter(|word| !word.is_empty())
        .collect()
}

fn scope(query: &[(String, String)]) -> Result<Vec<Permission>, ApiError> {
    let words = words(query, "scope");
    Permission::parse_scope(&words.join(" "))
        .map_err(|word| ApiError::validation("scope", format!("{word} is not a permission")))
}

/// `GET /v{ver}/compatibility`.
async fn compatibility(
    State(state): State<AppState>,
    version: ApiVersion,
    RawQuery(raw): RawQuery,
    credentials: Credentials,
) -> Result<Response, ApiError> {
    client_app(&state, &credentials)?;
    let query = query_pairs(raw.as_deref());
    let vin = query_value(&query, "vin").map(str::trim).unwrap_or("");
    if vin.is_empty() {
        return Err(ApiError::validation("vin", "is required"));
    }
    let scope = scope(&query)?;
    let country = query_value(&query, "country").map(str::trim).unwrap_or("US");
    if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(ApiError::validation(
            "country",
            format!("must be an ISO 3166-1 alpha-2 code, got {country:?}"),
        ));
    }
    let mode = query_value(&query, "mode").map(str::trim).filter(|m| !m.is_empty());
    if let Some(mode) = mode
        && !["test", "live", "simulated"].contains(&mode)
    {
        return Err(ApiError::validation(
            "mode",
            "Field must be one of: [test,live,simulated]",
        ));
    }
    let level = query_value(&query, "test_mode_compatibility_level")
        .map(str::trim)
        .filter(|l| !l.is_empty());
    let compatibility = &state.fixtures.compatibility;
    let verdict = if mode == Some("test") || level.is_some() {
        level
            .and_then(|level| compatibility.check_level(level))
            .ok_or_else(|| {
                ApiError::validation(
                    "test_mode_compatibility_level",
                    format!("Field must be one of: [{}]", LEVELS.join(",")),
                )
            })?
    } else {
        compatibility.check_vin(vin, country)
    };
    let body = if version.is_v1 {
        json!({ "compatible": verdict.is_compatible() })
    } else {
        verdict_body(&verdict, &scope)
    };
    Ok(SmartcarJson(StatusCode::OK, body).into_response())
}

/// `GET /v{ver}/compatibility/matrix`.
async fn matrix(
    State(state): State<AppState>,
    _: ApiVersion,
    RawQuery(raw): RawQuery,
    credentials: Credentials,
) -> Result<Response, ApiError> {
    client_app(&state, &credentials)?;
    let query = query_pairs(raw.as_deref());
    let compatibility = &state.fixtures.compatibility;
    let region = query_value(&query, "region")
        .map(|r| r.trim().to_ascii_uppercase())
        .unwrap_or_default();
    if !compatibility.regions.contains_key(&region) {
        let known: Vec<&str> = compatibility.regions.keys().map(String::as_str).collect();
        return Err(ApiError::validation(
            "region",
            format!("Field must be one of: [{}]", known.join(",")),
        ));
    }
    let scope = scope(&query)?;
    let makes = words(&query, "make");
    let types = words(&query, "type")
        .iter()
        .map(|word| {
            serde_json::from_value::<Powertrain>(Value::String(word.to_ascii_uppercase()))
                .map_err(|_| ApiError::validation("type", "Field must be one of: [ICE,HEV,PHEV,BEV]"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let matrix = compatibility.matrix(&region, &scope, &makes, &types);
    let body: Map<String, Value> = matrix
        .into_iter()
        .map(|(make, models)| (make.make.clone(), models.into_iter().map(matrix_entry).collect()))
        .collect();
    Ok(SmartcarJson(StatusCode::OK, body).into_response())
}
