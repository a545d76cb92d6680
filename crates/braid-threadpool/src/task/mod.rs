//! Submitted tasks: one allocation holding the closure, its state and its result slot.

mod handle;

pub use handle::JoinHandle;

use std::cell::UnsafeCell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use crate::completion::Completion;
use crate::job::{Call, JobRef};
use crate::JoinError;

/// What a task's handle waits on.
pub(crate) type Outcome<T> = Completion<Result<T, JoinError>>;

/// The handle's view of a task, erasing the closure type.
pub(crate) trait TaskOutput<T>: Send + Sync {
    fn outcome(&self) -> &Outcome<T>;
}

struct Task<F, T> {
    outcome: Outcome<T>,
    /// Taken by the one thread that runs or cancels the job.
    func: UnsafeCell<Option<F>>,
}

// SAFETY: `func` is touched only by the single thread that took the job from a queue, and
// `outcome` is `Sync` for a `Send` output. `F` and `T` are `Send` because they move to and from
// the worker.
unsafe impl<F: Send, T: Send> Sync for Task<F, T> {}

impl<F, T> TaskOutput<T> for Task<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn outcome(&self) -> &Outcome<T> {
        &self.outcome
    }
}

/// Packs `func` into a task: the job to queue and the handle to give back.
pub(crate) fn new_task<F, T>(func: F) -> (JobRef, JoinHandle<T>)
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let task = Arc::new(Task {
        outcome: Completion::new(),
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
        outcome: Completion::done(Err(JoinError::shut_down())),
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
    if task.outcome.start() {
        let func = func.expect("task closure missing");
        let output = panic::catch_unwind(AssertUnwindSafe(func)).map_err(JoinError::panic);
        // With the handle gone, this drops the task and its output, whose destructor may
        // panic: the worker must live on.
        quietly(move || {
            task.outcome.complete(output);
            drop(task);
        });
    } else {
        // Cancelled through its handle while queued: only the closure is left to drop.
        quietly(move || drop(func));
        quietly(move || drop(task));
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
    quietly(move || drop(func));
    quietly(move || {
        task.outcome.cancel(Err(JoinError::cancelled()));
        drop(task);
    });
}

/// Runs `f`, which drops what the worker is done with (a closure that will never run, a task
/// whose handle may be gone, and with it the task's output). A destructor that panics must not
/// unwind out of the job: the worker would die, or, inside a wait, leave a frame that other
/// workers still use.
fn quietly(f: impl FnOnce()) {
    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(f)) {
        // A payload whose own destructor panics must not take the worker down either.
        let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(payload)));
    }
}
