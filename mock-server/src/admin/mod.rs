//! Test control — not part of Smartcar. JSON in and out, under `/admin`:
//!
//! - `GET /admin/health` — is the server up, and what time is it on its clock
//! - `POST /admin/authorize` — browser-free Connect: a user, vehicles, a code or tokens ([`authorize`])
//! - `/admin/faults…` — fault injection ([`faults`])
//! - `/admin/clock…` — the virtual clock ([`clock`])
//! - `/admin/vehicles…` — read and change vehicle state ([`vehicles`])
//! - `/admin/limits` — Smartcar's request limits, switchable ([`limits`])
//! - `/admin/requests` — the request journal ([`journal`])
//! - `/admin/simulator…`, `/admin/vehicles/{id}/trip` — the vehicle simulator ([`simulator`])
//! - `GET`/`PUT /admin/snapshot[?app=]` — the world as a file, saved or loaded ([`snapshot`])
//! - `POST /admin/reset[?app=]` — forget one app's state, or everything
//!
//! Who may call it (`guard`), because "loopback only" does not stop a browser on this machine:
//! - without `--admin-token`, the peer must be loopback and the `Host` a loopback name or address
//!   (`localhost`, `127.x.x.x`, `[::1]`, any port), so a DNS-rebound page cannot reach it; with
//!   `--admin-token`, every request needs `Authorization: Bearer <token>` and may come from anywhere;
//! - a request with an `Origin` must come from the server's own origin (`scheme://Host`), so a
//!   cross-site `fetch` is refused even as a "simple" request; a page the mock serves itself can
//!   still call it;
//! - a request with a body must be `Content-Type: application/json` (415 otherwise).
//!
//! `crate::pipeline` applies faults and limits to the platform's routes and fills the journal.

pub(crate) mod authorize;
pub(crate) mod clock;
pub(crate) mod faults;
pub(crate) mod journal;
pub(crate) mod limits;
pub(crate) mod simulator;
pub(crate) mod snapshot;
pub(crate) mod vehicles;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, OriginalUri, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body::Body as _;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::domain::clock::smartcar_timestamp;
use crate::state::{AppState, Settings};

/// Test control's state: the domain's fault rules, limits and journal, and how the admin API is
/// guarded.
#[derive(Clone)]
pub(crate) struct Control {
    pub(crate) faults: crate::domain::faults::Faults,
    pub(crate) journal: crate::domain::journal::Journal,
    pub(crate) limits: crate::domain::limits::Limits,
    /// `GET /oauth/authorize` answers at once with a code (`--auto-approve`).
    pub(crate) auto_approve: bool,
    /// How far a state file has come with the counters of `limits` and `faults`.
    pub(crate) saves: Arc<snapshot::Saves>,
    admin_token: Option<Arc<str>>,
}

impl Control {
    pub(crate) fn new(settings: &Settings) -> Self {
        Control {
            faults: crate::domain::faults::Faults::default(),
            journal: crate::domain::journal::Journal::new(settings.journal_size),
            limits: crate::domain::limits::Limits::new(settings.limits),
            auto_approve: settings.auto_approve,
            saves: Arc::default(),
            admin_token: settings.admin_token.as_deref().map(Arc::from),
        }
    }
}

pub(crate) fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/reset", post(handle_reset))
        .merge(authorize::router())
        .merge(faults::router())
        .merge(clock::router())
        .merge(vehicles::router())
        .merge(limits::router())
        .merge(journal::router())
        .merge(simulator::router())
        .merge(snapshot::router())
        .fallback(|| async { AdminError::NotFound("no such admin route".to_owned()) })
        .route_layer(middleware::from_fn_with_state(state, guard))
}

