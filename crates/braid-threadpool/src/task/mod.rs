//! Submitted tasks: one allocation holding the closure, its state and its result slot.

mod error;
mod handle;
#[cfg(all(test, not(loom)))]
mod test;

pub use error::JoinError;
pub use handle::JoinHandle;

use std::any::Any;
use std::cell::UnsafeCell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Waker;

use crate::job::{Call, JobRef};
use crate::sync::{lock, Mutex};

// The stage of a task, in the low bits of `Header::state`. Allowed transitions:
// QUEUED -> RUNNING (a worker starts it), RUNNING -> DONE (it returned or panicked),
// QUEUED -> CANCELLED (`JoinHandle::cancel` or `Shutdown::CancelPending`).
// REJECTED is a task's first and last stage when the pool was shut down before it was submitted.
const QUEUED: usize = 0;
const RUNNING: usize = 1;
const DONE: usize = 2;
const CANCELLED: usize = 3;
const REJECTED: usize = 4;
const STAGE: usize = 0b111;
/// Flag: a waker sits in `Header::waker` and whoever finishes the task must wake it.
/// Set by the handle (never cleared); read by the finisher.
const WAITER: usize = 1 << 3;
/// Flag: the handle took the output. Set once, by the handle.
const TAKEN: usize = 1 << 4;

/// The part of a task its handle sees, whatever the closure type.
pub(crate) struct Header<T> {
    state: AtomicUsize,
    waker: Mutex<Option<Waker>>,
    /// Written once by the worker that runs the task, before the stage becomes DONE; read by
    /// the handle only after it saw DONE.
    output: UnsafeCell<Output<T>>,
}

enum Output<T> {
    Empty,
    Value(T),
    Panic(Box<dyn Any + Send>),
}

/// The handle's view of a task, erasing the closure type.
pub(crate) trait TaskOutput<T>: Send + Sync {
    fn header(&self) -> &Header<T>;
}

struct Task<F, T> {
    header: Header<T>,
    /// Taken by the one thread that runs or cancels the job.
    func: UnsafeCell<Option<F>>,
}

// SAFETY: `func` is touched only by the single thread that took the job from a queue, and
// `output` is written before the release of the DONE stage and read by the handle after acquiring
// it, so sharing the task never gives two threads access to the same cell at once. `F` and `T`
// are `Send` because they move to and from the worker.
unsafe impl<F: Send, T: Send> Sync for Task<F, T> {}

impl<F, T> TaskOutput<T> for Task<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn header(&self) -> &Header<T> {
        &self.header
    }
}

/// Packs `func` into a task: the job to queue and the handle to give back.
pub(crate) fn new_task<F, T>(func: F) -> (JobRef, JoinHandle<T>)
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let task = Arc::new(Task {
        header: Header::new(QUEUED),
        func: UnsafeCell::new(Some(func)),
    });
    let handle = JoinHandle::new(task.clone());
    let data = Arc::into_raw(task).cast::<()>();
    // SAFETY: the queue's reference to the task is the one leaked by `into_raw`, taken back by
    // `run_task` or `cancel_task`, whichever runs; both only need `F` and `T` to be `Send`.
    let job = unsafe { JobRef::new(data, execute_task::<F, T>, true) };
    (job, handle)
}

/// A handle for work the pool refused because it was shut down.
pub(crate) fn rejected_task<F, T>(func: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    drop(func);
    JoinHandle::new(Arc::new(Task::<F, T> {
        header: Header::new(REJECTED),
        func: UnsafeCell::new(None),
    }))
}

/// The `execute` of a submitted task's `JobRef`.
///
/// # Safety
///
/// `data` is the reference `new_task` leaked for the queue, and this is its one call.
unsafe fn execute_task<F, T>(data: *const (), call: Call<'_>)
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    match call {
        // SAFETY: forwarded from the caller.
        Call::Run(_) => unsafe { run_task::<F, T>(data) },
        // SAFETY: forwarded from the caller.
        Call::Cancel => unsafe { cancel_task::<F, T>(data) },
    }
}

