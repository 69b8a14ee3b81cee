//! The seed world: apps, brands with their test vehicles, and live-mode accounts.
//!
//! Fixtures are JSON files in one folder (`apps.json`, `brands.json`, `accounts.json`). They are
//! parsed into these types once at start-up; nothing past [`Fixtures::load`] sees raw JSON. Every
//! struct denies unknown fields, so a typo is an error, and `Fixtures::validated` checks what
//! serde cannot (cross-references, that every capability has a value to serve, …). Errors name the
//! file and the JSON path of the offending field, e.g.
//! `fixtures/brands.json: brands[1].vehicles[0].state.odometer.distance: invalid type: string "x", expected f64`.
//!
//! The repository's `fixtures/` folder is compiled into the binary ([`Fixtures::embedded`]), so
//! the server runs from anywhere with no configuration.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::domain::compatibility::Compatibility;
use crate::domain::permissions::Permission;
use crate::domain::vehicle::VehicleSpec;
use crate::domain::webhooks::WebhookSpec;

/// Everything the server starts from. Immutable once loaded; shared behind an `Arc`.
#[derive(Debug, Clone)]
pub struct Fixtures {
    pub apps: Vec<App>,
    pub brands: Vec<Brand>,
    pub accounts: Vec<Account>,
    /// `compatibility.json`: what the compatibility API answers ([`crate::domain::compatibility`]).
    pub(crate) compatibility: Arc<Compatibility>,
}

/// A Smartcar application, as registered in the Dashboard.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct App {
    pub client_id: String,
    pub client_secret: String,
    pub name: String,
    /// Compared byte for byte with a Connect `redirect_uri`
    /// (docs/contract/connect.md#validation-before-any-page). The first is the default when a
    /// request carries none.
    pub redirect_uris: Vec<String>,
    /// Granted when a Connect URL carries no `scope` (docs/contract/connect.md#scope).
    pub default_scope: Vec<Permission>,
    /// Application management token: management API credentials and webhook signing key.
    pub amt: String,
    /// The brand Connect uses when the app's flow needs one and none was chosen.
    #[serde(default = "default_brand")]
    pub default_brand: String,
    /// The app's webhooks (`domain::webhooks`).
    #[serde(default)]
    pub webhooks: Vec<WebhookSpec>,
}

fn default_brand() -> String {
    "CHEVROLET".to_owned()
}

/// A brand on the Connect brand list, with the vehicle(s) a new test-mode user of it gets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Brand {
    /// Upper-case make, as in `make=FORD` and the brand button's id.
    pub make: String,
    /// How the brand is written for people ("Mercedes-Benz").
    pub display_name: String,
    pub vehicles: Vec<Arc<VehicleSpec>>,
}

/// A live-mode login and the vehicles behind it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Account {
    pub username: String,
    pub password: String,
    pub vehicles: Vec<Arc<VehicleSpec>>,
}

/// Why the fixtures could not be loaded. Each message names the file and, where it can, the entry
/// and field.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("could not read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{file}: {path}: {message}")]
    Parse {
        file: String,
        path: String,
        message: String,
    },
    #[error("{file}: {entry}: {field}: {message}")]
    Invalid {
        file: String,
        entry: String,
        field: String,
        message: String,
    },
}

const APPS: &str = "apps.json";
const BRANDS: &str = "brands.json";
const ACCOUNTS: &str = "accounts.json";

impl Fixtures {
    /// The repository's `fixtures/`, compiled in.
    pub fn embedded() -> Result<Self, FixtureError> {
        Self::parse(
            &format!("(embedded) fixtures/{APPS}"),
            include_str!("../../../fixtures/apps.json"),
            &format!("(embedded) fixtures/{BRANDS}"),
            include_str!("../../../fixtures/brands.json"),
            &format!("(embedded) fixtures/{ACCOUNTS}"),
            include_str!("../../../fixtures/accounts.json"),
        )
    }

