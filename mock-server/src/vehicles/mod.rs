//! The vehicle API (docs/contract/api.md), on `/v1.0` (v1 error bodies) and any other
//! `/v{major}.{minor}` (v2):
//!
//! - `GET /v{ver}/user` — the token's user
//! - `GET /v{ver}/vehicles?limit&offset` — the token's vehicles
//! - `ANY /v{ver}/vehicles/{id}[/{path}]` — the endpoints of [`endpoints::table`]
//!
//! A read (`GET`, no body, nothing percent-encoded) reaches [`read`] straight from the request
//! pipeline, without the router; the route answers everything else. Both run [`Parsed::answer`].
//!
//! Checks run in the order the SDKs' tests imply (docs/contract/api.md#order-of-checks): known
//! route → bearer token → vehicle id format → vehicle connected to the token → permission →
//! capability (and make, for brand endpoints) → test-login error → asleep → answer. Batch
//! ([`batch`]) and v3 ([`v3`]) live beside.
//!
//! The mock's choices where Smartcar is silent
//! (docs/contract/api.md#decisions-where-smartcar-is-silent):
//! - `docURL` is `https://smartcar.com/docs/errors/api-errors/<type>-errors#<code or null>`.
//! - a well-formed vehicle id the token cannot reach (never connected, or disconnected) is
//!   401 `AUTHENTICATION`, on v2, v1 and v3 alike.
//! - `serviceDetails` is an array of `{type, value}`; `serviceId`/`taskId` are numbers.
//! - doors are `LOCKED`/`UNLOCKED`; windows, sunroof, storage and charging port `OPEN`/`CLOSED`.
//! - batch error items carry `retry-after` and `Retry-After` (Python and Node each read one);
//!   top-level responses send lower-case `retry-after` only.
//! - v3 responses send only `sc-request-id` and the content type.
//! - Service history without (parsable) dates returns every record, not only the last 12 months.
//! - Imperial temperatures (Tesla thermometers) are °F; speeds mph.
//! - A charge limit must be above 0 and at most 1; a destination within ±90/±180 degrees.

pub(crate) mod batch;
mod brand;
pub(crate) mod commands;
pub(crate) mod endpoints;
pub(crate) mod reads;
pub(crate) mod units;
pub(crate) mod v3;

use std::borrow::Cow;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, RawQuery, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

pub(crate) use crate::credentials::query_pairs;
use crate::credentials::{ApiVersion, Credentials, decoded, vehicle_path_segments};
use crate::domain::catalogue;
use crate::domain::clock::smartcar_timestamp;
use crate::domain::world::{Access, AccessError};
use crate::error::ApiError;
use crate::oauth::describe;
use crate::request::SmartcarJson;
use crate::state::AppState;
use crate::webhooks;
use endpoints::Call;
use units::UnitSystem;

/// Every route of the vehicle API, so "where is `GET …/odometer` handled" is one jump: the
/// handlers of batch, v3 and webhook subscriptions live in their modules.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/{version}/user", get(user))
        .route("/{version}/vehicles", get(vehicles))
        .route("/{version}/vehicles/{id}", any(vehicle_endpoint))
        .route("/{version}/vehicles/{id}/{*path}", any(vehicle_endpoint))
        // Any method: another than POST is an unknown endpoint, answered as the dispatcher does.
        .route("/{version}/vehicles/{id}/batch", any(vehicle_endpoint))
        .route(
            "/{version}/vehicles/{id}/webhooks/{webhook}",
            post(webhooks::subscribe).delete(webhooks::unsubscribe),
        )
        .route("/v3/vehicles/{id}", get(v3::vehicle))
        .route("/v3/vehicles/{id}/signals", get(v3::signals))
        .route("/v3/vehicles/{id}/signals/{code}", get(v3::signal))
}

/// Anything no route matches: `RESOURCE_NOT_FOUND` in the path's envelope.
pub(crate) async fn unknown_route(uri: Uri) -> ApiError {
    ApiError::not_found(uri.path())
}

