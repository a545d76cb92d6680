//! The heartbeat: a thread per pool that, while any worker is busy, tells every worker about
//! every [`INTERVAL`] that it may promote a pending `join` half (see `join/README.md`).

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crossbeam_utils::CachePadded;

use crate::pool::Shared;
use crate::sync::{lock, AtomicBool, AtomicUsize, Condvar, Mutex, Ordering};

/// How often each busy worker's heartbeat fires while the workers are calling `join`.
pub(crate) const INTERVAL: Duration = Duration::from_micros(100);
/// The longest pause between ticks: the heartbeat slows down to this, doubling its pause each
/// time, while no worker calls `join` (coarse tasks), so it does not take a core's time away from
/// them for nothing.
pub(crate) const MAX_INTERVAL: Duration = Duration::from_millis(2);

/// What the heartbeat thread shares with the workers.
#[derive(Debug)]
pub(crate) struct Heartbeat {
    /// One flag per worker, in worker order: set by the heartbeat thread, cleared by the worker
    /// when it acts on it. Each on its own cache line, which its worker reads at every `join`.
    beats: Box<[CachePadded<AtomicBool>]>,
    /// Rounds the heartbeat thread has ticked, for [`crate::Metrics::heartbeats`].
    ticks: AtomicUsize,
    /// The heartbeat thread sleeps here while no worker is busy; see [`Heartbeat::wait_busy`].
    mutex: Mutex<()>,
    condvar: Condvar,
}

impl Heartbeat {
    pub(crate) fn new(workers: usize) -> Heartbeat {
        Heartbeat {
            beats: (0..workers)
                .map(|_| CachePadded::new(AtomicBool::new(false)))
                .collect(),
            ticks: AtomicUsize::new(0),
            mutex: Mutex::new(()),
            condvar: Condvar::new(),
        }
    }

    /// The flag of worker `index`.
    pub(crate) fn beat(&self, index: usize) -> &AtomicBool {
        &self.beats[index]
    }

    pub(crate) fn ticks(&self) -> usize {
        self.ticks.load(Ordering::Relaxed)
    }

    /// One tick: every worker may promote once more. True if some worker acted on the previous
    /// tick, that is, called `join` since then: a sign that the heartbeat is of use.
    fn tick(&self) -> bool {
        let mut used = false;
        for beat in self.beats.iter() {
            used |= !beat.swap(true, Ordering::Relaxed);
        }
        self.ticks.fetch_add(1, Ordering::Relaxed);
        used
    }

    /// Heartbeat thread: blocks while `idle` is true. `idle` reads state that whoever changes it
    /// announces with [`Heartbeat::wake`] afterwards; it is checked under the mutex that `wake`
    /// takes, so no wake-up is lost between the check and the wait.
    pub(crate) fn wait_busy(&self, idle: impl Fn() -> bool) {
        let mut guard = lock(&self.mutex);
        while idle() {
            guard = self
                .condvar
                .wait(guard)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    /// Wakes the heartbeat thread so it re-checks whether it is needed. The caller changed what
    /// the thread's `idle` reads first.
    pub(crate) fn wake(&self) {
        drop(lock(&self.mutex));
        self.condvar.notify_one();
    }
}

/// The heartbeat thread's life: tick while any worker is busy, sleep while none is, leave once
/// the pool is closed and no worker is busy any more. Ticks come every [`INTERVAL`] while the
/// workers act on them, and further apart, up to [`MAX_INTERVAL`], while they do not.
pub(crate) fn main(shared: Arc<Shared>) {
    let heartbeat = &shared.heartbeat;
    let mut pause = INTERVAL;
    loop {
        heartbeat.wait_busy(|| shared.is_open() && !shared.is_busy());
        if !shared.is_open() && !shared.is_busy() {
            return;
        }
        pause = if heartbeat.tick() {
            INTERVAL
        } else {
            (pause * 2).min(MAX_INTERVAL)
        };
        thread::sleep(pause);
    }
}

#[cfg(test)]
mod test;
