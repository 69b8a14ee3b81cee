//! Signing in to Connect, one function for every way in: the Connect pages, `--auto-approve`
//! and `POST /admin/authorize` all call `sign_in` (the last two through `approve`), so the
//! login grammar, the caps and the Connect errors are the same everywhere.
//!
//! What a login needs to prove is the caller's to say, in [`Credentials`]:
//! - the pages pass the password the person typed ([`Credentials::Password`]): live mode signs
//!   in only a fixture account, with its password; test and simulated modes take any password;
//! - test control vouches for the login ([`Credentials::Vouched`]): no password is asked; in
//!   live mode a fixture account signs in as itself, and any other login as a new owner of the
//!   brand's test vehicles (test control stands in for the account the manufacturer would hold).
//!
//! The test-login grammar (`domain::logins`: `<n>-vehicles@smartcar.com`,
//! `<TYPE>.<CODE>@smartcar.com`, `smartcar@invalid-subscription.com`, …) is test mode's, and
//! simulated mode's: in live mode every login is an e-mail like any other, as on the real
//! platform.
//!
//! The checks, in order: the login is there and within [`MAX_LOGIN_BYTES`], the password within
//! [`MAX_PASSWORD_BYTES`]; a Connect fault queued for the app and login (test control) ends the
//! sign-in; the credentials; the vehicles (none is `no_vehicles`).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::faults::Faults;
use crate::domain::fixtures::{Brand, Fixtures};
use crate::domain::logins::TestLogin;
use crate::domain::permissions::Permission;
use crate::domain::vehicle::{Vehicle, VehicleSpec};
use crate::domain::world::{Mode, UserForgotten, World};

/// The longest username or e-mail any sign-in accepts, in bytes: the longest e-mail address
/// that fits SMTP's path limit (RFC 5321 §4.5.3.1.3).
pub(crate) const MAX_LOGIN_BYTES: usize = 254;
/// The longest password the sign-in form accepts, in bytes. It is never stored; the cap only
/// keeps a request from making the server compare or carry megabytes.
pub const MAX_PASSWORD_BYTES: usize = 1024;

use crate::domain::logins::INCOMPATIBLE_VIN;

/// What the login has to prove.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Credentials<'a> {
    /// The password typed on Connect's sign-in form.
    Password(&'a str),
    /// Test control (`--auto-approve`, `/admin/authorize`) vouches for the login.
    Vouched,
}

/// One sign-in at one app's Connect, for one brand.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SignIn<'a> {
    /// The app's client id.
    pub app: &'a str,
    pub brand: &'a Brand,
    pub mode: Mode,
    /// As given; surrounding spaces are not part of it.
    pub login: &'a str,
    pub credentials: Credentials<'a>,
}

/// Who signed in and the vehicles Connect found for them.
#[derive(Debug, Clone)]
pub(crate) struct SignedIn {
    pub user: Uuid,
    /// The login as the user is known by (trimmed).
    pub login: String,
    pub vehicles: Vec<Vehicle>,
}

/// Why a sign-in did not happen. The surfaces word these for their readers (the page, a
/// redirect, an admin error); the texts here are for logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SignInError {
    #[error("no e-mail was given")]
    MissingLogin,
    #[error("the e-mail has {bytes} bytes; logins have at most {MAX_LOGIN_BYTES}")]
    LoginTooLong { bytes: usize },
    #[error("the password has more than {MAX_PASSWORD_BYTES} bytes")]
    PasswordTooLong,
    /// Live mode: not a fixture account, or not its password.
    #[error("the e-mail or password is incorrect")]
    WrongCredentials,
    /// Connect ends, and the app is told with this error.
    #[error("Connect ended with {}: {}", .0.as_str(), .0.description())]
    Refused(ConnectErrorCode),
    /// The user was forgotten to keep the app within `--max-users` before the code was issued.
    #[error(transparent)]
    Forgotten(#[from] UserForgotten),
}

