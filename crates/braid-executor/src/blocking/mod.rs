//! Running blocking code off the loop: [`spawn_blocking`].

mod pool;
#[cfg(test)]
mod test;

use std::fmt;
use std::future::Future;
use std::io;
use std::panic::{AssertUnwindSafe, Location};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use braid_threadpool::completion::Completion;

use crate::build_error::BuildError;
use crate::event_loop::context;
use crate::task::{JoinError, Task};
use pool::Pool;
pub(crate) use pool::DEFAULT_MAX_THREADS;

/// How long dropping a loop (or a runtime) waits for `spawn_blocking` jobs still running,
/// unless set with `shutdown_timeout`.
pub(crate) const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs blocking code on a thread of the loop's blocking pool and returns a [`Task`] for its
/// result (Python's `asyncio.to_thread`).
///
/// The pool is sized for blocking calls, which wait rather than compute: it starts a thread
/// whenever a job arrives and no thread is idle, up to
/// [`Builder::blocking_threads`](crate::Builder::blocking_threads) (default 512, as tokio's
/// blocking pool), and a thread left without work for 10 seconds exits. So eight calls that
/// each block for 200 ms take about 200 ms together, whatever the number of cores, and jobs
/// that wait for one another do not deadlock. For CPU-bound work use a
/// [`braid_threadpool::ThreadPool`] (one thread per core) and await its handle instead.
/// braid does not copy asyncio's `min(32, cpus + 4)` threads: on a 2-core machine that is 6,
/// too few for the eight calls above to run at once.
///
/// A panic in `f` reaches the awaiter as a [`JoinError`]. Cancelling the task before `f`
/// starts keeps it from running; once started it runs to the end (threads cannot be
/// interrupted). When the loop ends, jobs still running get a bounded grace
/// ([`Builder::shutdown_timeout`](crate::Builder::shutdown_timeout), default 5 s); those
/// still running then are left to finish on their own threads, and a warning names where
/// they were spawned.
///
/// A `braid_threadpool::JoinHandle` is itself a future, so work submitted to any other pool
/// can be awaited directly in a task too.
///
/// # Panics
///
/// Outside a running braid event loop, or if no thread of the pool runs and none can be
/// started.
///
/// # Examples
///
/// ```
/// braid_executor::run(async {
///     let sum = braid_executor::spawn_blocking(|| (1..=100u64).sum::<u64>());
///     assert_eq!(sum.await.unwrap(), 5050);
/// });
/// ```
#[track_caller]
pub fn spawn_blocking<F, T>(f: F) -> Task<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let location = Location::caller();
    context::with_current(|core| {
        let Some(core) = core else {
            context::no_loop("braid_executor::spawn_blocking");
        };
        let outcome = Arc::new(Completion::new());
        let unrun = Unrun(outcome.clone());
        let work = Box::new(move || {
            // The task was cancelled before the job started.
            if !unrun.0.start() {
                return;
            }
            let result = std::panic::catch_unwind(AssertUnwindSafe(f)).map_err(JoinError::panic);
            unrun.0.complete(result);
        });
        core.blocking_pool()
            .submit(work, location)
            .unwrap_or_else(|error| {
                panic!("braid_executor::spawn_blocking could not start a thread: {error}")
            });
        core.spawn(BlockingJob(outcome), location)
    })
}

/// The pool behind [`spawn_blocking`]. A loop has one of its own, or the loops of a
/// [`Runtime`](crate::Runtime) share one. Dropping it is the shutdown: see
/// [`BlockingPool::shutdown`].
pub(crate) struct BlockingPool {
    pool: Pool,
    shutdown_timeout: Duration,
}

impl BlockingPool {
    /// A pool of up to `threads` threads ([`DEFAULT_MAX_THREADS`] for `None`), none started
    /// yet, whose drop waits up to `shutdown_timeout` for running jobs.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for `Some(0)`.
    pub(crate) fn new(
        threads: Option<usize>,
        shutdown_timeout: Duration,
    ) -> Result<BlockingPool, BuildError> {
        let threads =
            match threads {
                Some(0) => return Err(BuildError::invalid_setting(
                    "blocking_threads must be at least 1; leave it unset for the default of 512",
                )),
                Some(n) => n,
                None => DEFAULT_MAX_THREADS,
            };
        Ok(BlockingPool {
            pool: Pool::new(threads),
            shutdown_timeout,
        })
    }

    /// Queues a job, starting a thread for it if none is idle and the cap allows.
    ///
    /// # Errors
    ///
    /// When no thread runs and none can be started.
    pub(crate) fn submit(
        &self,
        work: Box<dyn FnOnce() + Send>,
        location: &'static Location<'static>,
    ) -> io::Result<()> {
        self.pool.submit(work, location)
    }

    /// Ends the pool: queued jobs are dropped unrun (their tasks are gone by now: the loop
    /// dropped them first), running ones get `shutdown_timeout` to finish, and any still
    /// running after that are left to finish on their own threads, with a warning naming
    /// where they were spawned. asyncio bounds `shutdown_default_executor` the same way.
    fn shutdown(&self) {
        let left = self.pool.shutdown(self.shutdown_timeout);
        if left.is_empty() {
            return;
        }
        let sites = left
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let message = format!(
            "braid: {} spawn_blocking job(s) still running after the shutdown grace of {:?}; \
             left to finish on their own threads. Spawned at: {sites}",
            left.len(),
            self.shutdown_timeout,
        );
        let listened = tracing::dispatcher::get_default(|dispatch| {
            !dispatch.is::<tracing::subscriber::NoSubscriber>()
        });
        if listened {
            tracing::warn!(jobs = left.len(), spawned_at = %sites, "{message}");
        } else {
            // Nobody listens to tracing: a line on stderr, as asyncio's warnings reach it.
            eprintln!("{message}");
        }
    }
}

impl Drop for BlockingPool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl fmt::Debug for BlockingPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingPool")
            .field("pool", &self.pool)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .finish()
    }
}

/// A job's outcome: braid's one completion cell, as for a thread-pool or process-pool handle.
type Outcome<T> = Arc<Completion<Result<T, JoinError>>>;

/// Waits for a job's result; dropping it before the job started keeps the job from running.
struct BlockingJob<T>(Outcome<T>);

impl<T> Future for BlockingJob<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.poll_take(cx)
    }
}

impl<T> Drop for BlockingJob<T> {
    fn drop(&mut self) {
        // A job that has not started never will; one that has runs on, its result dropped.
        self.0.cancel(Err(JoinError::cancelled()));
    }
}

/// Travels with the job: if the pool drops the job unrun (it shut down), the task sees a
/// cancelled `JoinError` instead of waiting forever.
struct Unrun<T>(Outcome<T>);

impl<T> Drop for Unrun<T> {
    fn drop(&mut self) {
        // A no-op once the job ran and stored its result.
        self.0.cancel(Err(JoinError::cancelled()));
    }
}