/// What the request pipeline made of a bearer token ([`crate::pipeline`]), left in the request's
/// extensions so the handlers do not look the token up again.
#[derive(Debug, Clone)]
pub(crate) struct Authenticated(pub Result<Access, AccessError>);

/// The request's credentials and, for a bearer token, what the platform makes of it. v3 reads the
/// token itself (its static test token is no grant's).
pub(crate) struct BearerToken {
    credentials: Credentials,
    resolved: Option<Result<Access, AccessError>>,
}

impl BearerToken {
    /// The request's credentials, with what the pipeline made of a bearer token (taken out of
    /// the extensions: it is the handler's now).
    fn of(parts: &mut Parts) -> Self {
        let credentials = Credentials::of(&parts.headers);
        let resolved = match credentials.bearer_token() {
            Some(_) => parts
                .extensions
                .remove::<Authenticated>()
                .map(|Authenticated(resolved)| resolved),
            None => None,
        };
        BearerToken { credentials, resolved }
    }

    /// The token of `Authorization: Bearer <token>`, or why there is none.
    pub(crate) fn token(&self) -> Result<&str, ApiError> {
        self.credentials.bearer()
    }

    /// What the token allows, or the AUTHENTICATION error saying why not.
    pub(crate) fn access(self, state: &AppState) -> Result<Access, ApiError> {
        match self.resolved {
            Some(resolved) => resolved.map_err(refused),
            None => authenticate(state, &self.credentials),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for BearerToken {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(BearerToken::of(parts))
    }
}

/// A valid bearer token: having this argument is the authentication check.
pub(crate) struct Bearer(pub Access);

impl FromRequestParts<AppState> for Bearer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Ok(token) = BearerToken::from_request_parts(parts, state).await;
        token.access(state).map(Bearer)
    }
}

/// What the request's bearer token allows, or the AUTHENTICATION error saying why not. Looks the
/// token up: for requests the pipeline did not resolve.
pub(crate) fn authenticate(state: &AppState, credentials: &Credentials) -> Result<Access, ApiError> {
    let token = credentials.bearer()?;
    state.world.authorize(token).map_err(refused)
}

/// The AUTHENTICATION error for a refused token.
fn refused(error: AccessError) -> ApiError {
    ApiError::authentication(match error {
        AccessError::Unknown => "the access token is not one this server issued (or it was reset)".to_owned(),
        AccessError::Expired { ago } => format!("access token expired {} ago on the virtual clock", describe(ago)),
    })
}

/// `limit` and `offset` from a query, with `default_limit`.
pub(crate) fn paging(query: &[(String, String)], default_limit: usize) -> Result<(usize, usize), ApiError> {
    let number = |name: &str, default: usize| -> Result<usize, ApiError> {
        match query.iter().find(|(key, _)| key == name) {
            None => Ok(default),
            Some((_, value)) => value
                .trim()
                .parse::<usize>()
                .map_err(|_| ApiError::validation(name, format!("must be a whole number, got {value:?}"))),
        }
    };
    Ok((number("limit", default_limit)?, number("offset", 0)?))
}

/// `GET /v{ver}/user` → `{"id": "<uuid>"}`.
async fn user(_: ApiVersion, Bearer(access): Bearer) -> Result<Response, ApiError> {
    Ok(SmartcarJson(StatusCode::OK, json!({ "id": access.user.to_string() })).into_response())
}

/// `GET /v{ver}/vehicles` → `{"vehicles": [...], "paging": {"count": <total>, "offset": n}}`.
async fn vehicles(_: ApiVersion, RawQuery(raw): RawQuery, Bearer(access): Bearer) -> Result<Response, ApiError> {
    let (limit, offset) = paging(&query_pairs(raw.as_deref()), 10)?;
    let page: Vec<String> = access
        .vehicles
        .iter()
        .skip(offset)
        .take(limit)
        .map(Uuid::to_string)
        .collect();
    let body = json!({ "vehicles": page, "paging": { "count": access.vehicles.len(), "offset": offset } });
    Ok(SmartcarJson(StatusCode::OK, body).into_response())
}

