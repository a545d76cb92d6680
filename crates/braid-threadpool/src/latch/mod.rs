//! One-shot signals a waiting thread blocks on until another thread sets them.

use std::fmt;

use crate::sleep::Sleep;
use crate::sync::{thread, AtomicBool, AtomicU8, Ordering, Thread, UnsafeCell};

/// Nobody has set the latch and its owner is awake.
const UNSET: u8 = 0;
/// The owner is on its way to sleep in the pool's [`Sleep`]; whoever sets the latch must wake
/// the sleepers. Allowed: UNSET -> SLEEPY (owner), SLEEPY -> UNSET (owner), any -> SET (setter).
const SLEEPY: u8 = 1;
/// Set. Final, except through [`CoreLatch::reset`] by the owner.
const SET: u8 = 2;

/// A latch waited on by a pool worker, which keeps running other jobs until it is set and only
/// then sleeps in the pool's [`Sleep`].
#[derive(Debug)]
pub(crate) struct CoreLatch {
    state: AtomicU8,
}

impl CoreLatch {
    pub(crate) fn new() -> CoreLatch {
        CoreLatch {
            state: AtomicU8::new(UNSET),
        }
    }

    #[inline]
    pub(crate) fn probe(&self) -> bool {
        self.state.load(Ordering::Acquire) == SET
    }

    /// Owner: announce the intent to sleep. False if the latch is already set.
    pub(crate) fn mark_sleepy(&self) -> bool {
        self.state
            .compare_exchange(UNSET, SLEEPY, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Owner: back from sleep (or gave it up). Leaves a set latch alone.
    pub(crate) fn unmark_sleepy(&self) {
        let _ = self
            .state
            .compare_exchange(SLEEPY, UNSET, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Owner: make the latch usable again after it was set.
    pub(crate) fn reset(&self) {
        self.state.store(UNSET, Ordering::Release);
    }

    /// Sets a latch whose owner never sleeps in a pool's [`Sleep`] (it parks instead).
    pub(crate) fn set_unslept(&self) {
        let old = self.state.swap(SET, Ordering::AcqRel);
        debug_assert_ne!(old, SLEEPY);
    }

    /// Sets the latch and wakes the owner if it went to sleep in `sleep`.
    ///
    /// # Safety
    ///
    /// `this` must point to a live latch. Once the latch is set its owner may free it, so this
    /// function reads nothing through `this` after the swap.
    pub(crate) unsafe fn set(this: *const CoreLatch, sleep: &Sleep) {
        // SAFETY: the caller guarantees `this` is live until the swap below completes.
        let old = unsafe { (*this).state.swap(SET, Ordering::AcqRel) };
        if old == SLEEPY {
            sleep.wake_all();
        }
    }
}

/// A latch waited on by a thread outside the pool, which parks until it is set.
///
/// The waiter may free the latch (it lives in the waiter's stack frame) as soon as it sees it
/// set, so the setter takes everything it still needs, the waiter's [`Thread`] handle, out of
/// the latch before the store that releases the waiter, and touches nothing through the latch
/// after it. A mutex and condition variable cannot promise this: the setter's unlock goes on
/// touching the mutex (to wake threads blocked on it) after the waiter could take the lock, see
/// the latch set and free it.
pub(crate) struct ParkLatch {
    set: AtomicBool,
    /// The thread that made the latch and waits on it. Only [`ParkLatch::set`] touches it while
    /// the latch is unset, and it takes it exactly once.
    waiter: UnsafeCell<Option<Thread>>,
}

// SAFETY: `waiter` is the only field that is not `Sync`. While the latch is unset only `set`
// touches it, and `set` runs at most once per latch (see its contract); the waiter reaches it
// again only by dropping the latch, after it saw the store that ends `set`'s access.
unsafe impl Sync for ParkLatch {}

impl ParkLatch {
    /// A latch for the calling thread to wait on.
    pub(crate) fn new() -> ParkLatch {
        ParkLatch {
            set: AtomicBool::new(false),
            waiter: UnsafeCell::new(Some(thread::current())),
        }
    }

    #[inline]
    pub(crate) fn probe(&self) -> bool {
        self.set.load(Ordering::Acquire)
    }

    /// Blocks until the latch is set. Only the thread that made the latch may wait on it.
    pub(crate) fn wait(&self) {
        // `park` may return spuriously, or early because of a token left by an earlier latch's
        // setter that unparked this thread after it had stopped waiting; the loop covers both.
        while !self.probe() {
            thread::park();
        }
    }

    /// Sets the latch and wakes its waiter.
    ///
    /// # Safety
    ///
    /// `this` must point to a live latch. The waiter may free the latch as soon as it is set,
    /// so a latch is set at most once, and this function reads nothing through `this` after
    /// the store that sets it.
    pub(crate) unsafe fn set(this: *const ParkLatch) {
        // SAFETY: the latch is live (caller's contract) and unset, so the waiter does not touch
        // `waiter` now, and this is the only `set` of this latch, so no other setter does.
        let waiter = unsafe { (*this).waiter.with_mut(|waiter| (*waiter).take()) };
        // SAFETY: the latch is live until this store completes.
        unsafe { (*this).set.store(true, Ordering::Release) };
        // `this` may dangle from here on: wake the waiter through the handle taken above.
        if let Some(waiter) = waiter {
            waiter.unpark();
        }
    }
}

impl fmt::Debug for ParkLatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParkLatch")
            .field("set", &self.probe())
            .finish_non_exhaustive()
    }
}

/// What a job sets when it finishes: the owner of a [`crate::job::StackJob`] waits on it.
pub(crate) trait Latch {
    /// # Safety
    ///
    /// `this` must point to a live latch; the latch may be freed as soon as it is set, so
    /// nothing may be read through `this` after the store that sets it.
    unsafe fn set(this: *const Self, sleep: &Sleep);
}

impl Latch for CoreLatch {
    /// # Safety
    ///
    /// As [`Latch::set`].
    unsafe fn set(this: *const Self, sleep: &Sleep) {
        // SAFETY: forwarded from the caller.
        unsafe { CoreLatch::set(this, sleep) }
    }
}

impl Latch for ParkLatch {
    /// # Safety
    ///
    /// As [`Latch::set`].
    unsafe fn set(this: *const Self, _sleep: &Sleep) {
        // SAFETY: forwarded from the caller.
        unsafe { ParkLatch::set(this) }
    }
}

#[cfg(test)]
mod test;
