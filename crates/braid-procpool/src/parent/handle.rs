//! [`JoinHandle`]: the parent's view of one submitted task.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use braid_threadpool::completion::Completion;
use serde::de::DeserializeOwned;

use crate::parent::error::TaskError;

/// How long [`JoinHandle::join`] looks for the result before it sleeps.
const SPIN: Duration = Duration::from_micros(50);
use crate::parent::job::Sink;
use crate::protocol::{self, Outcomes};

/// Where the supervisor leaves a task's outcome for its handle: braid's one completion cell.
pub(crate) type TaskSlot<R> = Completion<Result<R, TaskError>>;

impl<R: DeserializeOwned + Send> Sink for TaskSlot<R> {
    fn start(&self) -> bool {
        Completion::start(self)
    }

    fn deliver(&self, mut outcomes: Outcomes<'_>) {
        let result = match outcomes.next() {
            Some(outcome) => decode_outcome(outcome),
            None => Err(TaskError::Decode("the worker sent no result".into())),
        };
        Completion::complete(self, result);
    }

    fn fail(&self, error: TaskError) {
        Completion::complete(self, Err(error));
    }
}

/// Turns one item's status and bytes into its result.
pub(crate) fn decode_outcome<R: DeserializeOwned>(
    (status, bytes): (u8, &[u8]),
) -> Result<R, TaskError> {
    let text = || String::from_utf8_lossy(bytes).into_owned();
    match status {
        protocol::ITEM_OK => postcard::from_bytes(bytes).map_err(|e| {
            TaskError::Decode(format!(
                "the result did not decode as {}: {e}",
                std::any::type_name::<R>()
            ))
        }),
        protocol::ITEM_PANICKED => Err(TaskError::Panicked { message: text() }),
        protocol::ITEM_DECODE_ARGUMENT => Err(TaskError::Decode(format!(
            "the worker could not decode the argument: {}",
            text()
        ))),
        protocol::ITEM_ENCODE_RESULT => Err(TaskError::Encode(format!(
            "the worker could not encode the result: {}",
            text()
        ))),
        other => Err(TaskError::Decode(format!("unknown item status {other}"))),
    }
}

/// A handle to a task submitted with [`ProcessPool::submit`](crate::ProcessPool::submit).
///
/// Wait for the outcome with [`join`](JoinHandle::join) or
/// [`join_timeout`](JoinHandle::join_timeout), or `.await` it: a `JoinHandle` is a
/// [`Future`] that wakes its task from the pool's supervisor thread, so awaiting it never
/// blocks an executor thread. Dropping the handle lets the task run on; its result is thrown
/// away.
///
/// # Compared with the other pool's handle
///
/// braid's thread pool hands out a `JoinHandle` with the same methods, and they mean the
/// same, but for three things. The error here is a [`TaskError`], not the thread pool's
/// `JoinError`, since a task in another process can also time out, lose its worker, or fail
/// to encode its argument or result. [`cancel`](JoinHandle::cancel) stops only a task not yet
/// sent to a worker: a task sent ahead to a busy worker counts as started, as in Python's
/// `ProcessPoolExecutor`, where the thread pool's stops any task no worker has started. And
/// [`join`](JoinHandle::join) on a worker of a thread pool just waits, where the thread
/// pool's handle runs other jobs of its pool meanwhile: the result comes from another
/// process, so nothing on this thread can hurry it.
///
/// # Dropping it
///
/// A handle dropped straight away is a compile-time warning, since whatever ended the task
/// (a panic, a crashed worker, a timeout) would then go unseen:
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// fn report(x: u32) {
///     println!("{x}");
/// }
///
/// fn main() -> std::io::Result<()> {
///     braid_procpool::init();
///     let pool = braid_procpool::ProcessPool::new(1)?;
///     pool.submit(report, 7);
///     Ok(())
/// }
/// ```
///
/// Say `let _ =` to mean it:
///
/// ```
/// #![deny(unused_must_use)]
/// fn report(x: u32) {
///     println!("{x}");
/// }
///
/// fn main() -> std::io::Result<()> {
///     braid_procpool::init();
///     let pool = braid_procpool::ProcessPool::new(1)?;
///     let _ = pool.submit(report, 7);
///     Ok(())
/// }
/// ```
#[must_use = "dropping a JoinHandle lets the task run but throws away its result and any \
              error; use `let _ =` to mean that"]
