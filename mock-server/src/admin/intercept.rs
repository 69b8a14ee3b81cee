//! The middleware between the request context and the platform's routes: works out who the
//! caller is ([`caller::resolve`]), serves a fault if a rule fires (the domain's
//! [`Faults`](crate::domain::faults::Faults)), applies the limits, and writes the journal record. Admin routes pass straight through (they are neither faulted nor journaled).
//!
//! It runs before the handlers' extractors, so a fault wins over a missing or expired token: a
//! test that asks for `VEHICLE_STATE:ASLEEP` on a path gets it whatever it sends.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::Frame;

use crate::caller;
use crate::domain::caller::Caller;
use crate::domain::faults::Fault;
use crate::domain::journal::{Excerpt, KEPT_BODY_BYTES, Record, RequestExcerpt};
use crate::error::{ApiError, ErrorReason};
use crate::state::AppState;

pub async fn intercept(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    // The dashboard is test control too; its event stream must not be buffered for the journal.
    if path == "/admin" || path.starts_with("/admin/") || path == "/dashboard" || path.starts_with("/dashboard/") {
        return next.run(request).await;
    }
    let started = Instant::now();
    let at = state.clock.now();
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, crate::MAX_BODY_BYTES + 1).await {
        Ok(bytes) => bytes,
        // Larger than the limit: hand on something the handler's own limit refuses in its shape.
        Err(_) => Bytes::from(vec![0; crate::MAX_BODY_BYTES + 1]),
    };
    let caller = caller::resolve(&state, &parts, &body);
    let journal = state.control.journal.clone();
    let kept = journal.enabled().then(|| {
        let headers = parts
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_bytes()));
        RequestExcerpt::new(
            parts.method.as_str(),
            parts.uri.path(),
            parts.uri.query(),
            headers,
            &body,
        )
    });

    let fault = state
        .control
        .faults
        .take(&caller, parts.method.as_str(), parts.uri.path());
    let fault_id = fault.as_ref().map(|fault| fault.rule);
    let response = match fault {
        Some(fault) => serve_fault(&state, fault, &caller, parts, body.clone(), next).await,
        None => answer(&state, &caller, parts, body.clone(), next).await,
    };

    let Some(request) = kept else {
        return response;
    };
    let (mut response_parts, response_body) = response.into_parts();
    let dropped = response_parts.extensions.get::<Dropped>().is_some();
    let response_bytes = if dropped {
        Bytes::new()
    } else {
        axum::body::to_bytes(response_body, usize::MAX)
            .await
            .unwrap_or_default()
    };
    let reason = response_parts
        .extensions
        .get::<ErrorReason>()
        .map(|ErrorReason(reason)| reason.clone())
        .or_else(|| dropped.then(|| format!("fault rule {} dropped the connection", fault_id.unwrap_or_default())))
        .or_else(|| {
            response_parts
                .status
                .is_client_error()
                .then(|| format!("the server answered {}", response_parts.status))
        });
    journal.record(Record {
        seq: journal.next_seq(),
        request_id: crate::request::current().id,
        at,
        request,
        // 499: the client got no answer (nginx's word for it).
        status: if dropped { 499 } else { response_parts.status.as_u16() },
        retry_after: response_parts
            .headers
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned),
        response_body: Excerpt::of(&response_bytes, KEPT_BODY_BYTES),
        latency: started.elapsed(),
        caller,
        fault: fault_id,
        reason,
    });
    if dropped {
        response_parts.extensions.insert(Dropped);
        return Response::from_parts(response_parts, Body::new(DroppedBody));
    }
    Response::from_parts(response_parts, Body::from(response_bytes))
}

/// Limits, then the platform.
async fn answer(
    state: &AppState,
    caller: &Caller,
    parts: axum::http::request::Parts,
    body: Bytes,
    next: Next,
) -> Response {
    if is_vehicle_api(parts.uri.path())
        && let Err(error) = state.control.limits.check(caller, state.clock.now())
    {
        return ApiError::from(error).into_response();
    }
    next.run(Request::from_parts(parts, Body::from(body))).await
}

/// Latency first; then a dropped connection, the fault's error, or the real answer (with the
/// fault's `retry-after` added).
async fn serve_fault(
    state: &AppState,
    fault: Fault,
    caller: &Caller,
    parts: axum::http::request::Parts,
    body: Bytes,
    next: Next,
) -> Response {
    if let Some(latency) = fault.latency {
        tokio::time::sleep(latency).await;
    }
    if fault.drop {
        let mut response = Response::new(Body::new(DroppedBody));
        response.extensions_mut().insert(Dropped);
        return response;
    }
    let mut response = match fault.error {
        Some(entry) => ApiError::new(
            entry,
            format!("fault rule {} answered with {}", fault.rule, describe(entry)),
        )
        .into_response(),
        None => answer(state, caller, parts, body, next).await,
    };
    if let Some(seconds) = fault.retry_after {
        response.headers_mut().insert("retry-after", HeaderValue::from(seconds));
    }
    response
}

fn describe(entry: &crate::domain::catalogue::Entry) -> String {
    match entry.code {
        Some(code) => format!("{}:{code}", entry.kind),
        None => entry.kind.to_owned(),
    }
}

/// Requests the limits count: `/v…/user` and `/v…/vehicles…`.
fn is_vehicle_api(path: &str) -> bool {
    let mut segments = path.trim_start_matches('/').split('/');
    segments.next().is_some_and(|version| version.starts_with('v'))
        && matches!(segments.next(), Some("vehicles" | "user"))
}

/// Marks a response whose connection is to be dropped.
#[derive(Debug, Clone, Copy)]
struct Dropped;

/// A body that fails at once, so the server closes the connection without a complete answer.
struct DroppedBody;

impl http_body::Body for DroppedBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "a fault rule dropped the connection",
        ))))
    }
}
