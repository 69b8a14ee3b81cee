//! The one layer every request passes, in one pass: its id and error envelope
//! ([`crate::request`]), then — for the platform's routes, not test control (`/admin`,
//! `/dashboard`), which is neither faulted nor journaled — who is calling ([`caller::resolve`],
//! which looks a bearer token up once and leaves the result for the handlers as
//! [`Authenticated`]), a fault if a rule fires (the domain's
//! [`Faults`](crate::domain::faults::Faults)), the limits, and the journal record.
//!
//! It runs before the handlers' extractors, so a fault wins over a missing or expired token: a
//! test that asks for `VEHICLE_STATE:ASLEEP` on a path gets it whatever it sends.
//!
//! What it costs a request is kept to what is used: a body is read only when there is one and
//! the journal or the caller needs it (a form's `client_id`), and the answer's body is read only
//! for the journal.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use http_body::{Body as _, Frame};
use tower::{Layer, Service};

use crate::caller::{self, Resolution};
use crate::credentials::Credentials;
use crate::domain::caller::Caller;
use crate::domain::faults::Fault;
use crate::domain::journal::{Excerpt, KEPT_BODY_BYTES, Record, RequestExcerpt};
use crate::error::{ApiError, ErrorReason};
use crate::request::{self, RequestContext};
use crate::state::AppState;
use crate::vehicles::Authenticated;

static SC_REQUEST_ID: HeaderName = HeaderName::from_static("sc-request-id");

/// An answer body larger than this is not read for the journal: its record keeps only its size.
const READ_RESPONSE_BYTES: u64 = crate::MAX_BODY_BYTES as u64;

/// Puts [`Pipeline`] in front of a service.
#[derive(Clone)]
pub(crate) struct PipelineLayer {
    state: AppState,
}

impl PipelineLayer {
    pub(crate) fn new(state: AppState) -> Self {
        PipelineLayer { state }
    }
}

impl<S> Layer<S> for PipelineLayer {
    type Service = Pipeline<S>;

    fn layer(&self, inner: S) -> Pipeline<S> {
        Pipeline {
            inner,
            state: self.state.clone(),
        }
    }
}

/// The request pipeline around `S` (the router's routes).
#[derive(Clone)]
pub(crate) struct Pipeline<S> {
    inner: S,
    state: AppState,
}

impl<S> Service<Request> for Pipeline<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The service polled ready is the one that answers; a clone waits for the next request.
        let ready = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, ready);
        let state = self.state.clone();
        Box::pin(async move {
            let context = RequestContext::new(request.uri().path());
            let mut response = request::within(context, answer(state, inner, request, context)).await;
            response.headers_mut().insert(&SC_REQUEST_ID, context.header_value());
            Ok(response)
        })
    }
}

