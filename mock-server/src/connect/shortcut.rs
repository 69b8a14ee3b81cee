//! Connect without a browser, and Connect-side faults.
//!
//! [`approve`] does what a person does on the Connect pages — sign in (test-mode login grammar,
//! test-mode.md A2), see the brand's vehicles, Allow — in one call. The admin API's
//! `POST /admin/authorize` and `--auto-approve` (`GET /oauth/authorize` answering at once with the
//! redirect) both use it. A Connect fault queued for the app (and login) ends it in that error
//! instead, here and on the real pages ([`queued_fault`]).

use axum::response::Response;
use uuid::Uuid;

use super::{ConnectError, Flow, redirect_to};
use crate::domain::fixtures::{App, Brand};
use crate::domain::logins::{self, TestLogin};
use crate::domain::permissions::Permission;
use crate::domain::sign_in::ConnectErrorCode as ConnectFaultKind;
use crate::domain::world::Mode;
use crate::state::AppState;

/// Who `--auto-approve` signs in as: one user per app, so re-authorizing finds the same vehicles.
pub const AUTO_APPROVE_LOGIN: &str = "auto-approve@example.com";

/// What to approve.
pub struct Approval<'a> {
    pub app: &'a App,
    pub brand: &'a Brand,
    pub login: &'a str,
    pub mode: Mode,
    pub scope: Vec<Permission>,
    pub redirect_uri: &'a str,
}

/// A code issued for the user's vehicles.
#[derive(Debug, Clone)]
pub struct Approved {
    pub code: Uuid,
    pub user: Uuid,
    pub vehicles: Vec<Uuid>,
}

/// How Connect ended instead: the redirect's `error`, `error_description` and extra parameters.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub error: &'static str,
    pub description: String,
    pub extra: Vec<(&'static str, String)>,
}

/// Signs in, finds the vehicles and allows them all.
pub fn approve(state: &AppState, approval: &Approval<'_>) -> Result<Approved, Refusal> {
    let app = &approval.app.client_id;
    if let Some(kind) = take_fault(state, app, approval.login) {
        return Err(refusal(kind));
    }
    let account = state
        .fixtures
        .account(approval.login)
        .filter(|_| approval.mode == Mode::Live);
    let (specs, forced_error) = match account {
        Some(account) => {
            let specs: Vec<_> = account
                .vehicles
                .iter()
                .filter(|vehicle| vehicle.make == approval.brand.make)
                .cloned()
                .collect();
            (specs, None)
        }
        None => match TestLogin::parse(approval.login) {
            TestLogin::InvalidSubscription => return Err(refusal(ConnectFaultKind::InvalidSubscription)),
            TestLogin::VehicleIncompatible => return Err(refusal(ConnectFaultKind::VehicleIncompatible)),
            login => {
                let forced = match login {
                    TestLogin::ForcedError(entry) => Some(entry),
                    _ => None,
                };
                (login.vehicles(approval.brand, &state.fixtures), forced)
            }
        },
    };
    if specs.is_empty() {
        return Err(refusal(ConnectFaultKind::NoVehicles));
    }
    let (user, garage) = state
        .world
        .sign_in(app, approval.mode, approval.login, forced_error, &specs);
    let vehicles: Vec<Uuid> = garage.iter().map(|v| v.id).collect();
    let code = state
        .world
        .issue_code(
            app,
            approval.redirect_uri,
            user,
            approval.scope.clone(),
            vehicles.clone(),
        )
        .map_err(|forgotten| Refusal {
            error: "server_error",
            description: forgotten.to_string(),
            extra: Vec::new(),
        })?;
    Ok(Approved { code, user, vehicles })
}

/// `--auto-approve`: the validated authorize request ends at once in the redirect.
pub(super) fn auto_approve(state: &AppState, app: &App, flow: &Flow) -> Result<Response, ConnectError> {
    let make = flow.make.as_deref().unwrap_or(&app.default_brand);
    let Some(brand) = state.fixtures.brand(make).or_else(|| state.fixtures.brands.first()) else {
        return Err(ConnectError::redirect(flow, "server_error", "No brand is configured."));
    };
    let approval = Approval {
        app,
        brand,
        login: AUTO_APPROVE_LOGIN,
        mode: flow.mode,
        scope: flow.scope.clone(),
        redirect_uri: &flow.redirect_uri,
    };
    match approve(state, &approval) {
        Ok(approved) => Ok(redirect_to(
            &flow.redirect_uri,
            &[("code", approved.code.to_string())],
            flow.state.as_ref(),
        )),
        Err(refusal) => Err(into_connect_error(flow, refusal)),
    }
}

/// On the real pages: the Connect fault queued for this app and login, as the redirect it causes.
pub(super) fn queued_fault(state: &AppState, flow: &Flow, login: &str) -> Option<ConnectError> {
    let kind = take_fault(state, &flow.app, login)?;
    Some(into_connect_error(flow, refusal(kind)))
}

fn take_fault(state: &AppState, app: &str, login: &str) -> Option<ConnectFaultKind> {
    state.control.faults.take_connect(app, login).map(|(_, kind)| kind)
}

fn into_connect_error(flow: &Flow, refusal: Refusal) -> ConnectError {
    ConnectError::Redirect {
        redirect_uri: flow.redirect_uri.clone(),
        error: refusal.error,
        description: refusal.description,
        extra: refusal.extra,
        state: flow.state.clone(),
    }
}

/// The redirect Smartcar sends for each Connect error (test-mode.md A4).
pub fn refusal(kind: ConnectFaultKind) -> Refusal {
    let (description, extra): (&str, Vec<(&'static str, String)>) = match kind {
        ConnectFaultKind::AccessDenied => ("User denied access to application.", Vec::new()),
        ConnectFaultKind::InvalidSubscription => (
            "User does not have an active connected vehicle subscription.",
            Vec::new(),
        ),
        ConnectFaultKind::VehicleIncompatible => (
            "The user's vehicle is not compatible.",
            vec![
                ("vin", logins::INCOMPATIBLE_VIN.to_owned()),
                ("make", "AUDI".to_owned()),
                ("model", "A4".to_owned()),
                ("year", "2017".to_owned()),
            ],
        ),
        ConnectFaultKind::NoVehicles => (
            "No vehicles found. Please add vehicles to your account and try again.",
            Vec::new(),
        ),
        ConnectFaultKind::ConfigurationError => (
            "There is a problem with the configuration of this application.",
            vec![
                ("status_code", "400".to_owned()),
                ("error_message", "A test-control fault ended Connect.".to_owned()),
            ],
        ),
        ConnectFaultKind::ServerError => ("Unexpected server error. Please try again.", Vec::new()),
    };
    Refusal {
        error: kind.as_str(),
        description: description.to_owned(),
        extra,
    }
}
