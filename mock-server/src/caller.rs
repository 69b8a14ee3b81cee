//! Who is calling: the app, user and vehicle behind a request, worked out once per request from
//! its credentials and path, for the request journal, fault matching, limits and per-app isolation.
//!
//! Only credentials the platform accepts make a request an app's: a valid, unexpired access token;
//! Basic client credentials with the right secret (or a form `client_id` with its `client_secret`);
//! the app's management token (AMT). Anything else — a public `client_id`, a Connect flow, an
//! expired token, a wrong secret — is a *claim*: the journal shows it as `claimed_app` in the
//! unattributed ring, and it spends none of the app's limits, fault rules or journal ring.
//!
//! Nothing here refuses a request: a caller without an app is answered by the handlers with the
//! right Smartcar error.

use std::sync::Arc;

use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use uuid::Uuid;

use crate::credentials::Credentials;
use crate::domain::caller::Caller;
use crate::domain::world::{Access, AccessError};
use crate::state::AppState;

/// What the pipeline learns from a request's credentials, once: who is calling, and for a bearer
/// token what the platform makes of it (its access, or why it refuses it), which the vehicle
/// handlers read instead of looking the token up again.
#[derive(Debug, Default)]
pub(crate) struct Resolution {
    pub caller: Caller,
    /// `Some` when the request carried `Authorization: Bearer …`.
    pub bearer: Option<Result<Access, AccessError>>,
}

/// Reads the caller from the `Authorization` header (bearer token or AMT, Basic client
/// credentials or `default:<AMT>`), a form's `client_id` and `client_secret`; and what it claims
/// from a `client_id` query or form field or the signed Connect flow of a Connect step. Costs one
/// token lookup for a bearer request, the only one the request makes.
pub(crate) fn resolve(state: &AppState, parts: &Parts, credentials: &Credentials, body: &[u8]) -> Resolution {
    let mut caller = Caller::default();
    let bearer = credentials.bearer_token().map(|token| state.world.authorize(token));
    match from_authorization(state, credentials, bearer.as_ref()) {
        Some(Proof::Accepted { app, user, vehicles }) => {
            caller.vehicle = vehicle_in_path(parts.uri.path()).filter(|id| vehicles.contains(id));
            caller.app = Some(app);
            caller.user = user;
            return Resolution { caller, bearer };
        }
        Some(Proof::Claimed(app)) => caller.claimed = Some(app),
        None => {}
    }
    // Only registered client ids count, so made-up ones cannot grow what the journal keeps.
    let registered = |id: String| state.fixtures.app(&id).is_some().then_some(id);
    if is_form(&parts.headers) {
        if let Some(client_id) = field(body, "client_id").and_then(registered) {
            let secret = field(body, "client_secret");
            if state
                .fixtures
                .app(&client_id)
                .is_some_and(|app| secret.as_deref() == Some(app.client_secret.as_str()))
            {
                caller.app = Some(Arc::from(client_id));
                caller.claimed = None;
                return Resolution { caller, bearer };
            }
            caller.claimed.get_or_insert(client_id);
        } else if let Some(flow) = field(body, "flow")
            && let Ok(flow) = state.flow_keys.verify(&flow, state.clock.now())
        {
            // Anyone who opens the app's Connect gets a flow: it shows which Connect the
            // request belongs to, not who sent it.
            caller.claimed.get_or_insert(flow.app);
        }
    }
    if caller.claimed.is_none() {
        caller.claimed = parts
            .uri
            .query()
            .and_then(|query| field(query.as_bytes(), "client_id"))
            .and_then(registered);
    }
    Resolution { caller, bearer }
}

/// What the `Authorization` header proves.
enum Proof {
    /// The platform accepts these credentials as the app's (and the user's, for a token).
    Accepted {
        app: Arc<str>,
        user: Option<Uuid>,
        vehicles: Arc<[Uuid]>,
    },
    /// They name an app without proving it: an expired token, a wrong secret.
    Claimed(String),
}

/// `/v2.0/vehicles/{id}/…`, `/v3/vehicles/{id}/…`: the vehicle id, when it is a UUID.
pub(crate) fn vehicle_in_path(path: &str) -> Option<Uuid> {
    let mut segments = path.trim_start_matches('/').split('/');
    let version = segments.next()?;
    if !version.starts_with('v') || segments.next()? != "vehicles" {
        return None;
    }
    Uuid::try_parse(segments.next()?).ok()
}

/// `bearer` is what the world made of a bearer token, if the header holds one.
fn from_authorization(
    state: &AppState,
    credentials: &Credentials,
    bearer: Option<&Result<Access, AccessError>>,
) -> Option<Proof> {
    if let Some(token) = credentials.bearer_token() {
        // The same check the vehicle handlers make (they read this result), so what counts is
        // exactly what is answered.
        if let Some(Ok(access)) = bearer {
            return Some(Proof::Accepted {
                app: Arc::clone(&access.app),
                user: Some(access.user),
                vehicles: Arc::clone(&access.vehicles),
            });
        }
        if let Ok(app) = crate::credentials::amt_app(state, token) {
            return Some(accepted(&app.client_id));
        }
        // Refused, so this costs a second lookup only on the way to a 401.
        let (app, _) = state.world.token_owner(token)?;
        return Some(Proof::Claimed(app));
    }
    let (id, secret) = credentials.client_credentials()?;
    let named = state.fixtures.app(&id);
    if let Some(app) = named
        && app.client_secret == secret
    {
        return Some(accepted(&app.client_id));
    }
    // `default:<AMT>` (the management API); the AMT is the secret whatever the user name.
    if let Ok(app) = crate::credentials::amt_app(state, &secret) {
        return Some(accepted(&app.client_id));
    }
    named.map(|app| Proof::Claimed(app.client_id.clone()))
}

fn accepted(app: &str) -> Proof {
    Proof::Accepted {
        app: Arc::from(app),
        user: None,
        vehicles: Arc::from([]),
    }
}

/// Whether the body is a form (`application/x-www-form-urlencoded`).
pub(crate) fn is_form(headers: &HeaderMap) -> bool {
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