/// Loopback only (peer and `Host`), or the bearer admin token when one was set; then no foreign
/// `Origin` and JSON bodies only.
///
/// A browser cannot send a bearer token with a page load or an event stream, so with an admin
/// token the dashboard is opened once as `GET /dashboard?token=…`: that answer sets the token as
/// an `HttpOnly`, `SameSite=Strict` cookie ([`ADMIN_COOKIE`]), which then stands for the bearer
/// token on `/admin` and `/dashboard` (a cross-site request carries no such cookie, and a foreign
/// `Origin` is refused anyway).
pub(crate) async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match check(&state, &request) {
        Ok(Admitted::Opened) => {
            let mut response = next.run(request).await;
            if let Some(cookie) = state.control.admin_token.as_deref().and_then(admin_cookie) {
                response.headers_mut().insert(header::SET_COOKIE, cookie);
            }
            response
        }
        Ok(Admitted::AsBefore) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

/// The cookie that carries the admin token for the dashboard's browser.
pub(crate) const ADMIN_COOKIE: &str = "smartcar_mock_admin";

/// How a request got past the guard.
enum Admitted {
    /// Loopback, the bearer token, or the cookie.
    AsBefore,
    /// `GET /dashboard…?token=…`: the answer sets the cookie.
    Opened,
}

/// `smartcar_mock_admin=<token, percent-encoded>; Path=/; HttpOnly; SameSite=Strict`.
fn admin_cookie(token: &str) -> Option<HeaderValue> {
    let value: String = form_urlencoded::byte_serialize(token.as_bytes()).collect();
    HeaderValue::from_str(&format!("{ADMIN_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict")).ok()
}

/// The admin token a request presents: `Authorization: Bearer`, else the cookie.
fn presented_token(request: &Request) -> Option<String> {
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    bearer.or_else(|| {
        request
            .headers()
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == ADMIN_COOKIE)
            .map(|(_, value)| {
                form_urlencoded::parse(format!("t={value}").as_bytes())
                    .next()
                    .map(|(_, token)| token.into_owned())
                    .unwrap_or_default()
            })
    })
}

/// `?token=` on a dashboard page load (`GET /dashboard…`), the one place a browser can bring it.
fn dashboard_query_token(request: &Request) -> Option<String> {
    let path = request
        .extensions()
        .get::<OriginalUri>()
        .map_or_else(|| request.uri().path(), |OriginalUri(uri)| uri.path());
    if request.method() != axum::http::Method::GET || !(path == "/dashboard" || path.starts_with("/dashboard/")) {
        return None;
    }
    form_urlencoded::parse(request.uri().query()?.as_bytes())
        .find(|(name, _)| name == "token")
        .map(|(_, token)| token.into_owned())
}

fn check(state: &AppState, request: &Request) -> Result<Admitted, AdminError> {
    let host = request_host(request);
    let mut admitted = Admitted::AsBefore;
    match &state.control.admin_token {
        Some(token) => {
            if presented_token(request).as_deref() != Some(&**token) {
                if dashboard_query_token(request).as_deref() != Some(&**token) {
                    return Err(AdminError::Unauthorized);
                }
                admitted = Admitted::Opened;
            }
        }
        None => {
            let loopback = request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .is_some_and(|ConnectInfo(peer)| peer.ip().to_canonical().is_loopback());
            if !loopback {
                return Err(AdminError::Forbidden(
                    "the admin API answers loopback only; start the server with --admin-token to open it".to_owned(),
                ));
            }
            // A DNS-rebound page reaches this socket from loopback, but under its own host name.
            if !host.is_some_and(is_loopback_host) {
                return Err(AdminError::Forbidden(format!(
                    "Host {:?} is not a loopback name or address (localhost, 127.x.x.x, [::1]); the admin API \
                     refuses other names so that a web page cannot reach it by DNS rebinding; start the \
                     server with --admin-token and send the token to call it under another name",
                    host.unwrap_or_default()
                )));
            }
        }
    }
    if let Some(origin) = request.headers().get(header::ORIGIN)
        && !host.is_some_and(|host| is_own_origin(origin.as_bytes(), host, request.uri().scheme_str()))
    {
        return Err(AdminError::Forbidden(format!(
            "Origin {} is not this server's own origin; the admin API refuses calls from other web pages",
            String::from_utf8_lossy(origin.as_bytes())
        )));
    }
    if !request.body().is_end_stream() {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        let essence = content_type
            .as_deref()
            .and_then(|value| value.split(';').next())
            .map(str::trim);
        if !essence.is_some_and(|essence| essence.eq_ignore_ascii_case("application/json")) {
            return Err(AdminError::UnsupportedMediaType(format!(
                "admin requests with a body must be Content-Type: application/json (this one is {})",
                content_type.as_deref().unwrap_or("without a content type")
            )));
        }
    }
    Ok(admitted)
}

