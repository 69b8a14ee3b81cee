//! A Connect flow between pages: what the app asked for and how far the person has come.
//!
//! The flow travels as a signed JWT in a hidden form field of each step, so no page URL carries
//! the `redirect_uri` (connect.md §2), two Connect popups in one browser never share state, and
//! nothing is kept in memory for abandoned flows. A tampered token fails the signature check; a
//! token from an earlier step (skipping ahead) fails the step check.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::permissions::Permission;
use crate::world::Mode;

/// How long a person may take from the first page to Allow.
pub(super) const FLOW_LIFETIME: time::Duration = time::Duration::minutes(30);

/// Where a flow is: the page the person was last shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    Preamble,
    Brand,
    Login,
    Grant,
}

/// The claims of a flow token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flow {
    pub app: String,
    /// As registered (and so trusted): errors from here on may redirect to it.
    pub redirect_uri: String,
    pub scope: Vec<Permission>,
    /// Echoed byte for byte on the final redirect.
    pub state: Option<String>,
    pub mode: Mode,
    pub make: Option<String>,
    pub single_select: bool,
    pub single_select_vin: Option<String>,
    pub step: Step,
    pub user: Option<Uuid>,
    pub vehicles: Vec<Uuid>,
    /// Expiry in Unix seconds on the server's (virtual) clock.
    pub exp: i64,
}

/// Why a flow token was refused.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("the Connect session is not valid: {0}")]
    Invalid(String),
    #[error("the Connect session has expired; please start again from the app")]
    Expired,
}

/// The HMAC key flows are signed with, made fresh at start-up.
pub struct FlowKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl FlowKeys {
    pub fn generate() -> Self {
        let secret: [u8; 32] = rand::random();
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked against the server's clock, which test control can move.
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        FlowKeys {
            encoding: EncodingKey::from_secret(&secret).expect("any 32 bytes are an HMAC key"),
            decoding: DecodingKey::from_secret(&secret).expect("any 32 bytes are an HMAC key"),
            validation,
        }
    }

    pub fn sign(&self, flow: &Flow) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), flow, &self.encoding)
            .expect("a flow always serialises and HS256 signing cannot fail")
    }

    pub fn verify(&self, token: &str, now: OffsetDateTime) -> Result<Flow, FlowError> {
        let flow = jsonwebtoken::decode::<Flow>(token, &self.decoding, &self.validation)
            .map_err(|error| FlowError::Invalid(error.to_string()))?
            .claims;
        if now.unix_timestamp() >= flow.exp {
            return Err(FlowError::Expired);
        }
        Ok(flow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(now: OffsetDateTime) -> Flow {
        Flow {
            app: "demo-client".into(),
            redirect_uri: "https://example.com/auth".into(),
            scope: vec![Permission::ReadOdometer],
            state: Some("a+b".into()),
            mode: Mode::Test,
            make: None,
            single_select: false,
            single_select_vin: None,
            step: Step::Preamble,
            user: None,
            vehicles: Vec::new(),
            exp: (now + FLOW_LIFETIME).unix_timestamp(),
        }
    }

    #[test]
    fn a_signed_flow_verifies_with_the_same_keys() {
        let keys = FlowKeys::generate();
        let now = OffsetDateTime::now_utc();

        let verified = keys.verify(&keys.sign(&flow(now)), now).expect("valid");

        assert_eq!(verified.state.as_deref(), Some("a+b"));
    }

    #[test]
    fn a_tampered_flow_is_refused() {
        let keys = FlowKeys::generate();
        let now = OffsetDateTime::now_utc();
        let token = keys.sign(&flow(now));
        let other = FlowKeys::generate().sign(&flow(now));
        let (head, _) = token.rsplit_once('.').expect("three parts");
        let (_, foreign_signature) = other.rsplit_once('.').expect("three parts");

        let result = keys.verify(&format!("{head}.{foreign_signature}"), now);

        assert!(matches!(result, Err(FlowError::Invalid(_))));
    }

    #[test]
    fn an_expired_flow_is_refused() {
        let keys = FlowKeys::generate();
        let now = OffsetDateTime::now_utc();

        let result = keys.verify(&keys.sign(&flow(now)), now + FLOW_LIFETIME);

        assert!(matches!(result, Err(FlowError::Expired)));
    }
}
