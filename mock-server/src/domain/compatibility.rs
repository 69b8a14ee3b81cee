//! What Smartcar supports for a vehicle, from `fixtures/compatibility.json`: per make, the VIN
//! prefixes it owns; per model, VIN prefixes, a year range, a powertrain, the regions it is sold
//! in and the permissions Smartcar supports for it; plus the six test-mode levels.
//!
//! A VIN is matched to the model with the longest matching prefix whose years include the VIN's
//! model year (10th character); a prefix that is a whole VIN matches that VIN whatever its year.
//! A VIN no make claims is `MAKE_NOT_COMPATIBLE`; a claimed VIN with no model for its year, or a
//! country outside the model's regions, is `VEHICLE_NOT_COMPATIBLE`; a permission a model lacks is
//! `VEHICLE_NOT_CAPABLE` unless the model says `SMARTCAR_NOT_CAPABLE`. The test-mode levels ignore
//! the VIN: `compatible`/`phev` support every permission, `fuel` a gasoline car's, `bev` a
//! battery-electric car's, `incompatible` is `VEHICLE_NOT_COMPATIBLE` and `dinosaur` (a car too
//! old for any connected service) `MAKE_NOT_COMPATIBLE`.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde::Deserialize;

use crate::domain::fixtures::{FixtureError, parse_json};
use crate::domain::permissions::Permission;
use crate::domain::vehicle::Powertrain;

/// The file name, in the fixtures folder.
pub(crate) const FILE: &str = "compatibility.json";

/// The test-mode levels, in the order the validation message lists them
/// (docs/contract/compatibility.md#test-mode-levels).
pub(crate) const LEVELS: [&str; 6] = ["compatible", "phev", "incompatible", "fuel", "dinosaur", "bev"];

/// The whole compatibility table, parsed and validated.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Compatibility {
    /// Region (`US`, `CA`, `EUROPE`) → the ISO 3166-1 alpha-2 countries in it.
    pub(crate) regions: BTreeMap<String, Vec<String>>,
    pub(crate) makes: Vec<Make>,
    pub(crate) test_mode_levels: Vec<Level>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Make {
    pub(crate) make: String,
    /// VIN beginnings (a WMI or longer) this make owns: a VIN starting so is at least this make.
    pub(crate) vin_prefixes: Vec<String>,
    pub(crate) models: Vec<Model>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Model {
    pub(crate) model: String,
    pub(crate) vin_prefixes: Vec<String>,
    pub(crate) start_year: u16,
    pub(crate) end_year: u16,
    #[serde(rename = "type")]
    pub(crate) powertrain: Powertrain,
    #[serde(default = "us_only")]
    pub(crate) regions: Vec<String>,
    /// What Smartcar supports for this model.
    pub(crate) permissions: Vec<Permission>,
    /// Why the other permissions are not capable.
    #[serde(default)]
    pub(crate) unsupported_reason: NotCapable,
}

fn us_only() -> Vec<String> {
    vec!["US".to_owned()]
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum NotCapable {
    #[default]
    VehicleNotCapable,
    SmartcarNotCapable,
}

impl NotCapable {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            NotCapable::VehicleNotCapable => "VEHICLE_NOT_CAPABLE",
            NotCapable::SmartcarNotCapable => "SMARTCAR_NOT_CAPABLE",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum Incompatible {
    VehicleNotCompatible,
    MakeNotCompatible,
}

impl Incompatible {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Incompatible::VehicleNotCompatible => "VEHICLE_NOT_COMPATIBLE",
            Incompatible::MakeNotCompatible => "MAKE_NOT_COMPATIBLE",
        }
    }
}

/// One `test_mode_compatibility_level`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Level {
    pub(crate) level: String,
    pub(crate) compatible: bool,
    #[serde(default)]
    pub(crate) permissions: Vec<Permission>,
    #[serde(default)]
    pub(crate) reason: Option<Incompatible>,
}

/// The answer for one vehicle: compatible with per-permission capabilities, or not and why.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Verdict {
    Compatible {
        supported: Vec<Permission>,
        otherwise: NotCapable,
    },
    Incompatible(Incompatible),
}

impl Verdict {
    pub(crate) fn is_compatible(&self) -> bool {
        matches!(self, Verdict::Compatible { .. })
    }
}

