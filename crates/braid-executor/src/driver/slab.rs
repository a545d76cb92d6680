//! Slots reused through a free list, named by keys that carry a generation.
//!
//! Freeing a slot bumps its generation, so every key handed out for it before goes stale:
//! looking one up finds nothing, and removing with one frees nothing. Sockets and timers
//! each keep one of these (see the README for why not one between them).

use std::mem;
use std::ops::{Index, IndexMut};

/// Generations wrap below this, so that a poller key (index and generation packed into a
/// `usize`, see `reactor.rs`) is never `usize::MAX`, the poller's own.
pub(super) const GENERATION_MASK: u32 = u32::MAX >> 1;

/// One slot at one generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Key {
    index: u32,
    generation: u32,
}

impl Key {
    #[cfg(test)]
    pub(super) fn new(index: u32, generation: u32) -> Key {
        Key { index, generation }
    }

    pub(super) fn index(self) -> u32 {
        self.index
    }

    pub(super) fn generation(self) -> u32 {
        self.generation
    }
}

#[derive(Debug)]
struct Entry<T> {
    /// Bumped each time the slot is freed.
    generation: u32,
    /// `T::default()` while the slot is free.
    value: T,
}

#[derive(Debug)]
pub(super) struct Slab<T> {
    entries: Vec<Entry<T>>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Slab<T> {
        Slab {
            entries: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

impl<T: Default> Slab<T> {
    /// Values stored.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The index the next [`insert`](Slab::insert) will use.
    pub(super) fn next_index(&self) -> usize {
        match self.free.last() {
            Some(&index) => index as usize,
            None => self.entries.len(),
        }
    }

    /// # Panics
    ///
    /// With more than `u32::MAX` slots.
    pub(super) fn insert(&mut self, value: T) -> Key {
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                let index = u32::try_from(self.entries.len())
                    .expect("more than 4 billion slots in one braid event loop");
                self.entries.push(Entry {
                    generation: 0,
                    value: T::default(),
                });
                index
            }
        };
        let entry = &mut self.entries[index as usize];
        entry.value = value;
        self.len += 1;
        Key {
            index,
            generation: entry.generation,
        }
    }

    /// Whether `key` still names its value.
    pub(super) fn contains(&self, key: Key) -> bool {
        self.entries
            .get(key.index as usize)
            .is_some_and(|entry| entry.generation == key.generation)
    }

    pub(super) fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        self.entries
            .get_mut(key.index as usize)
            .filter(|entry| entry.generation == key.generation)
            .map(|entry| &mut entry.value)
    }

    /// The slot at `index`, live or free, with its generation, for a key that arrived in
    /// pieces (a poller key holds only part of the generation). A free slot holds
    /// `T::default()`, and its generation is the one the next key for it will have.
    pub(super) fn slot_mut(&mut self, index: u32) -> Option<(u32, &mut T)> {
        let entry = self.entries.get_mut(index as usize)?;
        Some((entry.generation, &mut entry.value))
    }

    /// Every slot's value, live or free (a free one holds `T::default()`), in index order.
    pub(super) fn values_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.entries.iter_mut().map(|entry| &mut entry.value)
    }

    /// Frees the slot and hands back its value; `None` for a stale key.
    pub(super) fn remove(&mut self, key: Key) -> Option<T> {
        let entry = self.entries.get_mut(key.index as usize)?;
        if entry.generation != key.generation {
            return None;
        }
        entry.generation = (entry.generation + 1) & GENERATION_MASK;
        self.free.push(key.index);
        self.len -= 1;
        Some(mem::take(&mut entry.value))
    }
}

/// For keys known to be live (a socket's, held by its owner until it deregisters); the
/// generation is checked in debug builds only.
impl<T> Index<Key> for Slab<T> {
    type Output = T;

    fn index(&self, key: Key) -> &T {
        let entry = &self.entries[key.index as usize];
        debug_assert_eq!(entry.generation, key.generation, "a stale slab key");
        &entry.value
    }
}

impl<T> IndexMut<Key> for Slab<T> {
    fn index_mut(&mut self, key: Key) -> &mut T {
        let entry = &mut self.entries[key.index as usize];
        debug_assert_eq!(entry.generation, key.generation, "a stale slab key");
        &mut entry.value
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn a_freed_slot_is_reused_under_a_new_generation() {
        let mut slab = Slab::default();
        let old = slab.insert(1u8);
        assert_eq!(slab.next_index(), 1);
        assert_eq!(slab.remove(old), Some(1));
        assert_eq!(slab.next_index(), old.index() as usize);
        let new = slab.insert(2);
        assert_eq!(new.index(), old.index());
        assert_ne!(new, old);
        assert!(!slab.contains(old));
        assert_eq!(slab.get_mut(old), None);
        assert_eq!(slab.remove(old), None, "a stale key frees nothing");
        assert_eq!(slab[new], 2);
        assert_eq!(slab.len(), 1);
    }

    #[test]
    fn generations_wrap_below_the_mask() {
        let mut slab = Slab::default();
        slab.insert(());
        slab.entries[0].generation = GENERATION_MASK;
        assert_eq!(slab.remove(Key::new(0, GENERATION_MASK)), Some(()));
        let key = slab.insert(());
        assert_eq!(key.generation(), 0);
        assert!(slab.contains(key));
    }
}
