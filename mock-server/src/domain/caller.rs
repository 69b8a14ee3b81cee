//! Who a request is from: the app, user and vehicle its credentials prove, worked out once per
//! request (by the surfaces, which read the credentials) for the request journal, fault
//! matching, limits and per-app isolation.
//!
//! Only credentials the platform accepts make a request an app's; anything else is a *claim*,
//! kept for the journal only.

use std::sync::Arc;

use uuid::Uuid;

/// The request's app (client id), user and vehicle, where its credentials prove them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Caller {
    /// The app whose credentials the request carried.
    pub(crate) app: Option<Arc<str>>,
    /// The user of a valid access token.
    pub(crate) user: Option<Uuid>,
    /// The vehicle of a `/v…/vehicles/{id}` path, when the access token reaches it.
    pub(crate) vehicle: Option<Uuid>,
    /// A registered client id the request named without proving it is that app's: a `client_id`
    /// field, a Connect flow, an expired token or a wrong secret. For the journal only.
    pub(crate) claimed: Option<String>,
}
