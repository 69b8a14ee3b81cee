//! Smartcar Connect: the pages a vehicle owner walks through (docs/contract/connect.md).
//!
//! - `GET /oauth/authorize` — validate the request
//!   (docs/contract/connect.md#validation-before-any-page), show step 1 (preamble); with
//!   `--auto-approve`, redirect back with a code at once ([`shortcut`])
//! - `POST /connect/brand` — step 2, the brand list (skipped with `make=`)
//! - `POST /connect/login` — step 3, the brand's sign-in form
//! - `POST /connect/sign-in` — sign in (the domain's one sign-in function, with the typed
//!   password), show the vehicles found: step 4 (grant)
//! - `POST /connect/grant` — Allow or Deny: 302 back to the app with `code` or `error`
//!   (docs/contract/connect.md#the-redirect)
//!
//! Each step carries the flow as a signed, single-use token in a hidden field (`flow`). Every
//! response here forbids framing (`X-Frame-Options: DENY`, `frame-ancestors 'none'`), so no
//! other site can overlay the consent pages (RFC 6749 §10.13); Connect runs in a popup or a
//! full page, never in a frame. The JS SDK's `/v2/redirect` page is elsewhere and keeps working.

mod flow;
mod pages;
pub(crate) mod shortcut;

use axum::Form;
use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use uuid::Uuid;

use crate::domain::sign_in::{
    self, ConnectErrorCode, Credentials, MAX_LOGIN_BYTES, MAX_PASSWORD_BYTES, SignIn, SignInError,
};
use crate::domain::world::UserForgotten;
pub(crate) use flow::{EchoedState, Flow, FlowKeys, Stage, Step};

use crate::domain::fixtures::{App, Brand};
use crate::domain::permissions::Permission;
use crate::domain::world::Mode;
use crate::error::ErrorReason;
use crate::state::AppState;
use pages::{BrandPage, BrandView, ErrorPage, GrantPage, LoginPage, PermissionView, PreamblePage, VehicleView};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/oauth/authorize", get(authorize))
        .route("/connect/brand", post(brand))
        .route("/connect/login", post(login))
        .route("/connect/sign-in", post(sign_in))
        .route("/connect/grant", post(grant))
        .layer(middleware::map_response(forbid_framing))
}

/// Clickjacking defence for the consent pages (RFC 6749 §10.13): no site may frame them.
async fn forbid_framing(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("frame-ancestors 'none'"),
    );
    response
}