/// Whether `path` is test control (`/admin`, `/dashboard`): not Smartcar, so neither faulted nor journaled.
pub(crate) fn is_test_control(path: &str) -> bool {
    ["/admin", "/dashboard"].iter().any(|root| {
        path.strip_prefix(root)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// The inner service's answer to `request`, through faults, limits and the journal.
async fn answer<S>(state: AppState, mut inner: S, request: Request, context: RequestContext) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    // Test control (`/admin`, and the dashboard that drives it) is neither faulted nor journaled;
    // the dashboard's event stream must not be buffered for the journal either.
    let path = request.uri().path();
    if is_test_control(path) {
        return run(&mut inner, request).await;
    }
    let started = Instant::now();
    let at = state.clock.now();
    let (mut parts, body) = request.into_parts();
    let journal = &state.control.journal;
    let credentials = Credentials::of(&parts.headers);
    let form = caller::is_form(&parts.headers);
    // A request without a body (no content-length or a zero one, no transfer-encoding) is not
    // read; nor is a body that neither the journal nor the caller looks at (the handler reads it).
    let (body, read) = if body.is_end_stream() || !(journal.enabled() || form) {
        (body, Bytes::new())
    } else {
        match axum::body::to_bytes(body, crate::MAX_BODY_BYTES + 1).await {
            Ok(bytes) => (Body::from(bytes.clone()), bytes),
            // Larger than the limit: hand on something the handler's own limit refuses in its shape.
            Err(_) => (Body::from(vec![0; crate::MAX_BODY_BYTES + 1]), Bytes::new()),
        }
    };
    let Resolution { caller, bearer } = caller::resolve(&state, &parts, &credentials, &read);
    if let Some(bearer) = bearer {
        parts.extensions.insert(Authenticated(bearer));
    }
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
            &read,
        )
    });
    drop(read);

    let fault = state
        .control
        .faults
        .take(&caller, parts.method.as_str(), parts.uri.path());
    let fault_id = fault.as_ref().map(|fault| fault.rule);
    let request = Request::from_parts(parts, body);
    let response = match fault {
        Some(fault) => serve_fault(&state, fault, &caller, &credentials, request, &mut inner).await,
        None => limited(&state, &caller, request, &mut inner).await,
    };

    let Some(request) = kept else {
        return response;
    };
    let (mut response_parts, response_body) = response.into_parts();
    let dropped = response_parts.extensions.get::<Dropped>().is_some();
    let hint = response_body.size_hint();
    // A page (Connect's) is the mock's own markup, not something an app was told: its record keeps
    // its size only, so a thousand sign-ins do not hold a thousand copies of the same form.
    let page = response_parts
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|kind| kind.as_bytes().starts_with(b"text/html"));
    let (response_body, response_excerpt) = if dropped {
        (Body::new(DroppedBody), Excerpt::default())
    } else if !page && hint.upper().is_some_and(|upper| upper <= READ_RESPONSE_BYTES) {
        let bytes = axum::body::to_bytes(response_body, usize::MAX)
            .await
            .unwrap_or_default();
        let excerpt = Excerpt::of(&bytes, KEPT_BODY_BYTES);
        (Body::from(bytes), excerpt)
    } else {
        let size = usize::try_from(hint.lower()).unwrap_or(usize::MAX);
        (response_body, Excerpt::unread(size))
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
        request_id: context.id,
        at,
        request,
        // 499: the client got no answer (nginx's word for it).
        status: if dropped { 499 } else { response_parts.status.as_u16() },
        retry_after: response_parts
            .headers
            .get(header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned),
        response_body: response_excerpt,
        latency: started.elapsed(),
        caller,
        fault: fault_id,
        reason,
    });
    if dropped {
        response_parts.extensions.insert(Dropped);
    }
    Response::from_parts(response_parts, response_body)
}

/// The inner service's answer (it is always ready: a router).
async fn run<S>(inner: &mut S, mut request: Request) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    // What the handlers' body extractors accept: bodies above it get a Smartcar-shaped error.
    axum::extract::DefaultBodyLimit::max(crate::MAX_BODY_BYTES).apply(&mut request);
    match inner.call(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// Limits, then the platform.
async fn limited<S>(state: &AppState, caller: &Caller, request: Request, inner: &mut S) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    if is_vehicle_api(request.uri().path())
        && let Err(error) = state.control.limits.check(caller, state.clock.now())
    {
        return ApiError::from(error).into_response();
    }
    // With request logging on, the router's trace layer logs reads too: they take the long way.
    if crate::vehicles::is_read(&request) && !crate::request_logging_on() {
        return crate::vehicles::read(state, request);
    }
    run(inner, request).await
}

/// Latency first; then a dropped connection, the fault's error, or the real answer (with the
/// fault's `retry-after` added).
async fn serve_fault<S>(
    state: &AppState,
    fault: Fault,
    caller: &Caller,
    credentials: &Credentials,
    mut request: Request,
    inner: &mut S,
) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    if let Some(latency) = fault.latency {
        tokio::time::sleep(latency).await;
        // The token is judged when the handler would have judged it: after the wait.
        if let Some(token) = credentials.bearer_token() {
            request
                .extensions_mut()
                .insert(Authenticated(state.world.authorize(token)));
        }
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
        None => limited(state, caller, request, inner).await,
    };
    if let Some(seconds) = fault.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
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
