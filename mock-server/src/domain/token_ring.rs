//! The remembered token pairs: a ring of at most `capacity` slots in the order the pairs were
//! issued, so issuing into a full ring forgets the oldest pair.
//!
//! A token the ring mints says where it lives: its first four bytes are its slot, scrambled by a
//! fixed bijection (so consecutive tokens do not look consecutive); the other 90 random bits are
//! what makes it unguessable. Looking a token up is decoding the slot and comparing the 16 bytes
//! kept there — no hash map, and a slot costs its pair and nothing more (two `HashMap`s and an
//! issue-order queue held ~19 MiB at 50,000 pairs, as a table churned at over half its capacity
//! doubles; the ring holds ~5 MiB).
//!
//! A token minted elsewhere (a scenario file's, or one a state file kept from before this ring)
//! decodes to a slot that holds something else: such tokens are found through a small map, which
//! is empty unless someone brought their own.

use std::collections::HashMap;

use time::OffsetDateTime;
use uuid::Uuid;

/// An (access, refresh) pair and what is known of it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TokenPair {
    pub(crate) grant: Uuid,
    pub(crate) access: Uuid,
    pub(crate) refresh: Uuid,
    pub(crate) access_expires_at: OffsetDateTime,
    pub(crate) refresh_expires_at: OffsetDateTime,
    /// When the refresh token was first used (it keeps working for the grace period).
    pub(crate) refresh_used_at: Option<OffsetDateTime>,
}

/// At most `capacity` pairs, oldest forgotten first.
#[derive(Debug)]
pub(crate) struct TokenRing {
    capacity: usize,
    /// Grows to `capacity`, then wraps: `next` is the slot the next pair takes.
    slots: Vec<Option<TokenPair>>,
    next: usize,
    live: usize,
    /// Tokens that do not name their own slot, and the slot they are in.
    foreign: HashMap<Uuid, u32>,
}

/// Odd, so multiplying by it is a bijection on `u32`; [`UNSCRAMBLE`] is its inverse.
const SCRAMBLE: u32 = 0x9E37_79B1;
const UNSCRAMBLE: u32 = inverse(SCRAMBLE);
const MASK: u32 = 0x5A17_C3E9;

/// The multiplicative inverse of an odd number modulo 2³² (Newton's iteration).
const fn inverse(odd: u32) -> u32 {
    let mut x = odd;
    let mut i = 0;
    while i < 5 {
        x = x.wrapping_mul(2u32.wrapping_sub(odd.wrapping_mul(x)));
        i += 1;
    }
    x
}

fn scrambled(slot: u32) -> u32 {
    slot.wrapping_mul(SCRAMBLE) ^ MASK
}

fn slot_of(token: &Uuid) -> usize {
    let bytes = token.as_bytes();
    let word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    ((word ^ MASK).wrapping_mul(UNSCRAMBLE)) as usize
}

/// A random version-4 UUID whose first four bytes name `slot`.
fn mint(slot: usize) -> Uuid {
    let mut bytes = *Uuid::new_v4().as_bytes();
    let word = scrambled(u32::try_from(slot).unwrap_or(u32::MAX));
    bytes[..4].copy_from_slice(&word.to_be_bytes());
    Uuid::from_bytes(bytes)
}

impl TokenRing {
    pub(crate) fn new(capacity: usize) -> Self {
        TokenRing {
            capacity: capacity.clamp(1, u32::MAX as usize),
            slots: Vec::new(),
            next: 0,
            live: 0,
            foreign: HashMap::new(),
        }
    }

    /// Pairs remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// Mints a pair for `grant` into the next slot. Returns the pair and, if the ring was full,
    /// the oldest pair, now forgotten.
    pub(crate) fn issue(
        &mut self,
        grant: Uuid,
        access_expires_at: OffsetDateTime,
        refresh_expires_at: OffsetDateTime,
    ) -> (TokenPair, Option<TokenPair>) {
        let slot = self.next;
        let pair = TokenPair {
            grant,
            access: mint(slot),
            refresh: mint(slot),
            access_expires_at,
            refresh_expires_at,
            refresh_used_at: None,
        };
        let forgotten = self.put(pair.clone());
        (pair, forgotten)
    }

    /// Keeps a pair minted elsewhere (a snapshot's) as the newest. Returns the oldest pair if the
    /// ring was full, now forgotten.
    pub(crate) fn restore(&mut self, pair: TokenPair) -> Option<TokenPair> {
        self.put(pair)
    }

    /// The pair whose access token is `token`.
    pub(crate) fn by_access(&self, token: &Uuid) -> Option<&TokenPair> {
        let slot = self.find(token)?;
        self.slots[slot].as_ref().filter(|pair| pair.access == *token)
    }

    /// The pair whose refresh token is `token`.
    pub(crate) fn by_refresh_mut(&mut self, token: &Uuid) -> Option<&mut TokenPair> {
        let slot = self.find(token)?;
        self.slots[slot].as_mut().filter(|pair| pair.refresh == *token)
    }

    /// The pair holding `token`, as its access or its refresh token.
    pub(crate) fn holding(&self, token: &Uuid) -> Option<&TokenPair> {
        let slot = self.find(token)?;
        self.slots[slot]
            .as_ref()
            .filter(|pair| pair.access == *token || pair.refresh == *token)
    }

    /// Forgets the pair of access token `access`.
    pub(crate) fn remove(&mut self, access: &Uuid) -> Option<TokenPair> {
        let slot = self.find(access)?;
        if self.slots[slot].as_ref().is_none_or(|pair| pair.access != *access) {
            return None;
        }
        let pair = self.slots[slot].take()?;
        self.unindex(&pair);
        self.live -= 1;
        Some(pair)
    }

