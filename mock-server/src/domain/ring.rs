//! A bounded store that forgets its oldest entry first: a ring of at most `CAPACITY` slots in the
//! order entries came. Token pairs and authorization codes live in one each.
//!
//! A key the ring mints says where its entry lives: its first four bytes are the slot, scrambled
//! by a fixed bijection (so consecutive keys do not look consecutive); the other 90 random bits
//! are what makes it unguessable. Finding an entry is decoding the slot and comparing 16 bytes —
//! no hash map, and a slot costs its entry and nothing more. (A hash map churned at over half its
//! capacity doubles: at 50,000 token pairs, two maps and an issue-order queue held ~19 MiB; the
//! ring holds ~5 MiB.)
//!
//! A key minted elsewhere (a scenario file's, or one a state file kept from an older version)
//! decodes to a slot that holds something else: such keys are found through a small map, which
//! is empty unless someone brought their own.

use std::collections::HashMap;

use uuid::Uuid;

/// What a ring holds: an entry that knows its keys (a token pair has two).
pub(crate) trait Keyed {
    fn keys(&self) -> impl Iterator<Item = Uuid>;

    fn holds(&self, key: &Uuid) -> bool {
        self.keys().any(|own| own == *key)
    }
}

/// At most `CAPACITY` entries, oldest forgotten first.
#[derive(Debug)]
pub(crate) struct Ring<T, const CAPACITY: usize> {
    /// Grows to `CAPACITY`; the window of entries is `window` slots from `start`, wrapping, and may
    /// hold holes where an entry was removed.
    slots: Vec<Option<T>>,
    start: usize,
    window: usize,
    live: usize,
    /// Keys that do not name their own slot, and the slot they are in.
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

fn slot_of(key: &Uuid) -> usize {
    let bytes = key.as_bytes();
    let word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    ((word ^ MASK).wrapping_mul(UNSCRAMBLE)) as usize
}

/// A random version-4 UUID whose first four bytes name `slot`.
fn mint(slot: usize) -> Uuid {
    let mut bytes = *Uuid::new_v4().as_bytes();
    let word = u32::try_from(slot).unwrap_or(u32::MAX).wrapping_mul(SCRAMBLE) ^ MASK;
    bytes[..4].copy_from_slice(&word.to_be_bytes());
    Uuid::from_bytes(bytes)
}

impl<T: Keyed, const CAPACITY: usize> Default for Ring<T, CAPACITY> {
    fn default() -> Self {
        Ring::new()
    }
}

impl<T: Keyed, const CAPACITY: usize> Ring<T, CAPACITY> {
    pub(crate) fn new() -> Self {
        const { assert!(CAPACITY > 0 && CAPACITY <= u32::MAX as usize) };
        Ring {
            slots: Vec::new(),
            start: 0,
            window: 0,
            live: 0,
            foreign: HashMap::new(),
        }
    }

    /// Entries remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// Whether the window is full: the next push forgets the oldest entry (or hole).
    pub(crate) fn is_full(&self) -> bool {
        self.window == CAPACITY
    }

    /// A fresh key for the entry the next [`Ring::push`] adds.
    pub(crate) fn mint(&self) -> Uuid {
        mint(self.next_slot())
    }

    /// Adds `entry` as the newest. Returns the oldest entry if the ring was full, now forgotten.
    pub(crate) fn push(&mut self, entry: T) -> Option<T> {
        let forgotten = if self.is_full() {
            self.pop_front().flatten()
        } else {
            None
        };
        let slot = self.next_slot();
        for key in entry.keys() {
            if slot_of(&key) != slot {
                self.foreign.insert(key, slot as u32);
            }
        }
        match self.slots.get_mut(slot) {
            Some(place) => *place = Some(entry),
            None => self.slots.push(Some(entry)),
        }
        self.window += 1;
        self.live += 1;
        forgotten
    }

    /// The oldest slot's entry (`Some(None)` for a hole), `None` if the ring is empty.
    pub(crate) fn front(&self) -> Option<Option<&T>> {
        (self.window > 0).then(|| self.slots[self.start].as_ref())
    }

    /// Forgets the oldest slot, returning its entry (`Some(None)` for a hole).
    pub(crate) fn pop_front(&mut self) -> Option<Option<T>> {
        if self.window == 0 {
            return None;
        }
        let entry = self.slots[self.start].take();
        self.start = (self.start + 1) % CAPACITY;
        self.window -= 1;
        if let Some(entry) = &entry {
            self.unindex(entry);
            self.live -= 1;
        }
        Some(entry)
    }

    /// The entry holding `key`.
    pub(crate) fn get(&self, key: &Uuid) -> Option<&T> {
        let slot = self.find(key)?;
        self.slots[slot].as_ref()
    }

    pub(crate) fn get_mut(&mut self, key: &Uuid) -> Option<&mut T> {
        let slot = self.find(key)?;
        self.slots[slot].as_mut()
    }

    /// Forgets the entry holding `key`, leaving a hole until the window moves past it.
    pub(crate) fn remove(&mut self, key: &Uuid) -> Option<T> {
        let slot = self.find(key)?;
        let entry = self.slots[slot].take()?;
        self.unindex(&entry);
        self.live -= 1;
        Some(entry)
    }

