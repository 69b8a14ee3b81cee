//! A Connect flow between pages: what the app asked for and how far the person has come.
//!
//! The flow travels as a signed JWT in a hidden form field of each step, so no page URL carries the
//! `redirect_uri` (docs/contract/connect.md#the-pages) and two Connect popups in one browser never
//! share state. A tampered token fails the signature check; a token from an earlier step (skipping
//! ahead) fails the step check.
//!
//! Each step's token is single-use, so a captured page cannot be replayed to mint users, grants
//! and codes: every signed token carries a random step id, and [`FlowKeys`] remembers the ids it
//! issued and that are not yet submitted. Submitting a step ([`FlowKeys::consume`]) takes its id
//! out; an id that is not there is refused. Only pending ids are kept — a consumed id is simply
//! absent, so it can never be allowed again — and at most [`MAX_PENDING_STEPS`] of them: beyond
//! that the oldest pending (most likely abandoned) step is forgotten, and expired ones go first.

use std::sync::Mutex;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use lru::LruCache;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::permissions::Permission;
use crate::domain::world::Mode;

/// How long a person may take from the first page to Allow.
pub(super) const FLOW_LIFETIME: time::Duration = time::Duration::minutes(30);

/// Connect pages shown and not yet submitted that the server remembers (~80 bytes each). Beyond
/// it the oldest is forgotten, and its page answers "cannot continue".
pub(crate) const MAX_PENDING_STEPS: usize = 50_000;

/// Where a flow is — the page the person was last shown — and what the next step needs, so a
/// step cannot be reached without it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    /// The app's preamble; `make` when the app chose the brand (`make=`), already checked.
    Preamble { make: Option<String> },
    /// The brand list.
    Brand,
    /// The sign-in form of the brand `make`.
    Login { make: String },
    /// The vehicles `user` signed in with, to tick and Allow.
    Grant { user: Uuid, vehicles: Vec<Uuid> },
}

impl Step {
    pub fn stage(&self) -> Stage {
        match self {
            Step::Preamble { .. } => Stage::Preamble,
            Step::Brand => Stage::Brand,
            Step::Login { .. } => Stage::Login,
            Step::Grant { .. } => Stage::Grant,
        }
    }
}

/// A [`Step`] without its data: which page a form belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Preamble,
    Brand,
    Login,
    Grant,
}

/// The app's `state`, kept as the bytes it sent (even when they are not UTF-8) in their
/// `application/x-www-form-urlencoded` spelling, ready to go back on the redirect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EchoedState(String);

impl EchoedState {
    /// From the raw (still percent-encoded) query value. Only `%XX` is decoded: a `+` stays a
    /// `+` (the JS SDK sends raw base64), so it goes back as `%2B`.
    pub fn from_raw_query_value(raw: &str) -> EchoedState {
        let bytes: Vec<u8> = percent_encoding::percent_decode_str(raw).collect();
        EchoedState(form_urlencoded::byte_serialize(&bytes).collect())
    }

    /// The form-encoded text for a query string.
    pub fn encoded(&self) -> &str {
        &self.0
    }
}

/// The claims of a flow token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flow {
    pub app: String,
    /// As registered (and so trusted): errors from here on may redirect to it.
    pub redirect_uri: String,
    pub scope: Vec<Permission>,
    /// Echoed byte for byte on the final redirect.
    pub state: Option<EchoedState>,
    pub mode: Mode,
    pub single_select: bool,
    pub single_select_vin: Option<String>,
    pub step: Step,
    /// Expiry in Unix seconds on the server's (virtual) clock.
    pub exp: i64,
    /// This step's id, fresh in every signed token; submitting the step uses it up.
    #[serde(default)]
    pub jti: Uuid,
}

/// Why a flow token was refused.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("the Connect session is not valid: {0}")]
    Invalid(String),
    #[error("the Connect session has expired; please start again from the app")]
    Expired,
    #[error(
        "this page was already submitted (each Connect page can be sent once, so the browser's \
         Back button cannot resume a session), or it was set aside after {MAX_PENDING_STEPS} \
         newer Connect pages; please start again from the app"
    )]
    AlreadySubmitted,
}