pub struct JoinHandle<R> {
    slot: Arc<TaskSlot<R>>,
    _result: PhantomData<fn() -> R>,
}

impl<R> JoinHandle<R> {
    pub(crate) fn new(slot: Arc<TaskSlot<R>>) -> JoinHandle<R> {
        JoinHandle {
            slot,
            _result: PhantomData,
        }
    }

    /// Waits for the task and returns its result or why it has none.
    ///
    /// # Errors
    ///
    /// Returns the [`TaskError`] that ended the task: a panic, the death of its worker, a
    /// timeout, a cancellation, a value that did not encode or decode, or a shutdown.
    ///
    /// # Panics
    ///
    /// Panics if the result was already taken by polling the handle to completion as a
    /// future, or by [`JoinHandle::join_timeout`].
    #[track_caller]
    pub fn join(self) -> Result<R, TaskError> {
        self.look_before_sleeping();
        self.slot.wait_parked(None);
        self.slot.take()
    }

    /// A short task's result is usually on the way: for up to [`SPIN`], give the processor
    /// away and look again before the caller sleeps, since a sleep and a wake cost more than
    /// a short task (the workers and the supervisor do the same).
    fn look_before_sleeping(&self) {
        let spin_until = Instant::now() + SPIN;
        while !self.slot.is_done() && Instant::now() < spin_until {
            std::thread::yield_now();
        }
    }

    /// Waits at most `timeout` for the task. `None` if it has not finished; the handle stays
    /// usable to wait again, and the task goes on running: this is a time limit on the wait,
    /// not on the task (set that with
    /// [`ProcessPool::submit_with_timeout`](crate::ProcessPool::submit_with_timeout)).
    ///
    /// # Errors
    ///
    /// `Some(Err(..))` as for [`JoinHandle::join`].
    ///
    /// # Panics
    ///
    /// Panics if the result was already taken by an earlier call that returned `Some`, or by
    /// polling the handle to completion as a future.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// fn slow_double(x: u64) -> u64 {
    ///     std::thread::sleep(Duration::from_millis(20));
    ///     x * 2
    /// }
    ///
    /// fn main() -> std::io::Result<()> {
    ///     braid_procpool::init();
    ///     let pool = braid_procpool::ProcessPool::new(1)?;
    ///     let mut handle = pool.submit(slow_double, 21);
    ///     let result = loop {
    ///         if let Some(result) = handle.join_timeout(Duration::from_millis(5)) {
    ///             break result;
    ///         }
    ///     };
    ///     assert_eq!(result, Ok(42));
    ///     Ok(())
    /// }
    /// ```
    #[must_use = "a result returned by join_timeout is moved out of the handle: dropped, it is lost"]
    #[track_caller]
    pub fn join_timeout(&mut self, timeout: Duration) -> Option<Result<R, TaskError>> {
        if timeout >= SPIN {
            self.look_before_sleeping();
        }
        if self.slot.wait_parked(Instant::now().checked_add(timeout)) {
            Some(self.slot.take())
        } else {
            None
        }
    }

    /// Cancels the task if no worker has taken it yet; returns whether it did.
    ///
    /// A cancelled task never runs and its handle yields [`TaskError::Cancelled`]. A task
    /// that is running or finished is left alone and `cancel` returns `false`. As in Python's
    /// `ProcessPoolExecutor`, a task counts as started once it is sent to a worker: a busy
    /// worker is sent its next task ahead of time, and on Linux, while many tasks wait,
    /// several (up to 32), so that it need not wait for the parent between short tasks. Those are taken back for an idle worker,
    /// or by [`Shutdown::CancelPending`](crate::Shutdown::CancelPending), which cancels them,
    /// but not by `cancel`.
    pub fn cancel(&self) -> bool {
        self.slot.cancel(Err(TaskError::Cancelled))
    }

    /// Whether the outcome is decided, so that [`join`](JoinHandle::join) will not block.
    pub fn is_finished(&self) -> bool {
        self.slot.is_done()
    }
}

impl<R> Future for JoinHandle<R> {
    type Output = Result<R, TaskError>;

    /// # Panics
    ///
    /// Panics if polled again after it returned `Ready`.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.slot.poll_take(cx)
    }
}

impl<R> fmt::Debug for JoinHandle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish_non_exhaustive()
    }
}
