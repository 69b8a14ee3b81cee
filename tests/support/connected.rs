//! `Connected`: a user's tokens and their (first) vehicle, whether they came through Connect's
//! pages or `POST /admin/authorize`.

use serde_json::Value;
use uuid::Uuid;

/// A connected car: the user's tokens and the vehicle they reach.
#[derive(Debug, Clone)]
pub struct Connected {
    pub access_token: String,
    pub refresh_token: String,
    pub user: String,
    pub vehicle: String,
}

impl Connected {
    /// The car in an answer of `POST /admin/authorize`: its first vehicle.
    pub fn from_authorized(answer: &Value) -> Connected {
        Connected {
            access_token: text(&answer["access_token"]),
            refresh_token: text(&answer["refresh_token"]),
            user: text(&answer["user_id"]),
            vehicle: text(&answer["vehicle_ids"][0]),
        }
    }

    /// The vehicle id as the domain's type.
    pub fn uuid(&self) -> Uuid {
        Uuid::parse_str(&self.vehicle).expect("a UUID")
    }
}

/// A JSON string's text; anything else fails the test.
pub fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not text"))
        .to_owned()
}
