//! The live dashboard (test control, not Smartcar): pages that show and drive the mock, under
//! `/dashboard`:
//!
//! - `GET /dashboard` — overview: apps, their users and vehicles, the clock, the limits
//! - `GET /dashboard/vehicles/{id}` — one vehicle: identity, live state, its route, controls, its
//!   requests and webhook deliveries
//! - `GET /dashboard/requests` — the journal as a live tail, with filters
//! - `GET /dashboard/faults` — fault rules: presets, a form, the list
//! - `GET /dashboard/webhooks` — webhooks and their deliveries as they happen
//! - `GET /dashboard/assets/{dashboard.js, dashboard.css, icon.svg}` — compiled into the binary
//! - `GET /dashboard/events` — server-sent events: `request` (a new journal record, as
//!   `GET /admin/requests` shows it), `vehicle` (`{"vehicle"}`: its state changed), `webhook`
//!   (`{"webhook"}`: its delivery log changed), `changed` (vehicles, the clock, faults or limits
//!   changed; refetch), `lagged` (events were skipped; refetch)
//! - `GET /dashboard/data/apps` — the fixtures' apps and webhooks, without secrets
//! - `GET /dashboard/data/webhooks[?vehicle=]` — every webhook's delivery log (of one vehicle)
//!
//! Every page is one HTML shell and one script; the script reads through the routes above and
//! `GET /admin/…`, and acts through the admin API only (there is no second control API).
//! The same guard as `/admin` stands in front ([`crate::admin`]: loopback or the admin token, no
//! foreign `Origin`, JSON bodies). Nothing is fetched from elsewhere: no CDN, no web font.
//!
//! Live updates are pushed, not polled by the page: the journal's and the webhook registry's
//! broadcasts and the world's change broadcast feed the stream. What has no broadcast (a vehicle
//! connected, the clock moved, a fault fired, limits switched) is noticed by a digest the stream
//! recomputes four times a second while a page listens. Every channel is bounded; a page that falls
//! behind gets `lagged` and refetches, so one left open for an hour holds nothing but its socket.
//! A stream ends when the server shuts down ([`ShuttingDown`]), so an open page does not hold
//! shutdown up; the page reconnects (after 500 ms) to whatever serves next.

use std::convert::Infallible;
use std::future::Future;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::pin::Pin;
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json};
use futures_util::Stream;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::broadcast::{self, error::RecvError};
use uuid::Uuid;

use crate::serving::ShuttingDown;
use crate::state::AppState;

const SHELL: &str = include_str!("../../assets/dashboard/index.html");
const SCRIPT: &str = include_str!("../../assets/dashboard/dashboard.js");
const STYLE: &str = include_str!("../../assets/dashboard/dashboard.css");
const ICON: &str = include_str!("../../assets/dashboard/icon.svg");

/// How often the stream looks for changes that have no broadcast.
const DIGEST_EVERY: Duration = Duration::from_millis(250);
/// Deliveries of each webhook the data route shows, newest kept.
const DELIVERIES_SHOWN: usize = 50;

pub(crate) fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(shell))
        .route("/vehicles/{id}", get(shell))
        .route("/requests", get(shell))
        .route("/faults", get(shell))
        .route("/webhooks", get(shell))
        .route(
            "/assets/dashboard.js",
            get(|| asset("text/javascript; charset=utf-8", SCRIPT)),
        )
        .route("/assets/dashboard.css", get(|| asset("text/css; charset=utf-8", STYLE)))
        .route("/assets/icon.svg", get(|| asset("image/svg+xml", ICON)))
        .route("/events", get(events))
        .route("/data/apps", get(apps))
        .route("/data/webhooks", get(webhooks))
        .fallback(|| async { (StatusCode::NOT_FOUND, "no such dashboard page") })
        .route_layer(middleware::from_fn_with_state(state, crate::admin::guard))
}

/// Headers every dashboard answer shares: nothing may load from elsewhere, nothing framed.
fn hardened(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    response
}

