//! [`JoinHandle`]: the parent's view of one submitted task.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use serde::de::DeserializeOwned;

use crate::parent::error::TaskError;
use crate::parent::job::Sink;
use crate::protocol::{self, Outcomes};

/// The task waits in the parent's queue; `cancel` may still stop it.
const QUEUED: u8 = 0;
/// A worker took the task. Allowed from `QUEUED` only, by the supervisor.
const RUNNING: u8 = 1;
/// The outcome is decided (stored, or about to be). Allowed from `QUEUED` (cancel, shutdown,
/// encode failure) and `RUNNING` (result or failure); never left.
const DONE: u8 = 2;

/// Where the supervisor leaves a task's outcome for its handle.
pub(crate) struct TaskSlot<R> {
    state: AtomicU8,
    inner: Mutex<SlotInner<R>>,
    done: Condvar,
}

struct SlotInner<R> {
    result: Option<Result<R, TaskError>>,
    waker: Option<Waker>,
    /// Set once a poll returned the result, so a later wait panics instead of hanging.
    taken: bool,
}

impl<R> TaskSlot<R> {
    pub(crate) fn new() -> TaskSlot<R> {
        TaskSlot {
            state: AtomicU8::new(QUEUED),
            inner: Mutex::new(SlotInner {
                result: None,
                waker: None,
                taken: false,
            }),
            done: Condvar::new(),
        }
    }

    /// Stores the outcome unless another one was decided first.
    pub(crate) fn complete(&self, result: Result<R, TaskError>) {
        if self.state.swap(DONE, Ordering::AcqRel) == DONE {
            return;
        }
        self.store(result);
    }

    fn store(&self, result: Result<R, TaskError>) {
        let waker = {
            let mut inner = self.inner.lock();
            inner.result = Some(result);
            inner.waker.take()
        };
        self.done.notify_all();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<R: DeserializeOwned + Send> Sink for TaskSlot<R> {
    fn start(&self) -> bool {
        self.state
            .compare_exchange(QUEUED, RUNNING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    fn deliver(&self, mut outcomes: Outcomes<'_>) {
        let result = match outcomes.next() {
            Some(outcome) => decode_outcome(outcome),
            None => Err(TaskError::Decode("the worker sent no result".into())),
        };
        self.complete(result);
    }

    fn fail(&self, error: TaskError) {
        self.complete(Err(error));
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
    /// Panics if the handle was already polled to completion as a future.
    pub fn join(self) -> Result<R, TaskError> {
        let mut inner = self.slot.inner.lock();
        assert!(
            !inner.taken,
            "a JoinHandle was joined after it returned Ready as a future"
        );
        loop {
            if let Some(result) = inner.result.take() {
                return result;
            }
            self.slot.done.wait(&mut inner);
        }
    }

    /// Waits at most `timeout` for the task. On time-out the handle comes back in `Err`, and
    /// the task goes on running: this is a time limit on the wait, not on the task (set that
    /// with [`ProcessPool::submit_with_timeout`](crate::ProcessPool::submit_with_timeout)).
    ///
    /// # Errors
    ///
    /// `Err(self)` when the task did not finish in time.
    ///
    /// # Panics
    ///
    /// Panics if the handle was already polled to completion as a future.
    pub fn join_timeout(self, timeout: Duration) -> Result<Result<R, TaskError>, JoinHandle<R>> {
        let deadline = Instant::now().checked_add(timeout);
        {
            let mut inner = self.slot.inner.lock();
            assert!(
                !inner.taken,
                "a JoinHandle was joined after it returned Ready as a future"
            );
            loop {
                if let Some(result) = inner.result.take() {
                    return Ok(result);
                }
                match deadline {
                    Some(deadline) => {
                        if self.slot.done.wait_until(&mut inner, deadline).timed_out() {
                            if let Some(result) = inner.result.take() {
                                return Ok(result);
                            }
                            break;
                        }
                    }
                    None => self.slot.done.wait(&mut inner),
                }
            }
        }
        Err(self)
    }

    /// Cancels the task if no worker has taken it yet; returns whether it did.
    ///
    /// A cancelled task never runs and its handle yields [`TaskError::Cancelled`]. A task
    /// that is running or finished is left alone and `cancel` returns `false`. As in Python's
    /// `ProcessPoolExecutor`, a task counts as started once a worker has taken it: while more
    /// tasks wait than workers are idle, a busy worker takes its next task ahead of time, so
    /// that it need not wait for the parent between short tasks.
    pub fn cancel(&self) -> bool {
        let cancelled = self
            .slot
            .state
            .compare_exchange(QUEUED, DONE, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if cancelled {
            self.slot.store(Err(TaskError::Cancelled));
        }
        cancelled
    }

    /// Whether the outcome is decided, so that [`join`](JoinHandle::join) will not block
    /// (beyond a moment).
    pub fn is_finished(&self) -> bool {
        self.slot.state.load(Ordering::Acquire) == DONE
    }
}

impl<R> Future for JoinHandle<R> {
    type Output = Result<R, TaskError>;

    /// # Panics
    ///
    /// Panics if polled again after it returned `Ready`.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut inner = self.slot.inner.lock();
        if let Some(result) = inner.result.take() {
            inner.taken = true;
            return Poll::Ready(result);
        }
        assert!(
            !inner.taken,
            "a JoinHandle was polled after it returned Ready"
        );
        match &mut inner.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            waker => *waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<R> fmt::Debug for JoinHandle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.slot.state.load(Ordering::Acquire) {
            QUEUED => "queued",
            RUNNING => "running",
            _ => "finished",
        };
        f.debug_struct("JoinHandle").field("state", &state).finish()
    }
}
