//! Smartcar's API error catalogue as data: every `type`/`code` with its HTTP status, description,
//! resolution and user-facing message (docs/contract/api.md#errors).
//!
//! One table feeds all three envelopes the API surfaces render (v1 `error`/`message`, v2 flat, v3
//! `errors[]`), and test control serves any row of it on demand. A status is a plain number here;
//! the surfaces turn it into HTTP.

/// One row of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// The v2 `type`, e.g. `VEHICLE_STATE`.
    pub kind: &'static str,
    /// The v2 `code`; `None` is sent as JSON `null`.
    pub code: Option<&'static str>,
    pub status: u16,
    pub description: &'static str,
    /// `resolution.type`: `RETRY_LATER`, `REAUTHENTICATE`, `CONTACT_SUPPORT` or none.
    pub resolution: Option<&'static str>,
    pub suggested_user_message: Option<&'static str>,
    /// A v1.0-only `code` and `message` (`VS_000`, …) for the legacy test logins of
    /// `V1_TEST_LOGINS`; `None` for the v2 rows, whose v1 text comes from [`Entry::v1`].
    pub v1_override: Option<(&'static str, &'static str)>,
}

impl Entry {
    /// `https://smartcar.com/docs/errors/api-errors/<type>-errors#<code>`, the pattern of every
    /// `docURL` the SDKs' fixtures show (`…/permission-errors#null`, `…#vehicle-missing`).
    pub fn doc_url(&self) -> String {
        let page = self.kind.to_ascii_lowercase().replace('_', "-");
        let anchor = self
            .code
            .map_or_else(|| "null".to_owned(), |code| code.to_ascii_lowercase().replace('_', "-"));
        format!("https://smartcar.com/docs/errors/api-errors/{page}-errors#{anchor}")
    }

    /// The v1.0 body's `error` and `message` for this row (docs/contract/api.md#v1-error-body).
    pub fn v1(&self) -> (&'static str, &'static str) {
        match self.kind {
            "AUTHENTICATION" => ("authentication_error", "Invalid or expired token provided."),
            "PERMISSION" => (
                "permission_error",
                "Insufficient permissions to access requested resource.",
            ),
            "VALIDATION" => (
                "validation_error",
                "Request invalid or malformed. Please check for missing parameters, spelling and casing mistakes, and other syntax issues.",
            ),
            "RESOURCE_NOT_FOUND" => ("resource_not_found_error", "Requested resource does not exist."),
            "COMPATIBILITY" => (
                "vehicle_not_capable_error",
                "Vehicle is not capable of performing request.",
            ),
            "VEHICLE_STATE" => ("vehicle_state_error", "Vehicle state cannot be determined."),
            "RATE_LIMIT" => (
                "rate_limiting_error",
                "Request rate exceeded. Please wait before making another request.",
            ),
            "BILLING" => (
                "monthly_limit_exceeded",
                "Request volume has exceeded the monthly limit.",
            ),
            "CONNECTED_SERVICES_ACCOUNT" => (
                "vehicle_owner_action_required",
                "Vehicle owner must take action in the connected services account.",
            ),
            "UPSTREAM" => (
                "gateway_timeout_error",
                "The vehicle or the manufacturer did not respond in time.",
            ),
            _ => ("server_error", "Unexpected server error."),
        }
    }

    /// The HTTP reason phrase of the row's status, which v3 sends as `title`; 430 has none in
    /// HTTP, and Smartcar calls it a billing error.
    pub fn title(&self) -> &'static str {
        match self.status {
            400 => "Bad Request",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "Not Found",
            409 => "Conflict",
            429 => "Too Many Requests",
            500 => "Internal Server Error",
            501 => "Not Implemented",
            502 => "Bad Gateway",
            503 => "Service Unavailable",
            504 => "Gateway Timeout",
            _ => "Billing Error",
        }
    }
}

macro_rules! entry {
    ($kind:literal, $code:expr, $status:literal, $resolution:expr, $description:literal) => {
        entry!($kind, $code, $status, $resolution, $description, None)
    };
    ($kind:literal, $code:expr, $status:literal, $resolution:expr, $description:literal, $message:expr) => {
        Entry {
            kind: $kind,
            code: $code,
            status: $status,
            description: $description,
            resolution: $resolution,
            suggested_user_message: $message,
            v1_override: None,
        }
    };
}