async fn shell() -> Response {
    hardened(Html(SHELL).into_response())
}

async fn asset(content_type: &'static str, body: &'static str) -> Response {
    hardened(([(header::CONTENT_TYPE, content_type)], body).into_response())
}

/// The fixtures' apps and their webhooks: no secret, no AMT.
async fn apps(State(state): State<AppState>) -> Json<Value> {
    let apps: Vec<Value> = state
        .fixtures
        .apps
        .iter()
        .map(|app| {
            let webhooks: Vec<Value> = app
                .webhooks
                .iter()
                .map(|hook| json!({ "id": hook.id, "name": hook.name }))
                .collect();
            json!({ "clientId": app.client_id, "name": app.name, "webhooks": webhooks })
        })
        .collect();
    Json(json!({ "apps": apps }))
}

#[derive(Debug, Deserialize)]
struct VehicleFilter {
    vehicle: Option<Uuid>,
}

/// Every webhook's log (its last [`DELIVERIES_SHOWN`] deliveries, of one vehicle when asked).
async fn webhooks(State(state): State<AppState>, Query(filter): Query<VehicleFilter>) -> Json<Value> {
    let registry = state.webhooks.registry();
    let logs: Vec<Value> = registry
        .ids()
        .into_iter()
        .filter_map(|id| registry.log(id))
        .map(|mut log| {
            if let Some(vehicle) = filter.vehicle {
                log.deliveries.retain(|delivery| delivery.vehicle_id == Some(vehicle));
            }
            let skip = log.deliveries.len().saturating_sub(DELIVERIES_SHOWN);
            log.deliveries.drain(..skip);
            serde_json::to_value(&log).unwrap_or(Value::Null)
        })
        .collect();
    Json(json!({ "webhooks": logs }))
}

