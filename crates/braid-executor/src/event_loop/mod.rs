//! The event loop: runs tasks on one thread, waits for I/O and timers in between.

pub(crate) mod context;
pub(crate) mod core;
mod handle;
mod metrics;
mod run_queue;
mod shared;
mod slow_poll;

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use braid_poller::Poller;
use futures::FutureExt;

pub use handle::{Handle, SpawnError};
pub use metrics::Metrics;
pub(crate) use shared::Shared;

use self::core::Core;
use crate::blocking::BlockingPool;
use crate::build_error::BuildError;
use crate::task::{JoinError, Task, TaskDump};

/// The default slow-poll threshold: a task poll longer than this logs a warning.
pub const DEFAULT_SLOW_POLL_THRESHOLD: Duration = Duration::from_millis(100);

/// A single-threaded event loop (Python's `asyncio` event loop).
///
/// [`block_on`](EventLoop::block_on) drives a future to completion on the calling thread,
/// running the tasks it [`spawn`]s, waking sleeping tasks when their time comes and tasks
/// waiting on sockets when those are ready. Tasks still alive when the loop is dropped are
/// cancelled: their futures are dropped, on this thread, before `drop` returns. Then
/// [`spawn_blocking`](crate::spawn_blocking) jobs still running get a bounded grace
/// ([`Builder::shutdown_timeout`], default 5 s) and are left to finish on their own threads
/// after it, so dropping a loop never waits forever for a blocking call.
///
/// Once dropped, a loop holds nothing: its tasks' timers, sockets and child watchers went
/// with their futures, and its poller's descriptors close even if a [`Task`] handle, a
/// [`Handle`] or a waker of one of its tasks is kept; those hold only a little memory. A
/// socket of the loop kept after the loop ended keeps only its own descriptor, which closes
/// when it is dropped.
///
/// Most programs call [`run`], which makes a loop, runs one future and drops the loop.
/// Keep an `EventLoop` to call `block_on` several times or to read its
/// [`metrics`](EventLoop::metrics).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let event_loop = braid_executor::EventLoop::builder()
///     .slow_poll_threshold(Duration::from_millis(50))
///     .build()?;
/// let answer = event_loop.block_on(async {
///     let task = braid_executor::spawn(async { 40 + 2 });
///     task.await.unwrap()
/// });
/// assert_eq!(answer, 42);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct EventLoop {
    core: Rc<Core>,
}

/// Configures an [`EventLoop`] before it is made; from [`EventLoop::builder`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let event_loop = braid_executor::EventLoop::builder()
///     .slow_poll_threshold(Duration::from_millis(20))
///     .blocking_threads(4)
///     .build()?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a Builder does nothing until .build() is called"]
pub struct Builder {
    slow_poll_threshold: Duration,
    blocking_threads: Option<usize>,
    shutdown_timeout: Duration,
    /// A pool shared with other loops, used instead of one of the loop's own.
    blocking_pool: Option<Arc<BlockingPool>>,
    yield_before_sleep: bool,
}

impl Builder {
    /// A poll that takes at least this long counts in [`Metrics::slow_polls`] and is
    /// reported with where the task was spawned. The future given to [`EventLoop::block_on`]
    /// or [`run`] is watched the same way, and named by where that was called. Default:
    /// 100 ms (asyncio's debug threshold).
    ///
    /// Where the report goes: with a `tracing` subscriber installed (global or scoped), each
    /// slow poll is a `tracing` warning, and nothing is printed. Without one, the first slow
    /// poll at each place (spawn site, or `block_on` call) in the process prints one line to
    /// stderr, so that the warning is seen; later ones at that place are only counted.
    /// `Duration::MAX` turns both off.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// // No slow-poll reports at all, on stderr or to `tracing`.
    /// let quiet = braid_executor::EventLoop::builder()
    ///     .slow_poll_threshold(Duration::MAX)
    ///     .build()?;
    /// # Ok::<(), braid_executor::BuildError>(())
    /// ```
    pub fn slow_poll_threshold(mut self, threshold: Duration) -> Builder {
        self.slow_poll_threshold = threshold;
        self
    }

    /// The most threads [`spawn_blocking`](crate::spawn_blocking) may start. Threads start
    /// on demand, when a job arrives and none is idle, and exit after 10 s without work.
    /// Default: 512 (tokio's cap), since blocking calls wait rather than compute; see
    /// [`spawn_blocking`](crate::spawn_blocking) for why it is not one per core.
    pub fn blocking_threads(mut self, threads: usize) -> Builder {
        self.blocking_threads = Some(threads);
        self
    }