    /// Loads `apps.json`, `brands.json` and `accounts.json` from `dir`.
    pub fn load(dir: &Path) -> Result<Self, FixtureError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path)
                .map(|text| (path.display().to_string(), text))
                .map_err(|source| FixtureError::Read { path, source })
        };
        let (apps_file, apps) = read(APPS)?;
        let (brands_file, brands) = read(BRANDS)?;
        let (accounts_file, accounts) = read(ACCOUNTS)?;
        let mut fixtures = Self::parse(&apps_file, &apps, &brands_file, &brands, &accounts_file, &accounts)?;
        fixtures.compatibility = Arc::new(Compatibility::load(dir)?);
        Ok(fixtures)
    }

    /// Parses the three documents; the names are only used in error messages. The compatibility
    /// table is the built-in one ([`Fixtures::load`] reads a folder's own).
    pub fn parse(
        apps_file: &str,
        apps: &str,
        brands_file: &str,
        brands: &str,
        accounts_file: &str,
        accounts: &str,
    ) -> Result<Self, FixtureError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct AppsFile {
            apps: Vec<App>,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct BrandsFile {
            brands: Vec<Brand>,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct AccountsFile {
            accounts: Vec<Account>,
        }
        let fixtures = Fixtures {
            apps: parse_json::<AppsFile>(apps_file, apps)?.apps,
            brands: parse_json::<BrandsFile>(brands_file, brands)?.brands,
            accounts: parse_json::<AccountsFile>(accounts_file, accounts)?.accounts,
            compatibility: Arc::new(Compatibility::embedded()?),
        };
        fixtures.validated(apps_file, brands_file, accounts_file)
    }

    /// Registers `app`, replacing an app with the same client id (command-line overrides).
    pub fn upsert_app(&mut self, app: App) {
        self.apps.retain(|existing| existing.client_id != app.client_id);
        self.apps.insert(0, app);
    }

    pub fn app(&self, client_id: &str) -> Option<&App> {
        self.apps.iter().find(|app| app.client_id == client_id)
    }

    pub fn brand(&self, make: &str) -> Option<&Brand> {
        self.brands.iter().find(|brand| brand.make.eq_ignore_ascii_case(make))
    }

    pub fn account(&self, username: &str) -> Option<&Account> {
        self.accounts
            .iter()
            .find(|account| account.username.eq_ignore_ascii_case(username))
    }

    /// Checks what the types cannot: unique ids, known brands, values behind every capability.
    fn validated(self, apps_file: &str, brands_file: &str, accounts_file: &str) -> Result<Self, FixtureError> {
        let invalid = |file: &str, entry: String, field: &str, message: String| {
            Err(FixtureError::Invalid {
                file: file.to_owned(),
                entry,
                field: field.to_owned(),
                message,
            })
        };

        let mut client_ids = HashSet::new();
        let mut webhook_ids = HashSet::new();
        for (i, app) in self.apps.iter().enumerate() {
            let entry = format!("apps[{i}] ({})", app.client_id);
            if app.client_id.trim().is_empty() {
                return invalid(apps_file, entry, "clientId", "must not be empty".into());
            }
            if !client_ids.insert(app.client_id.as_str()) {
                return invalid(apps_file, entry, "clientId", "is used by two apps".into());
            }
            if app.redirect_uris.is_empty() {
                return invalid(apps_file, entry, "redirectUris", "needs at least one".into());
            }
            if self.brand(&app.default_brand).is_none() {
                let message = format!("{} is not in brands.json", app.default_brand);
                return invalid(apps_file, entry, "defaultBrand", message);
            }
            for (j, webhook) in app.webhooks.iter().enumerate() {
                let entry = format!("apps[{i}].webhooks[{j}] ({})", webhook.id);
                if !webhook_ids.insert(webhook.id) {
                    return invalid(apps_file, entry, "id", "is used by two webhooks".into());
                }
                if let Err((field, message)) = webhook.check() {
                    return invalid(apps_file, entry, field, message);
                }
            }
        }

        let mut makes = HashSet::new();
        for (i, brand) in self.brands.iter().enumerate() {
            let entry = format!("brands[{i}] ({})", brand.make);
            if brand.make.is_empty() || brand.make != brand.make.to_ascii_uppercase() {
                return invalid(brands_file, entry, "make", "must be upper case".into());
            }
            if !makes.insert(brand.make.as_str()) {
                return invalid(brands_file, entry, "make", "is listed twice".into());
            }
            if brand.vehicles.is_empty() {
                return invalid(brands_file, entry, "vehicles", "needs at least one".into());
            }
            for (j, vehicle) in brand.vehicles.iter().enumerate() {
                let entry = format!("brands[{i}].vehicles[{j}] ({} {})", vehicle.make, vehicle.vin);
                if vehicle.make != brand.make {
                    let message = format!("must be the brand's make {}", brand.make);
                    return invalid(brands_file, entry, "make", message);
                }
                if let Err((field, message)) = vehicle.check() {
                    return invalid(brands_file, entry, field, message);
                }
            }
        }

        for (i, account) in self.accounts.iter().enumerate() {
            for (j, vehicle) in account.vehicles.iter().enumerate() {
                let entry = format!("accounts[{i}].vehicles[{j}] ({} {})", vehicle.make, vehicle.vin);
                if self.brand(&vehicle.make).is_none() {
                    let message = format!("{} is not in brands.json", vehicle.make);
                    return invalid(accounts_file, entry, "make", message);
                }
                if let Err((field, message)) = vehicle.check() {
                    return invalid(accounts_file, entry, field, message);
                }
            }
        }
        Ok(self)
    }
}

pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(file: &str, text: &str) -> Result<T, FixtureError> {
    let deserializer = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(deserializer).map_err(|error| FixtureError::Parse {
        file: file.to_owned(),
        path: error.path().to_string(),
        message: error.into_inner().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_file(name: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures").join(name);
        std::fs::read_to_string(path).expect("fixture file exists")
    }

    fn with_brands(brands: &str) -> Result<Fixtures, FixtureError> {
        Fixtures::parse(
            "apps.json",
            &repo_file(APPS),
            "brands.json",
            brands,
            "accounts.json",
            r#"{"accounts":[]}"#,
        )
    }

    #[test]
    fn the_fixtures_in_the_repository_are_valid() {
        let fixtures = Fixtures::embedded().expect("embedded fixtures load");

        for make in [
            "CHEVROLET",
            "FORD",
            "TESLA",
            "BMW",
            "KIA",
            "NISSAN",
            "HYUNDAI",
            "AUDI",
            "TOYOTA",
            "VOLKSWAGEN",
        ] {
            assert!(fixtures.brand(make).is_some(), "{make} is a brand");
        }
    }

    #[test]
    fn a_wrongly_typed_value_is_reported_with_its_file_and_path() {
        let brands = repo_file(BRANDS).replacen(r#""distance": "#, r#""distance": "far", "x": "#, 1);

        let error = with_brands(&brands).expect_err("a string distance is refused");

        let message = error.to_string();
        assert!(
            message.starts_with("brands.json: brands[0].vehicles[0].state.odometer.distance"),
            "{message}"
        );
    }

    #[test]
    fn an_unknown_field_is_refused() {
        let brands = repo_file(BRANDS).replacen(r#""model""#, r#""colour": "red", "model""#, 1);

        let error = with_brands(&brands).expect_err("a typo is refused");

        assert!(error.to_string().contains("unknown field `colour`"), "{error}");
    }

    #[test]
    fn a_capability_without_a_value_to_serve_is_refused() {
        let brands = r#"{"brands":[{"make":"CHEVROLET","displayName":"Chevrolet","vehicles":[
            {"make":"CHEVROLET","model":"Volt","year":2019,"powertrain":"PHEV","vin":"1G1RC6S53KU100001",
             "capabilities":["odometer"],"state":{}}]}]}"#;

        let error = with_brands(brands).expect_err("odometer needs a value");

        assert_eq!(
            error.to_string(),
            "brands.json: brands[0].vehicles[0] (CHEVROLET 1G1RC6S53KU100001): state.odometer: is required by capability Odometer"
        );
    }

    #[test]
    fn an_app_whose_default_brand_does_not_exist_is_refused() {
        let apps = repo_file(APPS).replacen(r#""defaultBrand": "CHEVROLET""#, r#""defaultBrand": "DELOREAN""#, 1);

        let error = Fixtures::parse(
            "apps.json",
            &apps,
            "brands.json",
            &repo_file(BRANDS),
            "accounts.json",
            &repo_file(ACCOUNTS),
        )
        .expect_err("unknown brand");

        assert!(
            error
                .to_string()
                .contains("defaultBrand: DELOREAN is not in brands.json"),
            "{error}"
        );
    }
}
