//! The backend's settings, named like the official Smartcar SDKs' and tutorials' variables
//! (docs/contract/tutorial-flow.md#the-tutorials-backends), so a `.env` written for
//! `getting-started-node-sdk` works here too.

use std::convert::Infallible;
use std::fmt;

use std::str::FromStr;

use reqwest::Url;

pub use mock_server::net::CaCert;

use crate::cors::Origin;

/// Where the platform is and which app this backend is. The defaults describe the one-command
/// demo: the mock on `localhost:4000` (started in-process by `main`) and its built-in app.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// The app's client id.
    #[arg(long, env = "SMARTCAR_CLIENT_ID", default_value = "demo-client")]
    pub client_id: String,

    /// The app's client secret.
    #[arg(
        long,
        env = "SMARTCAR_CLIENT_SECRET",
        default_value = "demo-secret",
        hide_env_values = true
    )]
    pub client_secret: Secret,

    /// Where Connect sends the owner back; sent again, unchanged, with the code (RFC 6749 §4.1.3).
    /// The demo page needs the JS SDK's redirect page (`…/v2/redirect?app_origin=<this backend>`);
    /// `GET /login` needs this backend's `/exchange`.
    #[arg(
        long,
        env = "SMARTCAR_REDIRECT_URI",
        default_value = "http://localhost:4000/v2/redirect?app_origin=http://localhost:8000"
    )]
    pub redirect_uri: Url,

    /// Where browsers open Connect (`/oauth/authorize` is appended).
    #[arg(long, env = "SMARTCAR_CONNECT_ORIGIN", default_value = DEFAULT_PLATFORM)]
    pub connect_origin: Url,

    /// The token endpoint's origin (`/oauth/token` is appended). A full token URL, as the Python
    /// SDK reads this variable, works too.
    #[arg(long, env = "SMARTCAR_AUTH_ORIGIN", default_value = DEFAULT_PLATFORM)]
    pub auth_origin: Url,

    /// The vehicle API's origin (`/v2.0/…` is appended).
    #[arg(long, env = "SMARTCAR_API_ORIGIN", default_value = DEFAULT_PLATFORM)]
    pub api_origin: Url,

    /// Connect's mode: `test` and `simulated` accept any login, `live` only real accounts.
    #[arg(long, env = "SMARTCAR_MODE", value_enum, default_value_t = Mode::Test)]
    pub mode: Mode,

    /// The permissions to ask for, separated by spaces.
    #[arg(
        long,
        env = "SMARTCAR_SCOPE",
        value_delimiter = ' ',
        default_value = "read_vehicle_info"
    )]
    pub scope: Vec<String>,

    /// Also trust the certificates in this PEM file (beside the system's) for `https://` origins:
    /// a local platform's CA, or the mock's own `--tls-cert-out`.
    #[arg(long, env = "SMARTCAR_CA_CERT", value_name = "FILE", value_parser = mock_server::net::parse_ca_cert)]
    pub ca_cert: Option<CaCert>,

    /// A front-end origin that may call this backend from a browser (CORS), besides
    /// `http://localhost:3000` (the React tutorial's) and this backend's own. Repeat the flag, or
    /// separate origins with commas.
    #[arg(
        long = "allow-origin",
        env = "SMARTCAR_ALLOWED_ORIGINS",
        value_name = "ORIGIN",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<Origin>,
}

/// The mock's default address as browsers and this backend reach it.
const DEFAULT_PLATFORM: &str = "http://localhost:4000";

/// Connect's `mode` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    Test,
    Simulated,
    Live,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Test => "test",
            Mode::Simulated => "simulated",
            Mode::Live => "live",
        }
    }
}

/// A client secret: readable where it is sent, hidden from `Debug` so it never reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl FromStr for Secret {
    type Err = Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(Secret(text.to_owned()))
    }
}

impl From<&str> for Secret {
    fn from(text: &str) -> Self {
        Secret(text.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use std::path::Path;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        config: Config,
    }

    #[test]
    fn the_defaults_describe_the_one_command_demo() {
        let config = Cli::try_parse_from(["demo-backend"])
            .expect("no argument is required")
            .config;

        assert_eq!(config.client_id, "demo-client");
        assert_eq!(config.client_secret.expose(), "demo-secret");
        assert_eq!(config.api_origin.as_str(), "http://localhost:4000/");
        assert_eq!(
            config.redirect_uri.query_pairs().collect::<Vec<_>>(),
            [("app_origin".into(), "http://localhost:8000".into())]
        );
    }

    #[test]
    fn the_secret_stays_out_of_debug_output() {
        let secret = Secret::from("demo-secret");

        assert!(!format!("{secret:?}").contains("demo-secret"));
    }

    #[test]
    fn an_unreadable_ca_file_is_a_start_up_error_naming_it() {
        let error = Cli::try_parse_from(["demo-backend", "--ca-cert", "/no/such/ca.pem"])
            .err()
            .expect("refused")
            .to_string();

        assert!(error.contains("cannot read /no/such/ca.pem"), "{error}");
    }

    #[test]
    fn a_ca_file_without_a_certificate_is_refused() {
        let error = CaCert::from_pem(b"not a certificate", Path::new("ca.pem")).expect_err("refused");

        assert_eq!(error, "ca.pem holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
    }

    #[test]
    fn a_scope_is_split_on_spaces() {
        let config = Cli::try_parse_from(["demo-backend", "--scope", "read_vehicle_info read_odometer"])
            .expect("arguments parse")
            .config;

        assert_eq!(config.scope, ["read_vehicle_info", "read_odometer"]);
    }
}
