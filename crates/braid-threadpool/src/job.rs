//! Type-erased jobs as they sit in the queues.

use std::any::Any;
use std::cell::UnsafeCell;
use std::panic::{self, AssertUnwindSafe};
use std::ptr;

use crate::latch::Latch;
use crate::worker::WorkerThread;

/// How a queued job is consumed.
#[derive(Debug)]
pub(crate) enum Call<'a> {
    /// Run it on this worker.
    Run(&'a WorkerThread),
    /// Drop it unrun (only jobs made with `cancellable`).
    Cancel,
}

/// A pointer to a job plus the function that consumes it: two words, so queues stay compact.
/// Whoever takes a `JobRef` out of a queue must call [`JobRef::run`] or [`JobRef::cancel`]
/// exactly once.
#[derive(Debug)]
pub(crate) struct JobRef {
    /// The job's address; the lowest bit (free because jobs are at least 2-aligned) marks jobs
    /// that `Shutdown::CancelPending` may drop unrun (submitted tasks).
    data: *const (),
    execute: unsafe fn(*const (), Call<'_>),
}

/// The tag bit in `JobRef::data`.
const CANCELLABLE: usize = 1;

// SAFETY: every job type behind a `JobRef` holds only `Send` data and is built to be run or
// cancelled from any thread of the pool (see the constructors of `StackJob`, `HeapJob`, tasks).
unsafe impl Send for JobRef {}

impl JobRef {
    /// # Safety
    ///
    /// `data` must stay valid until `execute` is called with it,
    /// and calling `execute` from any worker thread must be sound. `execute` may only be called
    /// with [`Call::Cancel`] if `cancellable` is true, and cancellable jobs must be at least
    /// 2-aligned.
    pub(crate) unsafe fn new(
        data: *const (),
        execute: unsafe fn(*const (), Call<'_>),
        cancellable: bool,
    ) -> JobRef {
        let data = if cancellable {
            debug_assert_eq!(data as usize & CANCELLABLE, 0, "job pointer not 2-aligned");
            data.cast::<u8>().wrapping_add(CANCELLABLE).cast::<()>()
        } else {
            data
        };
        JobRef { data, execute }
    }

    #[inline]
    pub(crate) fn is_cancellable(&self) -> bool {
        self.data as usize & CANCELLABLE != 0
    }

    /// Whether this is the job at `data` (a job that is not cancellable).
    #[inline]
    pub(crate) fn is_at(&self, data: *const ()) -> bool {
        ptr::eq(self.address(), data)
    }

    #[inline]
    fn address(&self) -> *const () {
        if self.is_cancellable() {
            self.data
                .cast::<u8>()
                .wrapping_sub(CANCELLABLE)
                .cast::<()>()
        } else {
            self.data
        }
    }

    /// Runs the job on `worker`.
    #[inline]
    pub(crate) fn run(self, worker: &WorkerThread) {
        // SAFETY: `JobRef::new` guarantees the address is valid until consumed, and a `JobRef`
        // is not `Clone`, so this is the one call.
        unsafe { (self.execute)(self.address(), Call::Run(worker)) }
    }

    /// Drops the job unrun, telling its handle it was cancelled. Only for jobs where
    /// [`JobRef::is_cancellable`] is true.
    pub(crate) fn cancel(self) {
        assert!(
            self.is_cancellable(),
            "only submitted tasks can be cancelled"
        );
        // SAFETY: as in `run`, and the job was made cancellable.
        unsafe { (self.execute)(self.address(), Call::Cancel) }
    }
}

/// What a job produced.
#[derive(Debug)]
pub(crate) enum JobResult<R> {
    None,
    Ok(R),
    Panic(Box<dyn Any + Send>),
}

impl<R> JobResult<R> {
    /// The value, or the job's panic resumed on this thread.
    pub(crate) fn into_return_value(self) -> R {
        match self {
            JobResult::Ok(value) => value,
            JobResult::Panic(payload) => panic::resume_unwind(payload),
            JobResult::None => unreachable!("job result read before the job ran"),
        }
    }
}

/// A job that lives in its owner's stack frame: the owner pushes it, then waits on `latch`
/// before the frame goes away. No allocation.
#[derive(Debug)]
pub(crate) struct StackJob<L, F, R> {
    pub(crate) latch: L,
    func: UnsafeCell<Option<F>>,
    result: UnsafeCell<JobResult<R>>,
}

impl<L, F, R> StackJob<L, F, R>
where
    L: Latch,
    F: FnOnce(&WorkerThread) -> R + Send,
    R: Send,
{
    pub(crate) fn new(func: F, latch: L) -> Self {
        StackJob {
            latch,
            func: UnsafeCell::new(Some(func)),
            result: UnsafeCell::new(JobResult::None),
        }
    }

    /// # Safety
    ///
    /// The job must not move or be dropped until the returned `JobRef` ran and set the latch,
    /// or was taken back from the queue unrun.
    pub(crate) unsafe fn as_job_ref(&self) -> JobRef {
        let data = (self as *const Self).cast::<()>();
        // SAFETY: the caller keeps `self` in place until the job ran; `execute` only needs
        // `F: Send` and `R: Send` to run on another worker.
        unsafe { JobRef::new(data, Self::execute, false) }
    }

    pub(crate) fn into_result(self) -> JobResult<R> {
        self.result.into_inner()
    }

    /// The `execute` of the `JobRef` that [`StackJob::as_job_ref`] makes.
    ///
    /// # Safety
    ///
    /// `this` is the address `as_job_ref` put in its `JobRef`, the job is still in place, and
    /// this is that `JobRef`'s one call.
    unsafe fn execute(this: *const (), call: Call<'_>) {
        let Call::Run(worker) = call else {
            unreachable!("stack jobs are not cancellable")
        };
        let this = this.cast::<Self>();
        // SAFETY: `as_job_ref` promised the job is live until its latch is set, and this is
        // the only run, so nobody else touches `func` or `result` now.
        let func = unsafe { (*(*this).func.get()).take() }.expect("stack job ran twice");
        let result = match panic::catch_unwind(AssertUnwindSafe(|| func(worker))) {
            Ok(value) => JobResult::Ok(value),
            Err(payload) => JobResult::Panic(payload),
        };
        // SAFETY: as above; the owner reads `result` only after the latch is set below.
        unsafe { *(*this).result.get() = result };
        // SAFETY: the latch is live until set; nothing reads `this` afterwards.
        unsafe { L::set(std::ptr::addr_of!((*this).latch), &worker.shared.sleep) };
    }
}

/// A job on the heap, for work that outlives the frame that created it (scope spawns).
#[derive(Debug)]
pub(crate) struct HeapJob<F> {
    func: F,
}

impl<F> HeapJob<F>
where
    F: FnOnce(&WorkerThread) + Send,
{
    pub(crate) fn new(func: F) -> Box<Self> {
        Box::new(HeapJob { func })
    }

    /// # Safety
    ///
    /// Everything `func` borrows must stay alive until the job ran.
    pub(crate) unsafe fn into_job_ref(self: Box<Self>) -> JobRef {
        let data = Box::into_raw(self).cast::<()>().cast_const();
        // SAFETY: the box is leaked until `execute` takes it back; the caller keeps the
        // borrows alive.
        unsafe { JobRef::new(data, Self::execute, false) }
    }

    /// The `execute` of the `JobRef` that [`HeapJob::into_job_ref`] makes.
    ///
    /// # Safety
    ///
    /// `this` is the address `into_job_ref` put in its `JobRef`, and this is that `JobRef`'s
    /// one call.
    unsafe fn execute(this: *const (), call: Call<'_>) {
        let Call::Run(worker) = call else {
            unreachable!("scope jobs are not cancellable")
        };
        // SAFETY: `into_job_ref` leaked exactly this box and a `JobRef` runs once.
        let job = unsafe { Box::from_raw(this.cast::<Self>().cast_mut()) };
        (job.func)(worker);
    }
}
