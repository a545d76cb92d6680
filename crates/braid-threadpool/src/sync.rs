//! The synchronization primitives the sleep protocol is built from.
//!
//! Under `--cfg loom` they come from `loom`, which explores every interleaving of a small model;
//! otherwise they are the standard library's. Only the pieces that the model test checks (the
//! sleep/wake protocol and the latch that a waiting worker sleeps on) go through here.

#[cfg(loom)]
pub(crate) use loom::sync::{
    atomic::{AtomicU8, AtomicUsize, Ordering},
    Condvar, Mutex, MutexGuard,
};

#[cfg(not(loom))]
pub(crate) use std::sync::{
    atomic::{AtomicU8, AtomicUsize, Ordering},
    Condvar, Mutex, MutexGuard,
};

/// Locks `mutex`, ignoring poisoning: the data these mutexes guard is `()` or a plain flag, which
/// a panic cannot leave half-updated.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