/// A request for one vehicle, as the dispatcher (and batch) sees it.
pub(crate) struct VehicleRequest<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    pub query: &'a [(String, String)],
    pub body: Option<&'a Value>,
    pub units: UnitSystem,
}

/// A successful answer and the metadata its headers carry.
pub(crate) struct Reply {
    pub body: Value,
    /// `Some` for reads of vehicle data: `sc-data-age` is the time of the data.
    pub data_age: Option<OffsetDateTime>,
    pub fetched_at: OffsetDateTime,
    pub units: UnitSystem,
}

impl Reply {
    /// The Smartcar headers of this reply, lower-case (docs/contract/api.md#response-headers).
    pub(crate) fn headers(&self) -> Vec<(&'static str, String)> {
        match self.data_age {
            Some(age) => vec![
                ("sc-unit-system", self.units.as_str().to_owned()),
                ("sc-data-age", smartcar_timestamp(age)),
                ("sc-fetched-at", smartcar_timestamp(self.fetched_at)),
            ],
            None => Vec::new(),
        }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        // Names parsed once; each value is moved in, not copied.
        static SC_UNIT_SYSTEM: HeaderName = HeaderName::from_static("sc-unit-system");
        static SC_DATA_AGE: HeaderName = HeaderName::from_static("sc-data-age");
        static SC_FETCHED_AT: HeaderName = HeaderName::from_static("sc-fetched-at");
        let mut response = SmartcarJson(StatusCode::OK, self.body).into_response();
        if let Some(age) = self.data_age {
            let headers = response.headers_mut();
            headers.insert(&SC_UNIT_SYSTEM, HeaderValue::from_static(self.units.as_str()));
            for (name, at) in [(&SC_DATA_AGE, age), (&SC_FETCHED_AT, self.fetched_at)] {
                if let Ok(value) = HeaderValue::try_from(smartcar_timestamp(at)) {
                    headers.insert(name, value);
                }
            }
        }
        response
    }
}

/// Seconds in the `retry-after` of a forced `RATE_LIMIT` error.
pub(crate) const FORCED_RETRY_AFTER: u64 = 60;

/// The error a `<TYPE>.<CODE>@smartcar.com` login forces; `RATE_LIMIT` carries `retry-after`.
pub(crate) fn forced_error(entry: &'static catalogue::Entry) -> ApiError {
    let error = ApiError::new(entry, "the user's test-mode login makes every vehicle request fail");
    if entry.kind == "RATE_LIMIT" {
        error.with_retry_after(FORCED_RETRY_AFTER)
    } else {
        error
    }
}

/// Answers one request for one vehicle for the holder of `access`: every check, then the
/// endpoint's handler, under the world's lock.
pub(crate) fn dispatch(
    state: &AppState,
    access: &Access,
    vehicle_id: &str,
    request: &VehicleRequest<'_>,
) -> Result<Reply, ApiError> {
    let endpoint = endpoints::find(request.method, request.path).ok_or_else(|| ApiError::not_found(request.path))?;
    dispatch_to(state, access, endpoint, vehicle_id, request)
}