/// Signs `request.login` in and finds their vehicles at the brand (creating the user and their
/// copies of the vehicles on first sign-in), or says why not. See the module's documentation for
/// the order of the checks.
pub(crate) fn sign_in(
    fixtures: &Fixtures,
    world: &World,
    faults: &Faults,
    request: &SignIn<'_>,
) -> Result<SignedIn, SignInError> {
    let login = request.login.trim();
    if login.is_empty() {
        return Err(SignInError::MissingLogin);
    }
    if login.len() > MAX_LOGIN_BYTES {
        return Err(SignInError::LoginTooLong { bytes: login.len() });
    }
    if let Credentials::Password(password) = request.credentials
        && password.len() > MAX_PASSWORD_BYTES
    {
        return Err(SignInError::PasswordTooLong);
    }
    if let Some((_, code)) = faults.take_connect(request.app, login) {
        return Err(SignInError::Refused(code));
    }
    let (specs, forced_error) = match request.mode {
        Mode::Live => (
            live_vehicles(fixtures, request.brand, login, request.credentials)?,
            None,
        ),
        Mode::Test | Mode::Simulated => {
            let grammar = TestLogin::parse(login);
            let forced_error = match grammar {
                TestLogin::InvalidSubscription => {
                    return Err(SignInError::Refused(ConnectErrorCode::InvalidSubscription));
                }
                TestLogin::VehicleIncompatible => {
                    return Err(SignInError::Refused(ConnectErrorCode::VehicleIncompatible));
                }
                TestLogin::ForcedError(entry) => Some(entry),
                _ => None,
            };
            (grammar.vehicles(request.brand, fixtures), forced_error)
        }
    };
    if specs.is_empty() {
        return Err(SignInError::Refused(ConnectErrorCode::NoVehicles));
    }
    let (user, vehicles) = world.sign_in(request.app, request.mode, login, forced_error, &specs);
    Ok(SignedIn {
        user,
        login: login.to_owned(),
        vehicles,
    })
}

/// Live mode: the fixture account's vehicles of the brand; a vouched login that is no account
/// gets the brand's test vehicles.
fn live_vehicles(
    fixtures: &Fixtures,
    brand: &Brand,
    login: &str,
    credentials: Credentials<'_>,
) -> Result<Vec<Arc<VehicleSpec>>, SignInError> {
    let account = fixtures.account(login);
    let account = match credentials {
        Credentials::Password(password) => Some(
            account
                .filter(|account| account.password == password)
                .ok_or(SignInError::WrongCredentials)?,
        ),
        Credentials::Vouched => account,
    };
    Ok(match account {
        Some(account) => account
            .vehicles
            .iter()
            .filter(|vehicle| vehicle.make == brand.make)
            .cloned()
            .collect(),
        None => brand.vehicles.clone(),
    })
}

/// A sign-in that Allows at once, for test control: every vehicle found, with `scope`.
#[derive(Debug, Clone)]
pub(crate) struct Approval<'a> {
    pub sign_in: SignIn<'a>,
    pub scope: Vec<Permission>,
    /// Registered for the app (the caller checks); the code is bound to it.
    pub redirect_uri: &'a str,
}

/// A code issued for every vehicle of the user.
#[derive(Debug, Clone)]
pub(crate) struct Approved {
    pub code: Uuid,
    pub user: Uuid,
    pub login: String,
    pub vehicles: Vec<Uuid>,
}

/// Signs in, finds the vehicles and allows them all: what a person does on the Connect pages,
/// in one call.
pub(crate) fn approve(
    fixtures: &Fixtures,
    world: &World,
    faults: &Faults,
    approval: &Approval<'_>,
) -> Result<Approved, SignInError> {
    let signed_in = sign_in(fixtures, world, faults, &approval.sign_in)?;
    let vehicles: Vec<Uuid> = signed_in.vehicles.iter().map(|vehicle| vehicle.id).collect();
    let code = world.issue_code(
        approval.sign_in.app,
        approval.redirect_uri,
        signed_in.user,
        &approval.scope,
        vehicles.clone(),
    )?;
    Ok(Approved {
        code,
        user: signed_in.user,
        login: signed_in.login,
        vehicles,
    })
}

/// An `error` a Connect redirect can carry back to the app
/// (docs/contract/connect.md#connect-errors), with the description and extra parameters Smartcar
/// sends with it.
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