/// How a Connect request ends early.
#[derive(Debug)]
pub(crate) enum ConnectError {
    /// The request cannot be trusted with a redirect: a 400 page (RFC 6749 §4.1.2.1).
    Page { title: &'static str, message: String },
    /// Reported to the app: `302 redirect_uri?error=…&error_description=…[&…]&state=…`
    /// (docs/contract/connect.md#connect-errors).
    Redirect {
        redirect_uri: String,
        error: &'static str,
        description: String,
        extra: Vec<(&'static str, String)>,
        state: Option<EchoedState>,
    },
}

impl ConnectError {
    pub(super) fn redirect(flow: &Flow, error: &'static str, description: impl Into<String>) -> Self {
        ConnectError::Redirect {
            redirect_uri: flow.redirect_uri.clone(),
            error,
            description: description.into(),
            extra: Vec::new(),
            state: flow.state.clone(),
        }
    }

    /// Connect ends in `code`, with Smartcar's description and parameters for it.
    pub(super) fn refused(flow: &Flow, code: ConnectErrorCode) -> Self {
        ConnectError::Redirect {
            redirect_uri: flow.redirect_uri.clone(),
            error: code.as_str(),
            description: code.description().to_owned(),
            extra: code.extra(),
            state: flow.state.clone(),
        }
    }

    /// The session's user was forgotten (`--max-users`) between two steps.
    fn cannot_continue(forgotten: UserForgotten) -> Self {
        ConnectError::Page {
            title: "This Connect session cannot continue",
            message: forgotten.to_string(),
        }
    }
}

impl IntoResponse for ConnectError {
    fn into_response(self) -> Response {
        match self {
            ConnectError::Page { title, message } => {
                let reason = format!("{title}: {message}");
                let mut response = (
                    StatusCode::BAD_REQUEST,
                    ErrorPage {
                        title: title.to_owned(),
                        message,
                    },
                )
                    .into_response();
                response.extensions_mut().insert(ErrorReason(reason));
                response
            }
            ConnectError::Redirect {
                redirect_uri,
                error,
                description,
                extra,
                state,
            } => {
                let reason = format!("Connect ended with {error}: {description}");
                let mut params = vec![("error", error.to_owned()), ("error_description", description)];
                params.extend(extra);
                let mut response = redirect_to(&redirect_uri, &params, state.as_ref());
                response.extensions_mut().insert(ErrorReason(reason));
                response
            }
        }
    }
}

/// `302 Location: <redirect_uri as registered>` plus parameters and the app's `state` last, joined
/// with `&` when the URI already has a query (docs/contract/connect.md#the-redirect). Values are
/// form-encoded, so a `+` in `state` is `%2B`.
pub(crate) fn redirect_to(redirect_uri: &str, params: &[(&str, String)], state: Option<&EchoedState>) -> Response {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (key, value) in params {
        query.append_pair(key, value);
    }
    let mut query = query.finish();
    if let Some(state) = state {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str("state=");
        query.push_str(state.encoded());
    }
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    let location = format!("{redirect_uri}{separator}{query}");
    match HeaderValue::from_str(&location) {
        Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
        Err(_) => ConnectError::Page {
            title: "Invalid redirect",
            message: "The redirect URI cannot be used.".into(),
        }
        .into_response(),
    }
}

/// The authorize query, decoded as a form except `state`, which is kept byte for byte, even
/// when not UTF-8 (the JS SDK sends raw base64 whose `+` must not become a space). The first of
/// repeated keys wins.
#[derive(Debug, Default)]
struct AuthorizeQuery {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    response_type: Option<String>,
    scope: Option<String>,
    state: Option<EchoedState>,
    mode: Option<String>,
    make: Option<String>,
    single_select: Option<String>,
    single_select_vin: Option<String>,
}

impl AuthorizeQuery {
    fn parse(raw: &str) -> AuthorizeQuery {
        let mut query = AuthorizeQuery::default();
        for pair in raw.split('&').filter(|pair| !pair.is_empty()) {
            let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = decode_form(raw_key);
            if key == "state" {
                query
                    .state
                    .get_or_insert_with(|| EchoedState::from_raw_query_value(raw_value));
                continue;
            }
            let value = decode_form(raw_value);
            let slot = match key.as_str() {
                "client_id" | "application_id" => &mut query.client_id,
                "redirect_uri" => &mut query.redirect_uri,
                "response_type" => &mut query.response_type,
                "scope" => &mut query.scope,
                "mode" => &mut query.mode,
                "make" => &mut query.make,
                "single_select" => &mut query.single_select,
                "single_select_vin" => &mut query.single_select_vin,
                _ => continue,
            };
            slot.get_or_insert(value);
        }
        query
    }
}

fn decode_form(text: &str) -> String {
    form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

/// Step 0: validate before anything can redirect, then show the preamble.
async fn authorize(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Result<Response, ConnectError> {
    let query = AuthorizeQuery::parse(raw.as_deref().unwrap_or(""));
    let Some(client_id) = query.client_id.as_deref().filter(|id| !id.is_empty()) else {
        return Err(ConnectError::Page {
            title: "Missing client_id",
            message: "The request has no client_id.".into(),
        });
    };
    let Some(app) = state.fixtures.app(client_id) else {
        return Err(ConnectError::Page {
            title: "Unknown application",
            message: format!("No application has the client_id {client_id}."),
        });
    };
    let redirect_uri = match &query.redirect_uri {
        None => app.redirect_uris[0].clone(),
        Some(uri) if app.redirect_uris.contains(uri) => uri.clone(),
        Some(uri) => {
            return Err(ConnectError::Page {
                title: "Invalid redirect_uri",
                message: format!("{uri} is not a redirect URI registered for {}.", app.name),
            });
        }
    };
    let now = state.clock.now();
    let mut flow = Flow {
        app: app.client_id.clone(),
        redirect_uri,
        scope: Vec::new(),
        state: query.state.clone(),
        mode: Mode::Live,
        single_select: query.single_select.as_deref() == Some("true") || query.single_select_vin.is_some(),
        single_select_vin: query.single_select_vin.clone(),
        step: Step::Preamble { make: None },
        exp: now.saturating_add(flow::FLOW_LIFETIME).unix_timestamp(),
        jti: Uuid::nil(),
    };

    match query.response_type.as_deref() {
        Some("code") => {}
        Some(other) => {
            return Err(ConnectError::redirect(
                &flow,
                "unsupported_response_type",
                format!("Unsupported response_type: {other}."),
            ));
        }
        None => {
            return Err(ConnectError::redirect(
                &flow,
                "invalid_request",
                "Missing required parameter: response_type.",
            ));
        }
    }
    flow.mode = match query.mode.as_deref() {
        None | Some("") => Mode::Live,
        Some(mode) => Mode::parse(mode)
            .ok_or_else(|| ConnectError::redirect(&flow, "invalid_request", format!("Invalid mode: {mode}.")))?,
    };
    flow.scope = match query.scope.as_deref().map(str::trim) {
        None | Some("") => app.default_scope.clone(),
        Some(scope) => Permission::parse_scope(scope)
            .map_err(|unknown| ConnectError::redirect(&flow, "invalid_scope", format!("Invalid scope: {unknown}.")))?,
    };
    let make = query
        .make
        .as_deref()
        .and_then(|make| state.fixtures.brand(make))
        .map(|brand| brand.make.clone());
    flow.step = Step::Preamble { make };

    if state.control.auto_approve {
        return shortcut::auto_approve(&state, app, &flow);
    }
    Ok(PreamblePage {
        app_name: app.name.clone(),
        permissions: flow.scope.iter().copied().map(PermissionView::of).collect(),
        flow: state.flow_keys.sign(&flow, state.clock.now()),
    }
    .into_response())
}

#[derive(Deserialize)]
struct FlowForm {
    flow: String,
}

/// Step 1 → 2: the brand list, or straight to sign-in when the app chose the brand.
async fn brand(
    State(state): State<AppState>,
    form: Result<Form<FlowForm>, FormRejection>,
) -> Result<Response, ConnectError> {
    let Form(form) = form.map_err(bad_form)?;
    let mut flow = continue_flow(&state, &form.flow, Stage::Preamble)?;
    if let Step::Preamble { make: Some(make) } = flow.step.clone() {
        let brand = known_brand(&state, &flow, &make)?;
        return Ok(login_page(&state, &mut flow, brand, None, String::new()));
    }
    flow.step = Step::Brand;
    let brands = state
        .fixtures
        .brands
        .iter()
        .map(|brand| BrandView {
            make: brand.make.clone(),
            name: brand.display_name.clone(),
        })
        .collect();
    Ok(BrandPage {
        brands,
        flow: state.flow_keys.sign(&flow, state.clock.now()),
    }
    .into_response())
}

#[derive(Deserialize)]
struct BrandForm {
    flow: String,
    make: String,
}

/// Step 2 → 3: the chosen brand's sign-in form.
async fn login(
    State(state): State<AppState>,
    form: Result<Form<BrandForm>, FormRejection>,
) -> Result<Response, ConnectError> {
    let Form(form) = form.map_err(bad_form)?;
    let mut flow = continue_flow(&state, &form.flow, Stage::Brand)?;
    let brand = known_brand(&state, &flow, &form.make)?;
    Ok(login_page(&state, &mut flow, brand, None, String::new()))
}

/// The brand `make`, or the `configuration_error` Connect answers for one it does not know.
fn known_brand<'a>(state: &'a AppState, flow: &Flow, make: &str) -> Result<&'a Brand, ConnectError> {
    state
        .fixtures
        .brand(make)
        .ok_or_else(|| ConnectError::redirect(flow, "configuration_error", format!("Unknown brand {make}.")))
}

fn login_page(state: &AppState, flow: &mut Flow, brand: &Brand, error: Option<String>, username: String) -> Response {
    flow.step = Step::Login {
        make: brand.make.clone(),
    };
    LoginPage {
        brand: brand.display_name.clone(),
        live: flow.mode == Mode::Live,
        error,
        username,
        flow: state.flow_keys.sign(flow, state.clock.now()),
    }
    .into_response()
}

#[derive(Deserialize)]
struct SignInForm {
    flow: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// Step 3 → 4: sign in ([`sign_in::sign_in`] with the typed password), show the vehicles found.
async fn sign_in(
    State(state): State<AppState>,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Result<Response, ConnectError> {
    let Form(form) = form.map_err(bad_form)?;
    let mut flow = continue_flow(&state, &form.flow, Stage::Login)?;
    let Step::Login { make } = &flow.step else {
        return Err(skipped(&flow, Stage::Login));
    };
    let brand = known_brand(&state, &flow, make)?;
    let request = SignIn {
        app: &flow.app,
        brand,
        mode: flow.mode,
        login: &form.username,
        credentials: Credentials::Password(&form.password),
    };
    let signed_in = match sign_in::sign_in(&state.fixtures, &state.world, &state.control.faults, &request) {
        Ok(signed_in) => signed_in,
        Err(error) => return sign_in_refused(&state, &mut flow, brand, form.username.trim(), error),
    };

    flow.step = Step::Grant {
        user: signed_in.user,
        vehicles: signed_in.vehicles.iter().map(|vehicle| vehicle.id).collect(),
    };
    let preselected = flow.single_select_vin.as_deref();
    let app = app_of(&state, &flow)?;
    let views = signed_in
        .vehicles
        .iter()
        .enumerate()
        .map(|(i, vehicle)| VehicleView {
            id: vehicle.id.to_string(),
            label: format!("{} {} {}", vehicle.spec.year, brand.display_name, vehicle.spec.model),
            vin: vehicle.spec.vin.clone(),
            selected: match (flow.single_select, preselected) {
                (_, Some(vin)) => vehicle.spec.vin.eq_ignore_ascii_case(vin),
                (true, None) => i == 0,
                (false, None) => true,
            },
        })
        .collect();
    Ok(GrantPage {
        app_name: app.name.clone(),
        vehicles: views,
        permissions: flow.scope.iter().copied().map(PermissionView::of).collect(),
        single_select: flow.single_select,
        flow: state.flow_keys.sign(&flow, state.clock.now()),
    }
    .into_response())
}

/// A refused sign-in: the sign-in form again with why (kept username where it helps), or the end
/// of Connect.
fn sign_in_refused(
    state: &AppState,
    flow: &mut Flow,
    brand: &Brand,
    username: &str,
    error: SignInError,
) -> Result<Response, ConnectError> {
    let (message, username) = match error {
        SignInError::MissingLogin => ("Please enter your e-mail.".to_owned(), username),
        SignInError::LoginTooLong { bytes } => (
            format!("An e-mail has at most {MAX_LOGIN_BYTES} bytes; this one has {bytes}."),
            "",
        ),
        SignInError::PasswordTooLong => (
            format!("A password has at most {MAX_PASSWORD_BYTES} bytes here."),
            username,
        ),
        SignInError::WrongCredentials => ("The e-mail or password is incorrect.".to_owned(), username),
        SignInError::Refused(code) => return Err(ConnectError::refused(flow, code)),
        SignInError::Forgotten(forgotten) => return Err(ConnectError::cannot_continue(forgotten)),
    };
    Ok(login_page(state, flow, brand, Some(message), username.to_owned()))
}

/// Step 4 → back to the app: Allow issues a code for the selected vehicles; Deny says so.
async fn grant(State(state): State<AppState>, body: axum::body::Bytes) -> Result<Response, ConnectError> {
    let mut token = None;
    let mut decision = None;
    let mut selected = Vec::new();
    for (key, value) in form_urlencoded::parse(&body) {
        match key.as_ref() {
            "flow" => token = Some(value.into_owned()),
            "decision" => decision = Some(value.into_owned()),
            "vehicle" => selected.extend(Uuid::try_parse(&value).ok()),
            _ => {}
        }
    }
    let flow = continue_flow(&state, token.as_deref().unwrap_or(""), Stage::Grant)?;
    if decision.as_deref() != Some("allow") {
        return Err(ConnectError::redirect(
            &flow,
            "access_denied",
            "User denied access to application.",
        ));
    }
    let Step::Grant { user, vehicles } = &flow.step else {
        return Err(skipped(&flow, Stage::Grant));
    };
    let user = *user;
    selected.retain(|id| vehicles.contains(id));
    if selected.is_empty() {
        // Nothing ticked (or a client that does not send the boxes): every vehicle shown.
        selected.clone_from(vehicles);
    }
    if flow.single_select {
        selected.truncate(1);
    }
    let code = state
        .world
        .issue_code(&flow.app, &flow.redirect_uri, user, &flow.scope, selected)
        .map_err(ConnectError::cannot_continue)?;
    Ok(redirect_to(
        &flow.redirect_uri,
        &[("code", code.to_string())],
        flow.state.as_ref(),
    ))
}

/// Verifies a flow token, uses its step up, and checks it is at `expected`. A broken or already
/// submitted token gets a page (its redirect URI cannot be trusted, or the session has moved
/// on); a valid token at another step is a skipped step, which Smartcar reports as
/// `configuration_error` (docs/contract/connect.md#connect-errors).
fn continue_flow(state: &AppState, token: &str, expected: Stage) -> Result<Flow, ConnectError> {
    let flow = state
        .flow_keys
        .consume(token, state.clock.now())
        .map_err(|error| ConnectError::Page {
            title: "This Connect session cannot continue",
            message: error.to_string(),
        })?;
    if flow.step.stage() != expected {
        return Err(skipped(&flow, expected));
    }
    Ok(flow)
}

/// The `configuration_error` of a flow token submitted to another step's form.
fn skipped(flow: &Flow, expected: Stage) -> ConnectError {
    let mut error = ConnectError::redirect(flow, "configuration_error", "A step of Connect was skipped.");
    if let ConnectError::Redirect { extra, .. } = &mut error {
        extra.extend([
            ("status_code", "400".to_owned()),
            (
                "error_message",
                format!(
                    "expected the {expected:?} step, the session is at {:?}",
                    flow.step.stage()
                ),
            ),
        ]);
    }
    error
}

/// A step's form that does not parse (a hand-made request): a page, not axum's plain text.
fn bad_form(rejection: FormRejection) -> ConnectError {
    ConnectError::Page {
        title: "This Connect session cannot continue",
        message: rejection.body_text(),
    }
}

fn app_of<'a>(state: &'a AppState, flow: &Flow) -> Result<&'a App, ConnectError> {
    state.fixtures.app(&flow.app).ok_or(ConnectError::Page {
        title: "Unknown application",
        message: "The application of this session no longer exists.".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_keeps_its_plus_signs_while_other_values_are_form_decoded() {
        let query = AuthorizeQuery::parse("application_id=app&scope=read_vin+read_odometer&state=ab+c%2Fd%3D");

        assert_eq!(query.client_id.as_deref(), Some("app"));
        assert_eq!(query.scope.as_deref(), Some("read_vin read_odometer"));
        assert_eq!(query.state.as_ref().map(EchoedState::encoded), Some("ab%2Bc%2Fd%3D"));
    }

    #[test]
    fn redirects_join_with_an_ampersand_when_the_uri_has_a_query() {
        let response = redirect_to(
            "http://x/v2/redirect?app_origin=http://localhost:3000",
            &[("code", "c".into())],
            Some(&EchoedState::from_raw_query_value("a+b")),
        );

        assert_eq!(response.status(), StatusCode::FOUND);
        assert_eq!(
            response.headers()[header::LOCATION],
            "http://x/v2/redirect?app_origin=http://localhost:3000&code=c&state=a%2Bb"
        );
    }
}
