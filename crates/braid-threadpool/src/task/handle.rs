use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::{Outcome, TaskOutput};
use crate::JoinError;

/// An owned permission to wait for a submitted task and take its result.
///
/// Get one from [`ThreadPool::submit`](crate::ThreadPool::submit). Dropping it does not cancel the
/// task; the result is then thrown away. A `JoinHandle` is also a [`Future`], so async code
/// running on any executor can `.await` it.
///
/// # Examples
///
/// ```
/// use braid_threadpool::ThreadPool;
///
/// let pool = ThreadPool::new(2)?;
/// let handle = pool.submit(|| 6 * 7);
/// assert_eq!(handle.join().unwrap(), 42);
/// # Ok::<(), braid_threadpool::BuildError>(())
/// ```
///
/// # Compared with the other pool's handle
///
/// braid's process pool hands out a `JoinHandle` with the same methods, and they mean the
/// same, but for three things. Its error is a `TaskError` rather than a [`JoinError`], since a
/// task in another process can also time out, lose its worker, or fail to encode its value.
/// Its `cancel` stops only a task not yet sent to a worker, where this one stops any task no
/// worker has started. And joining it from a worker of this pool just waits, where joining
/// this handle there runs other jobs of the pool meanwhile, with `join` and with `join_timeout`,
/// which can then return late by up to the length of one job.
///
/// # Dropping it
///
/// A handle dropped straight away is a compile-time warning, since a panic in the task would
/// then go unseen:
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// let pool = braid_threadpool::ThreadPool::new(2)?;
/// pool.submit(|| println!("fire and forget"));
/// # Ok::<(), braid_threadpool::BuildError>(())
/// ```
///
/// Say `let _ =` to mean it:
///
/// ```
/// #![deny(unused_must_use)]
/// let pool = braid_threadpool::ThreadPool::new(2)?;
/// let _ = pool.submit(|| println!("fire and forget"));
/// # Ok::<(), braid_threadpool::BuildError>(())
/// ```
#[must_use = "dropping a JoinHandle lets the task run but throws away its result and any \
              panic; use `let _ =` to mean that"]
pub struct JoinHandle<T> {
    task: Arc<dyn TaskOutput<T>>,
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(task: Arc<dyn TaskOutput<T>>) -> JoinHandle<T> {
        JoinHandle { task }
    }

    fn outcome(&self) -> &Outcome<T> {
        self.task.outcome()
    }

    /// Cancels the task if it has not started yet. Returns true if it was cancelled: it will
    /// never run, and waiting on it gives an error for which
    /// [`JoinError::is_cancelled`] is true. Returns false if it already started or finished.
    ///
    /// # Examples
    ///
    /// ```
    /// use braid_threadpool::ThreadPool;
    /// use std::sync::mpsc;
    ///
    /// let pool = ThreadPool::new(1)?;
    /// let (release, wait) = mpsc::channel::<()>();
    /// let busy = pool.submit(move || wait.recv().unwrap());
    /// let queued = pool.submit(|| "never runs");
    /// assert!(queued.cancel());
    /// release.send(()).unwrap();
    /// busy.join().unwrap();
    /// assert!(queued.join().unwrap_err().is_cancelled());
    /// # Ok::<(), braid_threadpool::BuildError>(())
    /// ```
    pub fn cancel(&self) -> bool {
        self.outcome().cancel(Err(JoinError::cancelled()))
    }

    /// True once the task returned, panicked, or was cancelled: waiting on it will not block.
    pub fn is_finished(&self) -> bool {
        self.outcome().is_done()
    }

    /// Blocks until the task finished and returns its value.
    ///
    /// Called from a worker thread of a braid pool, the worker runs other queued jobs while it
    /// waits, so a task may wait on tasks of its own pool, even in a pool of one worker.
    ///
    /// # Errors
    ///
    /// A [`JoinError`] if the task panicked, was cancelled, or the pool was shut down before
    /// it was submitted.
    ///
    /// # Panics
    ///
    /// Panics if the result was already taken by an earlier poll or
    /// [`JoinHandle::join_timeout`].
    #[track_caller]
    pub fn join(self) -> Result<T, JoinError> {
        self.outcome().wait(None);
        self.outcome().take()
    }

    /// Waits at most `timeout` for the task to finish. `None` if it is still running or
    /// queued; the handle stays usable to wait again.
    ///
    /// Called from a worker of a braid pool, it runs other queued jobs while it waits, as
    /// [`join`](JoinHandle::join) does, so that a loop of `join_timeout` calls on a task
    /// queued behind it cannot deadlock, even in a pool of one worker. The price: it looks at
    /// the clock between jobs, so it returns late by up to the length of the job it was running
    /// when `timeout` passed. Off the pool's workers (and on a process pool's handle, always)
    /// it only waits, and returns on time.
    ///
    /// # Errors
    ///
    /// `Some(Err(..))` as for [`JoinHandle::join`].
    ///
    /// # Panics
    ///
    /// Panics if the result was already taken by an earlier call that returned `Some`: unlike
    /// Python's `future.result(timeout)`, the result is moved out, once.
    ///
    /// # Examples
    ///
    /// ```
    /// use braid_threadpool::ThreadPool;
    /// use std::time::Duration;
    ///
    /// let pool = ThreadPool::new(1)?;
    /// let mut handle = pool.submit(|| 5);
    /// let result = loop {
    ///     if let Some(result) = handle.join_timeout(Duration::from_millis(10)) {
    ///         break result;
    ///     }
    /// };
    /// assert_eq!(result.unwrap(), 5);
    /// # Ok::<(), braid_threadpool::BuildError>(())
    /// ```
    #[must_use = "a result returned by join_timeout is moved out of the handle: dropped, it is lost"]
    #[track_caller]
    pub fn join_timeout(&mut self, timeout: Duration) -> Option<Result<T, JoinError>> {
        let deadline = Instant::now().checked_add(timeout);
        if self.outcome().wait(deadline) {
            Some(self.outcome().take())
        } else {
            None
        }
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    /// # Panics
    ///
    /// Panics if polled again after it returned `Ready`.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.outcome().poll_take(cx)
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish_non_exhaustive()
    }
}
