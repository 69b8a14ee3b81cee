//! What every response shares: a request id (`sc-request-id`), the API envelope the path asks
//! for, and Smartcar's JSON content type.
//!
//! The request pipeline ([`crate::pipeline`]) gives each request a fresh UUID and keeps it, with
//! the envelope, in a task-local for the duration of the request ([`within`]), so that an error
//! rendered anywhere below (handler, extractor rejection, fallback) carries the same `requestId`
//! as the header without every function passing it along.

use std::future::Future;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use uuid::Uuid;

/// The error format a path speaks: `/v1.0/…` is v1, `/v3/…` is v3, everything else v2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Envelope {
    V1,
    V2,
    V3,
}

impl Envelope {
    pub(crate) fn of_path(path: &str) -> Envelope {
        let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
        match first {
            "v1.0" => Envelope::V1,
            "v3" => Envelope::V3,
            _ => Envelope::V2,
        }
    }
}

/// The per-request facts that error bodies need.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestContext {
    pub id: Uuid,
    pub envelope: Envelope,
}

impl RequestContext {
    /// A fresh id, in the envelope `path` speaks.
    pub(crate) fn new(path: &str) -> Self {
        RequestContext {
            id: Uuid::new_v4(),
            envelope: Envelope::of_path(path),
        }
    }

    /// The id as `sc-request-id` carries it.
    pub(crate) fn header_value(&self) -> HeaderValue {
        let mut buffer = Uuid::encode_buffer();
        let text = self.id.hyphenated().encode_lower(&mut buffer);
        HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
    }
}

tokio::task_local! {
    static CONTEXT: RequestContext;
}

/// The current request's context; outside a request (unit tests), a fresh one.
pub(crate) fn current() -> RequestContext {
    CONTEXT
        .try_with(|context| *context)
        .unwrap_or_else(|_| RequestContext::new("/"))
}

/// Runs `future` as the request of `context`: [`current`] inside it answers `context`.
pub(crate) async fn within<F: Future>(context: RequestContext, future: F) -> F::Output {
    CONTEXT.scope(context, future).await
}

/// A JSON body with Smartcar's content type, `application/json; charset=utf-8`.
pub(crate) struct SmartcarJson<T>(pub StatusCode, pub T);

impl<T: Serialize> IntoResponse for SmartcarJson<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.1) {
            Ok(bytes) => (
                self.0,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json; charset=utf-8"),
                )],
                bytes,
            )
                .into_response(),
            Err(error) => {
                tracing::error!(%error, "a response body failed to serialise");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_follows_the_version_segment() {
        assert_eq!(Envelope::of_path("/v1.0/vehicles"), Envelope::V1);
        assert_eq!(Envelope::of_path("/v2.0/vehicles"), Envelope::V2);
        assert_eq!(Envelope::of_path("/v3/vehicles/x/signals"), Envelope::V3);
        assert_eq!(Envelope::of_path("/nowhere"), Envelope::V2);
    }
}
