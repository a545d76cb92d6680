//! The atomics and cells a task is built from.
//!
//! Under `--cfg loom` they come from `loom`, which explores every interleaving of a small
//! model (see `task/loom_test.rs`); otherwise they are the standard library's. The cell has
//! loom's closure-based API in both builds, so the same code runs in both, and the standard
//! one compiles down to a plain pointer access.

#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// `std::cell::UnsafeCell` with loom's API: access goes through a closure that gets the
/// pointer, so loom can check that no two threads access the cell at once.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> UnsafeCell<T> {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    /// Runs `f` with a pointer for writing.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}