    /// The slot `token` is in, if any.
    fn find(&self, token: &Uuid) -> Option<usize> {
        let own = slot_of(token);
        let own_holds_it = self
            .slots
            .get(own)
            .and_then(Option::as_ref)
            .is_some_and(|pair| pair.access == *token || pair.refresh == *token);
        if own_holds_it {
            return Some(own);
        }
        if self.foreign.is_empty() {
            return None;
        }
        self.foreign.get(token).map(|slot| *slot as usize)
    }

    fn put(&mut self, pair: TokenPair) -> Option<TokenPair> {
        let slot = self.next;
        self.next = (slot + 1) % self.capacity;
        let forgotten = self.slots.get_mut(slot).and_then(Option::take);
        if let Some(forgotten) = &forgotten {
            self.unindex(forgotten);
            self.live -= 1;
        }
        for token in [pair.access, pair.refresh] {
            if slot_of(&token) != slot {
                self.foreign.insert(token, slot as u32);
            }
        }
        self.live += 1;
        match self.slots.get_mut(slot) {
            Some(place) => *place = Some(pair),
            None => self.slots.push(Some(pair)),
        }
        forgotten
    }

    fn unindex(&mut self, pair: &TokenPair) {
        if !self.foreign.is_empty() {
            self.foreign.remove(&pair.access);
            self.foreign.remove(&pair.refresh);
        }
    }
}

impl Default for TokenRing {
    fn default() -> Self {
        TokenRing::new(crate::domain::world::MAX_TOKEN_PAIRS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH
    }

    fn issue(ring: &mut TokenRing) -> (TokenPair, Option<TokenPair>) {
        ring.issue(Uuid::new_v4(), at(), at())
    }

    fn foreign_pair() -> TokenPair {
        TokenPair {
            grant: Uuid::new_v4(),
            access: Uuid::new_v4(),
            refresh: Uuid::new_v4(),
            access_expires_at: at(),
            refresh_expires_at: at(),
            refresh_used_at: None,
        }
    }

    #[test]
    fn unscrambling_undoes_scrambling() {
        for slot in [0u32, 1, 2, 49_999, 1 << 20, u32::MAX] {
            let token = mint(slot as usize);
            assert_eq!(slot_of(&token), slot as usize);
        }
    }

    #[test]
    fn minted_tokens_are_version_4_uuids_that_do_not_look_consecutive() {
        let mut ring = TokenRing::new(10);
        let (first, _) = issue(&mut ring);
        let (second, _) = issue(&mut ring);
        assert_eq!(first.access.get_version_num(), 4);
        assert_eq!(first.access.get_variant(), uuid::Variant::RFC4122);
        assert_ne!(first.access.as_bytes()[..2], second.access.as_bytes()[..2]);
    }

    #[test]
    fn a_pair_is_found_by_its_access_and_by_its_refresh_token() {
        let mut ring = TokenRing::new(10);
        let (pair, _) = issue(&mut ring);
        assert_eq!(ring.by_access(&pair.access), Some(&pair));
        assert_eq!(
            ring.by_refresh_mut(&pair.refresh).map(|p| p.clone()),
            Some(pair.clone())
        );
        assert_eq!(ring.by_access(&pair.refresh), None);
        assert_eq!(ring.by_refresh_mut(&pair.access), None);
        assert_eq!(ring.holding(&pair.refresh), Some(&pair));
    }

    #[test]
    fn a_token_with_the_right_slot_but_other_bits_is_not_found() {
        let mut ring = TokenRing::new(10);
        let (pair, _) = issue(&mut ring);
        let mut bytes = *pair.access.as_bytes();
        bytes[15] ^= 1;
        assert_eq!(ring.by_access(&Uuid::from_bytes(bytes)), None);
    }

    #[test]
    fn issuing_into_a_full_ring_forgets_the_oldest_pair() {
        let mut ring = TokenRing::new(3);
        let (oldest, _) = issue(&mut ring);
        issue(&mut ring);
        issue(&mut ring);
        let (newest, forgotten) = issue(&mut ring);
        assert_eq!(forgotten, Some(oldest.clone()));
        assert_eq!(ring.by_access(&oldest.access), None);
        assert_eq!(ring.by_access(&newest.access), Some(&newest));
        assert_eq!(ring.len(), 3);
    }

    #[test]
    fn a_removed_pair_leaves_its_slot_empty_until_the_ring_comes_round() {
        let mut ring = TokenRing::new(2);
        let (first, _) = issue(&mut ring);
        assert_eq!(ring.remove(&first.access), Some(first.clone()));
        assert_eq!(ring.remove(&first.access), None);
        assert_eq!(ring.len(), 0);
        issue(&mut ring);
        let (_, forgotten) = issue(&mut ring);
        assert_eq!(forgotten, None);
        assert_eq!(ring.len(), 2);
    }

    #[test]
    fn restored_pairs_are_found_and_forgotten_like_minted_ones() {
        let mut ring = TokenRing::new(2);
        let restored = foreign_pair();
        assert_eq!(ring.restore(restored.clone()), None);
        assert_eq!(ring.by_access(&restored.access), Some(&restored));
        assert_eq!(ring.holding(&restored.refresh), Some(&restored));
        issue(&mut ring);
        let (_, forgotten) = issue(&mut ring);
        assert_eq!(forgotten, Some(restored.clone()));
        assert_eq!(ring.by_access(&restored.access), None);
        assert!(ring.foreign.is_empty());
    }
}