/// A permission's endpoint path (capabilities) and its human name (the matrix).
pub(crate) fn endpoint(permission: Permission) -> (&'static str, &'static str) {
    use Permission::*;
    match permission {
        ReadVehicleInfo => ("/", "Vehicle info"),
        ReadVin => ("/vin", "VIN"),
        ReadOdometer => ("/odometer", "Odometer"),
        ReadLocation => ("/location", "Location"),
        ReadFuel => ("/fuel", "Fuel tank"),
        ReadBattery => ("/battery", "EV battery"),
        ReadCharge => ("/charge", "EV charging status"),
        ControlCharge => ("/charge", "EV start & stop charge"),
        ReadEngineOil => ("/engine/oil", "Engine oil life"),
        ReadTires => ("/tires/pressure", "Tire pressure"),
        ReadSecurity => ("/security", "Lock status"),
        ControlSecurity => ("/security", "Lock & unlock"),
        ControlNavigation => ("/navigation/destination", "Send destination"),
        ReadServiceHistory => ("/service/history", "Service history"),
        ReadDiagnostics => ("/diagnostics/system_status", "Diagnostics"),
        ReadUserProfile => ("/user", "User info"),
        ReadCompass => ("/compass", "Compass"),
        ReadSpeedometer => ("/speedometer", "Speedometer"),
        ReadThermometer => ("/thermometer", "Thermometer"),
        ReadExtendedVehicleInfo => ("/", "Extended vehicle info"),
        ControlTrunk => ("/trunk", "Trunk"),
        ReadClimate => ("/climate", "Climate status"),
        ControlClimate => ("/climate", "Climate control"),
    }
}

/// The model year a VIN's 10th character encodes: the later of its two 30-year cycles unless that
/// is in the future.
pub(crate) fn model_year(vin: &str) -> Option<u16> {
    const CODES: &str = "ABCDEFGHJKLMNPRSTVWXY123456789";
    let code = vin.chars().nth(9)?.to_ascii_uppercase();
    let index = u16::try_from(CODES.find(code)?).ok()?;
    let later = 2010 + index;
    let this_year = u16::try_from(time::OffsetDateTime::now_utc().year()).unwrap_or(2026);
    Some(if later <= this_year + 1 { later } else { 1980 + index })
}

impl Compatibility {
    /// The repository's `fixtures/compatibility.json`, compiled in.
    pub(crate) fn embedded() -> Result<Self, FixtureError> {
        Self::parse(
            &format!("(embedded) fixtures/{FILE}"),
            include_str!("../../../fixtures/compatibility.json"),
        )
    }

    /// `dir/compatibility.json` if the folder has one, else the built-in table.
    pub(crate) fn load(dir: &Path) -> Result<Self, FixtureError> {
        let path = dir.join(FILE);
        if !path.exists() {
            return Self::embedded();
        }
        let text = std::fs::read_to_string(&path).map_err(|source| FixtureError::Read {
            path: path.clone(),
            source,
        })?;
        Self::parse(&path.display().to_string(), &text)
    }

    pub(crate) fn parse(file: &str, text: &str) -> Result<Self, FixtureError> {
        parse_json::<Compatibility>(file, text)?.validated(file)
    }

    fn validated(self, file: &str) -> Result<Self, FixtureError> {
        let invalid = |entry: String, field: &str, message: String| {
            Err(FixtureError::Invalid {
                file: file.to_owned(),
                entry,
                field: field.to_owned(),
                message,
            })
        };
        let mut makes = HashSet::new();
        for (i, make) in self.makes.iter().enumerate() {
            let entry = format!("makes[{i}] ({})", make.make);
            if make.make.is_empty() || make.make != make.make.to_ascii_uppercase() {
                return invalid(entry, "make", "must be upper case".into());
            }
            if !makes.insert(make.make.as_str()) {
                return invalid(entry, "make", "is listed twice".into());
            }
            if let Some(prefix) = make.vin_prefixes.iter().find(|p| p.len() < 3) {
                return invalid(entry, "vinPrefixes", format!("{prefix:?} is shorter than a WMI (3)"));
            }
            for (j, model) in make.models.iter().enumerate() {
                let entry = format!("makes[{i}].models[{j}] ({} {})", make.make, model.model);
                if model.start_year > model.end_year {
                    return invalid(entry, "startYear", "is after endYear".into());
                }
                if model.vin_prefixes.is_empty() {
                    return invalid(entry, "vinPrefixes", "needs at least one".into());
                }
                if let Some(prefix) = model
                    .vin_prefixes
                    .iter()
                    .find(|p| !make.vin_prefixes.iter().any(|owned| p.starts_with(owned.as_str())))
                {
                    return invalid(
                        entry,
                        "vinPrefixes",
                        format!("{prefix:?} does not start with one of the make's vinPrefixes"),
                    );
                }
                if let Some(region) = model.regions.iter().find(|r| !self.regions.contains_key(*r)) {
                    return invalid(entry, "regions", format!("{region} is not in regions"));
                }
            }
        }
        let names: Vec<&str> = self.test_mode_levels.iter().map(|l| l.level.as_str()).collect();
        if names != LEVELS {
            return invalid(
                "testModeLevels".into(),
                "level",
                format!("must be exactly {LEVELS:?} in this order, got {names:?}"),
            );
        }
        for (i, level) in self.test_mode_levels.iter().enumerate() {
            let entry = format!("testModeLevels[{i}] ({})", level.level);
            if level.compatible == level.reason.is_some() {
                return invalid(entry, "reason", "is required exactly when compatible is false".into());
            }
        }
        Ok(self)
    }