/// The `Host` header, or the URI's authority (HTTP/2 sends `:authority` instead).
fn request_host(request: &Request) -> Option<&str> {
    match request.headers().get(header::HOST) {
        Some(host) => host.to_str().ok(),
        None => request.uri().authority().map(|authority| authority.as_str()),
    }
}

/// `localhost`, `127.x.x.x` or `[::1]`, with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let Ok(authority) = host.parse::<axum::http::uri::Authority>() else {
        return false;
    };
    let name = authority.host();
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    name.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

/// Whether `origin` is `scheme://host[:port]` of this request. The scheme is known on HTTP/2
/// only; otherwise either `http` or `https` will do, since one port cannot serve both.
fn is_own_origin(origin: &[u8], host: &str, scheme: Option<&str>) -> bool {
    let Ok(origin) = axum::http::Uri::try_from(origin) else {
        return false;
    };
    let (Some(origin_scheme), Some(origin_authority)) = (origin.scheme_str(), origin.authority()) else {
        return false;
    };
    let default_port = match origin_scheme {
        "http" => 80,
        "https" => 443,
        _ => return false,
    };
    if scheme.is_some_and(|scheme| !scheme.eq_ignore_ascii_case(origin_scheme)) {
        return false;
    }
    let Ok(host) = host.parse::<axum::http::uri::Authority>() else {
        return false;
    };
    origin.path() == "/"
        && origin.query().is_none()
        && origin_authority.host().eq_ignore_ascii_case(host.host())
        && origin_authority.port_u16().unwrap_or(default_port) == host.port_u16().unwrap_or(default_port)
}

/// The admin API's errors: `{"error": <kind>, "message": <why>}`.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// 400: the request makes no sense (unknown error type, bad duration, …).
    #[error("{0}")]
    BadRequest(String),
    /// 401: `--admin-token` is set and the request did not carry it.
    #[error("the admin API needs Authorization: Bearer <admin token>")]
    Unauthorized,
    /// 403: no admin token was set and the request is not from this machine or names another
    /// host; or it comes from a web page of another origin.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such app, vehicle or rule.
    #[error("{0}")]
    NotFound(String),
    /// 415: the request has a body that is not JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 409: the platform refused (Connect would have ended in an error).
    #[error("{message}")]
    Refused { error: &'static str, message: String },
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let (status, kind) = match &self {
            AdminError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            AdminError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            AdminError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            AdminError::UnsupportedMediaType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            AdminError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            AdminError::Refused { error, .. } => (StatusCode::CONFLICT, *error),
        };
        (status, Json(json!({ "error": kind, "message": self.to_string() }))).into_response()
    }
}

/// A JSON body whose rejection is an [`AdminError`]; an empty body reads as `{}`.
pub(crate) struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = AdminError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|rejection| AdminError::BadRequest(rejection.body_text()))?;
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
        serde_path_to_error::deserialize(deserializer)
            .map(JsonBody)
            .map_err(|error| AdminError::BadRequest(format!("{}: {}", error.path(), error.inner())))
    }
}

