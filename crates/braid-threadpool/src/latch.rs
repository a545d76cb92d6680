//! One-shot signals a waiting thread blocks on until another thread sets them.

use crate::sleep::Sleep;
use crate::sync::{lock, AtomicU8, Condvar, Mutex, Ordering};

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

/// A latch waited on by a thread outside the pool, which blocks on a condition variable.
#[derive(Debug)]
pub(crate) struct LockLatch {
    set: Mutex<bool>,
    condvar: Condvar,
}

impl LockLatch {
    pub(crate) fn new() -> LockLatch {
        LockLatch {
            set: Mutex::new(false),
            condvar: Condvar::new(),
        }
    }

    pub(crate) fn wait(&self) {
        let mut set = lock(&self.set);
        while !*set {
            set = self
                .condvar
                .wait(set)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    /// Sets the latch and wakes its waiter.
    ///
    /// # Safety
    ///
    /// `this` must point to a live latch. The waiter may free it as soon as it can take the
    /// mutex again, which it cannot do before this function released it.
    pub(crate) unsafe fn set(this: *const LockLatch) {
        // SAFETY: the waiter cannot return (and free the latch) before it re-acquires the mutex,
        // which it can only do after `set` is dropped at the end of this scope.
        let this = unsafe { &*this };
        let mut set = lock(&this.set);
        *set = true;
        this.condvar.notify_all();
    }
}

/// What a job sets when it finishes: the owner of a [`crate::job::StackJob`] waits on it.
pub(crate) trait Latch {
    /// # Safety
    ///
    /// `this` must point to a live latch; the latch may be freed as soon as it is set.
    unsafe fn set(this: *const Self, sleep: &Sleep);
}

impl Latch for CoreLatch {
    unsafe fn set(this: *const Self, sleep: &Sleep) {
        // SAFETY: forwarded from the caller.
        unsafe { CoreLatch::set(this, sleep) }
    }
}

impl Latch for LockLatch {
    unsafe fn set(this: *const Self, _sleep: &Sleep) {
        // SAFETY: forwarded from the caller.
        unsafe { LockLatch::set(this) }
    }
}
