//! A worker thread: its deque, how it finds work, and how it waits without blocking the pool.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use crossbeam_deque::{Steal, Worker};

use crate::home;
use crate::job::JobRef;
use crate::join::slot::Slot;
use crate::join::Pending;
use crate::latch::CoreLatch;
use crate::pool::{Hook, Shared};
use crate::sync::AtomicBool;

/// Rounds a worker with nothing to do keeps looking before it goes to sleep. The first rounds
/// spin, the later ones yield the core; together they last a few microseconds, short enough to
/// cost nothing measurable when idle and long enough to catch work submitted in a burst.
const IDLE_ROUNDS: u32 = 32;
/// Rounds, of the above, that spin instead of yielding.
const SPIN_ROUNDS: u32 = 7;

thread_local! {
    /// The worker running on this thread, while its main loop runs.
    static CURRENT: Cell<*const WorkerThread> = const { Cell::new(ptr::null()) };
}

/// The state one worker thread owns.
#[derive(Debug)]
pub(crate) struct WorkerThread {
    local: Worker<JobRef>,
    index: usize,
    pub(crate) shared: Arc<Shared>,
    /// xorshift state for picking a victim to steal from.
    rng: Cell<u64>,
    /// The youngest entry of this worker's list of pending `join` halves (see `join/`).
    pub(crate) youngest_pending: Cell<*const Pending>,
    /// How many entries the list of pending halves holds.
    pub(crate) pending_len: Cell<u32>,
    /// This worker's heartbeat flag, inside `shared`, which this struct keeps alive.
    beat: *const AtomicBool,
    /// Set when this worker starts a job taken from a queue, cleared by the next `join`, which
    /// then offers its own second half on the deque (see `join/README.md`).
    pub(crate) first_join: Cell<bool>,
}

/// Aborts the process if dropped: armed around code through which an unwind must never pass,
/// and disarmed (forgotten) when that code returned normally. Like rayon's `AbortIfPanic`.
pub(crate) struct AbortOnUnwind;

impl AbortOnUnwind {
    /// The guarded code returned normally.
    #[inline]
    pub(crate) fn disarm(self) {
        std::mem::forget(self);
    }
}

impl Drop for AbortOnUnwind {
    #[cold]
    fn drop(&mut self) {
        eprintln!(
            "braid-threadpool: a job unwound into a worker that waits with frames other workers \
             may still use; aborting"
        );
        std::process::abort();
    }
}

/// A worker thread's whole life.
pub(crate) fn main(
    shared: Arc<Shared>,
    local: Worker<JobRef>,
    index: usize,
    on_start: Option<Hook>,
    on_stop: Option<Hook>,
) {
    let beat: *const AtomicBool = shared.heartbeat.beat(index);
    let worker = WorkerThread {
        local,
        index,
        shared,
        rng: Cell::new(
            0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9),
        ),
        youngest_pending: Cell::new(ptr::null()),
        pending_len: Cell::new(0),
        beat,
        first_join: Cell::new(false),
    };
    CURRENT.with(|current| current.set(&worker));
    // A panicking hook must not take the worker down with it; there is no one to report it to.
    if let Some(hook) = on_start {
        let _ = panic::catch_unwind(AssertUnwindSafe(|| hook(index)));
    }
    worker.run_until_exit();
    if let Some(hook) = on_stop {
        let _ = panic::catch_unwind(AssertUnwindSafe(|| hook(index)));
    }
    CURRENT.with(|current| current.set(ptr::null()));
}

impl WorkerThread {
    /// The worker running on this thread, if it belongs to the pool `shared`.
    #[inline]
    pub(crate) fn current_in(shared: &Shared) -> Option<&WorkerThread> {
        let worker = CURRENT.with(Cell::get);
        if worker.is_null() {
            return None;
        }
        // SAFETY: `CURRENT` is non-null only while `main` holds the `WorkerThread` on this
        // thread's stack, and every caller runs inside that main loop and returns before it ends.
        let worker = unsafe { &*worker };
        ptr::eq(Arc::as_ptr(&worker.shared), shared).then_some(worker)
    }

    /// The pool of the worker running on this thread, if any.
    pub(crate) fn current_pool() -> Option<Arc<Shared>> {
        let worker = CURRENT.with(Cell::get);
        // SAFETY: as in `current_in`; the reference does not leave this function.
        (!worker.is_null()).then(|| unsafe { (*worker).shared.clone() })
    }

