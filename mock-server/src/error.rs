//! `ApiError`: the vehicle, management and compatibility APIs' error contract.
//!
//! An error is a row of the [`catalogue`] plus what this occurrence adds (`detail`,
//! `retry-after`) and a plain-words `reason` for people reading logs and the request journal
//! (never sent to the client). The domain's typed errors (a command's, a limit's) become
//! `ApiError`s here. It renders in the envelope of the request's path:
//!
//! - v2 (docs/contract/api.md#v2-error-body):
//!   `{"type","code","description","docURL","statusCode","requestId", "resolution":{"type"}}` +
//!   `detail` (validation only) + `suggestedUserMessage` (when known);
//! - v1 (docs/contract/api.md#v1-error-body): `{"error","message","statusCode","requestId"}` +
//!   `code` when it has a value;
//! - v3 (docs/contract/api.md#v3-error-body):
//!   `{"errors":[{"status","type","code","title","detail","links":{"about"},
//!   "resolution","suggestedUserMessage"}]}`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::domain::catalogue::{self, Entry};
use crate::domain::limits::LimitExceeded;
use crate::domain::vehicle::CommandError;
use crate::request::{self, Envelope, SmartcarJson};

#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    entry: &'static Entry,
    /// Boxed: errors travel in `Result`s, so the common case stays small.
    detail: Option<Box<Value>>,
    retry_after: Option<u64>,
    /// Why, in plain words ("scope read_location was not granted"); kept for the journal.
    reason: String,
}

/// The reason of an error response, left in the response's extensions for the request journal.
#[derive(Debug, Clone)]
pub(crate) struct ErrorReason(pub String);

impl ApiError {
    pub(crate) fn new(entry: &'static Entry, reason: impl Into<String>) -> Self {
        ApiError {
            entry,
            detail: None,
            retry_after: None,
            reason: reason.into(),
        }
    }

    /// A missing, malformed, expired or revoked credential.
    pub(crate) fn authentication(reason: impl Into<String>) -> Self {
        Self::new(&catalogue::AUTHENTICATION, reason)
    }

    /// A malformed request; `field` and `message` become the `detail` entry.
    pub(crate) fn validation(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::new(&catalogue::VALIDATION, format!("{field}: {message}"))
            .with_detail(json!([{ "field": field, "message": message }]))
    }

    /// An unknown route.
    pub(crate) fn not_found(path: &str) -> Self {
        Self::new(&catalogue::NOT_FOUND_PATH, format!("no route {path}"))
    }

    pub(crate) fn with_detail(mut self, detail: Value) -> Self {
        self.detail = Some(Box::new(detail));
        self
    }

    pub(crate) fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub(crate) fn entry(&self) -> &'static Entry {
        self.entry
    }

    #[cfg(test)]
    pub(crate) fn reason(&self) -> &str {
        &self.reason
    }

    pub(crate) fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.entry.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub(crate) fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }

    /// The body in `envelope`, carrying `request_id` (batch items render through this too).
    pub(crate) fn body(&self, envelope: Envelope, request_id: &str) -> Value {
        let entry = self.entry;
        match envelope {
            Envelope::V1 => {
                let (error, mut message) = entry.v1();
                // A v1-only `code` such as `VS_000` comes with its own message.
                let mut v1_code = None;
                if let Some((code, text)) = entry.v1_override {
                    v1_code = Some(code);
                    message = text;
                }
                let mut body = Map::new();
                body.insert("error".into(), error.into());
                body.insert("message".into(), message.into());
                if let Some(code) = v1_code {
                    body.insert("code".into(), code.into());
                }
                body.insert("statusCode".into(), entry.status.into());
                body.insert("requestId".into(), request_id.into());
                Value::Object(body)
            }
            Envelope::V2 => {
                let mut body = Map::new();
                body.insert("type".into(), entry.kind.into());
                body.insert("code".into(), entry.code.into());
                body.insert("description".into(), entry.description.into());
                body.insert("docURL".into(), entry.doc_url().into());
                body.insert("statusCode".into(), entry.status.into());
                body.insert("requestId".into(), request_id.into());
                body.insert("resolution".into(), json!({ "type": entry.resolution }));
                if let Some(detail) = &self.detail {
                    body.insert("detail".into(), (**detail).clone());
                }
                if let Some(message) = entry.suggested_user_message {
                    body.insert("suggestedUserMessage".into(), message.into());
                }
                Value::Object(body)
            }
            Envelope::V3 => {
                let mut error = Map::new();
                error.insert("status".into(), entry.status.to_string().into());
                error.insert("type".into(), entry.kind.into());
                error.insert("code".into(), entry.code.into());
                error.insert("title".into(), entry.title().into());
                error.insert("detail".into(), entry.description.into());
                error.insert("links".into(), json!({ "about": entry.doc_url() }));
                error.insert("resolution".into(), json!({ "type": entry.resolution }));
                if let Some(message) = entry.suggested_user_message {
                    error.insert("suggestedUserMessage".into(), message.into());
                }
                json!({ "errors": [Value::Object(error)] })
            }
        }
    }
}