    /// How long dropping the loop (and so the end of [`run`]) waits for
    /// [`spawn_blocking`](crate::spawn_blocking) jobs still running. Jobs that have not
    /// finished by then are left to finish on their own threads, and a warning (`tracing`,
    /// or one line on stderr when no subscriber is installed) names where each was spawned.
    /// Default: 5 s, where asyncio's `shutdown_default_executor` is bounded too.
    /// `Duration::ZERO` never waits; `Duration::MAX` waits for every job, however long.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Builder {
        self.shutdown_timeout = timeout;
        self
    }

    /// Whether the loop, having run out of work, gives its core to other runnable threads
    /// once before it sleeps in the poller, then takes what they caused meanwhile in one
    /// batch. Default: `false` here, `true` on a [`Runtime`](crate::Runtime)'s builder,
    /// whose loops take every core.
    ///
    /// It pays where busy threads that feed the loop share its cores: a load generator on
    /// the same machine, or more loops than cores. Without it each of their events may cost
    /// the loop a sleep and a wake-up; with it, on 2 cores, two loops and a client thread
    /// went from about 125k echo round trips/s to 175k.
    ///
    /// Where a thread that never blocks shares the core (a CPU-bound program, or
    /// [`spawn_blocking`](crate::spawn_blocking) jobs), a yield may hand that thread a whole
    /// scheduler slice, a millisecond or more, while the loop's next event waits: with such a
    /// thread pinned to the loop's core, one connection fell from 31k round trips/s to 0.7k
    /// that way. So a yield that took 250 µs or more and brought at most one event holds the
    /// loop's next 8 yields back (it sleeps at once instead), twice as many after each
    /// further such yield, up to 1,024, and half as many again after 16 yields in a row that
    /// were not wasted; with the back-off the same connection makes as many round trips as
    /// with no yields at all. A slow yield that brings a batch of events is what yielding is
    /// for and holds nothing back. [`Metrics::slow_yields`] and
    /// [`Metrics::yields_held_back`] count both. No yield is made when a timer is due within
    /// 1 ms, which a slow yield would make late.
    pub fn yield_before_sleep(mut self, yield_first: bool) -> Builder {
        self.yield_before_sleep = yield_first;
        self
    }

    /// Runs `spawn_blocking` on `pool`, which other loops may share, instead of a pool of
    /// the loop's own; `blocking_threads` and `shutdown_timeout` are then not used.
    pub(crate) fn share_blocking_pool(mut self, pool: Arc<BlockingPool>) -> Builder {
        self.blocking_pool = Some(pool);
        self
    }

    /// Makes the loop.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] that [`is_invalid_setting`](BuildError::is_invalid_setting) if
    /// `blocking_threads` was set to 0, or [`is_os`](BuildError::is_os) with what
    /// [`Poller::new`](braid_poller::Poller::new) reports, typically running out of file
    /// descriptors.
    pub fn build(self) -> Result<EventLoop, BuildError> {
        let blocking_pool = match self.blocking_pool {
            Some(pool) => pool,
            None => Arc::new(BlockingPool::new(
                self.blocking_threads,
                self.shutdown_timeout,
            )?),
        };
        Ok(EventLoop {
            core: Rc::new(Core::new(
                Arc::new(Poller::new()?),
                self.slow_poll_threshold,
                blocking_pool,
                self.yield_before_sleep,
            )),
        })
    }
}

impl EventLoop {
    /// Makes a loop with the default settings.
    ///
    /// # Errors
    ///
    /// As [`Builder::build`].
    pub fn new() -> Result<EventLoop, BuildError> {
        EventLoop::builder().build()
    }

    /// Starts configuring a loop.
    pub fn builder() -> Builder {
        Builder {
            slow_poll_threshold: DEFAULT_SLOW_POLL_THRESHOLD,
            blocking_threads: None,
            shutdown_timeout: crate::blocking::DEFAULT_SHUTDOWN_TIMEOUT,
            blocking_pool: None,
            yield_before_sleep: false,
        }
    }

