//! [`Completion`]: the one-shot cell every braid handle that can be waited on is built on.
//!
//! A thread-pool task, a process-pool task and the event loop's `spawn_blocking` all end the
//! same way: one side (a worker, the supervisor, a canceller) decides the outcome once, and
//! the other (a [`JoinHandle`](crate::JoinHandle), from a plain thread or from a task) waits
//! for it, blocking or through a [`Waker`]. This module is that protocol, written once.
//!
//! # The state word
//!
//! The low bits hold the stage, the rest are flags:
//!
//! | stage | meaning | allowed moves |
//! | --- | --- | --- |
//! | `QUEUED` | nothing has happened yet | to `RUNNING` ([`start`](Completion::start)), to `WRITING` ([`cancel`](Completion::cancel), [`complete`](Completion::complete)) |
//! | `RUNNING` | the work has started and can no longer be cancelled | to `WRITING` (`complete`) |
//! | `WRITING` | one thread, the one that won the move here, is storing the outcome | to `DONE`, by that thread |
//! | `DONE` | the outcome is stored; final | none |
//!
//! | flag | set by | meaning |
//! | --- | --- | --- |
//! | `WAITER` | the waiting side, after storing its waker | whoever moves the stage to `DONE` wakes the stored waker |
//! | `TAKEN` | the waiting side, once | the outcome was moved out; a second take panics |
//!
//! Exactly one thread wins the move to `WRITING`, so the outcome is written once and by one
//! thread; the waiting side reads it only after it acquired `DONE`. The waiter stores its
//! waker before it sets `WAITER` in a read-modify-write that also returns the stage, so either
//! it sees `DONE` there, or the finisher's move to `DONE` sees `WAITER` and wakes it.

#[cfg(all(test, loom))]
mod loom_test;
#[cfg(all(test, not(loom)))]
mod test;

use std::fmt;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use crate::sync::{lock, AtomicUsize, Mutex, Ordering, UnsafeCell};
use crate::wait::Waiter;

const QUEUED: usize = 0;
const RUNNING: usize = 1;
const WRITING: usize = 2;
const DONE: usize = 3;
const STAGE: usize = 0b11;
const WAITER: usize = 1 << 2;
const TAKEN: usize = 1 << 3;

/// A one-shot cell: one side stores an outcome once, the other waits for it and takes it.
///
/// It is what braid's pool handles are made of, public so that the process pool and the
/// event loop share it; see the [module documentation](self) for the protocol.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use braid_threadpool::completion::Completion;
///
/// let cell = Arc::new(Completion::new());
/// let worker = {
///     let cell = cell.clone();
///     std::thread::spawn(move || {
///         if cell.start() {
///             cell.complete(6 * 7);
///         }
///     })
/// };
/// cell.wait(None);
/// assert_eq!(cell.take(), 42);
/// worker.join().unwrap();
/// ```
pub struct Completion<T> {
    state: AtomicUsize,
    waker: Mutex<Option<Waker>>,
    /// Written only by the thread that moved the stage to `WRITING`; read only by the taker
    /// after it acquired `DONE`.
    output: UnsafeCell<Option<T>>,
}

// SAFETY: `output` is written by the one thread that won the move to `WRITING` and read by
// the taker only after acquiring `DONE`, which that writer releases; the `TAKEN` flag makes the
// read happen once. So no two threads touch it at once, and `T: Send` lets the value move
// from the writer to the taker.
unsafe impl<T: Send> Sync for Completion<T> {}

impl<T> Completion<T> {
    /// A cell whose work has not started.
    pub fn new() -> Completion<T> {
        Completion::with_stage(QUEUED, None)
    }

    /// A cell that holds `value` from the start, for work that was refused before it began.
    pub fn done(value: T) -> Completion<T> {
        Completion::with_stage(DONE, Some(value))
    }

    fn with_stage(stage: usize, output: Option<T>) -> Completion<T> {
        Completion {
            state: AtomicUsize::new(stage),
            waker: Mutex::new(None),
            output: UnsafeCell::new(output),
        }
    }

    /// Marks the work as started, so [`cancel`](Completion::cancel) can no longer stop it.
    /// `false` if it was cancelled or completed first: then the work must not run.
    pub fn start(&self) -> bool {
        self.advance(QUEUED, RUNNING)
    }

    /// Stores `value` as the outcome and wakes the waiting side, if nothing else was stored
    /// first. Returns whether this call stored it; otherwise `value` is dropped.
    pub fn complete(&self, value: T) -> bool {
        self.store_from(RUNNING, |stage| stage == QUEUED || stage == RUNNING, value)
    }

    /// Stores `value` as the outcome only if the work has not started. Returns whether it did.
    pub fn cancel(&self, value: T) -> bool {
        self.store_from(QUEUED, |stage| stage == QUEUED, value)
    }

    /// Whether an outcome is stored: waiting will not block.
    pub fn is_done(&self) -> bool {
        self.state.load(Ordering::Acquire) & STAGE == DONE
    }