#[cfg(test)]
mod tests {
    use time::Duration;

    use super::*;
    use crate::domain::clock::Clock;
    use crate::domain::faults::ConnectFaultSpec;

    const APP: &str = "demo-client";

    struct Platform {
        fixtures: Fixtures,
        world: World,
        faults: Faults,
    }

    fn platform() -> Platform {
        Platform {
            fixtures: Fixtures::embedded().expect("the built-in fixtures load"),
            world: World::new(Clock::default(), Duration::minutes(1), 100),
            faults: Faults::default(),
        }
    }

    impl Platform {
        fn sign_in(
            &self,
            make: &str,
            mode: Mode,
            login: &str,
            credentials: Credentials<'_>,
        ) -> Result<SignedIn, SignInError> {
            let brand = self.fixtures.brand(make).expect("a brand");
            let request = SignIn {
                app: APP,
                brand,
                mode,
                login,
                credentials,
            };
            sign_in(&self.fixtures, &self.world, &self.faults, &request)
        }
    }

    fn vins(signed_in: &SignedIn) -> Vec<&str> {
        signed_in
            .vehicles
            .iter()
            .map(|vehicle| vehicle.spec.vin.as_str())
            .collect()
    }

    #[test]
    fn live_mode_on_the_pages_needs_the_account_s_password() {
        let platform = platform();

        let wrong = platform.sign_in("FORD", Mode::Live, "driver@example.com", Credentials::Password("guess"));
        let stranger = platform.sign_in("FORD", Mode::Live, "jane@example.com", Credentials::Password("x"));
        let right = platform.sign_in(
            "FORD",
            Mode::Live,
            "driver@example.com",
            Credentials::Password("correct horse"),
        );

        assert_eq!(wrong.err(), Some(SignInError::WrongCredentials));
        assert_eq!(stranger.err(), Some(SignInError::WrongCredentials));
        let right = right.expect("the account's password");
        assert_eq!(right.vehicles.len(), 1);
        assert_eq!(
            right.vehicles[0].spec.make, "FORD",
            "only the account's vehicles of the brand"
        );
    }

    #[test]
    fn live_mode_vouched_for_signs_an_account_in_as_itself_and_anyone_else_with_the_brand_s_vehicles() {
        let platform = platform();
        let brand_vins: Vec<&str> = platform
            .fixtures
            .brand("FORD")
            .expect("FORD")
            .vehicles
            .iter()
            .map(|v| v.vin.as_str())
            .collect();

        let account = platform
            .sign_in("FORD", Mode::Live, "driver@example.com", Credentials::Vouched)
            .expect("an account");
        let stranger = platform
            .sign_in("FORD", Mode::Live, "jane@example.com", Credentials::Vouched)
            .expect("vouched for");

        assert_ne!(vins(&account), brand_vins, "the account's own Ford");
        assert_eq!(vins(&stranger), brand_vins);
    }

    #[test]
    fn live_mode_ignores_the_test_login_grammar() {
        let platform = platform();

        let many = platform.sign_in("FORD", Mode::Live, "3-vehicles@smartcar.com", Credentials::Vouched);
        let refused = platform.sign_in(
            "FORD",
            Mode::Live,
            "smartcar@invalid-subscription.com",
            Credentials::Vouched,
        );

        assert_eq!(many.expect("an ordinary login").vehicles.len(), 1);
        assert!(refused.is_ok(), "no Connect error in live mode");
    }

    #[test]
    fn test_mode_follows_the_grammar_with_any_password_or_none() {
        let platform = platform();

        let typed = platform.sign_in(
            "FORD",
            Mode::Test,
            "3-vehicles@smartcar.com",
            Credentials::Password("anything"),
        );
        let vouched = platform.sign_in("FORD", Mode::Simulated, "3-vehicles@smartcar.com", Credentials::Vouched);
        let refused = platform.sign_in(
            "FORD",
            Mode::Test,
            "smartcar@vehicle-incompatible.com",
            Credentials::Vouched,
        );

        assert_eq!(typed.expect("any password").vehicles.len(), 3);
        assert_eq!(vouched.expect("simulated mode too").vehicles.len(), 3);
        assert_eq!(
            refused.err(),
            Some(SignInError::Refused(ConnectErrorCode::VehicleIncompatible))
        );
    }