/// [`dispatch`] once the endpoint is known.
fn dispatch_to(
    state: &AppState,
    access: &Access,
    endpoint: &'static endpoints::Endpoint,
    vehicle_id: &str,
    request: &VehicleRequest<'_>,
) -> Result<Reply, ApiError> {
    let id = Uuid::try_parse(vehicle_id)
        .map_err(|_| ApiError::validation("vehicle_id", format!("{vehicle_id:?} is not a UUID")))?;
    if !access.vehicles.contains(&id) {
        return Err(ApiError::authentication(format!(
            "vehicle {id} is not connected to this access token"
        )));
    }
    if let Some(permission) = endpoint.permission
        && !access.scopes.contains(&permission)
    {
        let granted: Vec<&str> = access.scopes.iter().map(|p| p.as_str()).collect();
        return Err(ApiError::new(
            &catalogue::PERMISSION,
            format!("scope {permission} was not granted (granted: {})", granted.join(", ")),
        ));
    }
    let now = state.clock.now();
    let answer = |vehicle: &mut crate::domain::vehicle::Vehicle| {
        if let Some(capability) = endpoint.capability {
            let wrong_make = endpoint
                .make
                .is_some_and(|makes| !makes.iter().any(|make| vehicle.spec.make.eq_ignore_ascii_case(make)));
            if wrong_make || !vehicle.spec.capabilities.contains(&capability) {
                let spec = &vehicle.spec;
                return Err(ApiError::new(
                    &catalogue::VEHICLE_NOT_CAPABLE,
                    format!(
                        "the {} {} {} is not capable of {}",
                        spec.year, spec.make, spec.model, endpoint.path
                    ),
                ));
            }
            if let Some(entry) = access.forced_error {
                return Err(forced_error(entry));
            }
            if vehicle.state.asleep {
                return Err(ApiError::new(
                    &catalogue::VEHICLE_STATE_ASLEEP,
                    "the vehicle is in deep sleep",
                ));
            }
        }
        let mut call = Call {
            vehicle,
            access,
            units: request.units,
            query: request.query,
            body: request.body,
            now,
        };
        let body = (endpoint.handler)(&mut call)?;
        Ok(Reply {
            body,
            data_age: endpoint.reads_data.then_some(call.vehicle.updated_at),
            fetched_at: now,
            units: request.units,
        })
    };
    let world = &state.world;
    let result = if endpoint.changes_state {
        world.update_vehicle(id, answer)
    } else {
        world.with_vehicle(id, answer)
    };
    let reply = result.unwrap_or_else(|| Err(ApiError::authentication(format!("vehicle {id} no longer exists"))))?;
    if endpoint.disconnects {
        // After the lock above is released: `disconnect` takes it again.
        world.disconnect(access.user, id);
    }
    Ok(reply)
}

/// `ANY /v{ver}/vehicles/{id}[/{path}]`, batch included: every check, then the endpoint.
async fn vehicle_endpoint(state: State<AppState>, request: Parsed<'static>) -> Result<Reply, ApiError> {
    request.answer(&state)
}

/// Whether `request` is the vehicle API's common case, which [`read`] answers without the router:
/// `GET /v{ver}/vehicles/{id}[/{…}]` with no body and nothing percent-encoded — every read the
/// SDKs send. Another method, v3, batch, webhooks or an encoded path is the router's.
pub(crate) fn is_read(request: &Request) -> bool {
    let plain = request.method() == Method::GET
        && http_body::Body::is_end_stream(request.body())
        && !request.uri().path().contains('%');
    plain
        .then(|| vehicle_path_segments(request.uri().path()))
        .flatten()
        .is_some_and(|(version, id, rest)| {
            // The router matches no empty segment, and keeps v3, batch and webhooks apart.
            !version.is_empty()
                && version != "v3"
                && !id.is_empty()
                && !rest.starts_with("webhooks")
                && !rest.starts_with("batch")
        })
}

/// Answers a request [`is_read`] accepted: the same checks in the same order as the route
/// ([`vehicle_endpoint`]), borrowing the id, the path and the query from the request instead of
/// copying them out.
pub(crate) fn read(state: &AppState, request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    let token = BearerToken::of(&mut parts);
    let uri = &parts.uri;
    let Some((version, id, rest)) = vehicle_path_segments(uri.path()) else {
        return ApiError::not_found(uri.path()).into_response();
    };
    let request = Parsed {
        version: crate::credentials::check_version(version),
        id: Cow::Borrowed(id),
        path: Cow::Owned(format!("/{}", rest.trim_end_matches('/'))),
        method: Method::GET,
        token,
        units: UnitSystem::of(&parts.headers),
        query: uri.query().map(Cow::Borrowed),
        body: Ok(Bytes::new()),
    };
    request.answer(state).into_response()
}