    /// The region a country is in.
    fn region_of(&self, country: &str) -> Option<&str> {
        self.regions
            .iter()
            .find(|(_, countries)| countries.iter().any(|c| c.eq_ignore_ascii_case(country)))
            .map(|(region, _)| region.as_str())
    }

    /// What a live (or simulated) VIN supports in `country`.
    pub(crate) fn check_vin(&self, vin: &str, country: &str) -> Verdict {
        let vin = vin.trim().to_ascii_uppercase();
        let year = model_year(&vin);
        let claimed = self
            .makes
            .iter()
            .any(|make| make.vin_prefixes.iter().any(|p| vin.starts_with(p.as_str())));
        if !claimed {
            return Verdict::Incompatible(Incompatible::MakeNotCompatible);
        }
        let best = self
            .makes
            .iter()
            .flat_map(|make| &make.models)
            .filter_map(|model| {
                model
                    .vin_prefixes
                    .iter()
                    .filter(|p| vin.starts_with(p.as_str()))
                    .filter(|p| {
                        p.len() == vin.len() || year.is_some_and(|y| (model.start_year..=model.end_year).contains(&y))
                    })
                    .map(|p| (p.len(), model))
                    .max_by_key(|(len, _)| *len)
            })
            .max_by_key(|(len, _)| *len)
            .map(|(_, model)| model);
        let Some(model) = best else {
            return Verdict::Incompatible(Incompatible::VehicleNotCompatible);
        };
        let sold_here = self
            .region_of(country)
            .is_some_and(|region| model.regions.iter().any(|r| r == region));
        if !sold_here {
            return Verdict::Incompatible(Incompatible::VehicleNotCompatible);
        }
        Verdict::Compatible {
            supported: model.permissions.clone(),
            otherwise: model.unsupported_reason,
        }
    }

    /// What a test-mode level supports; `None` for an unknown level.
    pub(crate) fn check_level(&self, level: &str) -> Option<Verdict> {
        let level = self.test_mode_levels.iter().find(|l| l.level == level)?;
        Some(match level.reason {
            Some(reason) => Verdict::Incompatible(reason),
            None => Verdict::Compatible {
                supported: level.permissions.clone(),
                otherwise: NotCapable::VehicleNotCapable,
            },
        })
    }

    /// The matrix for `region`: per make (in the table's order), the models sold there that
    /// support all of `scope` and match the filters (any make or powertrain when empty).
    pub(crate) fn matrix(
        &self,
        region: &str,
        scope: &[Permission],
        makes: &[String],
        types: &[Powertrain],
    ) -> Vec<(&Make, Vec<&Model>)> {
        self.makes
            .iter()
            .filter(|make| makes.is_empty() || makes.iter().any(|m| m.eq_ignore_ascii_case(&make.make)))
            .map(|make| {
                let models = make
                    .models
                    .iter()
                    .filter(|model| model.regions.iter().any(|r| r == region))
                    .filter(|model| types.is_empty() || types.contains(&model.powertrain))
                    .filter(|model| scope.iter().all(|p| model.permissions.contains(p)))
                    .collect();
                (make, models)
            })
            .filter(|(_, models): &(&Make, Vec<&Model>)| !models.is_empty())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Compatibility {
        Compatibility::embedded().expect("the built-in table loads")
    }

    #[test]
    fn the_model_year_comes_from_the_tenth_character() {
        assert_eq!(model_year("5YJXCDE22HF068739"), Some(2017));
        assert_eq!(model_year("WBAKE5C58DJ107700"), Some(2013));
        assert_eq!(model_year("0SCGMCT0386A85356"), Some(2008));
    }

    #[test]
    fn an_unknown_make_is_make_not_compatible() {
        assert_eq!(
            table().check_vin("ZZZ00000000000000", "US"),
            Verdict::Incompatible(Incompatible::MakeNotCompatible)
        );
    }

    #[test]
    fn a_model_outside_its_region_is_not_compatible() {
        assert_eq!(
            table().check_vin("1G1RC6S53KU100001", "DE"),
            Verdict::Incompatible(Incompatible::VehicleNotCompatible)
        );
    }

    #[test]
    fn a_level_list_out_of_order_is_refused_naming_the_file() {
        let text = include_str!("../../../fixtures/compatibility.json").replacen("\"phev\"", "\"hybrid\"", 1);

        let error = Compatibility::parse("compatibility.json", &text).expect_err("bad levels");

        assert!(
            error
                .to_string()
                .starts_with("compatibility.json: testModeLevels: level:"),
            "{error}"
        );
    }

    #[test]
    fn an_unknown_permission_is_refused_with_its_path() {
        let text = include_str!("../../../fixtures/compatibility.json").replacen("\"read_vin\"", "\"read_mind\"", 1);

        let error = Compatibility::parse("compatibility.json", &text).expect_err("bad permission");

        assert!(
            error
                .to_string()
                .starts_with("compatibility.json: makes[0].models[0].permissions[1]"),
            "{error}"
        );
    }
}