const RETRY: Option<&str> = Some("RETRY_LATER");
const REAUTH: Option<&str> = Some("REAUTHENTICATE");
const SUPPORT: Option<&str> = Some("CONTACT_SUPPORT");

pub(crate) const AUTHENTICATION: Entry = entry!(
    "AUTHENTICATION",
    None,
    401,
    None,
    "The authorization header is missing or malformed, or it contains invalid or expired authentication credentials. Please check for missing parameters, spelling and casing mistakes, and other syntax issues."
);
pub(crate) const PERMISSION: Entry = entry!(
    "PERMISSION",
    None,
    403,
    REAUTH,
    "Your application has insufficient permissions to access the requested resource. Please prompt the user to re-authenticate using Smartcar Connect."
);
pub(crate) const VALIDATION: Entry = entry!(
    "VALIDATION",
    None,
    400,
    None,
    "Request invalid or malformed. Please check for missing parameters, spelling and casing mistakes, and other syntax issues."
);
pub(crate) const VALIDATION_PARAMETER: Entry = entry!(
    "VALIDATION",
    Some("PARAMETER"),
    400,
    None,
    "Your request contains a parameter that is missing, malformed or out of range. Please check the request against the API reference."
);
pub(crate) const NOT_FOUND_PATH: Entry = entry!(
    "RESOURCE_NOT_FOUND",
    Some("PATH"),
    404,
    None,
    "The requested resource does not exist. Please check the URL and try again."
);
pub(crate) const NOT_FOUND_VERSION: Entry = entry!(
    "RESOURCE_NOT_FOUND",
    Some("VERSION"),
    404,
    None,
    "The requested API version does not exist. Please check the version in the URL and try again."
);
pub(crate) const VEHICLE_NOT_CAPABLE: Entry = entry!(
    "COMPATIBILITY",
    Some("VEHICLE_NOT_CAPABLE"),
    501,
    None,
    "The vehicle is incapable of performing your request.",
    Some("Your vehicle does not support this feature.")
);
pub(crate) const SMARTCAR_NOT_CAPABLE: Entry = entry!(
    "COMPATIBILITY",
    Some("SMARTCAR_NOT_CAPABLE"),
    501,
    None,
    "Smartcar does not yet support this feature for this vehicle.",
    Some("This feature is not yet available for your vehicle.")
);
pub(crate) const MAKE_NOT_COMPATIBLE: Entry = entry!(
    "COMPATIBILITY",
    Some("MAKE_NOT_COMPATIBLE"),
    501,
    None,
    "Smartcar is not compatible with vehicles of this make.",
    Some("Your vehicle's make is not compatible.")
);
pub(crate) const RATE_LIMIT_VEHICLE: Entry = entry!(
    "RATE_LIMIT",
    Some("VEHICLE"),
    429,
    RETRY,
    "You have reached the throttling rate limit for this vehicle. Please see the retry-after header for when to retry the request.",
    Some("Your vehicle is temporarily unable to process this request. Please wait and try again later.")
);
pub(crate) const RATE_LIMIT_SMARTCAR_API: Entry = entry!(
    "RATE_LIMIT",
    Some("SMARTCAR_API"),
    429,
    RETRY,
    "You have reached the rate limit for this application. Please see the retry-after header for when to retry the request."
);
pub(crate) const VEHICLE_STATE_UNKNOWN: Entry = entry!(
    "VEHICLE_STATE",
    Some("UNKNOWN"),
    409,
    RETRY,
    "The vehicle was unable to perform your request due to an unknown issue.",
    Some("Your vehicle was unable to perform this request. Please try again later.")
);
pub(crate) const VEHICLE_STATE_IN_MOTION: Entry = entry!(
    "VEHICLE_STATE",
    Some("IN_MOTION"),
    409,
    RETRY,
    "The vehicle is currently in motion. Please try again when the vehicle is parked.",
    Some("Your vehicle must be parked to perform this request.")
);
pub(crate) const VEHICLE_STATE_ASLEEP: Entry = entry!(
    "VEHICLE_STATE",
    Some("ASLEEP"),
    409,
    RETRY,
    "The vehicle is in a deep sleep state and cannot be reached. Please try again after the vehicle has been started.",
    Some("Your vehicle is asleep. Please start the vehicle and try again.")
);
pub(crate) const CHARGING_PLUG_NOT_CONNECTED: Entry = entry!(
    "VEHICLE_STATE",
    Some("CHARGING_PLUG_NOT_CONNECTED"),
    409,
    None,
    "The vehicle is not plugged in. Please plug in the charging cable and try again.",
    Some("Your vehicle must be plugged in to perform this request.")
);
pub(crate) const CHARGING_IN_PROGRESS: Entry = entry!(
    "VEHICLE_STATE",
    Some("CHARGING_IN_PROGRESS"),
    409,
    None,
    "The vehicle is already charging.",
    Some("Your vehicle is already charging.")
);
pub(crate) const SERVER_INTERNAL: Entry = entry!(
    "SERVER",
    Some("INTERNAL"),
    500,
    RETRY,
    "Smartcar experienced an unexpected server error. Please retry the request."
);

