//! The one place where a worker offers a promoted `join` half to the other workers.
//!
//! The protocol, and why a half runs exactly once, is explained in `README.md` next to this
//! file; `test.rs` checks it under loom.

use std::ptr;

use crate::sync::{AtomicPtr, Ordering};

/// Holds at most one pointer that its owner offers and any thread may take.
///
/// Transitions of the pointer: empty -> `item` (`offer`, owner only, when empty);
/// `item` -> empty (`take`, anyone; or `reclaim`, owner only). Whoever moves it from `item` to
/// empty owns the item from then on; nobody else may touch it through the slot.
#[derive(Debug)]
pub(crate) struct Slot<T> {
    item: AtomicPtr<T>,
}

/// What [`Slot::reclaim`] found.
#[must_use = "a reclaimed item must be run by its owner, a taken one waited for"]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reclaim {
    /// The item was still offered and is the owner's again.
    Reclaimed,
    /// Another thread took it first; it now belongs to that thread.
    Taken,
}

impl<T> Slot<T> {
    pub(crate) fn new() -> Slot<T> {
        Slot {
            item: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Whether something is offered. A hint for other threads; exact for the owner, since only
    /// the owner fills the slot.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.item.load(Ordering::Relaxed).is_null()
    }

    /// Owner: offers `item`. The slot must be empty (`is_empty` said so, and only the owner
    /// fills it). Everything the owner wrote to `*item` before is visible to whoever takes it.
    pub(crate) fn offer(&self, item: *const T) {
        debug_assert!(self.is_empty(), "offered into a full slot");
        self.item.store(item.cast_mut(), Ordering::Release);
    }

    /// Anyone: takes the offered item, if there is one. The caller owns it from now on.
    #[inline]
    pub(crate) fn take(&self) -> Option<*const T> {
        // Look before writing, so idle workers scanning every slot do not pull a busy worker's
        // cache line away from it.
        if self.is_empty() {
            return None;
        }
        let item = self.item.swap(ptr::null_mut(), Ordering::Acquire);
        (!item.is_null()).then_some(item.cast_const())
    }

    /// Owner: takes back `item`, which it offered, unless someone took it first.
    pub(crate) fn reclaim(&self, item: *const T) -> Reclaim {
        // Relaxed is enough: on success nobody else has touched the item; on failure the owner
        // learns the taker's results through the item's own latch, not through this slot.
        match self.item.compare_exchange(
            item.cast_mut(),
            ptr::null_mut(),
            Ordering::Relaxed,
            Ordering::Relaxed,
        ) {
            Ok(_) => Reclaim::Reclaimed,
            Err(found) => {
                // The owner offers nothing new until the item it waits for is settled.
                debug_assert!(found.is_null(), "the slot holds another item of its owner");
                Reclaim::Taken
            }
        }
    }
}
