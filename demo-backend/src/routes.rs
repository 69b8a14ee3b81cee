//! The tutorial backends' three routes (docs/contract/tutorial-flow.md#the-tutorials-backends):
//!
//! - `GET /login` — 302 to Connect with a fresh `state` (the server-side tutorials' flow; needs
//!   `SMARTCAR_REDIRECT_URI` to be this backend's `/exchange`)
//! - `GET /exchange?code=…` — exchange the code and keep the tokens; 200 JSON, or 302 to
//!   `/vehicle` when Connect came back here with the `state` of a `/login`
//! - `GET /vehicle` — `{"id","make","model","year"}` of the first vehicle, refreshing an expired
//!   access token first

use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::error::AppError;
use crate::smartcar::Vehicle;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login))
        .route("/exchange", get(exchange))
        .route("/vehicle", get(vehicle))
}

async fn login(State(app): State<AppState>) -> Response {
    let state = app.logins.begin();
    found(app.smartcar.authorize_url(Some(&state)).as_str())
}

/// What Connect (server-side flow) or the front end (popup flow) sends to `/exchange`.
#[derive(Debug, Deserialize)]
struct ExchangeQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn exchange(State(app): State<AppState>, Query(query): Query<ExchangeQuery>) -> Result<Response, AppError> {
    // A state means Connect redirected a `/login` here; without one, the front end is calling.
    let from_login = query.state.as_deref().map(|state| app.logins.finish(state));
    if let Some(error) = query.error {
        let description = query.error_description.unwrap_or_default();
        return Err(AppError::Connect { error, description });
    }
    if from_login == Some(false) {
        return Err(AppError::UnknownState);
    }
    let code = query
        .code
        .filter(|code| !matches!(code.as_str(), "" | "null" | "undefined"))
        .ok_or(AppError::MissingCode)?;

    let grant = app.smartcar.exchange_code(&code).await?;
    app.tokens.save(grant);

    if from_login == Some(true) {
        Ok(found("/vehicle"))
    } else {
        Ok(Json(json!({ "connected": true })).into_response())
    }
}

async fn vehicle(State(app): State<AppState>) -> Result<Json<Vehicle>, AppError> {
    let access_token = fresh_access_token(&app).await?;
    let ids = app.smartcar.vehicle_ids(&access_token).await?;
    let id = ids.first().ok_or(AppError::NoVehicle)?;
    Ok(Json(app.smartcar.vehicle(&access_token, id).await?))
}

/// The stored access token, refreshed first when it has expired. A refused refresh forgets the
/// tokens: the owner has to connect again.
async fn fresh_access_token(app: &AppState) -> Result<String, AppError> {
    let tokens = app.tokens.current().ok_or(AppError::NotConnected)?;
    if !tokens.is_expired() {
        return Ok(tokens.access_token);
    }
    match app.smartcar.refresh(&tokens.refresh_token).await {
        Ok(grant) => {
            let access_token = grant.access_token.clone();
            app.tokens.save(grant);
            Ok(access_token)
        }
        Err(error) => {
            app.tokens.forget();
            Err(error.into())
        }
    }
}

/// `302 Found`, as Express's `res.redirect` answers; axum's `Redirect::to` would be a 303.
fn found(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
