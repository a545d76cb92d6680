//! The synchronization primitives the sleep protocol is built from.
//!
//! Under `--cfg loom` they come from `loom`, which explores every interleaving of a small model;
//! otherwise they are the standard library's. Only the pieces that the model tests check (the
//! sleep/wake protocol, the latches that waiting threads block on, the slot through which a
//! `join` offers its second half, and the heartbeat's sleep) go through here.

#[cfg(loom)]
pub(crate) use loom::{
    cell::UnsafeCell,
    sync::{
        atomic::{AtomicBool, AtomicPtr, AtomicU8, AtomicUsize, Ordering},
        Condvar, Mutex, MutexGuard,
    },
    thread::{self, Thread},
};

#[cfg(not(loom))]
pub(crate) use std::{
    sync::{
        atomic::{AtomicBool, AtomicPtr, AtomicU8, AtomicUsize, Ordering},
        Condvar, Mutex, MutexGuard,
    },
    thread::{self, Thread},
};

/// `std::cell::UnsafeCell` with the closure-based access of loom's, whose model checks every
/// access against the others.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> UnsafeCell<T> {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    /// Calls `f` with a pointer through which it may read or write the value; the caller makes
    /// sure no other access overlaps.
    #[inline]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// Locks `mutex`, ignoring poisoning: the data these mutexes guard is `()` or a plain flag, which
/// a panic cannot leave half-updated.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
