//! What the backend remembers between requests: the connected owner's tokens, and the `state`
//! of each `/login` still waiting for Connect to come back.
//!
//! One owner at a time, as in the official tutorials' backends: connecting again replaces the
//! tokens. Both handles use a `std::sync::Mutex`: no lock is held across an `.await`, and every
//! critical section is a copy, an insert or a scan of at most [`MAX_PENDING_LOGINS`] entries.
//!
//! Time is `tokio`'s clock, so tests can pause it and jump hours ahead; no instant is ever
//! computed by addition, so no lifetime the platform sends can overflow it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::smartcar::Grant;

/// An access token is treated as expired this long before the platform says, so a token never
/// runs out between the check and the API call.
const EXPIRY_MARGIN: Duration = Duration::from_secs(30);

/// How long a `/login` waits for Connect to come back: as long as Connect's codes live.
pub const LOGIN_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// How many `/login`s may wait at once. Beyond it the oldest is forgotten, so a script calling
/// `/login` in a loop cannot grow the backend's memory.
pub const MAX_PENDING_LOGINS: usize = 1_000;

/// The connected owner's tokens, behind a cloneable handle.
#[derive(Debug, Clone, Default)]
pub struct TokenStore {
    tokens: Arc<Mutex<Option<Tokens>>>,
}

/// A grant as kept: when it was received and how long its access token lasts.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    received_at: Instant,
    lifetime: Duration,
}

impl Tokens {
    pub fn is_expired(&self) -> bool {
        self.received_at.elapsed().saturating_add(EXPIRY_MARGIN) >= self.lifetime
    }
}

impl TokenStore {
    /// Keeps a fresh grant, replacing whatever was there.
    pub fn save(&self, grant: Grant) {
        let tokens = Tokens {
            access_token: grant.access_token,
            refresh_token: grant.refresh_token,
            received_at: Instant::now(),
            lifetime: grant.expires_in,
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

/// The `state` values of `/login` redirects in flight: Connect must give one back, once, within
/// [`LOGIN_LIFETIME`], for the code to be accepted (RFC 6749 §10.12, cross-site request
/// forgery). At most [`MAX_PENDING_LOGINS`] are kept.
#[derive(Debug, Clone, Default)]
pub struct LoginStates {
    /// Oldest first: states are only ever appended, so expiry and eviction both pop the front.
    pending: Arc<Mutex<VecDeque<PendingLogin>>>,
}

#[derive(Debug)]
struct PendingLogin {
    state: String,
    started_at: Instant,
}

impl PendingLogin {
    fn is_expired(&self) -> bool {
        self.started_at.elapsed() >= LOGIN_LIFETIME
    }
}

impl LoginStates {
    /// A new random state, remembered until [`LoginStates::finish`], until it expires, or until
    /// [`MAX_PENDING_LOGINS`] newer ones push it out.
    pub fn begin(&self) -> String {
        let state = uuid::Uuid::new_v4().simple().to_string();
        let mut pending = self.pending.lock().expect("lock poisoned");
        forget_expired(&mut pending);
        while pending.len() >= MAX_PENDING_LOGINS {
            pending.pop_front();
        }
        pending.push_back(PendingLogin {
            state: state.clone(),
            started_at: Instant::now(),
        });
        state
    }

    /// Whether `state` came from [`LoginStates::begin`], is still remembered, and was not used yet.
    pub fn finish(&self, state: &str) -> bool {
        let mut pending = self.pending.lock().expect("lock poisoned");
        forget_expired(&mut pending);
        match pending.iter().position(|login| login.state == state) {
            Some(at) => pending.remove(at).is_some(),
            None => false,
        }
    }

    /// How many logins are waiting.
    pub fn len(&self) -> usize {
        self.pending.lock().expect("lock poisoned").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn forget_expired(pending: &mut VecDeque<PendingLogin>) {
    while pending.front().is_some_and(PendingLogin::is_expired) {
        pending.pop_front();
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

    #[tokio::test(start_paused = true)]
    async fn a_login_state_expires_after_ten_minutes() {
        let logins = LoginStates::default();
        let on_time = logins.begin();
        let late = logins.begin();

        tokio::time::advance(LOGIN_LIFETIME - Duration::from_secs(1)).await;
        assert!(logins.finish(&on_time), "a state is good for ten minutes");
        tokio::time::advance(Duration::from_secs(1)).await;

        assert!(!logins.finish(&late), "an expired state is refused");
        assert!(logins.is_empty(), "an expired state is forgotten");
    }

    #[tokio::test(start_paused = true)]
    async fn beyond_the_cap_the_oldest_login_state_is_forgotten() {
        let logins = LoginStates::default();
        let oldest = logins.begin();
        let second = logins.begin();

        let mut newest = String::new();
        for _ in 0..MAX_PENDING_LOGINS - 1 {
            newest = logins.begin();
        }

        assert_eq!(logins.len(), MAX_PENDING_LOGINS, "the cap holds");
        assert!(!logins.finish(&oldest), "the oldest was pushed out");
        assert!(logins.finish(&second));
        assert!(logins.finish(&newest));
    }

    #[tokio::test(start_paused = true)]
    async fn any_lifetime_the_platform_sends_is_kept_without_overflow() {
        let store = TokenStore::default();
        store.save(grant(Duration::from_secs(u64::MAX)));

        tokio::time::advance(Duration::from_secs(100 * 365 * 24 * 3600)).await;

        assert!(!store.current().expect("saved").is_expired());
    }
}
