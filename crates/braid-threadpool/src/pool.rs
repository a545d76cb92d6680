//! The pool itself: what its workers share, submitting tasks, and shutting down.

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use crossbeam_deque::{Injector, Steal, Stealer};
use crossbeam_utils::CachePadded;

use crate::builder::Builder;
use crate::heartbeat::Heartbeat;
use crate::job::JobRef;
use crate::join::slot::Slot;
use crate::join::Pending;
use crate::metrics::{Metrics, WorkerMetrics};
use crate::sleep::Sleep;
use crate::sync::{lock, Mutex};
use crate::task::{self, JoinHandle};
use crate::worker::WorkerThread;
use crate::BuildError;

/// A callback run on each worker thread as it starts or stops, given the worker's index.
pub(crate) type Hook = Arc<dyn Fn(usize) + Send + Sync>;

// The pool's life, in `Shared::lifecycle`. Allowed transitions: OPEN -> CLOSED,
// OPEN -> CANCELLING, CLOSED -> CANCELLING. Never back to OPEN.
const OPEN: u8 = 0;
/// No new tasks; queued and running ones finish.
const CLOSED: u8 = 1;
/// No new tasks; queued tasks are cancelled instead of run.
const CANCELLING: u8 = 2;

/// A work-stealing pool of worker threads.
///
/// See the [crate documentation](crate) for a tour. Dropping the pool waits for all submitted work,
/// like leaving a `with ThreadPoolExecutor()` block in Python; use [`ThreadPool::shutdown`] to
/// choose how to stop.
pub struct ThreadPool {
    pub(crate) shared: Arc<Shared>,
}

/// How [`ThreadPool::shutdown`] treats tasks that have not started yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shutdown {
    /// Run everything already submitted, then stop.
    Wait,
    /// Cancel submitted tasks that have not started; their handles report
    /// [`JoinError::is_cancelled`](crate::JoinError::is_cancelled). Running tasks finish.
    CancelPending,
}

/// What the workers of one pool share.
pub(crate) struct Shared {
    /// Jobs submitted from threads outside the pool.
    pub(crate) injector: Injector<JobRef>,
    /// One per worker, in worker order.
    pub(crate) stealers: Box<[Stealer<JobRef>]>,
    /// One per worker, in worker order: the `join` half that worker promoted, if any.
    pub(crate) slots: Box<[CachePadded<Slot<Pending>>]>,
    pub(crate) heartbeat: Heartbeat,
    pub(crate) sleep: Sleep,
    pub(crate) counters: Box<[CachePadded<WorkerCounters>]>,
    /// Calls from threads outside the pool that are adding work: a `submit` until its task is
    /// queued, a `join` or `scope` until it returns. Touched only by those threads, so a pool
    /// fed from one thread keeps this cache line local.
    outside: CachePadded<AtomicUsize>,
    /// Workers not asleep in their main loop (running or looking for work).
    active: CachePadded<AtomicUsize>,
    lifecycle: AtomicU8,
    pub(crate) threads: Mutex<Vec<thread::JoinHandle<()>>>,
    /// Worker `i` sleeps on home `first_home + i` (see `home.rs`).
    pub(crate) first_home: usize,
}

/// Counters written only by their worker.
#[derive(Debug, Default)]
pub(crate) struct WorkerCounters {
    pub(crate) run: AtomicU64,
    pub(crate) stolen: AtomicU64,
}

impl Shared {
    pub(crate) fn new(stealers: Box<[Stealer<JobRef>]>) -> Shared {
        let workers = stealers.len();
        let counters = stealers.iter().map(|_| CachePadded::default()).collect();
        let slots = stealers
            .iter()
            .map(|_| CachePadded::new(Slot::new()))
            .collect();
        let heartbeat = Heartbeat::new(stealers.len());
        Shared {
            injector: Injector::new(),
            stealers,
            slots,
            heartbeat,
            sleep: Sleep::new(),
            counters,
            outside: CachePadded::new(AtomicUsize::new(0)),
            active: CachePadded::new(AtomicUsize::new(0)),
            lifecycle: AtomicU8::new(OPEN),
            threads: Mutex::new(Vec::new()),
            first_home: crate::home::first_home(workers),
        }
    }

    /// Counts a call from outside the pool that is about to add work. False (and nothing
    /// counted) if the pool is closed.
    ///
    /// The count goes up before the lifecycle is read, and `close` changes the lifecycle before
    /// workers read the count, so either this sees the pool closed or the workers see the call.
    pub(crate) fn enter(&self) -> bool {
        self.outside.fetch_add(1, Ordering::SeqCst);
        if self.is_open() {
            true
        } else {
            self.leave();
            false
        }
    }