/// What one listener is subscribed to.
struct Feed {
    state: AppState,
    journal: crate::domain::journal::LiveRecords,
    vehicles: broadcast::Receiver<crate::domain::world::VehicleChanged>,
    webhooks: broadcast::Receiver<Uuid>,
    digest: u64,
    tick: tokio::time::Interval,
    /// The first event says hello, so the page knows the stream is up (and refetches).
    greeted: bool,
    /// Completes when the server shuts down: the stream ends then, so shutdown does not wait.
    stopping: Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl Feed {
    fn new(state: AppState, stopping: Option<ShuttingDown>) -> Self {
        let mut tick = tokio::time::interval(DIGEST_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Feed {
            journal: state.control.journal.subscribe(),
            vehicles: state.world.subscribe_changes(),
            webhooks: state.webhooks.registry().subscribe_logged(),
            digest: digest(&state),
            tick,
            greeted: false,
            stopping: match stopping {
                Some(stopping) => Box::pin(stopping.wait()),
                // Served without `serving` (a test's `oneshot`): nothing to wait for.
                None => Box::pin(std::future::pending()),
            },
            state,
        }
    }

    /// The next event to send; `None` once the server shuts down.
    async fn next(&mut self) -> Option<Event> {
        if !std::mem::replace(&mut self.greeted, true) {
            // Reconnect quickly: the server closes idle-looking connections (`serving`).
            return Some(
                Event::default()
                    .event("hello")
                    .retry(Duration::from_millis(500))
                    .data("{}"),
            );
        }
        loop {
            let event = tokio::select! {
                () = &mut self.stopping => return None,
                record = self.journal.recv() => match record {
                    Ok(record) => json_event("request", crate::admin::journal::view(&record)),
                    Err(RecvError::Lagged(_)) => json_event("lagged", json!({})),
                    Err(RecvError::Closed) => return None,
                },
                change = self.vehicles.recv() => match change {
                    Ok(change) => json_event("vehicle", json!({ "vehicle": change.vehicle })),
                    Err(RecvError::Lagged(_)) => json_event("lagged", json!({})),
                    Err(RecvError::Closed) => return None,
                },
                webhook = self.webhooks.recv() => match webhook {
                    Ok(webhook) => json_event("webhook", json!({ "webhook": webhook })),
                    Err(RecvError::Lagged(_)) => json_event("lagged", json!({})),
                    Err(RecvError::Closed) => return None,
                },
                _ = self.tick.tick() => {
                    let now = digest(&self.state);
                    if now == std::mem::replace(&mut self.digest, now) {
                        continue;
                    }
                    json_event("changed", json!({}))
                }
            };
            return Some(event);
        }
    }
}

fn json_event(name: &'static str, data: Value) -> Event {
    Event::default().event(name).data(data.to_string())
}

/// A fingerprint of what has no broadcast: whether vehicles came or went, the clock, the fault rules and
/// how often they fired, the limits.
fn digest(state: &AppState) -> u64 {
    let mut hasher = DefaultHasher::new();
    state.clock.offset().whole_nanoseconds().hash(&mut hasher);
    // Not the vehicles themselves: listing them takes the world's lock for a copy of each.
    state.world.census().hash(&mut hasher);
    let book = state.control.faults.list(None);
    for rule in &book.rules {
        (rule.id, rule.fired, rule.remaining).hash(&mut hasher);
    }
    for rule in &book.connect {
        (rule.id, rule.fired, rule.remaining).hash(&mut hasher);
    }
    serde_json::to_string(&state.control.limits.settings(None))
        .unwrap_or_default()
        .hash(&mut hasher);
    hasher.finish()
}

/// `GET /dashboard/events`.
async fn events(
    State(state): State<AppState>,
    stopping: Option<Extension<ShuttingDown>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let feed = Feed::new(state, stopping.map(|Extension(stopping)| stopping));
    let stream = futures_util::stream::unfold(feed, |mut feed| async move {
        let event = feed.next().await?;
        Some((Ok(event), feed))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::extract::Request;

    use super::*;
    use crate::Fixtures;
    use crate::state::Settings;

    async fn dashboard_status(peer: &str, origin: Option<&str>) -> StatusCode {
        let state = AppState::with_settings(Fixtures::embedded().expect("fixtures"), Settings::default());
        let mut request = Request::get("/dashboard/data/apps").header(header::HOST, "localhost:4000");
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        let request = request.body(Body::empty()).expect("a request");
        crate::answer_from(state, request, peer).await.status()
    }

    #[tokio::test]
    async fn the_dashboard_answers_whom_the_admin_api_answers() {
        assert_eq!(dashboard_status("127.0.0.1:5000", None).await, StatusCode::OK);
        assert_eq!(
            dashboard_status("127.0.0.1:5000", Some("http://localhost:4000")).await,
            StatusCode::OK
        );
        assert_eq!(dashboard_status("192.0.2.7:5000", None).await, StatusCode::FORBIDDEN);
        assert_eq!(
            dashboard_status("127.0.0.1:5000", Some("http://evil.example")).await,
            StatusCode::FORBIDDEN
        );
    }

    #[tokio::test]
    async fn the_apps_shown_carry_no_secret() {
        let state = AppState::new(Fixtures::embedded().expect("fixtures"));
        let Json(apps) = apps(State(state.clone())).await;
        let text = apps.to_string();

        for app in &state.fixtures.apps {
            assert!(!text.contains(&app.client_secret), "{}", app.client_id);
            assert!(!text.contains(&app.amt), "{}", app.client_id);
        }
    }

    #[tokio::test]
    async fn a_new_journal_record_reaches_a_listening_page() {
        let state = AppState::new(Fixtures::embedded().expect("fixtures"));
        let mut feed = Feed::new(state.clone(), None);
        let _hello = feed.next().await;
        let mut journal = state.control.journal.subscribe();

        state.control.journal.record(crate::domain::journal::largest_record());

        assert!(journal.recv().await.is_ok());
        let event = format!("{:?}", feed.next().await.expect("an event"));
        assert!(event.contains("request"), "{event}");
    }
}
