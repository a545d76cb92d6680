//! Fork-join: run two closures, potentially in parallel.
//!
//! `join` is heartbeat-scheduled: its second half stays private to the worker until a
//! heartbeat promotes it. `README.md` next to this file explains the design and the protocol.

use std::panic::{self, AssertUnwindSafe};

use std::cell::{Cell, UnsafeCell};
use std::mem::{ManuallyDrop, MaybeUninit};
use std::ptr;
use std::thread;

use crate::sync::Ordering;

use crate::job::{Call, JobRef, StackJob};
use crate::latch::{CoreLatch, ParkLatch};
use crate::pool::ThreadPool;
use crate::worker::{AbortOnUnwind, WorkerThread};

pub(crate) mod slot;
#[cfg(test)]
mod test;

use slot::Reclaim;

/// A `join` made while its worker already has this many pending halves runs both halves here,
/// as plain calls, unless the worker's heartbeat flag is raised (see `README.md`).
const INLINE_BELOW: u32 = 3;

impl ThreadPool {
    /// Runs `a` and `b`, potentially in parallel, and returns both results.
    ///
    /// On a worker of this pool, `a` runs right here while `b` waits in a list only this worker
    /// sees. About every 100 µs a heartbeat lets the worker offer the oldest `b` in its list to
    /// the idle workers; one it never offered runs here after `a`, at the cost of a plain
    /// function call. A `join` made while three or more older halves are pending on the same
    /// worker keeps no list entry at all: its `b` could only be offered after those bigger ones,
    /// so it runs after `a` right away. So `join` is cheap enough to split work down to tiny
    /// pieces, and the pieces that do move between threads are big ones. The first `join` of
    /// each task a worker takes from a queue offers its `b` at once. Nothing allocates. Called
    /// from outside the pool, the whole `join` runs on a worker while the caller blocks.
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
    #[inline]
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
        self.join_outside(a, b)
    }

    /// `join` called from a thread that is not one of this pool's workers.
    #[cold]
    #[inline(never)]
    fn join_outside<A, B, RA, RB>(&self, a: A, b: B) -> (RA, RB)
    where
        A: FnOnce() -> RA + Send,
        B: FnOnce() -> RB + Send,
        RA: Send,
        RB: Send,
    {
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

/// A `join` whose first half runs on this worker. The second half waits in the worker's list of
/// pending halves, where only this thread can see it, until a heartbeat promotes it (see
/// `README.md` next to this file).
#[inline]
fn join_in_worker<A, B, RA, RB>(worker: &WorkerThread, a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    // Deep below older pending halves, which are bigger and offered first, this `b` would
    // almost never be offered: run both halves as plain calls, without an entry. A raised flag
    // (a heartbeat, or the first `join` of a job) takes the path below, which acts on it.
    if worker.pending_len.get() >= INLINE_BELOW && !worker.beat().load(Ordering::Relaxed) {
        return join_on_caller(a, b);
    }
    let job_b = JoinJob::new(b);
    // The entry's pointer is derived from the whole job, not from a reference to its first
    // field: whoever runs the entry casts it back to the job (`#[repr(C)]`, `pending` first).
    let pending = ptr::addr_of!(job_b).cast::<Pending>();
    // SAFETY: `job_b` stays in this frame until it leaves the list: `pop_pending` below, a
    // promotion, or an offer on the deque. A promoted or offered `job_b` stays until it is
    // settled: taken back unrun (from the slot or the deque), or run by a worker whose latch
    // `settle` waits for, also when `a` panicked (`a` runs inside `catch_unwind`). Nothing
    // between here and the end of `settle` can unwind past the job while another worker may
    // hold it: `settle` is guarded by `AbortOnUnwind`, and so is the `wait_until` it calls;
    // every job those run catches its own panics, and should one unwind anyway the process
    // aborts rather than leave this frame.
    unsafe { worker.push_pending(pending) };
    worker.on_heartbeat();

    let result_a = panic::catch_unwind(AssertUnwindSafe(a));

    let run_b_here = if worker.is_youngest_pending(pending) {
        // Never offered: nobody else ever saw `b`.
        worker.pop_pending(pending);
        true
    } else {
        settle(worker, pending, &job_b.latch)
    };
    if run_b_here {
        // SAFETY: `b` never left this thread, or was taken back before anyone took it, so it
        // is still there and nobody else will take it.
        let b = unsafe { job_b.take_func() };
        return match result_a {
            Ok(value_a) => (value_a, b()),
            Err(payload) => {
                let _ = panic::catch_unwind(AssertUnwindSafe(b));
                panic::resume_unwind(payload)
            }
        };
    }
    // SAFETY: `settle` waited until the worker that took `b` set the latch, after it stored
    // the result.
    let result_b = unsafe { job_b.take_result() };
    match (result_a, result_b) {
        (Ok(value_a), Ok(value_b)) => (value_a, value_b),
        (Err(payload), _) | (Ok(_), Err(payload)) => panic::resume_unwind(payload),
    }
}

/// The end of a `join` whose second half was offered, in the slot or on the deque: takes it
/// back if nobody took it (true: the caller runs it), or waits until the worker that took it is
/// done, running other work meanwhile (false: its result is in the job).
///
/// Never unwinds (the job may still be in another worker's hands): `AbortOnUnwind` aborts the
/// process if a job run here does.
#[cold]
#[inline(never)]
fn settle(worker: &WorkerThread, pending: *const Pending, latch: &CoreLatch) -> bool {
    let guard = AbortOnUnwind;
    // SAFETY: the entry is live (the caller's frame), and only this thread writes `older`.
    let on_deque = ptr::eq(unsafe { (*pending).older.get() }, pending);
    let run_here = if on_deque {
        worker.take_back_from_deque(pending, latch)
    } else {
        match worker.slot().reclaim(pending) {
            Reclaim::Reclaimed => true,
            Reclaim::Taken => {
                worker.wait_until(latch, None);
                false
            }
        }
    };
    guard.disarm();
    run_here
}

/// Both halves on the caller, with the same panic behaviour as the parallel path: for `join` on a
/// pool that no longer runs work, and for a `join` nested below enough pending halves.
#[inline(always)]
fn join_on_caller<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA,
    B: FnOnce() -> RB,
{
    match panic::catch_unwind(AssertUnwindSafe(a)) {
        // A panic of `b` alone goes straight on to the caller.
        Ok(value_a) => (value_a, b()),
        Err(payload) => {
            let _ = panic::catch_unwind(AssertUnwindSafe(b));
            panic::resume_unwind(payload)
        }
    }
}

/// A `join`'s second half while the first one runs: an entry in its worker's list of pending
/// halves, linked from the youngest to the oldest through the frames of the `join`s themselves.
///
/// Only the owning worker reads or writes `older`, so the list needs no atomics. Promotion takes
/// the oldest entry out of the list and offers it in the worker's [`slot::Slot`]; the first
/// `join` of a job takes its own, youngest, entry out and pushes it onto the worker's deque,
/// marking it by pointing `older` at the entry itself. From then on the entry is never written
/// again, and a thread that takes it reads only `execute`.
///
/// Entries are always handled through pointers derived from the whole [`JoinJob`], which is
/// `#[repr(C)]` with its entry first, so that the pointer may be cast back to the job.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct Pending {
    older: Cell<*const Pending>,
    /// Runs the [`JoinJob`] this entry is the first field of.
    execute: unsafe fn(*const (), Call<'_>),
}

impl Pending {
    /// The job to run for an entry taken from a slot.
    ///
    /// # Safety
    ///
    /// `this` came out of [`slot::Slot::take`], so the caller owns it, and its owner keeps it
    /// alive until the job has run. The job is run exactly once, by the caller.
    pub(crate) unsafe fn take_job(this: *const Pending) -> JobRef {
        // SAFETY: the entry is live (the caller's contract) and, once promoted, never written.
        let execute = unsafe { (*this).execute };
        // SAFETY: the entry is the first field of a `#[repr(C)]` `JoinJob`, so its address is
        // the job's, which `execute` expects; the owner keeps the job in place until its latch
        // is set, and `JoinJob::execute` may run on any worker (`B` and `RB` are `Send`).
        unsafe { JobRef::new(this.cast(), execute, false) }
    }

    /// The job to push onto the owner's deque for an entry its first `join` offers there.
    ///
    /// # Safety
    ///
    /// As for [`Pending::take_job`], with the owner's deque in place of the slot: the entry left
    /// the owner's list, and whoever takes the `JobRef` off the deque owns it.
    unsafe fn deque_job(this: *const Pending) -> JobRef {
        // SAFETY: forwarded from the caller.
        unsafe { Pending::take_job(this) }
    }
}

/// A `join`'s second half, in the stack frame of its `join`.
///
/// `func` is taken exactly once: by the owner when it runs `b` itself (never promoted, or taken
/// back from the slot), or by the worker that took the entry from the slot. Only in the second
/// case is `result` written, before `latch` is set, and the owner reads it after it saw the
/// latch set. Nothing is initialised that the common, unpromoted case does not need.
#[repr(C)]
struct JoinJob<B, RB> {
    /// First, so that the entry's address is the job's.
    pending: Pending,
    latch: CoreLatch,
    func: UnsafeCell<ManuallyDrop<B>>,
    result: UnsafeCell<MaybeUninit<thread::Result<RB>>>,
}

impl<B, RB> JoinJob<B, RB>
where
    B: FnOnce() -> RB + Send,
    RB: Send,
{
    #[inline]
    fn new(func: B) -> Self {
        JoinJob {
            pending: Pending {
                older: Cell::new(ptr::null()),
                execute: Self::execute,
            },
            latch: CoreLatch::new(),
            func: UnsafeCell::new(ManuallyDrop::new(func)),
            result: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// Takes `b` to run it on the owner's thread.
    ///
    /// # Safety
    ///
    /// Called once, and only if no other worker took the job: it never left the owner's list,
    /// or the owner reclaimed it from the slot.
    #[inline]
    unsafe fn take_func(&self) -> B {
        // SAFETY: the caller guarantees `func` is still there and nobody else takes it.
        unsafe { ManuallyDrop::take(&mut *self.func.get()) }
    }

    /// The result a thief stored.
    ///
    /// # Safety
    ///
    /// Called once, after the latch was seen set by a worker that took the job.
    unsafe fn take_result(&self) -> thread::Result<RB> {
        // SAFETY: the thief wrote the result before setting the latch, whose acquiring probe
        // the caller saw; nobody touches it any more.
        unsafe { (*self.result.get()).assume_init_read() }
    }

    /// The `execute` of the job's entry, run by the worker that took it from a slot or a deque.
    ///
    /// # Safety
    ///
    /// `this` is the address of a live `JoinJob<B, RB>`, derived from the whole job, whose
    /// entry this thread took from a slot or a deque, and this is that entry's one run.
    unsafe fn execute(this: *const (), call: Call<'_>) {
        let Call::Run(worker) = call else {
            unreachable!("join halves are not cancellable")
        };
        let this = this.cast::<Self>();
        // SAFETY: taking the entry from the slot made this thread the one that runs `func`;
        // the owner reads `result` only after the latch is set below.
        let func = unsafe { ManuallyDrop::take(&mut *(*this).func.get()) };
        let result = panic::catch_unwind(AssertUnwindSafe(func));
        // SAFETY: as above.
        unsafe { (*(*this).result.get()).write(result) };
        // SAFETY: the job is live until its latch is set; nothing reads `this` afterwards.
        unsafe { CoreLatch::set(ptr::addr_of!((*this).latch), &worker.shared.sleep) };
    }
}

/// The list of pending halves and the promotion of the oldest, on the worker that owns them.
impl WorkerThread {
    /// Makes `pending` the youngest entry of this worker's list.
    ///
    /// # Safety
    ///
    /// `pending` must stay in place until it leaves the list through
    /// [`WorkerThread::pop_pending`] or a promotion, and entries must leave the list youngest
    /// first (each `join` pops its own entry before it returns).
    /// `pending` points to the entry at the start of a `JoinJob`, and is derived from the whole
    /// job.
    #[inline]
    unsafe fn push_pending(&self, pending: *const Pending) {
        // SAFETY: the entry is live (the caller's contract), and only this thread touches it.
        unsafe { (*pending).older.set(self.youngest_pending.get()) };
        self.youngest_pending.set(pending);
        self.pending_len.set(self.pending_len.get() + 1);
    }

    /// Whether `pending` is still in the list: entries leave it youngest first, by promotion,
    /// or (the youngest) by an offer on the deque, so an entry that is in the list after its
    /// `join`'s first half returned is the youngest.
    #[inline]
    fn is_youngest_pending(&self, pending: *const Pending) -> bool {
        ptr::eq(self.youngest_pending.get(), pending)
    }

    /// Removes `pending`, the youngest entry, from the list.
    #[inline]
    fn pop_pending(&self, pending: *const Pending) {
        debug_assert!(self.is_youngest_pending(pending));
        // SAFETY: an entry in the list is live (`push_pending`'s contract).
        self.youngest_pending.set(unsafe { (*pending).older.get() });
        self.pending_len.set(self.pending_len.get() - 1);
    }

    /// Promotes the oldest pending half if this worker's heartbeat fired since it last looked.
    #[inline]
    fn on_heartbeat(&self) {
        if self.beat().load(Ordering::Relaxed) {
            self.heartbeat();
        }
    }

    #[cold]
    #[inline(never)]
    fn heartbeat(&self) {
        self.beat().store(false, Ordering::Relaxed);
        if self.first_join.replace(false) {
            self.offer_youngest_on_deque();
        } else {
            self.promote_oldest();
        }
    }

    /// The first `join` of a job: offers its own second half, the youngest entry, which it has
    /// just pushed, on this worker's deque, whatever else is pending or in the slot. The entry
    /// leaves the list and is marked as offered there by pointing `older` at itself.
    fn offer_youngest_on_deque(&self) {
        let youngest = self.youngest_pending.get();
        debug_assert!(!youngest.is_null(), "called right after a push");
        // SAFETY: the entry is live and in the list (`push_pending`'s contract), and only this
        // thread touches `older`; the writes happen before the push, which publishes them.
        unsafe {
            self.youngest_pending.set((*youngest).older.get());
            (*youngest).older.set(youngest);
        }
        self.pending_len.set(self.pending_len.get() - 1);
        // SAFETY: the entry left the list; its `join` keeps the job in place until it took it
        // back off the deque or its latch is set (`take_back_from_deque`).
        self.push_local(unsafe { Pending::deque_job(youngest) });
    }

    /// The end of a `join` whose second half its owner offered on the deque: pops its own deque
    /// (running whatever the first half left above the job) until it finds the job (true: the
    /// caller runs `b`), or finds the deque empty: then someone took it, and this waits for the
    /// latch (false).
    fn take_back_from_deque(&self, pending: *const Pending, latch: &CoreLatch) -> bool {
        loop {
            if latch.probe() {
                return false;
            }
            match self.pop_local() {
                Some(job) if job.is_at(pending.cast()) => return true,
                Some(job) => self.execute(job),
                None => {
                    self.wait_until(latch, None);
                    return false;
                }
            }
        }
    }

    /// Offers the oldest pending half in this worker's slot, where any worker may take it, and
    /// wakes a sleeping worker for it. Does nothing if the list is empty or the slot still holds
    /// an earlier offer that nobody wanted. True if it offered one.
    pub(crate) fn promote_oldest(&self) -> bool {
        let slot = self.slot();
        if !slot.is_empty() {
            return false;
        }
        let mut oldest = self.youngest_pending.get();
        if oldest.is_null() {
            return false;
        }
        let mut younger: *const Pending = ptr::null();
        // SAFETY: every entry in the list is live (`push_pending`'s contract), and only this
        // thread touches `older` of entries in the list.
        unsafe {
            loop {
                let older = (*oldest).older.get();
                if older.is_null() {
                    break;
                }
                younger = oldest;
                oldest = older;
            }
            if younger.is_null() {
                self.youngest_pending.set(ptr::null());
            } else {
                (*younger).older.set(ptr::null());
            }
        }
        self.pending_len.set(self.pending_len.get() - 1);
        slot.offer(oldest);
        self.shared.sleep.notify_work();
        true
    }
}
