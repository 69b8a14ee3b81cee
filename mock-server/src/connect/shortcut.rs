//! `--auto-approve`: `GET /oauth/authorize` answers at once with the redirect, as if a person had
//! signed in as [`AUTO_APPROVE_LOGIN`] and allowed every vehicle found.
//!
//! It signs in through the same [`sign_in::approve`] as `POST /admin/authorize` (and, below it,
//! the same [`sign_in::sign_in`] as the Connect pages), vouching for its login: a Connect fault
//! queued for the app ends it in that error.

use axum::response::Response;

use super::{ConnectError, Flow, redirect_to};
use crate::domain::fixtures::App;
use crate::domain::sign_in::{self, Approval, Credentials, SignIn, SignInError};
use crate::state::AppState;

/// Who `--auto-approve` signs in as: one user per app, so re-authorizing finds the same vehicles.
pub(crate) const AUTO_APPROVE_LOGIN: &str = "auto-approve@example.com";

/// The validated authorize request ends at once in the redirect: a code, or a Connect error.
pub(super) fn auto_approve(state: &AppState, app: &App, flow: &Flow) -> Result<Response, ConnectError> {
    let chosen = match &flow.step {
        super::Step::Preamble { make } => make.as_deref(),
        _ => None,
    };
    let make = chosen.unwrap_or(&app.default_brand);
    let Some(brand) = state.fixtures.brand(make).or_else(|| state.fixtures.brands.first()) else {
        return Err(ConnectError::redirect(flow, "server_error", "No brand is configured."));
    };
    let approval = Approval {
        sign_in: SignIn {
            app: &app.client_id,
            brand,
            mode: flow.mode,
            login: AUTO_APPROVE_LOGIN,
            credentials: Credentials::Vouched,
        },
        scope: flow.scope.clone(),
        redirect_uri: &flow.redirect_uri,
    };
    match sign_in::approve(&state.fixtures, &state.world, &state.control.faults, &approval) {
        Ok(approved) => Ok(redirect_to(
            &flow.redirect_uri,
            &[("code", approved.code.to_string())],
            flow.state.as_ref(),
        )),
        Err(SignInError::Refused(code)) => Err(ConnectError::refused(flow, code)),
        // The login is fixed and vouched for, so only a forgotten user gets here.
        Err(error) => Err(ConnectError::redirect(flow, "server_error", error.to_string())),
    }
}
