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
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{AdminError, JsonBody};
use crate::domain::permissions::Permission;
use crate::domain::sign_in::{self, Approval, Credentials, MAX_LOGIN_BYTES, SignIn, SignInError};
use crate::domain::world::Mode;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/authorize", post(handle))
}

/// A scope as a list or as Connect's space-separated text.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Scope {
    Text(String),
    List(Vec<String>),
}

/// The body of `POST /admin/authorize`, and what [`crate::MockServer::authorize`] fills in. Every
/// field is optional; the module doc says what each defaults to.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeRequest {
    /// The app (default: the first app of the fixtures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The brand, e.g. `FORD` (default: the app's default brand).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    /// The permissions (default: the app's default scope).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    /// The login, in the test-mode grammar in test mode (default: a new user each time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// `live`, `test` or `simulated` (default: `test`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// A registered redirect URI of the app (default: its first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    /// `false` answers with the code instead of exchanging it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<bool>,
}

/// A connected user's tokens, already exchanged: what `POST /admin/authorize` answers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Tokens {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds the access token lives (7200).
    pub expires_in: i64,
    pub refresh_token: String,
    pub user_id: Uuid,
    /// The vehicles connected, in the order `GET /v2.0/vehicles` lists them.
    pub vehicle_ids: Vec<Uuid>,
    /// The login the user signed in with.
    pub email: String,
    pub client_id: String,
}

/// An authorization code, not yet exchanged: the answer to `"exchange": false`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Code {
    pub code: String,
    /// The redirect URI the code is bound to (the token request must name it).
    pub redirect_uri: String,
    pub user_id: Uuid,
    pub vehicle_ids: Vec<Uuid>,
}

/// Tokens, or a code when the request said `"exchange": false`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub(crate) enum Authorized {
    Tokens(Tokens),
    Code(Code),
}

async fn handle(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<AuthorizeRequest>,
) -> Result<Json<Authorized>, AdminError> {
    authorize(&state, request).map(Json)
}

/// Signs a user in as `request` says and connects their vehicles, as Connect would.
pub(crate) fn authorize(state: &AppState, request: AuthorizeRequest) -> Result<Authorized, AdminError> {
    let app = super::app_or_first(state, request.client_id.as_deref())?;
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
        None => format!("{}@test.example", Uuid::new_v4()),
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
        return Ok(Authorized::Code(Code {
            code: approved.code.to_string(),
            redirect_uri,
            user_id: approved.user,
            vehicle_ids: approved.vehicles,
        }));
    }
    let tokens = state
        .world
        .redeem_code(&app.client_id, &approved.code.to_string(), Some(&redirect_uri))
        .map_err(|error| AdminError::BadRequest(format!("the fresh code could not be exchanged: {error:?}")))?;
    Ok(Authorized::Tokens(Tokens {
        access_token: tokens.access_token.to_string(),
        token_type: "Bearer".to_owned(),
        expires_in: tokens.expires_in,
        refresh_token: tokens.refresh_token.to_string(),
        user_id: tokens.user,
        vehicle_ids: tokens.vehicles,
        email: approved.login,
        client_id: app.client_id.clone(),
    }))
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
