//! The pool behind `spawn_blocking`: threads start on demand up to a cap and exit after a
//! while without work.
//!
//! Why not a `braid_threadpool::ThreadPool`: that pool is sized for CPU work, a fixed number
//! of work-stealing workers, one per core. Blocking calls spend their time waiting, not
//! computing, so what they need is a thread each while they wait: a pool of one per core lets
//! eight 200 ms reads on two cores take 800 ms, and deadlocks jobs that wait for each other.
//! Growing the work-stealing pool would mean resizing its deque array under the workers; a
//! queue under one mutex is all blocking work needs (its jobs are long next to the lock).

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io;
use std::panic::Location;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// How long a thread waits for work before it exits (tokio's blocking pool: 10 s as well).
pub(crate) const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// The most threads the pool starts unless told otherwise (tokio's default cap too).
pub(crate) const DEFAULT_MAX_THREADS: usize = 512;

/// A job in the queue: the work, and where `spawn_blocking` was called, for the shutdown
/// warning.
struct Job {
    work: Box<dyn FnOnce() + Send>,
    location: &'static Location<'static>,
}

/// An elastic pool of threads for blocking calls.
pub(crate) struct Pool {
    shared: Arc<Shared>,
    max_threads: usize,
}

pub(super) struct Shared {
    state: Mutex<State>,
    /// A job was queued for an idle thread, or the pool closed.
    work: Condvar,
    /// A thread exited.
    exited: Condvar,
}

pub(super) struct State {
    queue: VecDeque<Job>,
    /// Threads started and not yet exited.
    pub(super) threads: usize,
    /// Threads waiting for work that no submitter has claimed yet.
    pub(super) idle: usize,
    /// Wake-ups handed to idle threads and not yet taken: a thread that wakes with none
    /// left woke spuriously or timed out.
    notified: usize,
    /// Jobs being run, by a number of the pool's own, with their spawn sites.
    running: HashMap<u64, &'static Location<'static>>,
    next_job: u64,
    closed: bool,
    /// Numbers the threads' names.
    next_thread: usize,
}

pub(super) fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    // Jobs run outside the lock and their panics are caught, so a poisoned lock only means
    // a panic in the pool's own few lines, which leave the state consistent.
    shared.state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Pool {
    /// A pool that starts up to `max_threads` threads, none yet.
    pub(crate) fn new(max_threads: usize) -> Pool {
        Pool {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    threads: 0,
                    idle: 0,
                    notified: 0,
                    running: HashMap::new(),
                    next_job: 0,
                    closed: false,
                    next_thread: 0,
                }),
                work: Condvar::new(),
                exited: Condvar::new(),
            }),
            max_threads,
        }
    }

    /// Queues `work`, waking an idle thread or starting one if there is none and the cap
    /// allows. `work` is dropped unrun if the pool has closed.
    ///
    /// # Errors
    ///
    /// When no thread is running and none can be started; `work` is dropped.
    pub(crate) fn submit(
        &self,
        work: Box<dyn FnOnce() + Send>,
        location: &'static Location<'static>,
    ) -> io::Result<()> {
        let mut state = lock(&self.shared);
        if state.closed {
            return Ok(());
        }
        state.queue.push_back(Job { work, location });
        if state.idle > 0 {
            state.idle -= 1;
            state.notified += 1;
            self.shared.work.notify_one();
            return Ok(());
        }
        if state.threads >= self.max_threads {
            // Every thread is busy: the job waits for the first to finish.
            return Ok(());
        }
        let index = state.next_thread;
        state.next_thread += 1;
        state.threads += 1;
        drop(state);
        let shared = self.shared.clone();
        let started = thread::Builder::new()
            .name(format!("braid-blocking-{index}"))
            .spawn(move || work_loop(&shared));
        if let Err(error) = started {
            let mut state = lock(&self.shared);
            state.threads -= 1;
            if state.threads == 0 {
                // Nobody will ever take the queue: give the work back as an error.
                state.queue.clear();
                return Err(error);
            }
        }
        Ok(())
    }

    /// Closes the pool: queued jobs are dropped unrun, idle threads exit. Then waits up to
    /// `grace` for running jobs to finish; returns the spawn sites of those still running,
    /// which are left to finish on their own threads.
    pub(crate) fn shutdown(&self, grace: Duration) -> Vec<&'static Location<'static>> {
        let mut state = lock(&self.shared);
        state.closed = true;
        let queued = std::mem::take(&mut state.queue);
        self.shared.work.notify_all();
        let deadline = Instant::now().checked_add(grace);
        while state.threads > 0 {
            let left = match deadline {
                Some(deadline) => deadline.saturating_duration_since(Instant::now()),
                None => Duration::MAX,
            };
            if left.is_zero() {
                break;
            }
            state = self
                .shared
                .exited
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        let mut still_running: Vec<_> = state.running.values().copied().collect();
        drop(state);
        // Dropped outside the lock: their destructors (the awaiting side's channel) may take
        // time or, in principle, submit.
        drop(queued);
        still_running.sort_by_key(|location| (location.file(), location.line()));
        still_running
    }
}

#[cfg(test)]
impl Pool {
    pub(super) fn shared(&self) -> &Shared {
        &self.shared
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.shared);
        f.debug_struct("Pool")
            .field("max_threads", &self.max_threads)
            .field("threads", &state.threads)
            .field("idle", &state.idle)
            .field("queued", &state.queue.len())
            .field("running", &state.running.len())
            .finish()
    }
}

/// A thread's life: run queued jobs; wait up to [`KEEP_ALIVE`] for more; exit when that
/// passes or the pool closes.
fn work_loop(shared: &Shared) {
    let mut state = lock(shared);
    loop {
        while !state.closed {
            let Some(job) = state.queue.pop_front() else {
                break;
            };
            let id = state.next_job;
            state.next_job += 1;
            state.running.insert(id, job.location);
            drop(state);
            // The work catches its own panics (it hands them to its awaiter).
            (job.work)();
            state = lock(shared);
            state.running.remove(&id);
        }
        if state.closed {
            break;
        }
        state.idle += 1;
        let deadline = Instant::now() + KEEP_ALIVE;
        let claimed = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if state.notified > 0 {
                state.notified -= 1;
                break true;
            }
            if state.closed || left.is_zero() {
                break false;
            }
            state = shared
                .work
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        };
        if !claimed {
            // Still counted idle: nobody handed this thread a job.
            state.idle -= 1;
            if !state.closed && !state.queue.is_empty() {
                // A job arrived after the deadline passed but before this look: take it.
                continue;
            }
            break;
        }
    }
    state.threads -= 1;
    drop(state);
    shared.exited.notify_all();
}