/// Every row, in the order of Smartcar's error reference.
pub(crate) static CATALOGUE: &[Entry] = &[
    entry!(
        "CONNECTED_SERVICES_ACCOUNT",
        Some("ACCOUNT_ISSUE"),
        400,
        None,
        "Action required in the user's connected services account. Please prompt the user to log into their connected services account and complete any outstanding steps.",
        Some(
            "Action is required in your connected services account. Please log in to your vehicle's app and follow the prompts."
        )
    ),
    entry!(
        "CONNECTED_SERVICES_ACCOUNT",
        Some("AUTHENTICATION_FAILED"),
        400,
        REAUTH,
        "Smartcar was unable to authenticate with the user's connected services account. Please prompt the user to re-authenticate using Smartcar Connect.",
        Some("Your vehicle account credentials have changed. Please reconnect your vehicle.")
    ),
    entry!(
        "CONNECTED_SERVICES_ACCOUNT",
        Some("NO_VEHICLES"),
        400,
        None,
        "No vehicles could be found in the user's connected services account. Please prompt the user to add a vehicle to their account.",
        Some("No vehicles were found in your connected services account.")
    ),
    entry!(
        "CONNECTED_SERVICES_ACCOUNT",
        Some("PERMISSION"),
        400,
        None,
        "The user's connected services account does not grant the permission needed for this request. Please prompt the user to grant it in their connected services account.",
        Some("Your vehicle account does not allow this request. Please check its settings.")
    ),
    entry!(
        "CONNECTED_SERVICES_ACCOUNT",
        Some("SUBSCRIPTION"),
        400,
        None,
        "The vehicle's connected services subscription is inactive or does not support this request. Please prompt the user to renew it.",
        Some("Your vehicle's connected services subscription has expired or does not support this feature.")
    ),
    entry!(
        "CONNECTED_SERVICES_ACCOUNT",
        Some("VEHICLE_MISSING"),
        400,
        None,
        "This vehicle is no longer associated with the user's connected services account. Please prompt the user to re-add the vehicle to their account."
    ),
    entry!(
        "CONNECTED_SERVICES_ACCOUNT",
        Some("VIRTUAL_KEY_REQUIRED"),
        400,
        None,
        "The vehicle requires a virtual key to perform this request. Please prompt the user to add Smartcar's virtual key to their vehicle.",
        Some("Please add the virtual key to your vehicle to allow this request.")
    ),
    VALIDATION,
    VALIDATION_PARAMETER,
    AUTHENTICATION,
    PERMISSION,
    NOT_FOUND_PATH,
    NOT_FOUND_VERSION,
    VEHICLE_STATE_ASLEEP,
    entry!(
        "VEHICLE_STATE",
        Some("CHARGE_FAULT"),
        409,
        None,
        "The vehicle could not charge because of a fault in the charging system.",
        Some("Your vehicle reported a charging fault. Please check the charger and cable.")
    ),
    CHARGING_IN_PROGRESS,
    entry!(
        "VEHICLE_STATE",
        Some("CHARGING_PLUG_CONNECTED"),
        409,
        None,
        "The vehicle is plugged in. Please unplug the charging cable and try again.",
        Some("Please unplug your vehicle to perform this request.")
    ),
    CHARGING_PLUG_NOT_CONNECTED,
    entry!(
        "VEHICLE_STATE",
        Some("DOOR_OPEN"),
        409,
        None,
        "A door of the vehicle is open. Please close it and try again.",
        Some("Please close all doors and try again.")
    ),
    entry!(
        "VEHICLE_STATE",
        Some("FULLY_CHARGED"),
        409,
        None,
        "The vehicle is already fully charged.",
        Some("Your vehicle is already fully charged.")
    ),
    entry!(
        "VEHICLE_STATE",
        Some("HOOD_OPEN"),
        409,
        None,
        "The hood of the vehicle is open. Please close it and try again.",
        Some("Please close the hood and try again.")
    ),
    VEHICLE_STATE_IN_MOTION,
    entry!(
        "VEHICLE_STATE",
        Some("LOW_BATTERY"),
        409,
        None,
        "The vehicle's battery is too low to perform the request.",
        Some("Your vehicle's battery is too low for this request.")
    ),
    entry!(
        "VEHICLE_STATE",
        Some("NOT_CHARGING"),
        409,
        None,
        "The vehicle is not charging.",
        Some("Your vehicle is not charging.")
    ),
    entry!(
        "VEHICLE_STATE",
        Some("REMOTE_ACCESS_DISABLED"),
        409,
        None,
        "Remote access is disabled on the vehicle. Please prompt the user to enable it.",
        Some("Please enable remote access in your vehicle's settings.")
    ),
    entry!(
        "VEHICLE_STATE",
        Some("TRUNK_OPEN"),
        409,
        None,
        "The trunk of the vehicle is open. Please close it and try again.",
        Some("Please close the trunk and try again.")
    ),
    VEHICLE_STATE_UNKNOWN,
    entry!(
        "VEHICLE_STATE",
        Some("UNREACHABLE"),
        409,
        RETRY,
        "The vehicle could not be reached. It may be out of cellular coverage. Please try again later.",
        Some("Your vehicle could not be reached. Please try again later.")
    ),
    RATE_LIMIT_SMARTCAR_API,
    RATE_LIMIT_VEHICLE,
    entry!(
        "BILLING",
        Some("ACCOUNT_SUSPENDED"),
        430,
        SUPPORT,
        "Your Smartcar account has been suspended. Please contact support."
    ),
    entry!(
        "BILLING",
        Some("INVALID_PLAN"),
        430,
        SUPPORT,
        "Your Smartcar plan does not include this feature. Please upgrade your plan."
    ),
    entry!(
        "BILLING",
        Some("VEHICLE_LIMIT"),
        430,
        SUPPORT,
        "You have reached the number of vehicles your plan allows. Please upgrade your plan or disconnect vehicles."
    ),
    entry!(
        "BILLING",
        Some("VEHICLE_REQUEST_LIMIT"),
        430,
        SUPPORT,
        "You have reached the monthly request limit for this vehicle. Please upgrade your plan or wait until next month."
    ),
    MAKE_NOT_COMPATIBLE,
    SMARTCAR_NOT_CAPABLE,
    VEHICLE_NOT_CAPABLE,
    entry!(
        "UPSTREAM",
        Some("INVALID_DATA"),
        502,
        RETRY,
        "The vehicle's manufacturer returned invalid data. Please try again later.",
        Some("Your vehicle's data is temporarily unavailable. Please try again later.")
    ),
    entry!(
        "UPSTREAM",
        Some("KNOWN_ISSUE"),
        502,
        RETRY,
        "The vehicle's manufacturer is experiencing a known issue. Please try again later.",
        Some("Your vehicle's manufacturer is having issues. Please try again later.")
    ),
    entry!(
        "UPSTREAM",
        Some("NO_RESPONSE"),
        502,
        RETRY,
        "The vehicle's manufacturer did not respond. Please try again later.",
        Some("Your vehicle's manufacturer did not respond. Please try again later.")
    ),
    entry!(
        "UPSTREAM",
        Some("RATE_LIMIT"),
        502,
        RETRY,
        "The vehicle's manufacturer has rate limited this request. Please reduce your polling frequency.",
        Some("Your vehicle's manufacturer is limiting requests. Please try again later.")
    ),
    entry!(
        "UPSTREAM",
        Some("UNKNOWN_ISSUE"),
        502,
        RETRY,
        "The vehicle's manufacturer returned an unexpected error. Please try again later.",
        Some("Something went wrong with your vehicle's manufacturer. Please try again later.")
    ),
    SERVER_INTERNAL,
];