impl From<JsonRejection> for AdminError {
    fn from(rejection: JsonRejection) -> Self {
        AdminError::BadRequest(rejection.body_text())
    }
}

/// `?app=<client id>`: one app, or every app when absent. The request of `POST /admin/reset` (as
/// its query or body), and the filter of the lists and clears.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct AppFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
}

impl AppFilter {
    /// Every app.
    pub fn all() -> Self {
        AppFilter { app: None }
    }

    /// The app with this client id.
    pub fn app(client_id: impl Into<String>) -> Self {
        AppFilter {
            app: Some(client_id.into()),
        }
    }
}

/// With a state file, `countersSaved` says whether every limit count and fault firing so far is
/// on disk (they are saved once a second, not before each answer).
async fn health(State(state): State<AppState>) -> Json<Value> {
    let mut body = json!({ "status": "ok", "now": smartcar_timestamp(state.clock.now()) });
    if let (Some(saved), Value::Object(fields)) = (snapshot::counters_saved(&state), &mut body) {
        fields.insert("countersSaved".to_owned(), saved.into());
    }
    Json(body)
}

/// `POST /admin/reset[?app=]` (or `{"app": …}`): users, tokens, vehicle state, faults, limits and
/// the journal of one app, or of all apps and the clock too. Fixtures stay.
async fn handle_reset(
    State(state): State<AppState>,
    Query(query): Query<AppFilter>,
    JsonBody(body): JsonBody<AppFilter>,
) -> Result<Json<Value>, AdminError> {
    let app = query.app.or(body.app);
    reset(&state, app.as_deref())?;
    Ok(Json(json!({ "reset": app.as_deref().unwrap_or("everything") })))
}

/// The app a test-control call names by `client_id`, or the fixtures' first app when it names none.
pub(crate) fn app_or_first<'a>(
    state: &'a AppState,
    client_id: Option<&str>,
) -> Result<&'a crate::domain::fixtures::App, AdminError> {
    match client_id {
        Some(id) => state
            .fixtures
            .app(id)
            .ok_or_else(|| AdminError::NotFound(format!("no app has client id {id}"))),
        None => state
            .fixtures
            .apps
            .first()
            .ok_or_else(|| AdminError::NotFound("the fixtures have no app".to_owned())),
    }
}

/// Refuses a test-control call that names an app the fixtures do not register (so a made-up
/// client id cannot leave settings behind); `None`, every app, is fine.
pub(crate) fn known_app(state: &AppState, app: Option<&str>) -> Result<(), AdminError> {
    match app {
        Some(app) if state.fixtures.app(app).is_none() => {
            Err(AdminError::NotFound(format!("no app has client id {app}")))
        }
        _ => Ok(()),
    }
}