/// The HMAC key flows are signed with, made fresh at start-up, and the steps not yet submitted.
pub struct FlowKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// Step id → its flow's expiry (Unix seconds), oldest issued first to go.
    pending: Mutex<LruCache<Uuid, i64>>,
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
            pending: Mutex::new(LruCache::unbounded()),
        }
    }

    /// Signs `flow` as a new step with a fresh id, remembered as pending until submitted.
    pub fn sign(&self, flow: &Flow, now: OffsetDateTime) -> String {
        let step = Flow {
            jti: Uuid::new_v4(),
            ..flow.clone()
        };
        {
            let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            // Insertion order is close to expiry order: drop the expired from the old end, then
            // make room.
            while let Some((_, exp)) = pending.peek_lru()
                && (now.unix_timestamp() >= *exp || pending.len() >= MAX_PENDING_STEPS)
            {
                pending.pop_lru();
            }
            pending.put(step.jti, step.exp);
        }
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &step, &self.encoding)
            .expect("a flow always serialises and HS256 signing cannot fail")
    }

    /// The flow of a token signed here and not expired, without using the step up (for telling
    /// who is calling).
    pub fn verify(&self, token: &str, now: OffsetDateTime) -> Result<Flow, FlowError> {
        let flow = jsonwebtoken::decode::<Flow>(token, &self.decoding, &self.validation)
            .map_err(|error| FlowError::Invalid(error.to_string()))?
            .claims;
        if now.unix_timestamp() >= flow.exp {
            return Err(FlowError::Expired);
        }
        Ok(flow)
    }

    /// Verifies the token and uses its step up: it succeeds once per signed page.
    pub fn consume(&self, token: &str, now: OffsetDateTime) -> Result<Flow, FlowError> {
        let flow = self.verify(token, now)?;
        let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        pending.pop(&flow.jti).ok_or(FlowError::AlreadySubmitted)?;
        Ok(flow)
    }

    /// How many shown pages are waiting to be submitted.
    pub fn pending_steps(&self) -> usize {
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
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
            state: Some(EchoedState::from_raw_query_value("a+b")),
            mode: Mode::Test,
            single_select: false,
            single_select_vin: None,
            step: Step::Preamble { make: None },
            exp: (now + FLOW_LIFETIME).unix_timestamp(),
            jti: Uuid::nil(),
        }
    }

    #[test]
    fn a_signed_flow_verifies_with_the_same_keys() {
        let keys = FlowKeys::generate();
        let now = OffsetDateTime::now_utc();

        let verified = keys.verify(&keys.sign(&flow(now), now), now).expect("valid");

        assert_eq!(
            verified.state.map(|state| state.encoded().to_owned()).as_deref(),
            Some("a%2Bb")
        );
    }

    #[test]
    fn a_tampered_flow_is_refused() {
        let keys = FlowKeys::generate();
        let now = OffsetDateTime::now_utc();
        let token = keys.sign(&flow(now), now);
        let other = FlowKeys::generate().sign(&flow(now), now);
        let (head, _) = token.rsplit_once('.').expect("three parts");
        let (_, foreign_signature) = other.rsplit_once('.').expect("three parts");

        let result = keys.verify(&format!("{head}.{foreign_signature}"), now);

        assert!(matches!(result, Err(FlowError::Invalid(_))));
    }

    #[test]
    fn an_expired_flow_is_refused() {
        let keys = FlowKeys::generate();
        let now = OffsetDateTime::now_utc();

        let result = keys.verify(&keys.sign(&flow(now), now), now + FLOW_LIFETIME);

        assert!(matches!(result, Err(FlowError::Expired)));
    }

    #[test]
    fn a_step_is_consumed_once() {
        let keys = FlowKeys::generate();
        let now = OffsetDateTime::now_utc();
        let token = keys.sign(&flow(now), now);

        let first = keys.consume(&token, now);
        let again = keys.consume(&token, now);

        assert!(first.is_ok());
        assert!(matches!(again, Err(FlowError::AlreadySubmitted)));
        assert!(keys.verify(&token, now).is_ok(), "verifying does not need the step");
    }

    #[test]
    fn the_pending_steps_stay_bounded_and_the_oldest_goes_first() {
        let keys = FlowKeys::generate();
        let now = OffsetDateTime::now_utc();
        let oldest = keys.sign(&flow(now), now);
        let newest = (0..MAX_PENDING_STEPS).map(|_| keys.sign(&flow(now), now)).last();

        assert_eq!(keys.pending_steps(), MAX_PENDING_STEPS);
        assert!(matches!(keys.consume(&oldest, now), Err(FlowError::AlreadySubmitted)));
        assert!(keys.consume(&newest.expect("signed"), now).is_ok());
    }

    #[test]
    fn expired_steps_are_forgotten_when_new_ones_are_shown() {
        let keys = FlowKeys::generate();
        let now = OffsetDateTime::now_utc();
        for _ in 0..10 {
            keys.sign(&flow(now), now);
        }

        keys.sign(&flow(now + FLOW_LIFETIME), now + FLOW_LIFETIME);

        assert_eq!(keys.pending_steps(), 1);
    }

    #[test]
    fn state_keeps_non_utf8_bytes_and_plus_signs() {
        let state = EchoedState::from_raw_query_value("%FF%00a+b%20c");

        assert_eq!(state.encoded(), "%FF%00a%2Bb+c");
    }
}