/// The v1.0 test-mode logins `smartcar@<domain>` (docs/contract/test-mode.md#v1-test-logins):
/// every non-static request of their vehicles fails. On `/v1.0` the body carries the v1 `code` and
/// message; on v2 the row of the nearest v2 type/code. Messages other than `VS_000`'s are unverified.
const V1_LOGINS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "vs-000.vehicle-state-error.com",
        "VEHICLE_STATE",
        "UNKNOWN",
        "VS_000",
        "Vehicle state cannot be determined.",
    ),
    (
        "vs-001.vehicle-state-error.com",
        "VEHICLE_STATE",
        "DOOR_OPEN",
        "VS_001",
        "Vehicle is unable to perform this action while a door is open.",
    ),
    (
        "vs-002.vehicle-state-error.com",
        "VEHICLE_STATE",
        "TRUNK_OPEN",
        "VS_002",
        "Vehicle is unable to perform this action while the trunk is open.",
    ),
    (
        "vs-003.vehicle-state-error.com",
        "VEHICLE_STATE",
        "HOOD_OPEN",
        "VS_003",
        "Vehicle is unable to perform this action while the hood is open.",
    ),
    (
        "voa-000.vehicle-owner-action-required.com",
        "CONNECTED_SERVICES_ACCOUNT",
        "ACCOUNT_ISSUE",
        "VOA_000",
        "Vehicle owner must accept the connected services terms of service.",
    ),
    (
        "voa-001.vehicle-owner-action-required.com",
        "CONNECTED_SERVICES_ACCOUNT",
        "SUBSCRIPTION",
        "VOA_001",
        "Vehicle owner must activate the connected services subscription.",
    ),
];

