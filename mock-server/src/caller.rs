//! Who is calling: the app, user and vehicle behind a request, worked out once per request from
//! its credentials and path, for the request journal, fault matching, limits and per-app isolation.
//!
//! Nothing here refuses a request: an unknown token is simply a caller without an app, and the
//! handlers still answer it with the right Smartcar error.

use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use uuid::Uuid;

use crate::state::AppState;

/// The request's app (client id), user and vehicle, where they can be told.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    pub app: Option<String>,
    pub user: Option<Uuid>,
    pub vehicle: Option<Uuid>,
}

impl Caller {
    /// Reads the caller from the bearer token (even an expired one), HTTP Basic (client id, or
    /// `default:<AMT>` for the management API), a `client_id` query or form field, or the signed
    /// Connect flow of a Connect step; the vehicle from a `/v…/vehicles/{id}` path.
    pub fn resolve(state: &AppState, parts: &Parts, body: &[u8]) -> Caller {
        let mut caller = Caller {
            vehicle: vehicle_in_path(parts.uri.path()),
            ..Caller::default()
        };
        if let Some((app, user)) = from_authorization(state, &parts.headers) {
            caller.app = Some(app);
            caller.user = user;
            return caller;
        }
        // Only registered client ids count, so made-up ones cannot make the journal keep a ring each.
        let registered = |id: String| state.fixtures.app(&id).is_some().then_some(id);
        if let Some(client_id) = parts
            .uri
            .query()
            .and_then(|query| field(query.as_bytes(), "client_id"))
            .and_then(registered)
        {
            caller.app = Some(client_id);
            return caller;
        }
        if is_form(&parts.headers) {
            if let Some(client_id) = field(body, "client_id").and_then(registered) {
                caller.app = Some(client_id);
            } else if let Some(flow) = field(body, "flow")
                && let Ok(flow) = state.flow_keys.verify(&flow, state.clock.now())
            {
                caller.app = Some(flow.app);
                caller.user = flow.user;
            }
        }
        caller
    }
}

/// `/v2.0/vehicles/{id}/…`, `/v3/vehicles/{id}/…`: the vehicle id, when it is a UUID.
pub fn vehicle_in_path(path: &str) -> Option<Uuid> {
    let mut segments = path.trim_start_matches('/').split('/');
    let version = segments.next()?;
    if !version.starts_with('v') || segments.next()? != "vehicles" {
        return None;
    }
    Uuid::try_parse(segments.next()?).ok()
}

fn from_authorization(state: &AppState, headers: &HeaderMap) -> Option<(String, Option<Uuid>)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credential) = value.trim().split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        let (app, user) = state.world.token_owner(credential.trim())?;
        return Some((app, Some(user)));
    }
    let (id, secret) = crate::oauth::basic_credentials(headers)?;
    if state.fixtures.app(&id).is_some() {
        return Some((id, None));
    }
    let app = state.fixtures.apps.iter().find(|app| app.amt == secret)?;
    Some((app.client_id.clone(), None))
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"))
}

/// The first value of `name` in a form-encoded text.
fn field(form: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(form)
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vehicle_is_read_from_versioned_vehicle_paths_only() {
        let id = Uuid::new_v4();

        assert_eq!(vehicle_in_path(&format!("/v2.0/vehicles/{id}/odometer")), Some(id));
        assert_eq!(vehicle_in_path(&format!("/v3/vehicles/{id}")), Some(id));
        assert_eq!(vehicle_in_path("/v2.0/vehicles/not-a-uuid/odometer"), None);
        assert_eq!(vehicle_in_path(&format!("/admin/vehicles/{id}")), None);
    }
}