    /// Moves the stage from `from` to `to` keeping the flags; `false` if it is not `from`.
    fn advance(&self, from: usize, to: usize) -> bool {
        // Guess the common case, no flags set, to save a load.
        let mut state = from;
        loop {
            if state & STAGE != from {
                return false;
            }
            let next = (state & !STAGE) | to;
            match self
                .state
                .compare_exchange_weak(state, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return true,
                Err(actual) => state = actual,
            }
        }
    }

    /// Stores `value` if the stage is one `allowed` accepts; `guess` is the likely state.
    fn store_from(&self, guess: usize, allowed: impl Fn(usize) -> bool, value: T) -> bool {
        let mut state = guess;
        loop {
            if !allowed(state & STAGE) {
                return false;
            }
            let next = (state & !STAGE) | WRITING;
            match self
                .state
                .compare_exchange_weak(state, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(actual) => state = actual,
            }
        }
        // SAFETY: this thread won the move to WRITING, so it alone touches `output` until the
        // move to DONE below, and the taker reads it only after acquiring DONE.
        self.output
            .with_mut(|output| unsafe { *output = Some(value) });
        // WRITING -> DONE is +1 on the stage bits; an add keeps the waiter's flags.
        let old = self.state.fetch_add(DONE - WRITING, Ordering::AcqRel);
        if old & WAITER != 0 {
            let waker = lock(&self.waker).take();
            if let Some(waker) = waker {
                waker.wake();
            }
        }
        true
    }

    /// Stores `waker` to be woken when the outcome is stored. `true` if it already is (then
    /// nothing will wake `waker`).
    ///
    /// The cell keeps one waker: a later one replaces an earlier one, as for a `Future`. So
    /// one side waits at a time (it is one handle's cell); two threads waiting on one cell
    /// at once would leave one of them asleep.
    pub fn register(&self, waker: &Waker) -> bool {
        if self.is_done() {
            return true;
        }
        let replaced = {
            let mut slot = lock(&self.waker);
            match &*slot {
                Some(old) if old.will_wake(waker) => None,
                _ => slot.replace(waker.clone()),
            }
        };
        // A waker's drop may run any code; none runs under the lock.
        drop(replaced);
        // After the store above: a finisher that does not see this flag moved to DONE before
        // it, which the returned state shows.
        let old = self.state.fetch_or(WAITER, Ordering::AcqRel);
        old & STAGE == DONE
    }

    /// Takes the outcome once it is stored, registering the task's waker until then.
    ///
    /// # Panics
    ///
    /// If the outcome was taken already.
    #[track_caller]
    pub fn poll_take(&self, cx: &mut Context<'_>) -> Poll<T> {
        if self.register(cx.waker()) {
            Poll::Ready(self.take())
        } else {
            Poll::Pending
        }
    }

    /// Blocks until the outcome is stored or `deadline` passes; `true` if it is stored.
    ///
    /// On a worker thread of a braid thread pool the worker runs other jobs of its pool
    /// meanwhile, so waiting on work queued behind this thread cannot deadlock; elsewhere the
    /// thread parks.
    pub fn wait(&self, deadline: Option<Instant>) -> bool {
        self.wait_with(Waiter::new, deadline)
    }

    /// Blocks like [`wait`](Completion::wait), but parks the thread even on a worker of a
    /// braid thread pool, running nothing else meanwhile: for outcomes that no job of that
    /// pool produces (a process pool's task), where running unrelated jobs nested on this
    /// stack would only delay the return, or deadlock on a lock the waiter holds.
    pub fn wait_parked(&self, deadline: Option<Instant>) -> bool {
        self.wait_with(Waiter::parking, deadline)
    }

    fn wait_with(&self, waiter: impl FnOnce() -> Waiter, deadline: Option<Instant>) -> bool {
        if self.is_done() {
            return true;
        }
        let waiter = waiter();
        loop {
            if self.register(waiter.waker()) {
                return true;
            }
            if !waiter.wait(deadline) {
                return self.is_done();
            }
        }
    }

    /// Moves the stored outcome out.
    ///
    /// # Panics
    ///
    /// If no outcome is stored yet, or it was taken already.
    #[track_caller]
    pub fn take(&self) -> T {
        let state = self.state.fetch_or(TAKEN, Ordering::Acquire);
        assert!(
            state & TAKEN == 0,
            "the result was already taken: the handle was awaited, joined, or given it by \
             join_timeout before"
        );
        assert!(
            state & STAGE == DONE,
            "Completion::take called before the outcome was stored"
        );
        // SAFETY: DONE was acquired above, so the writer's store is visible and over, and
        // TAKEN makes this the only read.
        self.output
            .with_mut(|output| unsafe { (*output).take() })
            .expect("a stored outcome")
    }
}

impl<T> Default for Completion<T> {
    fn default() -> Completion<T> {
        Completion::new()
    }
}

impl<T> fmt::Debug for Completion<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.load(Ordering::Acquire);
        let stage = match state & STAGE {
            QUEUED => "queued",
            RUNNING => "running",
            WRITING => "writing",
            _ => "done",
        };
        f.debug_struct("Completion")
            .field("stage", &stage)
            .field("taken", &(state & TAKEN != 0))
            .finish_non_exhaustive()
    }
}