static V1_TEST_LOGINS: std::sync::LazyLock<Vec<(&'static str, Entry)>> = std::sync::LazyLock::new(|| {
    V1_LOGINS
        .iter()
        .filter_map(|(domain, kind, code, v1_code, message)| {
            let entry = find(kind, Some(code))?;
            Some((
                *domain,
                Entry {
                    v1_override: Some((*v1_code, *message)),
                    ..*entry
                },
            ))
        })
        .collect()
});

/// The entry a `smartcar@<domain>` v1 test login forces, if `domain` is one.
pub(crate) fn v1_test_login(domain: &str) -> Option<&'static Entry> {
    V1_TEST_LOGINS
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(domain))
        .map(|(_, entry)| entry)
}

/// The row for a `type` and `code` (`None`, `"null"` and `""` all mean no code).
pub(crate) fn find(kind: &str, code: Option<&str>) -> Option<&'static Entry> {
    let code = code.filter(|code| !code.is_empty() && *code != "null");
    CATALOGUE.iter().find(|entry| {
        entry.kind.eq_ignore_ascii_case(kind)
            && match (entry.code, code) {
                (None, None) => true,
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                _ => false,
            }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_is_listed_once() {
        for (i, entry) in CATALOGUE.iter().enumerate() {
            assert_eq!(find(entry.kind, entry.code), Some(&CATALOGUE[i]), "{entry:?}");
        }
    }

    #[test]
    fn doc_urls_follow_smartcars_pattern() {
        assert_eq!(
            PERMISSION.doc_url(),
            "https://smartcar.com/docs/errors/api-errors/permission-errors#null"
        );
        let missing = find("CONNECTED_SERVICES_ACCOUNT", Some("VEHICLE_MISSING")).expect("listed");
        assert_eq!(
            missing.doc_url(),
            "https://smartcar.com/docs/errors/api-errors/connected-services-account-errors#vehicle-missing"
        );
    }

    #[test]
    fn every_v1_test_login_has_a_v2_row() {
        assert_eq!(V1_TEST_LOGINS.len(), V1_LOGINS.len());
        let vs000 = v1_test_login("vs-000.vehicle-state-error.com").expect("listed");
        assert_eq!(
            vs000.v1_override,
            Some(("VS_000", "Vehicle state cannot be determined."))
        );
        assert_eq!(vs000.status, 409);
    }

    #[test]
    fn billing_errors_use_status_430() {
        assert!(
            CATALOGUE
                .iter()
                .filter(|e| e.kind == "BILLING")
                .all(|e| e.status == 430)
        );
    }
}
