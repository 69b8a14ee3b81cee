//! `TokenError`: the token endpoint's wire contract, RFC 6749 §5.2 as Smartcar shapes it
//! (docs/contract/oauth.md#errors): `{"error": …, "error_description": …}`, no other keys.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::ErrorReason;
use crate::request::SmartcarJson;

#[derive(Debug, thiserror::Error)]
pub(crate) enum TokenError {
    /// 400 `invalid_request`: a required parameter is missing (RFC 6749 §5.2).
    #[error("Missing required parameter: {0}.")]
    MissingParameter(&'static str),
    /// 400 `invalid_request` with `Invalid code: <code>.` — unknown, expired, already used, issued
    /// to another client or for another redirect URI. Smartcar answers all of these alike (Java's
    /// e2e asserts `invalid_request`); `reason` says which, for the journal.
    #[error("Invalid code: {code}.")]
    InvalidCode { code: String, reason: String },
    /// 400 `invalid_request` with `Invalid refresh_token: <token>.` (Python's e2e asserts the text).
    #[error("Invalid refresh_token: {token}.")]
    InvalidRefreshToken { token: String, reason: String },
    /// 401 `invalid_client`: unknown client or wrong secret (RFC 6749 §5.2).
    #[error("Invalid client credentials.")]
    InvalidClient(String),
    /// 400 `invalid_request`: the body could not be read (larger than 1 MiB, cut off).
    #[error("The request body could not be read.")]
    UnreadableBody(String),
    /// 400 `unsupported_grant_type`.
    #[error("Unsupported grant_type: {0}.")]
    UnsupportedGrantType(String),
}

impl TokenError {
    pub(crate) fn missing(parameter: &'static str) -> Self {
        TokenError::MissingParameter(parameter)
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        let (status, error, reason) = match &self {
            TokenError::MissingParameter(name) => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("the form has no {name}"),
            ),
            TokenError::InvalidCode { reason, .. } | TokenError::InvalidRefreshToken { reason, .. } => {
                (StatusCode::BAD_REQUEST, "invalid_request", reason.clone())
            }
            TokenError::UnreadableBody(reason) => (StatusCode::BAD_REQUEST, "invalid_request", reason.clone()),
            TokenError::InvalidClient(reason) => (StatusCode::UNAUTHORIZED, "invalid_client", reason.clone()),
            TokenError::UnsupportedGrantType(kind) => (
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!("grant_type {kind} is not supported"),
            ),
        };
        let body = json!({ "error": error, "error_description": self.to_string() });
        let mut response = SmartcarJson(status, body).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
        }
        response.extensions_mut().insert(ErrorReason(reason));
        response
    }
}
