//! Fixture folders with many vehicles: the repository's apps and brands, plus live-mode accounts
//! of 100 CHEVROLETs each, so start-up parses and validates every vehicle.

use std::path::{Path, PathBuf};

use serde_json::json;

pub(crate) const PASSWORD: &str = "bench";

pub(crate) fn username(account: usize) -> String {
    format!("bench{account}@example.com")
}

/// Writes `dir/{apps,brands,accounts}.json` with `vehicles` vehicles; returns `dir`.
pub(crate) fn write(dir: &Path, vehicles: usize) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    for name in ["apps.json", "brands.json"] {
        std::fs::copy(Path::new("fixtures").join(name), dir.join(name))?;
    }
    let accounts: Vec<_> = (0..vehicles.div_ceil(100))
        .map(|account| {
            let cars: Vec<_> = (account * 100..((account + 1) * 100).min(vehicles))
                .map(|i| {
                    json!({
                        "make": "CHEVROLET", "model": "Bolt EV", "year": 2020, "powertrain": "BEV",
                        "vin": format!("1G1BENCH{i:09}"),
                        "capabilities": ["odometer", "location"],
                        "state": {
                            "odometer": { "distance": 52340.5 + i as f64 },
                            "location": { "latitude": 42.36, "longitude": -71.06 }
                        }
                    })
                })
                .collect();
            json!({ "username": username(account), "password": PASSWORD, "vehicles": cars })
        })
        .collect();
    std::fs::write(
        dir.join("accounts.json"),
        serde_json::to_vec(&json!({ "accounts": accounts }))?,
    )?;
    Ok(dir.to_owned())
}