    /// Runs `future` to completion on this thread, running the loop's tasks meanwhile
    /// (Python's `loop.run_until_complete`). Tasks still alive when it returns stay in the
    /// loop, paused, until the next `block_on` or until the loop is dropped.
    ///
    /// `future` is watched like a task: a poll of it longer than the
    /// [slow-poll threshold](Builder::slow_poll_threshold) counts in
    /// [`Metrics::slow_polls`] and is reported with the place `block_on` was called from.
    ///
    /// # Panics
    ///
    /// If called inside a running loop (from a task); and with `future`'s own panic, which
    /// leaves the loop usable.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = braid_executor::EventLoop::new()?;
    /// assert_eq!(event_loop.block_on(async { 7 }), 7);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let location = Location::caller();
        let _enter = context::Enter::new(&self.core, false);
        let mut future = pin!(future);
        let waker = Waker::from(self.core.shared.clone());
        let mut cx = Context::from_waker(&waker);
        let shared = &self.core.shared;
        shared.main_woken.store(true, Ordering::Relaxed);
        // A clock carried from an earlier `block_on` (left by a panic) is stale.
        self.core.forget_clock();
        loop {
            if shared.main_woken.load(Ordering::Acquire) {
                shared.main_woken.store(false, Ordering::Relaxed);
                if let Poll::Ready(output) = self.core.poll_main(future.as_mut(), &mut cx, location)
                {
                    return output;
                }
            }
            self.core.turn();
        }
    }

    /// Spawns a task on this loop from outside it; it starts at the next `block_on`.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = braid_executor::EventLoop::new()?;
    /// let task = event_loop.spawn(async { "done" });
    /// assert_eq!(event_loop.block_on(task).unwrap(), "done");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> Task<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.core
            .spawn(future.map(Ok::<_, JoinError>), Location::caller())
    }

    /// A handle for spawning onto this loop from any thread.
    pub fn handle(&self) -> Handle {
        Handle::new(self.core.shared.clone())
    }

    /// What the loop has done so far.
    pub fn metrics(&self) -> Metrics {
        self.core.metrics()
    }

    /// A snapshot of every live task: its number, where it was spawned, whether it is
    /// scheduled, waiting or running, how long since it was last polled, and its polls so
    /// far (Python's `asyncio.all_tasks()`). Print it to see where a program waits; its
    /// `Display` is a table. [`Handle::tasks`] gives the same from any thread, and shows
    /// which task blocks the loop when it is stuck in a poll.
    ///
    /// Keeping these numbers costs the loop a few plain stores per poll, from the clock
    /// reading it takes anyway to time the poll, and no lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use braid_executor::{EventLoop, TaskState};
    ///
    /// let event_loop = EventLoop::new()?;
    /// let idle = event_loop.spawn(std::future::pending::<()>());
    /// event_loop.block_on(braid_executor::yield_now()); // `idle` runs once, then waits
    /// let queued = event_loop.spawn(async {});
    /// let dump = event_loop.tasks();
    /// let states: Vec<_> = dump.iter().map(|task| task.state).collect();
    /// assert_eq!(states, [TaskState::Waiting, TaskState::Scheduled]);
    /// println!("{dump}");
    /// # drop((idle, queued));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn tasks(&self) -> TaskDump {
        self.core.tasks()
    }
}

impl Drop for EventLoop {
    fn drop(&mut self) {
        // Futures dropped here may use the loop in their destructors (to deregister a timer
        // or a socket), so it counts as running on this thread meanwhile.
        let _enter = context::Enter::new(&self.core, true);
        self.core.shutdown();
    }
}

impl fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventLoop")
            .field("core", &self.core)
            .finish()
    }
}

/// Runs `future` on a new event loop and returns its output (Python's `asyncio.run`).
///
/// When `future` finishes, the tasks it left behind are cancelled and dropped before `run`
/// returns, so nothing they own outlives the call. A [`spawn_blocking`](crate::spawn_blocking)
/// job still running holds `run` for at most 5 s (the default
/// [`Builder::shutdown_timeout`]), then is left to finish on its own thread, with a warning
/// naming where it was spawned. `future` is watched like a task: a poll of it longer than
/// the slow-poll threshold (100 ms) is counted and reported with the place `run` was called
/// from (see [`Builder::slow_poll_threshold`] for where reports go).
///
/// # Panics
///
/// If the loop cannot be made (no file descriptors left), if called inside a running loop,
/// and with `future`'s own panic.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let sum = braid_executor::run(async {
///     let a = braid_executor::spawn(async { 1 });
///     let b = braid_executor::spawn(async {
///         braid_executor::sleep(Duration::from_millis(1)).await;
///         2
///     });
///     a.await.unwrap() + b.await.unwrap()
/// });
/// assert_eq!(sum, 3);
/// ```
#[track_caller]
pub fn run<F: Future>(future: F) -> F::Output {
    let event_loop = EventLoop::new().unwrap_or_else(|error| {
        panic!("braid_executor::run could not create an event loop: {error}")
    });
    event_loop.block_on(future)
}

/// What the loop running on this thread has done so far: [`EventLoop::metrics`] for code
/// inside [`run`] or `#[braid::main]`, where the [`EventLoop`] itself is out of reach.
///
/// # Panics
///
/// If no braid event loop runs on this thread.
///
/// # Examples
///
/// ```
/// braid_executor::run(async {
///     braid_executor::spawn(async {}).await.unwrap();
///     assert_eq!(braid_executor::metrics().tasks_spawned, 1);
/// });
/// ```
pub fn metrics() -> Metrics {
    context::with_current(|core| match core {
        Some(core) => core.metrics(),
        None => context::no_loop("braid_executor::metrics"),
    })
}

/// Spawns a task on the loop running on this thread (Python's `asyncio.create_task`).
///
/// The future need not be `Send`: it stays on this thread. The task starts at the loop's next
/// turn and runs until it finishes, is cancelled, or the loop ends, whether or not the
/// returned [`Task`] is kept. Where it was spawned is recorded for slow-poll warnings.
///
/// # Panics
///
/// If no braid event loop runs on this thread.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
///
/// braid_executor::run(async {
///     let shared = Rc::new(5); // not Send, and that is fine
///     let task = braid_executor::spawn(async move { *shared * 2 });
///     assert_eq!(task.await.unwrap(), 10);
/// });
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> Task<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let location = Location::caller();
    context::with_current(|core| match core {
        Some(core) => core.spawn(future.map(Ok::<_, JoinError>), location),
        None => context::no_loop("braid_executor::spawn"),
    })
}
