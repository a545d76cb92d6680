//! The FIFO of parked tasks behind every primitive in [`crate::sync`].
//!
//! A `WaitList` always lives inside the primitive's `Mutex`. Each waiting future owns a
//! [`WaitKey`] to one slot. Whoever releases a resource *notifies* the front slot: the
//! slot leaves the FIFO, keeps the value it was handed (an item, a permit, ownership of a
//! lock) and the notifier wakes its waker after dropping the mutex. The slot is freed only
//! by its owner — when the future collects the value in `poll`, or when it is dropped and
//! gets the value back from [`WaitList::remove`] to pass on. Because only the owner frees
//! a slot, a key can never point at somebody else's slot, and no generation is needed.
//!
//! The slots form a doubly linked list inside one `Vec` (a slab with a free list), so
//! pushing, notifying the front and removing from the middle are all O(1) and allocate
//! only when the number of simultaneous waiters reaches a new high.

use std::mem;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::Waker;

#[cfg(test)]
mod test;

/// The end of a link: no slot.
const NIL: usize = usize::MAX;

/// Locks a primitive's mutex, ignoring poisoning.
///
/// No user code runs while these mutexes are held except `Waker::clone` and dropping an
/// old waker, so a panic there leaves the wait list consistent and the state usable.
pub(crate) fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The FIFO of waiters of one primitive; `N` is what a notified waiter is handed.
pub(crate) struct WaitList<N> {
    slots: Vec<Slot<N>>,
    /// Oldest waiting slot, or `NIL`.
    head: usize,
    /// Newest waiting slot, or `NIL`.
    tail: usize,
    /// First vacant slot, chained through `Slot::next`, or `NIL`.
    free: usize,
    /// Number of slots in the FIFO (notified slots are not counted).
    waiting: usize,
}

struct Slot<N> {
    prev: usize,
    next: usize,
    state: SlotState<N>,
}

enum SlotState<N> {
    /// In the FIFO, parked with this waker.
    Waiting(Waker),
    /// Out of the FIFO, holding what it was handed until its owner collects it.
    Notified(N),
    /// On the free list.
    Vacant,
}

/// Ownership of one slot of a [`WaitList`]; deliberately neither `Clone` nor `Copy`.
#[derive(Debug)]
pub(crate) struct WaitKey(usize);

impl<N> WaitList<N> {
    /// An empty list; allocates nothing.
    pub(crate) const fn new() -> Self {
        Self {
            slots: Vec::new(),
            head: NIL,
            tail: NIL,
            free: NIL,
            waiting: 0,
        }
    }

    /// Whether no waiter is parked (notified waiters that have not collected yet do not count).
    pub(crate) fn is_empty(&self) -> bool {
        self.head == NIL
    }

    /// Number of parked waiters.
    pub(crate) fn len(&self) -> usize {
        self.waiting
    }

    /// Parks a new waiter at the back of the FIFO.
    ///
    /// Inlined: every waiter that must wait takes this path, and as a call it costs more
    /// than the few stores it makes.
    #[inline]
    pub(crate) fn push_back(&mut self, waker: Waker) -> WaitKey {
        let slot = Slot {
            prev: self.tail,
            next: NIL,
            state: SlotState::Waiting(waker),
        };
        let index = if self.free == NIL {
            self.slots.push(slot);
            self.slots.len() - 1
        } else {
            let index = self.free;
            let vacant = &mut self.slots[index];
            self.free = vacant.next;
            *vacant = slot;
            index
        };
        match self.tail {
            NIL => self.head = index,
            tail => self.slots[tail].next = index,
        }
        self.tail = index;
        self.waiting += 1;
        WaitKey(index)
    }

    /// Hands `value` to the oldest waiter and returns its waker, to be woken once the
    /// mutex is released; `None` (and `value` is dropped) when nobody waits.
    ///
    /// Inlined: a get or put that completes calls it at least once, mostly to find that
    /// nobody waits.
    #[inline]
    pub(crate) fn notify_front(&mut self, value: N) -> Option<Waker> {
        let index = self.head;
        if index == NIL {
            return None;
        }
        let slot = &mut self.slots[index];
        let next = slot.next;
        let state = mem::replace(&mut slot.state, SlotState::Notified(value));
        // The front slot has no `prev`.
        self.unlink(NIL, next);
        match state {
            SlotState::Waiting(waker) => Some(waker),
            _ => unreachable!("a slot in the FIFO is always waiting"),
        }
    }

    /// Notifies every parked waiter, handing each `value()`; returns their wakers in FIFO order.
    pub(crate) fn notify_all(&mut self, mut value: impl FnMut() -> N) -> Vec<Waker> {
        let mut wakers = Vec::with_capacity(self.waiting);
        while !self.is_empty() {
            wakers.extend(self.notify_front(value()));
        }
        wakers
    }

    /// If the waiter of `key` was notified, frees its slot and returns what it was handed;
    /// otherwise records `waker` (when it differs from the stored one) and gives the key back.
    pub(crate) fn poll_notified(&mut self, key: WaitKey, waker: &Waker) -> Result<N, WaitKey> {
        // One look-up of the slot for both outcomes (a second one would be checked again).
        let slot = &mut self.slots[key.0];
        if let SlotState::Waiting(stored) = &mut slot.state {
            if !stored.will_wake(waker) {
                stored.clone_from(waker);
            }
            return Err(key);
        }
        match vacate(slot, &mut self.free, key.0) {
            SlotState::Notified(value) => Ok(value),
            SlotState::Waiting(_) => unreachable!("the slot was just seen notified"),
            SlotState::Vacant => unreachable!("a key always points at an occupied slot"),
        }
    }

    /// Frees the slot of a waiter that gives up; returns what it had been handed, if it
    /// was notified, so that the caller can pass it on.
    pub(crate) fn remove(&mut self, key: WaitKey) -> Option<N> {
        let slot = &self.slots[key.0];
        if let SlotState::Waiting(_) = slot.state {
            let (prev, next) = (slot.prev, slot.next);
            self.unlink(prev, next);
        }
        match self.release(key.0) {
            SlotState::Notified(value) => Some(value),
            SlotState::Waiting(_) => None,
            SlotState::Vacant => unreachable!("a key always points at an occupied slot"),
        }
    }

    /// Takes the slot between `prev` and `next` out of the FIFO (its own links are left as
    /// they are: the caller hands it a new state).
    fn unlink(&mut self, prev: usize, next: usize) {
        match prev {
            NIL => self.head = next,
            prev => self.slots[prev].next = next,
        }
        match next {
            NIL => self.tail = prev,
            next => self.slots[next].prev = prev,
        }
        self.waiting -= 1;
    }

    fn release(&mut self, index: usize) -> SlotState<N> {
        vacate(&mut self.slots[index], &mut self.free, index)
    }
}

/// Puts `slot`, at `index`, at the front of the vacant chain that starts at `free`, and
/// returns the state it held.
#[inline]
fn vacate<N>(slot: &mut Slot<N>, free: &mut usize, index: usize) -> SlotState<N> {
    slot.next = *free;
    *free = index;
    mem::replace(&mut slot.state, SlotState::Vacant)
}