    /// Ends a call counted by `enter`, after the work it added is queued.
    pub(crate) fn leave(&self) {
        if self.outside.fetch_sub(1, Ordering::SeqCst) == 1 && !self.is_open() {
            // Sleeping workers of a closed pool wait for this to exit.
            self.sleep.wake_all();
        }
    }

    /// A worker starts running its main loop or wakes from sleep in it.
    pub(crate) fn activate(&self) {
        if self.active.fetch_add(1, Ordering::SeqCst) == 0 {
            // The first busy worker: the heartbeat has work to do again.
            self.heartbeat.wake();
        }
    }

    /// A worker is about to sleep (or exit) in its main loop.
    pub(crate) fn deactivate(&self) {
        if self.active.fetch_sub(1, Ordering::SeqCst) == 1 && !self.is_open() {
            // The last busy worker went idle: the others, and the heartbeat, may exit now.
            self.sleep.wake_all();
            self.heartbeat.wake();
        }
    }

    /// Some worker is running or looking for work: what keeps the heartbeat ticking.
    pub(crate) fn is_busy(&self) -> bool {
        self.active.load(Ordering::SeqCst) != 0
    }

    #[inline]
    pub(crate) fn is_open(&self) -> bool {
        self.lifecycle.load(Ordering::SeqCst) == OPEN
    }

    /// No call from outside adds work and every worker is idle. Read after the queues were
    /// found empty: work is only queued by an outside call (counted) or by an active worker.
    pub(crate) fn is_quiet(&self) -> bool {
        self.outside.load(Ordering::SeqCst) == 0 && self.active.load(Ordering::SeqCst) == 0
    }

    #[inline]
    pub(crate) fn is_cancelling(&self) -> bool {
        self.lifecycle.load(Ordering::Relaxed) == CANCELLING
    }

    /// Queues a job from a thread outside the pool.
    pub(crate) fn inject(&self, job: JobRef) {
        self.injector.push(job);
        self.sleep.notify_work();
    }

    fn close(&self, how: Shutdown) {
        let target = match how {
            Shutdown::Wait => CLOSED,
            Shutdown::CancelPending => CANCELLING,
        };
        self.lifecycle.fetch_max(target, Ordering::SeqCst);
        if how == Shutdown::CancelPending {
            self.cancel_injected();
        }
        self.sleep.wake_all();
        self.heartbeat.wake();
    }