    fn run_until_exit(&self) {
        self.shared.activate();
        loop {
            if let Some(job) = self.find_work() {
                // Every job catches its own panics. Should one unwind all the same, the worker
                // lives on: nothing on this stack is shared, and dying would leave the pool
                // counting it as active, so its drop would never return.
                if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| self.execute(job))) {
                    let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(payload)));
                }
                self.check_no_pending_halves();
                continue;
            }
            if self.spin_for(|| false) {
                continue;
            }
            // Asleep (or gone) this worker no longer counts as active, which lets the others
            // exit once the pool is closed and nobody has work left.
            self.shared.deactivate();
            // Narrowed (or not) before the first sleep, given back on waking.
            let mut away = None;
            let exit = loop {
                if self.has_work() {
                    break false;
                }
                if self.should_exit() {
                    break true;
                }
                // Sleep on this worker's own CPU, so that the wake-up lands where no other
                // worker is (`home.rs`).
                away.get_or_insert_with(|| {
                    home::narrow_for_sleep(self.shared.first_home.wrapping_add(self.index))
                });
                self.shared
                    .sleep
                    .idle_sleep(None, || self.has_work(), || self.should_exit(), None);
            };
            if let Some(away) = away.flatten() {
                away.give_back();
            }
            if exit {
                return;
            }
            self.shared.activate();
        }
    }

    /// In builds with debug assertions, between two jobs: every `join` takes its entry out
    /// of the list before it returns, and the count `join` reads to run deep halves as plain
    /// calls follows the list. A mismatch aborts the process: a panic here would end the
    /// worker and leave its pool waiting for it.
    #[inline]
    fn check_no_pending_halves(&self) {
        let (youngest, count) = (self.youngest_pending.get(), self.pending_len.get());
        if cfg!(debug_assertions) && (!youngest.is_null() || count != 0) {
            eprintln!(
                "braid-threadpool: a job left pending halves behind (the list {}, counted {count})",
                if youngest.is_null() {
                    "empty"
                } else {
                    "not empty"
                }
            );
            std::process::abort();
        }
    }

    /// The pool is closed and no work is left that this worker could ever take: the queues
    /// are empty, no outside call is adding work, and no other worker is running a job (which
    /// could push more). Checked in that order, see `Shared::is_quiet`.
    fn should_exit(&self) -> bool {
        !self.shared.is_open() && !self.has_work() && self.shared.is_quiet()
    }

    /// Takes the job pushed last off this worker's own deque, if it is still there.
    #[inline]
    pub(crate) fn pop_local(&self) -> Option<JobRef> {
        self.local.pop()
    }

    /// Pushes a job onto this worker's deque, where it runs next unless stolen first, and
    /// wakes a sleeping worker for it.
    #[inline]
    pub(crate) fn push_local(&self, job: JobRef) {
        self.local.push(job);
        self.shared.sleep.notify_work();
    }

    /// This worker's heartbeat flag.
    #[inline]
    pub(crate) fn beat(&self) -> &AtomicBool {
        // SAFETY: `beat` points into `self.shared`, which lives at least as long as `self`.
        unsafe { &*self.beat }
    }

    /// The slot where this worker offers a promoted `join` half.
    #[inline]
    pub(crate) fn slot(&self) -> &Slot<Pending> {
        &self.shared.slots[self.index]
    }

    /// Runs a job taken from a queue, or cancels it if the pool is cancelling pending work.
    #[inline]
    pub(crate) fn execute(&self, job: JobRef) {
        let counters = &self.shared.counters[self.index];
        // Only this thread writes its counters, so a load and a store are enough.
        let run = counters.run.load(Ordering::Relaxed);
        counters.run.store(run + 1, Ordering::Relaxed);
        // The first `join` of a job taken from a queue offers its own second half at once: the
        // job may block (on a lock, a barrier, I/O) before a heartbeat is ever looked at. The
        // raised flag sends that `join` to its cold path, which sees `first_join`.
        self.first_join.set(true);
        self.beat().store(true, Ordering::Relaxed);
        if job.is_cancellable() && self.shared.is_cancelling() {
            job.cancel();
        } else {
            job.run(self);
        }
    }

    /// Own deque first (most recent work, warm in cache), then a `join` half this worker
    /// promoted itself, then other workers' promoted halves and deques, then work submitted from
    /// outside the pool.
    fn find_work(&self) -> Option<JobRef> {
        if let Some(job) = self.local.pop() {
            return Some(job);
        }
        if let Some(pending) = self.slot().take() {
            // SAFETY: taken from the slot, so this thread owns it; its `join` waits for the
            // job's latch before the entry goes away.
            return Some(unsafe { Pending::take_job(pending) });
        }
        self.steal()
    }

    fn steal(&self) -> Option<JobRef> {
        let stealers = &self.shared.stealers;
        loop {
            let mut retry = false;
            let count = stealers.len();
            if count > 1 {
                let start = self.next_random() as usize % count;
                for offset in 0..count {
                    let victim = (start + offset) % count;
                    if victim == self.index {
                        continue;
                    }
                    // A promoted `join` half first: the oldest, and so the biggest, work a
                    // busy worker has.
                    if let Some(pending) = self.shared.slots[victim].take() {
                        self.count_stolen();
                        // SAFETY: as in `find_work`.
                        return Some(unsafe { Pending::take_job(pending) });
                    }
                    match stealers[victim].steal() {
                        Steal::Success(job) => {
                            self.count_stolen();
                            return Some(job);
                        }
                        Steal::Empty => {}
                        Steal::Retry => retry = true,
                    }
                }
            }
            match self.shared.injector.steal_batch_and_pop(&self.local) {
                Steal::Success(job) => return Some(job),
                Steal::Empty => {}
                Steal::Retry => retry = true,
            }
            if !retry {
                return None;
            }
        }
    }

    fn count_stolen(&self) {
        let counters = &self.shared.counters[self.index];
        // Only this thread writes its counters, so a load and a store are enough.
        let stolen = counters.stolen.load(Ordering::Relaxed);
        counters.stolen.store(stolen + 1, Ordering::Relaxed);
    }

    /// Whether any queue or slot this worker could take from holds a job.
    fn has_work(&self) -> bool {
        !self.local.is_empty()
            || !self.shared.injector.is_empty()
            || self.shared.slots.iter().any(|slot| !slot.is_empty())
            || self
                .shared
                .stealers
                .iter()
                .any(|stealer| !stealer.is_empty())
    }

    fn next_random(&self) -> u64 {
        let mut x = self.rng.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.set(x);
        x
    }

    /// Runs other jobs until `latch` is set, sleeping when there are none. Returns false if
    /// `deadline` passed first.
    ///
    /// Never unwinds: the caller's frames may hold what other workers still write into (a
    /// `join` whose second half was stolen, a scope whose tasks run elsewhere). Every job
    /// catches its own panics; should one unwind all the same, the process aborts.
    pub(crate) fn wait_until(&self, latch: &CoreLatch, deadline: Option<Instant>) -> bool {
        let guard = AbortOnUnwind;
        let reached = self.wait_until_inner(latch, deadline);
        guard.disarm();
        reached
    }

    fn wait_until_inner(&self, latch: &CoreLatch, deadline: Option<Instant>) -> bool {
        loop {
            if latch.probe() {
                return true;
            }
            if let Some(deadline) = deadline {
                if Instant::now() >= deadline {
                    return false;
                }
            }
            if let Some(job) = self.find_work() {
                self.execute(job);
                continue;
            }
            // Nothing else to do: offer the `join` halves still pending on this stack (the
            // wait may be inside a `join`'s first half), then run them if nobody takes them.
            if self.promote_oldest() {
                continue;
            }
            self.idle(latch, deadline);
        }
    }

    /// Called with nothing to do while waiting on `latch`: spins and yields a little, then
    /// sleeps until work may have arrived, the latch is set, or `deadline` passes. The caller
    /// looks for work again afterwards.
    fn idle(&self, latch: &CoreLatch, deadline: Option<Instant>) {
        if self.spin_for(|| latch.probe()) {
            return;
        }
        self.shared
            .sleep
            .idle_sleep(Some(latch), || self.has_work(), || latch.probe(), deadline);
    }

    /// Spins, then yields, for a few microseconds while there is no work and `stop` is false.
    /// True if work showed up or `stop` became true.
    fn spin_for(&self, stop: impl Fn() -> bool) -> bool {
        for round in 0..IDLE_ROUNDS {
            if self.has_work() || stop() {
                return true;
            }
            if round < SPIN_ROUNDS {
                for _ in 0..(1u32 << round) {
                    std::hint::spin_loop();
                }
            } else {
                thread::yield_now();
            }
        }
        false
    }
}
