//! The Connect pages, one askama template each (`templates/connect/`). All text from a request
//! goes through askama's HTML escaping; nothing is loaded from outside.

use askama::Template;
use askama_web::WebTemplate;

use crate::domain::permissions::Permission;

/// Step 1: who is asking, for what; `button#continue-button`.
#[derive(Template, WebTemplate)]
#[template(path = "connect/preamble.html")]
pub(super) struct PreamblePage {
    pub(super) app_name: String,
    pub(super) permissions: Vec<PermissionView>,
    pub(super) flow: String,
}

/// Step 2: the brand list; `input#brand-search` and one `button#<MAKE>.brand-list-item` each.
#[derive(Template, WebTemplate)]
#[template(path = "connect/brand.html")]
pub(super) struct BrandPage {
    pub(super) brands: Vec<BrandView>,
    pub(super) flow: String,
}

/// Step 3: the brand's sign-in form; `input#username`, `input#password`, `button#sign-in-button`.
#[derive(Template, WebTemplate)]
#[template(path = "connect/login.html")]
pub(super) struct LoginPage {
    pub(super) brand: String,
    pub(super) live: bool,
    pub(super) error: Option<String>,
    pub(super) username: String,
    pub(super) flow: String,
}

/// Step 4: vehicles and permissions, `.page-content`, `button#approval-button`, `button#deny-button`.
#[derive(Template, WebTemplate)]
#[template(path = "connect/grant.html")]
pub(super) struct GrantPage {
    pub(super) app_name: String,
    pub(super) vehicles: Vec<VehicleView>,
    pub(super) permissions: Vec<PermissionView>,
    pub(super) single_select: bool,
    pub(super) flow: String,
}

/// A request Connect cannot redirect back to (unknown app, unregistered redirect URI, a broken
/// flow): shown with status 400 (RFC 6749 §4.1.2.1).
#[derive(Template, WebTemplate)]
#[template(path = "connect/error.html")]
pub(super) struct ErrorPage {
    pub(super) title: String,
    pub(super) message: String,
}

pub(super) struct BrandView {
    pub(super) make: String,
    pub(super) name: String,
}

pub(super) struct VehicleView {
    pub(super) id: String,
    pub(super) label: String,
    pub(super) vin: String,
    pub(super) selected: bool,
}

pub(super) struct PermissionView {
    pub(super) name: &'static str,
    pub(super) label: &'static str,
}

impl PermissionView {
    pub(super) fn of(permission: Permission) -> Self {
        use Permission::*;
        let label = match permission {
            ReadVehicleInfo => "Make, model and year",
            ReadVin => "VIN",
            ReadOdometer => "Odometer",
            ReadLocation => "Location",
            ReadFuel => "Fuel tank level",
            ReadBattery => "EV battery level and capacity",
            ReadCharge => "EV charging status",
            ControlCharge => "Start and stop charging, set the charge limit",
            ReadEngineOil => "Engine oil life",
            ReadTires => "Tire pressure",
            ReadSecurity => "Lock status",
            ControlSecurity => "Lock and unlock",
            ControlNavigation => "Send destinations to navigation",
            ReadServiceHistory => "Service history",
            ReadDiagnostics => "Diagnostics and trouble codes",
            ReadUserProfile => "Your profile information",
            ReadCompass => "Compass heading",
            ReadSpeedometer => "Speed",
            ReadThermometer => "Temperatures",
            ReadExtendedVehicleInfo => "Vehicle configuration",
            ControlTrunk => "Open the trunk",
            ReadClimate => "Climate settings",
            ControlClimate => "Change climate settings",
        };
        PermissionView {
            name: permission.as_str(),
            label,
        }
    }
}
