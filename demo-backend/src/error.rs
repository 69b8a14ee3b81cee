//! `AppError`: how the backend's routes fail, as JSON the tutorial's front end can show.
//!
//! Every error is `{"error": <code>, "error_description": <text>}`. When the platform refused a
//! call, `platform` carries its status and its own error body, unchanged:
//!
//! ```json
//! { "error": "invalid_request", "error_description": "Invalid code: abc.",
//!   "platform": { "status": 400, "body": { "error": "invalid_request", "error_description": "Invalid code: abc." } } }
//! ```

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::smartcar;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// `/exchange` without a usable code. The React tutorial ignores Connect's error and calls
    /// `/exchange?code=null`, so `null` and `undefined` count as missing.
    #[error("The request has no authorization code: Connect did not return one (was access denied?).")]
    MissingCode,
    /// Connect came back to `/exchange` with `error=…` (the server-side flow).
    #[error("{description}")]
    Connect { error: String, description: String },
    /// `/exchange` with a `state` that no `/login` issued, one already used, one older than
    /// [`LOGIN_LIFETIME`](crate::tokens::LOGIN_LIFETIME), or one pushed out by
    /// [`MAX_PENDING_LOGINS`](crate::tokens::MAX_PENDING_LOGINS) newer logins.
    #[error(
        "The state does not belong to a login waiting here (a login waits at most {} minutes, and \
         only the latest {} are kept); start again from /login.",
        crate::tokens::LOGIN_LIFETIME.as_secs() / 60,
        crate::tokens::MAX_PENDING_LOGINS
    )]
    UnknownState,
    /// `/vehicle` before any owner connected, or after the platform refused to refresh.
    #[error("No vehicle is connected yet: connect one first.")]
    NotConnected,
    /// The owner shared no vehicle.
    #[error("The connected account shares no vehicle.")]
    NoVehicle,
    /// A call to the platform failed; see [`smartcar::Error`].
    #[error(transparent)]
    Platform(#[from] smartcar::Error),
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, error, platform) = match &self {
            AppError::MissingCode => (StatusCode::BAD_REQUEST, "missing_code".to_owned(), None),
            AppError::Connect { error, .. } => (StatusCode::BAD_REQUEST, error.clone(), None),
            AppError::UnknownState => (StatusCode::BAD_REQUEST, "invalid_state".to_owned(), None),
            AppError::NotConnected => (StatusCode::UNAUTHORIZED, "not_connected".to_owned(), None),
            AppError::NoVehicle => (StatusCode::NOT_FOUND, "no_vehicle".to_owned(), None),
            AppError::Platform(smartcar::Error::Refused { status, body, .. }) => {
                // A refused code or token is the caller's problem (4xx, passed on); a platform
                // failure is ours to report as a bad gateway.
                let ours = if status.is_client_error() {
                    *status
                } else {
                    StatusCode::BAD_GATEWAY
                };
                let error = platform_error(body).unwrap_or("platform_error").to_owned();
                (ours, error, Some(json!({ "status": status.as_u16(), "body": body })))
            }
            AppError::Platform(_) => (StatusCode::BAD_GATEWAY, "platform_unreachable".to_owned(), None),
        };
        let description = match &self {
            AppError::Platform(smartcar::Error::Refused { body, .. }) => {
                platform_description(body).map_or_else(|| self.to_string(), str::to_owned)
            }
            _ => self.to_string(),
        };
        if let AppError::Platform(cause) = &self {
            tracing::warn!(error = %cause, source = ?std::error::Error::source(cause), "a platform call failed");
        }
        let mut body = json!({ "error": error, "error_description": description });
        if let Some(platform) = platform {
            body["platform"] = platform;
        }
        (status, Json(body)).into_response()
    }
}

/// The error's name in either of the platform's shapes: `error` (token endpoint) or `type`
/// (vehicle API).
fn platform_error(body: &Value) -> Option<&str> {
    body.get("error").or_else(|| body.get("type")).and_then(Value::as_str)
}

/// The human-readable text in either shape: `error_description` or `description`.
fn platform_description(body: &Value) -> Option<&str> {
    body.get("error_description")
        .or_else(|| body.get("description"))
        .and_then(Value::as_str)
}