    /// Cancels the tasks waiting in the injector right away, so their handles report it even
    /// while every worker is busy. Tasks in workers' deques are cancelled by their workers.
    fn cancel_injected(&self) {
        let mut keep = Vec::new();
        loop {
            match self.injector.steal() {
                Steal::Success(job) if job.is_cancellable() => job.cancel(),
                Steal::Success(job) => keep.push(job),
                Steal::Retry => {}
                Steal::Empty => break,
            }
        }
        for job in keep {
            self.inject(job);
        }
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("workers", &self.stealers.len())
            .field("outside", &self.outside.load(Ordering::Relaxed))
            .field("active", &self.active.load(Ordering::Relaxed))
            .field("lifecycle", &self.lifecycle.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl ThreadPool {
    /// Starts a pool of `workers` threads with default settings.
    ///
    /// # Errors
    ///
    /// [`BuildError`] if `workers` is zero or too large, or a thread cannot be started.
    ///
    /// # Examples
    ///
    /// ```
    /// use braid_threadpool::ThreadPool;
    ///
    /// let pool = ThreadPool::new(4)?;
    /// assert_eq!(pool.workers(), 4);
    /// assert!(ThreadPool::new(0).is_err());
    /// # Ok::<(), braid_threadpool::BuildError>(())
    /// ```
    pub fn new(workers: usize) -> Result<ThreadPool, BuildError> {
        Builder::new().workers(workers).build()
    }

    /// A [`Builder`] to configure thread names, stack size and start/stop callbacks.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// The number of worker threads.
    pub fn workers(&self) -> usize {
        self.shared.stealers.len()
    }

    /// Runs `task` on the pool and returns a handle to its result.
    ///
    /// Called from one of this pool's workers, the task goes to that worker's own deque
    /// (it runs next there unless another worker steals it); otherwise it joins the shared queue.
    /// A panic in `task` is caught and handed to the [`JoinHandle`]; the worker lives on.
    ///
    /// After [`ThreadPool::shutdown`] the task is not run: the handle reports
    /// [`JoinError::is_shut_down`](crate::JoinError::is_shut_down).
    ///
    /// # Examples
    ///
    /// ```
    /// use braid_threadpool::ThreadPool;
    ///
    /// let pool = ThreadPool::new(2)?;
    /// let handles: Vec<_> = (0..10u64).map(|i| pool.submit(move || i * i)).collect();
    /// let squares: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    /// assert_eq!(squares[9], 81);
    /// # Ok::<(), braid_threadpool::BuildError>(())
    /// ```
    ///
    /// The task runs on another thread, so what it captures must be `Send`; an `Rc` is refused
    /// at compile time:
    ///
    /// ```compile_fail,E0277
    /// use braid_threadpool::ThreadPool;
    /// use std::rc::Rc;
    ///
    /// let pool = ThreadPool::new(1).unwrap();
    /// let shared = Rc::new(5);
    /// pool.submit(move || *shared + 1);
    /// ```
    pub fn submit<F, T>(&self, task: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        if let Some(worker) = WorkerThread::current_in(&self.shared) {
            // No need to count this call: the worker drains its own deque before it exits.
            if !self.shared.is_open() {
                return task::rejected_task(task);
            }
            let (job, handle) = task::new_task(task);
            worker.push_local(job);
            return handle;
        }
        if !self.shared.enter() {
            return task::rejected_task(task);
        }
        let (job, handle) = task::new_task(task);
        self.shared.inject(job);
        self.shared.leave();
        handle
    }

    /// Stops the pool: no new tasks are accepted (later [`submit`](ThreadPool::submit)s return
    /// handles that report the shutdown), then it waits until the workers finished the work
    /// `how` keeps and exited.
    ///
    /// Calling it again, or from several threads, is fine; each call returns once the
    /// workers are gone. Called from a task running on this same pool it cannot wait for
    /// itself: it stops the pool and returns at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use braid_threadpool::{Shutdown, ThreadPool};
    ///
    /// let pool = ThreadPool::new(2)?;
    /// let before = pool.submit(|| 1);
    /// pool.shutdown(Shutdown::Wait);
    /// assert_eq!(before.join().unwrap(), 1);
    /// let after = pool.submit(|| 2);
    /// assert!(after.join().unwrap_err().is_shut_down());
    /// # Ok::<(), braid_threadpool::BuildError>(())
    /// ```
    pub fn shutdown(&self, how: Shutdown) {
        self.shared.close(how);
        if WorkerThread::current_in(&self.shared).is_some() {
            return;
        }
        // Joining under the lock makes a concurrent second call wait for the same exit.
        let mut threads = lock(&self.shared.threads);
        for thread in threads.drain(..) {
            // Workers catch every panic of the jobs they run; an error here means a hook
            // panicked while unwinding, which leaves nothing to clean up.
            let _ = thread.join();
        }
    }

    /// A snapshot of what each worker has done and how much work is queued.
    ///
    /// # Examples
    ///
    /// ```
    /// use braid_threadpool::ThreadPool;
    ///
    /// let pool = ThreadPool::new(2)?;
    /// let handles: Vec<_> = (0..100).map(|i| pool.submit(move || i)).collect();
    /// for handle in handles {
    ///     handle.join().unwrap();
    /// }
    /// let metrics = pool.metrics();
    /// assert_eq!(metrics.workers().len(), 2);
    /// assert_eq!(metrics.tasks_run(), 100);
    /// # Ok::<(), braid_threadpool::BuildError>(())
    /// ```
    pub fn metrics(&self) -> Metrics {
        let shared = &self.shared;
        let workers = shared
            .counters
            .iter()
            .map(|counters| WorkerMetrics {
                tasks_run: counters.run.load(Ordering::Relaxed),
                tasks_stolen: counters.stolen.load(Ordering::Relaxed),
            })
            .collect();
        let queued = shared.injector.len()
            + shared.stealers.iter().map(Stealer::len).sum::<usize>()
            + shared.slots.iter().filter(|slot| !slot.is_empty()).count();
        Metrics {
            workers,
            queued,
            heartbeats: shared.heartbeat.ticks() as u64,
        }
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        self.shutdown(Shutdown::Wait);
    }
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPool")
            .field("workers", &self.workers())
            .finish_non_exhaustive()
    }
}
