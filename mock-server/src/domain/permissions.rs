//! Smartcar permissions (the words of a Connect `scope`).
//!
//! A closed list: Connect answers an unknown one with `error=invalid_scope`, and a fixture that
//! names one fails to load. `required:` is a Connect-side prefix only
//! (docs/contract/connect.md#scope); [`Permission::parse_scope_item`] strips it.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! permissions {
    ($($variant:ident => $name:literal,)*) => {
        /// One permission an app can ask for.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
        pub enum Permission {
            $(#[serde(rename = $name)] $variant,)*
        }

        impl Permission {
            pub const ALL: &'static [Permission] = &[$(Permission::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Permission::$variant => $name,)*
                }
            }

            pub fn from_name(name: &str) -> Option<Permission> {
                match name {
                    $($name => Some(Permission::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

permissions! {
    ReadVehicleInfo => "read_vehicle_info",
    ReadVin => "read_vin",
    ReadOdometer => "read_odometer",
    ReadLocation => "read_location",
    ReadFuel => "read_fuel",
    ReadBattery => "read_battery",
    ReadCharge => "read_charge",
    ControlCharge => "control_charge",
    ReadEngineOil => "read_engine_oil",
    ReadTires => "read_tires",
    ReadSecurity => "read_security",
    ControlSecurity => "control_security",
    ControlNavigation => "control_navigation",
    ReadServiceHistory => "read_service_history",
    ReadDiagnostics => "read_diagnostics",
    ReadUserProfile => "read_user_profile",
    ReadCompass => "read_compass",
    ReadSpeedometer => "read_speedometer",
    ReadThermometer => "read_thermometer",
    ReadExtendedVehicleInfo => "read_extended_vehicle_info",
    ControlTrunk => "control_trunk",
    ReadClimate => "read_climate",
    ControlClimate => "control_climate",
}

impl Permission {
    /// One word of a Connect scope: `read_odometer` or `required:read_odometer`.
    pub fn parse_scope_item(item: &str) -> Option<Permission> {
        Permission::from_name(item.strip_prefix("required:").unwrap_or(item))
    }

    /// A whole space-separated scope. `Err` carries the first word that is not a permission.
    pub fn parse_scope(scope: &str) -> Result<Vec<Permission>, String> {
        let mut permissions = Vec::new();
        for item in scope.split_whitespace() {
            let permission = Permission::parse_scope_item(item).ok_or_else(|| item.to_owned())?;
            if !permissions.contains(&permission) {
                permissions.push(permission);
            }
        }
        Ok(permissions)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_is_split_on_spaces_and_loses_its_required_prefixes() {
        let scope = Permission::parse_scope("required:read_odometer  read_vin required:read_odometer");

        assert_eq!(scope, Ok(vec![Permission::ReadOdometer, Permission::ReadVin]));
    }

    #[test]
    fn an_unknown_permission_is_named() {
        assert_eq!(
            Permission::parse_scope("read_vin read_mind"),
            Err("read_mind".to_owned())
        );
    }
}
