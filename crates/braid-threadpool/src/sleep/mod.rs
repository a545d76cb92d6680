//! Putting idle workers to sleep and waking them when work arrives.
//!
//! The protocol, and why no wake-up can be lost, is explained in `README.md` next to this file.

use std::time::Instant;

use crate::latch::CoreLatch;
use crate::sync::{lock, AtomicUsize, Condvar, Mutex, Ordering};

/// Bits of [`Sleep::state`] that count the workers announced as sleeping.
const SLEEPERS_MASK: usize = (1 << SLEEPER_BITS) - 1;
const SLEEPER_BITS: u32 = 16;
/// One announced sleeper. Added by [`Sleep::prepare`], removed when that sleeper leaves.
const ONE_SLEEPER: usize = 1;
/// One step of the work epoch, which lives in the bits above the sleeper count. Every reliable
/// notification adds it, so a sleeper that saw epoch `e` knows work arrived once the epoch is not `e`.
const ONE_EPOCH: usize = 1 << SLEEPER_BITS;

/// The largest number of workers the sleeper count can hold.
pub(crate) const MAX_SLEEPERS: usize = SLEEPERS_MASK;

/// Where the workers of one pool sleep.
pub(crate) struct Sleep {
    /// Sleeper count (low bits) and work epoch (high bits). Transitions:
    /// `prepare`: +ONE_SLEEPER; leaving (`cancel` or the end of `sleep`): -ONE_SLEEPER;
    /// `notify_work`: +ONE_EPOCH (wrapping).
    state: AtomicUsize,
    /// Held while a sleeper checks whether it may block, and taken by wakers before they signal,
    /// so a signal never falls between a sleeper's last check and its wait.
    mutex: Mutex<()>,
    condvar: Condvar,
}

/// Proof that the holder announced itself as a sleeper, with the epoch it saw.
#[must_use = "a ticket must be given back through `Sleep::sleep` or `Sleep::cancel`"]
pub(crate) struct Ticket {
    epoch: usize,
}

impl Sleep {
    pub(crate) fn new() -> Sleep {
        Sleep {
            state: AtomicUsize::new(0),
            mutex: Mutex::new(()),
            condvar: Condvar::new(),
        }
    }

    /// The sleeping half of an idle worker: announce, look once more, then block until woken.
    ///
    /// `has_work` looks at the queues, `stop` at what else ends the wait (the `latch` being set,
    /// or the pool exiting), `deadline` bounds it. Returns when any of them may have changed;
    /// the caller looks for work again.
    pub(crate) fn idle_sleep(
        &self,
        latch: Option<&CoreLatch>,
        has_work: impl Fn() -> bool,
        stop: impl Fn() -> bool,
        deadline: Option<Instant>,
    ) {
        let ticket = self.prepare();
        if let Some(latch) = latch {
            if !latch.mark_sleepy() {
                self.cancel(ticket);
                return;
            }
        }
        // The announcement above is ordered before this check, so work pushed before it is
        // seen here, and a reliable notification after it finds this sleeper counted.
        if has_work() || stop() {
            if let Some(latch) = latch {
                latch.unmark_sleepy();
            }
            self.cancel(ticket);
            return;
        }
        self.sleep(ticket, stop, deadline);
        if let Some(latch) = latch {
            latch.unmark_sleepy();
        }
    }

    /// Announces that the caller is about to sleep. After this the caller must look for work
    /// (and whatever else would end its wait) once more, then call [`Sleep::sleep`] or
    /// [`Sleep::cancel`].
    fn prepare(&self) -> Ticket {
        let old = self.state.fetch_add(ONE_SLEEPER, Ordering::AcqRel);
        Ticket {
            epoch: old & !SLEEPERS_MASK,
        }
    }

    /// Withdraws an announcement made by [`Sleep::prepare`] without sleeping.
    fn cancel(&self, ticket: Ticket) {
        let _ = ticket;
        self.state.fetch_sub(ONE_SLEEPER, Ordering::Release);
    }

    /// Blocks until the work epoch moves past the ticket's, `stop` returns true, or `deadline`
    /// passes. `stop` is checked under the sleep mutex, so a waker that changes what it reads and
    /// then calls [`Sleep::wake_all`] is never missed.
    fn sleep(&self, ticket: Ticket, stop: impl Fn() -> bool, deadline: Option<Instant>) {
        let mut guard = lock(&self.mutex);
        loop {
            let epoch = self.state.load(Ordering::Acquire) & !SLEEPERS_MASK;
            if epoch != ticket.epoch || stop() {
                break;
            }
            match deadline {
                None => {
                    guard = self
                        .condvar
                        .wait(guard)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                }
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        break;
                    }
                    guard = self
                        .condvar
                        .wait_timeout(guard, deadline - now)
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .0;
                }
            }
        }
        drop(guard);
        self.state.fetch_sub(ONE_SLEEPER, Ordering::Release);
    }

    /// Announces new work after it was made visible, waking one sleeper if there is any.
    ///
    /// The read-modify-write on `state` is what makes this reliable: it is ordered against every
    /// sleeper's `prepare`, so either this call sees the sleeper, or the sleeper sees the work.
    pub(crate) fn notify_work(&self) {
        let old = self.state.fetch_add(ONE_EPOCH, Ordering::AcqRel);
        if old & SLEEPERS_MASK != 0 {
            self.wake_one();
        }
    }

    /// Wakes every sleeper so it re-checks its `stop` condition (a latch it waits on, or the
    /// pool shutting down). The caller changes that condition first.
    pub(crate) fn wake_all(&self) {
        drop(lock(&self.mutex));
        self.condvar.notify_all();
    }

    fn wake_one(&self) {
        // Taking the mutex orders this signal after any sleeper's check-then-wait.
        drop(lock(&self.mutex));
        self.condvar.notify_one();
    }
}

impl std::fmt::Debug for Sleep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state.load(Ordering::Relaxed);
        f.debug_struct("Sleep")
            .field("sleepers", &(state & SLEEPERS_MASK))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod test;