    #[test]
    fn a_forced_error_login_remembers_its_error_on_the_user() {
        let platform = platform();

        let signed_in = platform
            .sign_in(
                "FORD",
                Mode::Test,
                "VEHICLE_STATE.ASLEEP@smartcar.com",
                Credentials::Vouched,
            )
            .expect("a test login");
        let code = platform
            .world
            .issue_code(APP, "https://example.com/auth", signed_in.user, &[], Vec::new())
            .expect("a known user");
        let tokens = platform
            .world
            .redeem_code(APP, &code.to_string(), Some("https://example.com/auth"))
            .expect("a fresh code");
        let access = platform
            .world
            .authorize(&tokens.access_token.to_string())
            .expect("a fresh token");

        assert_eq!(access.forced_error.and_then(|entry| entry.code), Some("ASLEEP"));
    }

    #[test]
    fn an_account_without_a_vehicle_of_the_brand_finds_no_vehicles() {
        let platform = platform();

        let result = platform.sign_in("TESLA", Mode::Live, "driver@example.com", Credentials::Vouched);

        assert_eq!(result.err(), Some(SignInError::Refused(ConnectErrorCode::NoVehicles)));
    }

    #[test]
    fn a_queued_connect_fault_ends_the_sign_in_before_the_credentials_are_checked() {
        let platform = platform();
        platform
            .faults
            .add_connect(ConnectFaultSpec {
                app: APP.to_owned(),
                email: Some("Driver@Example.com".to_owned()),
                error: ConnectErrorCode::ServerError,
                times: None,
            })
            .expect("a sound rule");

        let refused = platform.sign_in(
            "FORD",
            Mode::Live,
            " driver@example.com ",
            Credentials::Password("guess"),
        );
        let next = platform.sign_in("FORD", Mode::Live, "driver@example.com", Credentials::Password("guess"));

        assert_eq!(refused.err(), Some(SignInError::Refused(ConnectErrorCode::ServerError)));
        assert_eq!(next.err(), Some(SignInError::WrongCredentials), "the fault is used up");
    }

    #[test]
    fn the_caps_come_before_anything_else() {
        let platform = platform();
        let long_login = format!("{}@example.com", "a".repeat(MAX_LOGIN_BYTES));
        let long_password = "p".repeat(MAX_PASSWORD_BYTES + 1);

        let blank = platform.sign_in("FORD", Mode::Test, "   ", Credentials::Vouched);
        let login = platform.sign_in("FORD", Mode::Test, &long_login, Credentials::Vouched);
        let password = platform.sign_in(
            "FORD",
            Mode::Test,
            "jane@example.com",
            Credentials::Password(&long_password),
        );

        assert_eq!(blank.err(), Some(SignInError::MissingLogin));
        assert_eq!(
            login.err(),
            Some(SignInError::LoginTooLong {
                bytes: long_login.len()
            })
        );
        assert_eq!(password.err(), Some(SignInError::PasswordTooLong));
        assert!(platform.world.vehicles(Some(APP)).is_empty(), "nobody signed in");
    }

    #[test]
    fn approving_issues_a_code_for_every_vehicle_found() {
        let platform = platform();
        let brand = platform.fixtures.brand("FORD").expect("FORD");
        let approval = Approval {
            sign_in: SignIn {
                app: APP,
                brand,
                mode: Mode::Test,
                login: "2-vehicles@smartcar.com",
                credentials: Credentials::Vouched,
            },
            scope: vec![Permission::ReadOdometer],
            redirect_uri: "https://example.com/auth",
        };

        let approved = approve(&platform.fixtures, &platform.world, &platform.faults, &approval).expect("approved");
        let tokens = platform
            .world
            .redeem_code(APP, &approved.code.to_string(), Some("https://example.com/auth"))
            .expect("a fresh code");

        assert_eq!(approved.vehicles.len(), 2);
        assert_eq!(tokens.vehicles, approved.vehicles);
    }
}
