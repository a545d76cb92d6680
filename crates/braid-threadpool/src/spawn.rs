//! Fire-and-forget jobs: [`ThreadPool::spawn`].
//!
//! A spawned job is its closure in a box and nothing else: no result slot, no state word, no
//! handle. A closure that captures nothing is a zero-sized box, which does not allocate.

use std::panic::{self, AssertUnwindSafe};

use crate::job::{Call, JobRef};
use crate::pool::ThreadPool;
use crate::worker::WorkerThread;
use crate::JoinError;

/// A spawned closure, aligned to 2 so that its address (real, or the dangling one of a
/// zero-sized box) leaves `JobRef`'s cancellable tag bit free.
#[repr(align(2))]
struct Detached<F> {
    func: F,
}

impl ThreadPool {
    /// Runs `job` on the pool without a handle: nothing to join, nothing to drop, and no
    /// allocation at all for a closure that captures nothing. This is rayon's `spawn` and the
    /// `threadpool` crate's `execute`; [`submit`](ThreadPool::submit) is the call to use when
    /// the result, or whether it panicked, matters.
    ///
    /// Called from one of this pool's workers, the job goes to that worker's own deque;
    /// otherwise it joins the shared queue. [`Shutdown::Wait`](crate::Shutdown::Wait) runs the
    /// spawned jobs already queued; [`Shutdown::CancelPending`](crate::Shutdown::CancelPending)
    /// drops those not started, unrun.
    ///
    /// A panic in `job` is caught, so the worker lives on. Nobody receives it: the panic hook
    /// has already printed it (std's default hook prints to stderr), and the payload is
    /// dropped. Python's `executor.submit` with its future thrown away loses an exception the
    /// same way, except that Python prints nothing.
    ///
    /// # Errors
    ///
    /// After [`ThreadPool::shutdown`] the job is dropped unrun and the error reports
    /// [`JoinError::is_shut_down`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use braid_threadpool::{Shutdown, ThreadPool};
    ///
    /// let pool = ThreadPool::new(2)?;
    /// let done = Arc::new(AtomicUsize::new(0));
    /// for _ in 0..100 {
    ///     let done = done.clone();
    ///     pool.spawn(move || {
    ///         done.fetch_add(1, Ordering::Relaxed);
    ///     })
    ///     .expect("the pool is open");
    /// }
    /// pool.shutdown(Shutdown::Wait); // runs what is queued, then stops the workers
    /// assert_eq!(done.load(Ordering::Relaxed), 100);
    /// assert!(pool.spawn(|| ()).unwrap_err().is_shut_down());
    /// # Ok::<(), braid_threadpool::BuildError>(())
    /// ```
    pub fn spawn<F>(&self, job: F) -> Result<(), JoinError>
    where
        F: FnOnce() + Send + 'static,
    {
        if let Some(worker) = WorkerThread::current_in(&self.shared) {
            // No need to count this call: the worker drains its own deque before it exits.
            if !self.shared.is_open() {
                return Err(JoinError::shut_down());
            }
            worker.push_local(detached(job));
            return Ok(());
        }
        if !self.shared.enter() {
            return Err(JoinError::shut_down());
        }
        self.shared.inject(detached(job));
        self.shared.leave();
        Ok(())
    }
}

fn detached<F>(func: F) -> JobRef
where
    F: FnOnce() + Send + 'static,
{
    let data = Box::into_raw(Box::new(Detached { func }))
        .cast::<()>()
        .cast_const();
    // SAFETY: the box is leaked until `execute` takes it back, once; `F` is `Send + 'static`,
    // so any worker may run or drop it at any time; `Detached` is 2-aligned.
    unsafe { JobRef::new(data, execute::<F>, true) }
}

/// The `execute` of a spawned job's `JobRef`.
///
/// # Safety
///
/// `data` is the address `detached` leaked for this job, and this is its one call.
unsafe fn execute<F>(data: *const (), call: Call<'_>)
where
    F: FnOnce() + Send + 'static,
{
    // SAFETY: `detached` leaked this box, and the caller promises this is the one call.
    let job = unsafe { Box::from_raw(data.cast::<Detached<F>>().cast_mut()) };
    let outcome = match call {
        Call::Run(_) => panic::catch_unwind(AssertUnwindSafe(job.func)),
        // Cancelled by `Shutdown::CancelPending`: only the closure is left to drop.
        Call::Cancel => panic::catch_unwind(AssertUnwindSafe(move || drop(job))),
    };
    if let Err(payload) = outcome {
        // A payload whose own destructor panics must not take the worker down either.
        let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(payload)));
    }
}