/// # Safety
///
/// `data` is the reference `new_task` leaked for the queue, consumed here.
unsafe fn run_task<F, T>(data: *const ())
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    // SAFETY: `new_task` leaked this reference for the queue, and a job runs once.
    let task = unsafe { Arc::from_raw(data.cast::<Task<F, T>>()) };
    // SAFETY: this thread took the job from the queue, so it alone touches `func`.
    let func = unsafe { (*task.func.get()).take() };
    if task.header.transition(QUEUED, RUNNING).is_ok() {
        let func = func.expect("task closure missing");
        let output = match panic::catch_unwind(AssertUnwindSafe(func)) {
            Ok(value) => Output::Value(value),
            Err(payload) => Output::Panic(payload),
        };
        // SAFETY: the stage is RUNNING, so the handle does not read `output` until the
        // transition to DONE below publishes it.
        unsafe { *task.header.output.get() = output };
        task.header.finish_running();
    } else {
        // Cancelled through its handle while queued: only the closure is left to drop.
        drop_quietly(func);
    }
}

/// # Safety
///
/// As for `run_task`.
unsafe fn cancel_task<F, T>(data: *const ())
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    // SAFETY: as in `run_task`.
    let task = unsafe { Arc::from_raw(data.cast::<Task<F, T>>()) };
    // SAFETY: as in `run_task`.
    let func = unsafe { (*task.func.get()).take() };
    task.header.cancel();
    drop_quietly(func);
}

/// Drops a closure that will never run; a panic in its destructor must not kill the worker.
fn drop_quietly<F>(func: Option<F>) {
    let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(func)));
}

impl<T> Header<T> {
    fn new(stage: usize) -> Header<T> {
        Header {
            state: AtomicUsize::new(stage),
            waker: Mutex::new(None),
            output: UnsafeCell::new(Output::Empty),
        }
    }

    /// Moves the stage from `from` to `to`, keeping the flags. Returns the old state.
    fn transition(&self, from: usize, to: usize) -> Result<usize, usize> {
        // Guess the common case (no flags set) to save a load.
        let mut state = from;
        loop {
            if state & STAGE != from {
                return Err(state);
            }
            let next = (state & !STAGE) | to;
            match self
                .state
                .compare_exchange_weak(state, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Ok(state),
                Err(actual) => state = actual,
            }
        }
    }

    fn finish_running(&self) {
        // RUNNING -> DONE is +1 on the stage bits; an add keeps the handle's flags intact.
        let old = self.state.fetch_add(DONE - RUNNING, Ordering::AcqRel);
        debug_assert_eq!(old & STAGE, RUNNING);
        if old & WAITER != 0 {
            self.wake_waiter();
        }
    }

    /// QUEUED -> CANCELLED. False if the task already started (or ended).
    pub(crate) fn cancel(&self) -> bool {
        match self.transition(QUEUED, CANCELLED) {
            Ok(old) => {
                if old & WAITER != 0 {
                    self.wake_waiter();
                }
                true
            }
            Err(_) => false,
        }
    }

    fn wake_waiter(&self) {
        let waker = lock(&self.waker).take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.state.load(Ordering::Acquire) & STAGE >= DONE
    }

    /// Stores `waker` to be woken when the task finishes. True if it already has.
    pub(crate) fn register(&self, waker: &Waker) -> bool {
        if self.is_finished() {
            return true;
        }
        {
            let mut slot = lock(&self.waker);
            match &*slot {
                Some(old) if old.will_wake(waker) => {}
                _ => *slot = Some(waker.clone()),
            }
        }
        // Ordered after the store above: a finisher that misses this flag has already finished,
        // which the returned state shows.
        let old = self.state.fetch_or(WAITER, Ordering::AcqRel);
        old & STAGE >= DONE
    }

    /// Takes the result of a finished task.
    ///
    /// Panics if it was taken already, or if the task is not finished.
    pub(crate) fn take_output(&self) -> Result<T, JoinError> {
        let state = self.state.fetch_or(TAKEN, Ordering::Acquire);
        assert!(
            state & TAKEN == 0,
            "the result of this task was already taken (a JoinHandle polled after it completed)"
        );
        match state & STAGE {
            DONE => {
                // SAFETY: DONE was acquired above, so the worker's write is visible and over,
                // and TAKEN makes this the only read.
                let output = unsafe { std::mem::replace(&mut *self.output.get(), Output::Empty) };
                match output {
                    Output::Value(value) => Ok(value),
                    Output::Panic(payload) => Err(JoinError::panic(payload)),
                    Output::Empty => unreachable!("finished task without output"),
                }
            }
            CANCELLED => Err(JoinError::cancelled()),
            REJECTED => Err(JoinError::shut_down()),
            _ => unreachable!("take_output on an unfinished task"),
        }
    }
}