/// A request for one vehicle as the HTTP surface parsed it: owned when the route's extractor
/// made it, borrowed from the request when [`read`] did. The version and the token are checked in
/// [`Parsed::answer`], after the route (docs/contract/api.md#order-of-checks).
struct Parsed<'a> {
    version: Result<(), ApiError>,
    /// As sent, percent-decoded.
    id: Cow<'a, str>,
    /// The endpoint's path after the id, percent-decoded: `/odometer`, `/` for the root.
    path: Cow<'a, str>,
    method: Method,
    token: BearerToken,
    units: UnitSystem,
    query: Option<Cow<'a, str>>,
    body: Result<Bytes, BytesRejection>,
}

impl<S: Send + Sync> axum::extract::FromRequest<S> for Parsed<'static> {
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let version = ApiVersion::from_request_parts(&mut parts, state).await.map(|_| ());
        let (_, id, rest) =
            vehicle_path_segments(parts.uri.path()).ok_or_else(|| ApiError::not_found(parts.uri.path()))?;
        let id = Cow::Owned(decoded(id).into_owned());
        let path = Cow::Owned(format!("/{}", decoded(rest).trim_end_matches('/')));
        let token = BearerToken::of(&mut parts);
        let method = parts.method.clone();
        let units = UnitSystem::of(&parts.headers);
        let query = parts.uri.query().map(|query| Cow::Owned(query.to_owned()));
        // No body (every GET the SDKs send): nothing to read, nothing to allocate.
        let body = if http_body::Body::is_end_stream(&body) {
            Ok(Bytes::new())
        } else {
            Bytes::from_request(axum::extract::Request::from_parts(parts, body), state).await
        };
        Ok(Parsed {
            version,
            id,
            path,
            method,
            token,
            units,
            query,
            body,
        })
    }
}

impl Parsed<'_> {
    fn answer(self, state: &AppState) -> Result<Reply, ApiError> {
        self.version?;
        let path = &*self.path;
        // Java's `serviceHistory` percent-encodes the `?` into the path
        // (docs/contract/api.md#hosts-and-paths).
        let (path, path_query) = match path.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path, None),
        };
        let is_batch = self.method == Method::POST && path == "/batch";
        let endpoint = endpoints::find(&self.method, path);
        if !is_batch && endpoint.is_none() {
            return Err(ApiError::not_found(path));
        }
        let access = self.token.access(state)?;
        let bytes = self.body.map_err(|rejection| {
            ApiError::new(
                &catalogue::VALIDATION_PARAMETER,
                format!("the body could not be read: {rejection}"),
            )
            .with_detail(json!([{ "field": "body", "message": rejection.body_text() }]))
        })?;
        let body = parse_json_body(&self.method, &bytes)?;
        let mut query = query_pairs(self.query.as_deref());
        query.extend(query_pairs(path_query));
        let id = &*self.id;
        if is_batch {
            return batch::answer(state, &access, id, body.as_ref(), self.units);
        }
        let request = VehicleRequest {
            method: &self.method,
            path,
            query: &query,
            body: body.as_ref(),
            units: self.units,
        };
        match endpoint {
            Some(endpoint) => dispatch_to(state, &access, endpoint, id, &request),
            None => Err(ApiError::not_found(path)),
        }
    }
}

/// A JSON body, if the method takes one and it is not empty (empty POSTs and `{}` on
/// DELETE are normal; bodies on GET are ignored: docs/contract/api.md#request-bodies).
fn parse_json_body(method: &Method, bytes: &[u8]) -> Result<Option<Value>, ApiError> {
    if *method == Method::GET || bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(bytes)
        .map(Some)
        .map_err(|error| ApiError::validation("body", format!("the body is not valid JSON: {error}")))
}
