//! What the backend remembers between requests: the connected owner's tokens, and the `state`
//! of each `/login` still waiting for Connect to come back.
//!
//! One owner at a time, as in the official tutorials' backends: connecting again replaces the
//! tokens. Both handles use a `std::sync::Mutex`: no lock is held across an `.await`, and every
//! critical section is a copy or an insert.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::smartcar::Grant;

/// An access token is treated as expired this long before the platform says, so a token never
/// runs out between the check and the API call.
const EXPIRY_MARGIN: Duration = Duration::from_secs(30);

/// The connected owner's tokens, behind a cloneable handle.
#[derive(Debug, Clone, Default)]
pub struct TokenStore {
    tokens: Arc<Mutex<Option<Tokens>>>,
}

/// A grant as kept: when the access token expires instead of how long it lasts.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    expires_at: Instant,
}

impl Tokens {
    /// `tokio`'s clock, so tests can pause it and jump two hours ahead.
    pub fn is_expired(&self) -> bool {
        Instant::now() + EXPIRY_MARGIN >= self.expires_at
    }
}

impl TokenStore {
    /// Keeps a fresh grant, replacing whatever was there.
    pub fn save(&self, grant: Grant) {
        let tokens = Tokens {
            access_token: grant.access_token,
            refresh_token: grant.refresh_token,
            expires_at: Instant::now() + grant.expires_in,
        };
        *self.tokens.lock().expect("lock poisoned") = Some(tokens);
    }

    /// The tokens, if an owner is connected.
    pub fn current(&self) -> Option<Tokens> {
        self.tokens.lock().expect("lock poisoned").clone()
    }

    /// Drops the tokens, after the platform refused to refresh them.
    pub fn forget(&self) {
        *self.tokens.lock().expect("lock poisoned") = None;
    }
}

/// The `state` values of `/login` redirects in flight: Connect must give one back, once, for
/// the code to be accepted (RFC 6749 §10.12, cross-site request forgery).
#[derive(Debug, Clone, Default)]
pub struct LoginStates {
    pending: Arc<Mutex<HashSet<String>>>,
}

impl LoginStates {
    /// A new random state, remembered until [`LoginStates::finish`].
    pub fn begin(&self) -> String {
        let state = uuid::Uuid::new_v4().simple().to_string();
        self.pending.lock().expect("lock poisoned").insert(state.clone());
        state
    }

    /// Whether `state` came from [`LoginStates::begin`] and was not used yet.
    pub fn finish(&self, state: &str) -> bool {
        self.pending.lock().expect("lock poisoned").remove(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(expires_in: Duration) -> Grant {
        Grant {
            access_token: "access".to_owned(),
            refresh_token: "refresh".to_owned(),
            expires_in,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_access_token_expires_shortly_before_the_platform_says() {
        let store = TokenStore::default();
        store.save(grant(Duration::from_secs(7200)));
        assert!(!store.current().expect("saved").is_expired());

        tokio::time::advance(Duration::from_secs(7200) - EXPIRY_MARGIN).await;

        assert!(store.current().expect("saved").is_expired());
    }

    #[test]
    fn a_login_state_is_accepted_once() {
        let logins = LoginStates::default();
        let state = logins.begin();

        assert!(logins.finish(&state));
        assert!(!logins.finish(&state), "a state is single-use");
        assert!(!logins.finish("made-up"));
    }
}