impl From<CommandError> for ApiError {
    fn from(error: CommandError) -> Self {
        match error {
            CommandError::OutOfRange { field, message } => ApiError::validation(field, message),
            error => ApiError::new(error.entry(), error.to_string()),
        }
    }
}

impl From<LimitExceeded> for ApiError {
    fn from(exceeded: LimitExceeded) -> Self {
        let error = ApiError::new(exceeded.entry(), exceeded.to_string());
        match exceeded.retry_after() {
            Some(seconds) => error.with_retry_after(seconds),
            None => error,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let context = request::current();
        let mut id = uuid::Uuid::encode_buffer();
        let body = self.body(context.envelope, context.id.hyphenated().encode_lower(&mut id));
        let mut response = SmartcarJson(self.status(), body).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response.extensions_mut().insert(ErrorReason(self.reason));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_v2_permission_error_has_the_exact_key_set() {
        let error = ApiError::new(&catalogue::PERMISSION, "scope read_location was not granted");

        assert_eq!(
            error.body(Envelope::V2, "req-1"),
            json!({
                "type": "PERMISSION",
                "code": null,
                "description": "Your application has insufficient permissions to access the requested resource. Please prompt the user to re-authenticate using Smartcar Connect.",
                "docURL": "https://smartcar.com/docs/errors/api-errors/permission-errors#null",
                "statusCode": 403,
                "requestId": "req-1",
                "resolution": { "type": "REAUTHENTICATE" }
            })
        );
    }

    #[test]
    fn a_v1_permission_error_has_error_message_and_status() {
        let error = ApiError::new(&catalogue::PERMISSION, "not granted");

        assert_eq!(
            error.body(Envelope::V1, "req-1"),
            json!({
                "error": "permission_error",
                "message": "Insufficient permissions to access requested resource.",
                "statusCode": 403,
                "requestId": "req-1"
            })
        );
    }

    #[test]
    fn a_v3_error_is_wrapped_in_an_errors_array() {
        let error = ApiError::new(&catalogue::AUTHENTICATION, "no token");

        let body = error.body(Envelope::V3, "req-1");

        assert_eq!(body["errors"][0]["status"], "401");
        assert_eq!(body["errors"][0]["title"], "Unauthorized");
        assert_eq!(body["errors"][0]["links"]["about"], catalogue::AUTHENTICATION.doc_url());
    }

    #[test]
    fn every_title_is_the_reason_phrase_http_gives_its_status() {
        for entry in catalogue::CATALOGUE {
            let reason = StatusCode::from_u16(entry.status)
                .ok()
                .and_then(|status| status.canonical_reason());

            assert_eq!(entry.title(), reason.unwrap_or("Billing Error"), "{entry:?}");
        }
    }

    #[test]
    fn validation_errors_carry_a_detail_array() {
        let error = ApiError::validation("vehicle_id", "must be a UUID");

        assert_eq!(
            error.body(Envelope::V2, "r")["detail"],
            json!([{ "field": "vehicle_id", "message": "must be a UUID" }])
        );
    }
}