    /// Forgets every entry `keep` says no to.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        for slot in 0..self.slots.len() {
            if self.slots[slot].as_ref().is_some_and(|entry| !keep(entry))
                && let Some(entry) = self.slots[slot].take()
            {
                self.unindex(&entry);
                self.live -= 1;
            }
        }
    }

    /// The entries, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().flatten()
    }

    fn next_slot(&self) -> usize {
        if self.is_full() {
            self.start
        } else {
            (self.start + self.window) % CAPACITY
        }
    }

    /// The slot holding `key`, if any.
    fn find(&self, key: &Uuid) -> Option<usize> {
        let own = slot_of(key);
        let own_holds_it = self
            .slots
            .get(own)
            .and_then(Option::as_ref)
            .is_some_and(|entry| entry.holds(key));
        if own_holds_it {
            return Some(own);
        }
        if self.foreign.is_empty() {
            return None;
        }
        self.foreign.get(key).map(|slot| *slot as usize)
    }

    fn unindex(&mut self, entry: &T) {
        if !self.foreign.is_empty() {
            for key in entry.keys() {
                self.foreign.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct Pair(Uuid, Uuid);

    impl Keyed for Pair {
        fn keys(&self) -> impl Iterator<Item = Uuid> {
            [self.0, self.1].into_iter()
        }
    }

    fn push_minted<const N: usize>(ring: &mut Ring<Pair, N>) -> (Pair, Option<Pair>) {
        let pair = Pair(ring.mint(), ring.mint());
        let forgotten = ring.push(pair.clone());
        (pair, forgotten)
    }

    fn foreign() -> Pair {
        Pair(Uuid::new_v4(), Uuid::new_v4())
    }

    #[test]
    fn unscrambling_undoes_scrambling() {
        for slot in [0u32, 1, 2, 49_999, 1 << 20, u32::MAX] {
            assert_eq!(slot_of(&mint(slot as usize)), slot as usize);
        }
    }

    #[test]
    fn minted_keys_are_version_4_uuids_that_do_not_look_consecutive() {
        let mut ring: Ring<Pair, 10> = Ring::new();
        let (first, _) = push_minted(&mut ring);
        let (second, _) = push_minted(&mut ring);
        assert_eq!(first.0.get_version_num(), 4);
        assert_eq!(first.0.get_variant(), uuid::Variant::RFC4122);
        assert_ne!(first.0.as_bytes()[..2], second.0.as_bytes()[..2]);
    }

    #[test]
    fn an_entry_is_found_by_each_of_its_keys_and_by_nothing_else() {
        let mut ring: Ring<Pair, 10> = Ring::new();
        let (pair, _) = push_minted(&mut ring);
        assert_eq!(ring.get(&pair.0), Some(&pair));
        assert_eq!(ring.get(&pair.1), Some(&pair));
        let mut bytes = *pair.0.as_bytes();
        bytes[15] ^= 1;
        assert_eq!(ring.get(&Uuid::from_bytes(bytes)), None);
    }

    #[test]
    fn pushing_into_a_full_ring_forgets_the_oldest_entry() {
        let mut ring: Ring<Pair, 3> = Ring::new();
        let (oldest, _) = push_minted(&mut ring);
        push_minted(&mut ring);
        push_minted(&mut ring);
        let (newest, forgotten) = push_minted(&mut ring);
        assert_eq!(forgotten, Some(oldest.clone()));
        assert_eq!(ring.get(&oldest.0), None);
        assert_eq!(ring.get(&newest.0), Some(&newest));
        assert_eq!(ring.len(), 3);
    }

    #[test]
    fn a_removed_entry_leaves_a_hole_until_the_window_moves_past_it() {
        let mut ring: Ring<Pair, 2> = Ring::new();
        let (first, _) = push_minted(&mut ring);
        assert_eq!(ring.remove(&first.1), Some(first.clone()));
        assert_eq!(ring.remove(&first.0), None);
        assert_eq!(ring.front(), Some(None));
        push_minted(&mut ring);
        let (_, forgotten) = push_minted(&mut ring);
        assert_eq!(forgotten, None);
        assert_eq!(ring.len(), 2);
    }

    #[test]
    fn the_oldest_entries_can_be_let_go_in_order() {
        let mut ring: Ring<Pair, 4> = Ring::new();
        let (first, _) = push_minted(&mut ring);
        let (second, _) = push_minted(&mut ring);
        assert_eq!(ring.front(), Some(Some(&first)));
        assert_eq!(ring.pop_front(), Some(Some(first)));
        assert_eq!(ring.pop_front(), Some(Some(second)));
        assert_eq!(ring.pop_front(), None);
        let (third, _) = push_minted(&mut ring);
        assert_eq!(ring.get(&third.0), Some(&third));
    }

    #[test]
    fn entries_with_keys_minted_elsewhere_are_found_and_forgotten_alike() {
        let mut ring: Ring<Pair, 2> = Ring::new();
        let brought = foreign();
        assert_eq!(ring.push(brought.clone()), None);
        assert_eq!(ring.get(&brought.1), Some(&brought));
        push_minted(&mut ring);
        let (_, forgotten) = push_minted(&mut ring);
        assert_eq!(forgotten, Some(brought.clone()));
        assert_eq!(ring.get(&brought.0), None);
        assert!(ring.foreign.is_empty());
    }

    #[test]
    fn retain_forgets_what_it_is_told_to() {
        let mut ring: Ring<Pair, 4> = Ring::new();
        let (kept, _) = push_minted(&mut ring);
        let gone = foreign();
        ring.push(gone.clone());
        ring.retain(|entry| *entry != gone);
        assert_eq!(ring.get(&gone.0), None);
        assert_eq!(ring.get(&kept.0), Some(&kept));
        assert_eq!(ring.iter().count(), 1);
        assert!(ring.foreign.is_empty());
    }
}