/// Forgets what `app` (or every app, and the clock) did; the fixtures stay.
pub(crate) fn reset(state: &AppState, app: Option<&str>) -> Result<(), AdminError> {
    known_app(state, app)?;
    let vehicles: Vec<uuid::Uuid> = state.world.vehicles(app).iter().map(|v| v.id).collect();
    state.world.reset(app);
    state.webhooks.registry().reset(app);
    state.control.faults.clear(app);
    state.control.journal.clear(app);
    state.control.limits.reset(app, &vehicles);
    if app.is_none() {
        state.clock.reset();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use axum::body::Body;

    use super::*;
    use crate::Fixtures;

    async fn health_from(peer: &str, settings: Settings) -> StatusCode {
        let state = AppState::with_settings(Fixtures::embedded().expect("fixtures"), settings);
        let request = Request::get("/admin/health")
            .header(header::HOST, "localhost:4000")
            .body(Body::empty())
            .expect("a request");
        crate::answer_from(state, request, peer).await.status()
    }

    #[tokio::test]
    async fn without_an_admin_token_only_loopback_reaches_the_admin_api() {
        assert_eq!(health_from("127.0.0.1:5000", Settings::default()).await, StatusCode::OK);
        assert_eq!(health_from("[::1]:5000", Settings::default()).await, StatusCode::OK);
        assert_eq!(
            health_from("192.0.2.7:5000", Settings::default()).await,
            StatusCode::FORBIDDEN
        );
    }

    #[tokio::test]
    async fn with_an_admin_token_other_machines_need_it_too() {
        let settings = Settings {
            admin_token: Some("t".to_owned()),
            ..Settings::default()
        };

        assert_eq!(health_from("192.0.2.7:5000", settings).await, StatusCode::UNAUTHORIZED);
    }

    async fn answer_from_afar(request: axum::http::request::Builder, token: &str) -> Response {
        let settings = Settings {
            admin_token: Some(token.to_owned()),
            ..Settings::default()
        };
        let state = AppState::with_settings(Fixtures::embedded().expect("fixtures"), settings);
        let request = request
            .header(header::HOST, "workshop.lan:4000")
            .body(Body::empty())
            .expect("a request");
        crate::answer_from(state, request, "192.0.2.7:5000").await
    }

    #[tokio::test]
    async fn the_dashboard_opened_with_the_admin_token_keeps_it_in_a_strict_cookie() {
        let opened = answer_from_afar(Request::get("/dashboard?token=s%3Bcr%20et"), "s;cr et").await;

        assert_eq!(opened.status(), StatusCode::OK);
        assert_eq!(
            opened.headers()[header::SET_COOKIE],
            "smartcar_mock_admin=s%3Bcr+et; Path=/; HttpOnly; SameSite=Strict"
        );
    }

    #[tokio::test]
    async fn the_admin_cookie_stands_for_the_bearer_token() {
        let with_cookie = answer_from_afar(
            Request::get("/admin/health").header(header::COOKIE, "a=b; smartcar_mock_admin=s%3Bcr+et"),
            "s;cr et",
        )
        .await;
        let with_wrong_cookie = answer_from_afar(
            Request::get("/admin/health").header(header::COOKIE, "smartcar_mock_admin=guess"),
            "s;cr et",
        )
        .await;

        assert_eq!(with_cookie.status(), StatusCode::OK);
        assert_eq!(with_wrong_cookie.status(), StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn a_token_in_the_query_opens_dashboard_pages_only() {
        let admin = answer_from_afar(Request::get("/admin/health?token=t"), "t").await;
        let wrong = answer_from_afar(Request::get("/dashboard?token=u"), "t").await;

        assert_eq!(admin.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        assert!(wrong.headers().get(header::SET_COOKIE).is_none());
    }

    #[test]
    fn loopback_hosts_are_names_and_addresses_of_this_machine_only() {
        for host in [
            "localhost",
            "localhost:1",
            "127.0.0.1",
            "127.255.0.9:80",
            "[::1]",
            "[::1]:4000",
            "[::ffff:127.0.0.1]",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "",
            "localhost.example",
            "example.com",
            "0.0.0.0",
            "10.0.0.1",
            "[::]",
            "127.0.0.1.nip.io",
            "::1",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn an_own_origin_has_the_same_host_and_port() {
        assert!(is_own_origin(b"http://localhost:4000", "localhost:4000", None));
        assert!(is_own_origin(b"http://LOCALHOST", "localhost:80", None));
        assert!(is_own_origin(
            b"https://127.0.0.1:4443",
            "127.0.0.1:4443",
            Some("https")
        ));
        assert!(!is_own_origin(
            b"http://127.0.0.1:4443",
            "127.0.0.1:4443",
            Some("https")
        ));
        assert!(!is_own_origin(b"http://localhost:3000", "localhost:4000", None));
        assert!(!is_own_origin(b"null", "localhost:4000", None));
        assert!(!is_own_origin(b"file://", "localhost:4000", None));
        assert!(!is_own_origin(b"http://localhost:4000/path", "localhost:4000", None));
    }
}
