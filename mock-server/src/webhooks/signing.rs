//! Webhook signing (docs/contract/webhooks.md#signing): lower-case hex `HMAC-SHA256(key = AMT,
//! message)`.
//!
//! The same function answers VERIFY challenges (`hash_challenge(amt, challenge)`) and signs every
//! delivery body (`SC-Signature`), exactly as the official SDKs' `hash_challenge` and
//! `verify_payload` compute it.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Lower-case hex `HMAC-SHA256(key, message)`.
pub(crate) fn hmac_hex(key: &str, message: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.as_bytes()) else {
        // HMAC takes keys of any length; this branch cannot run.
        return String::new();
    };
    mac.update(message);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// What a receiver must answer to a VERIFY event: `{"challenge": hash_challenge(amt, challenge)}`.
pub(crate) fn hash_challenge(amt: &str, challenge: &str) -> String {
    hmac_hex(amt, challenge.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_hash_matches_the_sdks_test_vector() {
        assert_eq!(
            hash_challenge("amt", "challenge"),
            "9baf5a7464bd86740ad5a06e439dcf535a075022ed2c92d74efacf646d79328e"
        );
    }

    #[test]
    fn the_payload_signature_matches_the_sdks_test_vector() {
        assert_eq!(
            hmac_hex("amt", br#"{"pizza":"pasta"}"#),
            "4c05a8da471f05156ad717baa4017acd13a3a809850b9ca7d3301dcaaa854f70"
        );
    }
}
