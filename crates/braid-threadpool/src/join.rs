//! Fork-join: run two closures, potentially in parallel.

use std::panic::{self, AssertUnwindSafe};

use crate::job::{JobResult, StackJob};
use crate::latch::{CoreLatch, ParkLatch};
use crate::pool::ThreadPool;
use crate::worker::WorkerThread;

impl ThreadPool {
    /// Runs `a` and `b`, potentially in parallel, and returns both results.
    ///
    /// On a worker of this pool, `a` runs right here while `b` waits in this worker's deque
    /// where an idle worker may steal it; if nobody did by the time `a` returns, `b` runs here
    /// too. Neither step allocates, so `join` is cheap enough to split work down to small pieces.
    /// Called from outside the pool, the whole `join` runs on a worker while the caller blocks.
    ///
    /// While it waits for a stolen `b`, the worker runs other jobs, so nesting `join`s (or
    /// `scope`s, or waiting on handles) inside each other never deadlocks the pool.
    ///
    /// After [`ThreadPool::shutdown`], `join` still works: both closures run on the caller.
    ///
    /// # Panics
    ///
    /// If `a` or `b` panics, `join` waits until the other one returned too, then resumes the
    /// panic on the caller (the panic of `a` when both panicked).
    ///
    /// # Examples
    ///
    /// ```
    /// use braid_threadpool::ThreadPool;
    ///
    /// fn sum(pool: &ThreadPool, values: &[u64]) -> u64 {
    ///     if values.len() <= 1024 {
    ///         return values.iter().sum();
    ///     }
    ///     let (left, right) = values.split_at(values.len() / 2);
    ///     let (l, r) = pool.join(|| sum(pool, left), || sum(pool, right));
    ///     l + r
    /// }
    ///
    /// let pool = ThreadPool::new(2)?;
    /// let values: Vec<u64> = (1..=100_000).collect();
    /// assert_eq!(sum(&pool, &values), 5_000_050_000);
    /// # Ok::<(), braid_threadpool::BuildError>(())
    /// ```
    pub fn join<A, B, RA, RB>(&self, a: A, b: B) -> (RA, RB)
    where
        A: FnOnce() -> RA + Send,
        B: FnOnce() -> RB + Send,
        RA: Send,
        RB: Send,
    {
        if let Some(worker) = WorkerThread::current_in(&self.shared) {
            return join_in_worker(worker, a, b);
        }
        if !self.shared.enter() {
            return join_on_caller(a, b);
        }
        let job = StackJob::new(
            |worker: &WorkerThread| join_in_worker(worker, a, b),
            ParkLatch::new(),
        );
        // SAFETY: `job` stays on this stack frame until its latch is set, which `wait` below
        // waits for.
        self.shared.inject(unsafe { job.as_job_ref() });
        job.latch.wait();
        self.shared.leave();
        job.into_result().into_return_value()
    }
}

fn join_in_worker<A, B, RA, RB>(worker: &WorkerThread, a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    let job_b = StackJob::new(|_: &WorkerThread| b(), CoreLatch::new());
    // SAFETY: `job_b` lives in this frame, and every path below either takes it back from the
    // deque unrun or waits for its latch before the frame ends (also when `a` panics).
    let job_b_ref = unsafe { job_b.as_job_ref() };
    let job_b_id = job_b_ref.id();
    worker.push_local(job_b_ref, false);

    let result_a = panic::catch_unwind(AssertUnwindSafe(a));

    // Take `b` back unless a thief has it; run whatever `a` left on the deque above it.
    while !job_b.latch.probe() {
        match worker.pop_local() {
            Some(job) if job.id() == job_b_id => {
                return match result_a {
                    Ok(value_a) => (value_a, job_b.run_inline(worker)),
                    Err(payload) => {
                        let _ = panic::catch_unwind(AssertUnwindSafe(|| job_b.run_inline(worker)));
                        panic::resume_unwind(payload)
                    }
                };
            }
            Some(job) => worker.execute(job),
            None => {
                // Stolen: help with other work until the thief is done.
                worker.wait_until(&job_b.latch, None);
                break;
            }
        }
    }

    match (result_a, job_b.into_result()) {
        (Ok(value_a), JobResult::Ok(value_b)) => (value_a, value_b),
        (Err(payload), _) => panic::resume_unwind(payload),
        (Ok(_), result_b) => {
            result_b.into_return_value();
            unreachable!("a join half that did not return a value panicked")
        }
    }
}

/// `join` on a pool that no longer runs work: both halves on the caller, with the same panic
/// behaviour as the parallel path.
fn join_on_caller<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA,
    B: FnOnce() -> RB,
{
    let result_a = panic::catch_unwind(AssertUnwindSafe(a));
    let result_b = panic::catch_unwind(AssertUnwindSafe(b));
    match (result_a, result_b) {
        (Ok(value_a), Ok(value_b)) => (value_a, value_b),
        (Err(payload), _) | (Ok(_), Err(payload)) => panic::resume_unwind(payload),
    }
}
