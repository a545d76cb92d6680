//! Running blocking code off the loop: [`spawn_blocking`].

use std::fmt;
use std::future::Future;
use std::io;
use std::panic::Location;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{ready, Context, Poll};

use braid_threadpool::{JoinHandle, ThreadPool};

use crate::build_error::BuildError;
use crate::event_loop::context;
use crate::task::{JoinError, Task};

/// Runs blocking code on the loop's thread pool and returns a [`Task`] for its result
/// (Python's `asyncio.to_thread`).
///
/// The pool is a [`braid_threadpool::ThreadPool`] the loop starts on first use, with
/// [`Builder::blocking_threads`](crate::Builder::blocking_threads) threads. A panic in `f`
/// reaches the awaiter as a [`JoinError`]. Cancelling the task before `f` starts keeps it
/// from running; once started it runs to the end (threads cannot be interrupted), and the
/// loop waits for started work when it is dropped.
///
/// A `braid_threadpool::JoinHandle` is itself a future, so work submitted to any other pool
/// can be awaited directly in a task too.
///
/// # Panics
///
/// Outside a running braid event loop, or if the pool's threads cannot be started.
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
        let pool = core.blocking_pool().unwrap_or_else(|error| {
            panic!("braid_executor::spawn_blocking could not start its thread pool: {error}")
        });
        let job = BlockingJob(pool.submit(f));
        core.spawn(job, location)
    })
}

/// The pool behind [`spawn_blocking`], started on first use. A loop has one of its own, or
/// the loops of a [`Runtime`](crate::Runtime) share one.
pub(crate) struct BlockingPool {
    threads: usize,
    pool: OnceLock<ThreadPool>,
}

impl BlockingPool {
    /// A pool of `threads` threads, or one per CPU (at least 2) for `None`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for `Some(0)`.
    pub(crate) fn new(threads: Option<usize>) -> Result<BlockingPool, BuildError> {
        let threads = match threads {
            Some(0) => {
                return Err(BuildError::invalid_setting(
                    "blocking_threads must be at least 1; leave it unset for one per CPU",
                ))
            }
            Some(n) => n,
            None => std::thread::available_parallelism()
                .map_or(2, |n| n.get())
                .max(2),
        };
        Ok(BlockingPool {
            threads,
            pool: OnceLock::new(),
        })
    }

    /// The pool, started now if this is its first use.
    ///
    /// # Errors
    ///
    /// When the pool's threads cannot be started.
    pub(crate) fn get(&self) -> io::Result<&ThreadPool> {
        if let Some(pool) = self.pool.get() {
            return Ok(pool);
        }
        let pool = ThreadPool::builder()
            .workers(self.threads)
            .thread_name("braid-blocking")
            .build()
            .map_err(io::Error::other)?;
        // Two loops starting it at once: one pool wins, the other's threads stop at its drop.
        Ok(self.pool.get_or_init(|| pool))
    }
}

impl fmt::Debug for BlockingPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingPool")
            .field("threads", &self.threads)
            .field("started", &self.pool.get().is_some())
            .finish()
    }
}

/// Waits for a pool job; cancels it if dropped before it started.
struct BlockingJob<T>(JoinHandle<T>);

impl<T> Future for BlockingJob<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let result = ready!(Pin::new(&mut self.0).poll(cx));
        Poll::Ready(result.map_err(|error| {
            if error.is_panic() {
                error
            } else {
                // Cancelled or refused by a shut-down pool: either way it never ran.
                JoinError::cancelled()
            }
        }))
    }
}

impl<T> Drop for BlockingJob<T> {
    fn drop(&mut self) {
        self.0.cancel();
    }
}
