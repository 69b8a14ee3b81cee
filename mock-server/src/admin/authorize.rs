//! Browser-free authorization.
//!
//! - `POST /admin/authorize` — `{"client_id"?, "brand"?, "scope"?, "email"?, "mode"?,
//!   "redirect_uri"?, "exchange"?}`: creates (or finds) the user, connects the brand's vehicle(s)
//!   for the app with the scope, and answers with the tokens already exchanged
//!   (`access_token`, `refresh_token`, `expires_in`, `token_type`, `user_id`, `vehicle_ids`), or
//!   with the `code` when `"exchange": false`.
//!
//! Defaults: the first app of the fixtures, the app's default brand and scope, a fresh test-mode
//! e-mail (so every call is a new user), test mode and the app's first redirect URI.
//!
//! It signs in as Connect does ([`sign_in::approve`]), vouching for the e-mail: no password is
//! asked. In test mode the e-mail follows the test-mode grammar (`<n>-vehicles@smartcar.com`,
//! `<VIN>@bev.smartcar.com`, …); in live mode a fixture account gets its own vehicles and any
//! other e-mail the brand's. It has at most [`MAX_LOGIN_BYTES`] bytes (a 400 names the cap
//! beyond it); a login that ends Connect in an error answers 409 with that error.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::post;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AdminError, JsonBody};
use crate::domain::permissions::Permission;
use crate::domain::sign_in::{self, Approval, Credentials, MAX_LOGIN_BYTES, SignIn, SignInError};
use crate::domain::world::Mode;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/authorize", post(authorize))
}

/// A scope as a list or as Connect's space-separated text.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Scope {
    Text(String),
    List(Vec<String>),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthorizeRequest {
    client_id: Option<String>,
    brand: Option<String>,
    scope: Option<Scope>,
    email: Option<String>,
    mode: Option<String>,
    redirect_uri: Option<String>,
    exchange: Option<bool>,
}

async fn authorize(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<AuthorizeRequest>,
) -> Result<Json<Value>, AdminError> {
    let app = match &request.client_id {
        Some(id) => state
            .fixtures
            .app(id)
            .ok_or_else(|| AdminError::NotFound(format!("no app has client id {id}")))?,
        None => state
            .fixtures
            .apps
            .first()
            .ok_or_else(|| AdminError::NotFound("the fixtures have no app".to_owned()))?,
    };
    let make = request.brand.as_deref().unwrap_or(&app.default_brand);
    let brand = state
        .fixtures
        .brand(make)
        .ok_or_else(|| AdminError::NotFound(format!("no brand {make}")))?;
    let scope = match &request.scope {
        None => app.default_scope.clone(),
        Some(Scope::Text(text)) => parse_scope(text)?,
        Some(Scope::List(items)) => parse_scope(&items.join(" "))?,
    };
    let mode = match request.mode.as_deref() {
        None => Mode::Test,
        Some(text) => Mode::parse(text)
            .ok_or_else(|| AdminError::BadRequest(format!("mode {text:?} is not live, test or simulated")))?,
    };
    let redirect_uri = match &request.redirect_uri {
        Some(uri) if app.redirect_uris.contains(uri) => uri.clone(),
        Some(uri) => {
            return Err(AdminError::BadRequest(format!(
                "{uri} is not a redirect URI registered for {}",
                app.client_id
            )));
        }
        None => app.redirect_uris.first().cloned().unwrap_or_default(),
    };
    let email = match request.email {
        Some(email) => email,
        None => format!("{}@test.example", uuid::Uuid::new_v4()),
    };
    let approval = Approval {
        sign_in: SignIn {
            app: &app.client_id,
            brand,
            mode,
            login: &email,
            credentials: Credentials::Vouched,
        },
        scope,
        redirect_uri: &redirect_uri,
    };
    let approved =
        sign_in::approve(&state.fixtures, &state.world, &state.control.faults, &approval).map_err(refused)?;
    if request.exchange == Some(false) {
        return Ok(Json(json!({
            "code": approved.code,
            "redirect_uri": redirect_uri,
            "user_id": approved.user,
            "vehicle_ids": approved.vehicles,
        })));
    }
    let tokens = state
        .world
        .redeem_code(&app.client_id, &approved.code.to_string(), Some(&redirect_uri))
        .map_err(|error| AdminError::BadRequest(format!("the fresh code could not be exchanged: {error:?}")))?;
    Ok(Json(json!({
        "access_token": tokens.access_token,
        "token_type": "Bearer",
        "expires_in": tokens.expires_in,
        "refresh_token": tokens.refresh_token,
        "user_id": tokens.user,
        "vehicle_ids": tokens.vehicles,
        "email": approved.login,
        "client_id": app.client_id,
    })))
}

/// How a refused sign-in answers: a Connect error is a 409 named after it, a bad e-mail a 400.
fn refused(error: SignInError) -> AdminError {
    match error {
        SignInError::MissingLogin => AdminError::BadRequest("email must not be empty".to_owned()),
        SignInError::LoginTooLong { bytes } => AdminError::BadRequest(format!(
            "email has {bytes} bytes; usernames and e-mails are capped at {MAX_LOGIN_BYTES} bytes"
        )),
        SignInError::Refused(code) => AdminError::Refused {
            error: code.as_str(),
            message: code.description().to_owned(),
        },
        SignInError::Forgotten(forgotten) => AdminError::Refused {
            error: "server_error",
            message: forgotten.to_string(),
        },
        // A vouched sign-in has no password to check.
        SignInError::PasswordTooLong | SignInError::WrongCredentials => AdminError::BadRequest(error.to_string()),
    }
}

fn parse_scope(text: &str) -> Result<Vec<Permission>, AdminError> {
    Permission::parse_scope(text).map_err(|unknown| AdminError::BadRequest(format!("unknown permission {unknown}")))
}
