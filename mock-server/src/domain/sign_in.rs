//! Signing in to Connect and the errors Connect ends in.

use serde::{Deserialize, Serialize};

/// The longest username or e-mail any sign-in accepts, in bytes: the longest e-mail address
/// that fits SMTP's path limit (RFC 5321 §4.5.3.1.3).
pub const MAX_LOGIN_BYTES: usize = 254;
/// The longest password the sign-in form accepts, in bytes. It is never stored; the cap only
/// keeps a request from making the server compare or carry megabytes.
pub const MAX_PASSWORD_BYTES: usize = 1024;

use crate::domain::logins::INCOMPATIBLE_VIN;

/// An `error` a Connect redirect can carry back to the app (test-mode.md A4), with the
/// description and extra parameters Smartcar sends with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectErrorCode {
    AccessDenied,
    InvalidSubscription,
    VehicleIncompatible,
    NoVehicles,
    ConfigurationError,
    ServerError,
}

impl ConnectErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectErrorCode::AccessDenied => "access_denied",
            ConnectErrorCode::InvalidSubscription => "invalid_subscription",
            ConnectErrorCode::VehicleIncompatible => "vehicle_incompatible",
            ConnectErrorCode::NoVehicles => "no_vehicles",
            ConnectErrorCode::ConfigurationError => "configuration_error",
            ConnectErrorCode::ServerError => "server_error",
        }
    }

    /// The `error_description` Smartcar sends.
    pub fn description(self) -> &'static str {
        match self {
            ConnectErrorCode::AccessDenied => "User denied access to application.",
            ConnectErrorCode::InvalidSubscription => "User does not have an active connected vehicle subscription.",
            ConnectErrorCode::VehicleIncompatible => "The user's vehicle is not compatible.",
            ConnectErrorCode::NoVehicles => "No vehicles found. Please add vehicles to your account and try again.",
            ConnectErrorCode::ConfigurationError => "There is a problem with the configuration of this application.",
            ConnectErrorCode::ServerError => "Unexpected server error. Please try again.",
        }
    }

    /// The parameters the redirect adds after `error_description`: the incompatible vehicle, or
    /// the status of a configuration error.
    pub fn extra(self) -> Vec<(&'static str, String)> {
        match self {
            ConnectErrorCode::VehicleIncompatible => vec![
                ("vin", INCOMPATIBLE_VIN.to_owned()),
                ("make", "AUDI".to_owned()),
                ("model", "A4".to_owned()),
                ("year", "2017".to_owned()),
            ],
            ConnectErrorCode::ConfigurationError => vec![
                ("status_code", "400".to_owned()),
                ("error_message", "A test-control fault ended Connect.".to_owned()),
            ],
            _ => Vec::new(),
        }
    }
}
