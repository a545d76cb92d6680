//! The type-erased task: one heap block holding the header, the scheduler, and the future and
//! then its output.
//!
//! A task is allocated once, at spawn, as a `TaskCell<F, T, S>`: the [`Header`] (state word,
//! waker of the awaiting handle, vtable, position in the live list) followed by the scheduler
//! `S` that wakes queue the task with, and a [`Stage`] that holds the future while it runs and
//! its output afterwards. Everything outside this file sees only `NonNull<Header>` and goes
//! through the vtable, which is where the types `F`, `T` and `S` are known again (static
//! dispatch inside, one indirect call to get there, as for the waker).
//!
//! Threads: the future is polled and dropped only on the loop thread. Other threads may wake
//! the task (which hands a [`TaskRef`] to the scheduler), cancel it, read or drop its output
//! through the handle (only when the output is `Send`, see [`Task`](crate::Task)), and free
//! the block once every reference is gone.

use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{self, AssertUnwindSafe, Location};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use futures::task::AtomicWaker;

use super::dump::PollStats;
use super::loom::UnsafeCell;
use super::state::{State, TransitionToCancelled, TransitionToNotified, TransitionToNotifiedByVal};
use super::{JoinError, Task};

/// How a task is queued when it is woken or cancelled: the one thing a task knows of the loop
/// that runs it.
pub(crate) trait Schedule: Send + Sync + 'static {
    /// Queues `task`, from any thread. A scheduler that can no longer run tasks (its loop
    /// ended) drops it; that is never the task's last reference, because a task that can be
    /// queued has not finished, so its loop's live list still holds one.
    fn schedule(&self, task: TaskRef);
}

/// The index a task has in the loop's list of live tasks while it is not in it.
pub(super) const UNLINKED: usize = usize::MAX;

/// The operations that depend on the future's, output's and scheduler's types.
struct TaskVTable {
    /// Polls the future; on `Ready` or a panic stores the output and returns `true`.
    poll: unsafe fn(NonNull<Header>, &mut Context<'_>) -> bool,
    /// Drops the future; returns a panic raised by its destructor.
    drop_future: unsafe fn(NonNull<Header>) -> Option<JoinError>,
    /// Moves the output to `*mut Result<T, JoinError>`.
    read_output: unsafe fn(NonNull<Header>, *mut ()),
    /// Whether the finished output is an `Err`.
    output_is_err: unsafe fn(NonNull<Header>) -> bool,
    /// Drops the output in place.
    drop_output: unsafe fn(NonNull<Header>),
    /// Hands a queue entry to the task's scheduler.
    schedule: unsafe fn(TaskRef),
    /// Frees the block.
    dealloc: unsafe fn(NonNull<Header>),
}

/// The part of a task every holder can see.
pub(crate) struct Header {
    pub(super) state: State,
    vtable: &'static TaskVTable,
    /// The waker of whoever awaits the [`Task`](crate::Task) handle.
    pub(super) awaiter: AtomicWaker,
    /// Position in the loop's list of live tasks, or [`UNLINKED`]. Loop thread only.
    pub(super) alive_index: UnsafeCell<usize>,
    /// Where the task was spawned, for slow-poll warnings and [`TaskDump`](super::TaskDump).
    pub(crate) location: &'static Location<'static>,
    /// Its number and how its polls went, for [`TaskDump`](super::TaskDump).
    pub(crate) stats: PollStats,
}

/// What a task holds: its future until it finishes, then its output until someone takes it.
enum Stage<F, T> {
    Running(F),
    Finished(Result<T, JoinError>),
    Consumed,
}

#[repr(C)]
struct TaskCell<F, T, S> {
    // First, so that a pointer to the cell is a pointer to the header.
    header: Header,
    scheduler: S,
    stage: UnsafeCell<Stage<F, T>>,
}

/// Allocates a task running `future`, queued by `scheduler`. Returns the handle and the
/// run-queue entry; the third reference of a fresh task is the loop's live list's, which
/// [`LiveTasks::link`](super::list::LiveTasks::link) takes when the loop first sees the task.
pub(crate) fn spawn<F, T, S>(
    future: F,
    scheduler: S,
    location: &'static Location<'static>,
) -> (Task<T>, TaskRef)
where
    F: Future<Output = Result<T, JoinError>>,
    S: Schedule,
{
    let cell = Box::new(TaskCell {
        header: Header {
            state: State::new(),
            vtable: &TaskCell::<F, T, S>::VTABLE,
            awaiter: AtomicWaker::new(),
            alive_index: UnsafeCell::new(UNLINKED),
            location,
            stats: PollStats::new(),
        },
        scheduler,
        stage: UnsafeCell::new(Stage::<F, T>::Running(future)),
    });
    let ptr = NonNull::from(Box::leak(cell)).cast::<Header>();
    // SAFETY: a fresh task carries the handle's, a queue entry's and the live list's
    // references (`State::new`); the first two go to their owners here, and the output type
    // is `T`.
    unsafe { (Task::from_raw(ptr), TaskRef(ptr)) }
}

impl<F, T, S> TaskCell<F, T, S>
where
    F: Future<Output = Result<T, JoinError>>,
    S: Schedule,
{
    const VTABLE: TaskVTable = TaskVTable {
        poll: Self::poll,
        drop_future: Self::drop_future,
        read_output: Self::read_output,
        output_is_err: Self::output_is_err,
        drop_output: Self::drop_output,
        schedule: Self::schedule,
        dealloc: Self::dealloc,
    };

    /// Runs `f` on the stage.
    ///
    /// # Safety
    ///
    /// `ptr` points to a live `TaskCell<F, T, S>`, and the caller has exclusive access to its
    /// stage (the loop thread while the future is there, the output's owner afterwards).
    unsafe fn with_stage<R>(ptr: NonNull<Header>, f: impl FnOnce(&mut Stage<F, T>) -> R) -> R {
        // SAFETY: the caller guarantees the cell type, so the cast and the reference hold.
        let cell = unsafe { ptr.cast::<TaskCell<F, T, S>>().as_ref() };
        cell.stage.with_mut(|stage| {
            // SAFETY: the caller guarantees nobody else accesses the stage meanwhile.
            f(unsafe { &mut *stage })
        })
    }

    /// # Safety
    ///
    /// Loop thread only, while the task is `RUNNING` and its stage is `Running`.
    unsafe fn poll(ptr: NonNull<Header>, cx: &mut Context<'_>) -> bool {
        let poll = |stage: &mut Stage<F, T>| {
            let Stage::Running(future) = stage else {
                unreachable!("a task was polled after its future finished");
            };
            // SAFETY: the future lives in the heap block, which never moves, and is dropped
            // in place; so it stays pinned.
            let future = unsafe { Pin::new_unchecked(future) };
            let output = match panic::catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
                Ok(Poll::Pending) => return false,
                Ok(Poll::Ready(output)) => output,
                Err(payload) => Err(JoinError::panic(payload)),
            };
            finish(stage, output);
            true
        };
        // SAFETY: forwarded from the caller.
        unsafe { Self::with_stage(ptr, poll) }
    }

    /// # Safety
    ///
    /// The stage is `Running` and nobody else touches it: the loop thread, or the thread that
    /// spawned a `Send` future that never reached a loop.
    unsafe fn drop_future(ptr: NonNull<Header>) -> Option<JoinError> {
        // SAFETY: forwarded from the caller.
        unsafe { Self::with_stage(ptr, drop_caught) }
    }

    /// # Safety
    ///
    /// The stage is `Finished`, the caller owns the output (see [`Header::read_output`]), and
    /// `out` points to writable memory for a `Result<T, JoinError>`.
    unsafe fn read_output(ptr: NonNull<Header>, out: *mut ()) {
        let take = |stage: &mut Stage<F, T>| match std::mem::replace(stage, Stage::Consumed) {
            Stage::Finished(output) => output,
            _ => unreachable!("a task's output was read twice"),
        };
        // SAFETY: owning the output gives the caller exclusive access to the finished stage.
        let output = unsafe { Self::with_stage(ptr, take) };
        // SAFETY: the caller passes a pointer to a `Result<T, JoinError>` slot.
        unsafe { out.cast::<Result<T, JoinError>>().write(output) }
    }

    /// # Safety
    ///
    /// The stage is `Finished` and the caller is the only one reading it.
    unsafe fn output_is_err(ptr: NonNull<Header>) -> bool {
        let is_err = |stage: &mut Stage<F, T>| match stage {
            Stage::Finished(output) => output.is_err(),
            _ => unreachable!("a task's output was inspected after it was taken"),
        };
        // SAFETY: forwarded from the caller.
        unsafe { Self::with_stage(ptr, is_err) }
    }

    /// # Safety
    ///
    /// As for [`read_output`](Self::read_output).
    unsafe fn drop_output(ptr: NonNull<Header>) {
        // SAFETY: owning the output gives the caller exclusive access to the finished stage.
        unsafe { Self::with_stage(ptr, |stage| *stage = Stage::Consumed) }
    }

    /// # Safety
    ///
    /// `task` is a reference to a `TaskCell<F, T, S>`, which is not its last one (see
    /// [`Schedule::schedule`]).
    unsafe fn schedule(task: TaskRef) {
        // SAFETY: the caller guarantees the cell type; the scheduler lives as long as the
        // block, which `task` and another reference keep alive through the call.
        let cell = unsafe { task.0.cast::<TaskCell<F, T, S>>().as_ref() };
        cell.scheduler.schedule(task);
    }

    /// # Safety
    ///
    /// The reference count is zero: nobody else holds the pointer.
    unsafe fn dealloc(ptr: NonNull<Header>) {
        // SAFETY: the block came from `Box::leak` in `spawn` and is no longer shared.
        drop(unsafe { Box::from_raw(ptr.cast::<TaskCell<F, T, S>>().as_ptr()) });
    }
}

/// Replaces a running stage with `Consumed`, catching a panic from the future's destructor.
/// Drops a finished future and stores its output in its place. Out of line, so that a poll
/// that returns `Pending`, the usual one, saves no registers for this.
#[inline(never)]
fn finish<F, T>(stage: &mut Stage<F, T>, output: Result<T, JoinError>) {
    let output = match drop_caught(stage) {
        Some(error) => Err(error),
        None => output,
    };
    *stage = Stage::Finished(output);
}

fn drop_caught<F, T>(stage: &mut Stage<F, T>) -> Option<JoinError> {
    panic::catch_unwind(AssertUnwindSafe(|| *stage = Stage::Consumed))
        .err()
        .map(|payload| {
            // The destructor unwound half way; forget what is left rather than run it twice.
            std::mem::forget(std::mem::replace(stage, Stage::Consumed));
            JoinError::panic(payload)
        })
}

impl Header {
    /// Polls the future with a waker that borrows this task's reference; `true` once the
    /// output is stored.
    ///
    /// # Safety
    ///
    /// Loop thread only, the task is `RUNNING`.
    pub(super) unsafe fn poll(this: NonNull<Header>) -> bool {
        // SAFETY: the waker does not own a reference; `ManuallyDrop` keeps it from dropping
        // one, and clones take their own.
        let waker = ManuallyDrop::new(unsafe { Waker::from_raw(raw_waker(this)) });
        let mut cx = Context::from_waker(&waker);
        // SAFETY: forwarded from the caller.
        unsafe { (this.as_ref().vtable.poll)(this, &mut cx) }
    }

    /// Drops the future.
    ///
    /// # Safety
    ///
    /// The future is still there, and nobody else can touch it: the loop thread with the task
    /// not `RUNNING`, or the spawning thread of a `Send` future that reached no loop.
    pub(super) unsafe fn drop_future(this: NonNull<Header>) -> Option<JoinError> {
        // SAFETY: forwarded from the caller.
        unsafe { (this.as_ref().vtable.drop_future)(this) }
    }

    /// # Safety
    ///
    /// The task is `COMPLETED` and the caller owns its output: the handle, once, or the loop
    /// thread when it completed the task with no handle left. `out` fits a
    /// `Result<T, JoinError>` of the task's output type.
    pub(super) unsafe fn read_output(this: NonNull<Header>, out: *mut ()) {
        // SAFETY: forwarded from the caller.
        unsafe { (this.as_ref().vtable.read_output)(this, out) }
    }

    /// # Safety
    ///
    /// The task is `COMPLETED`, the caller is the handle, and it has not taken the output.
    pub(super) unsafe fn output_is_err(this: NonNull<Header>) -> bool {
        // SAFETY: forwarded from the caller.
        unsafe { (this.as_ref().vtable.output_is_err)(this) }
    }

    /// # Safety
    ///
    /// The task is `COMPLETED`, the caller owns its output (as for
    /// [`read_output`](Header::read_output)), and runs on a thread where it may be dropped.
    pub(super) unsafe fn drop_output(this: NonNull<Header>) {
        // SAFETY: forwarded from the caller.
        unsafe { (this.as_ref().vtable.drop_output)(this) }
    }

    /// Frees the block.
    ///
    /// # Safety
    ///
    /// A transition reported that the caller gave up the last reference.
    pub(super) unsafe fn dealloc(this: NonNull<Header>) {
        // SAFETY: the caller had the last reference, so the header is still alive to read the
        // vtable from, and nobody else will touch the block.
        unsafe { (this.as_ref().vtable.dealloc)(this) }
    }

    /// Drops one reference; frees the task when it was the last.
    ///
    /// # Safety
    ///
    /// The caller owns a reference and gives it up.
    pub(super) unsafe fn release(this: NonNull<Header>) {
        // SAFETY: the caller owns a reference, so the header is alive.
        if unsafe { this.as_ref() }.state.ref_dec() {
            // SAFETY: that was the last reference.
            unsafe { Header::dealloc(this) }
        }
    }

    /// Drops two references; frees the task when they were the last.
    ///
    /// # Safety
    ///
    /// The caller owns two references and gives them up.
    pub(super) unsafe fn release_two(this: NonNull<Header>) {
        // SAFETY: the caller owns references, so the header is alive.
        if unsafe { this.as_ref() }.state.ref_dec_two() {
            // SAFETY: those were the last references.
            unsafe { Header::dealloc(this) }
        }
    }

    /// Wakes the task through a reference the caller keeps.
    ///
    /// # Safety
    ///
    /// The caller holds a reference.
    unsafe fn wake_by_ref(this: NonNull<Header>) {
        // SAFETY: the caller holds a reference.
        let header = unsafe { this.as_ref() };
        match header.state.transition_to_notified_by_ref() {
            TransitionToNotified::DoNothing => {}
            // SAFETY: the transition took this reference for the queue entry, and the
            // caller's keeps the block alive through the call.
            TransitionToNotified::Submit => unsafe { (header.vtable.schedule)(TaskRef(this)) },
        }
    }

    /// Wakes the task, giving up the caller's reference.
    ///
    /// # Safety
    ///
    /// The caller owns a reference and gives it up.
    unsafe fn wake_by_val(this: NonNull<Header>) {
        // SAFETY: the caller owns a reference.
        let header = unsafe { this.as_ref() };
        match header.state.transition_to_notified_by_val() {
            TransitionToNotifiedByVal::DoNothing => {}
            // SAFETY: the caller's reference became the queue entry's; the task is not
            // finished, so its live list holds another.
            TransitionToNotifiedByVal::Submit => unsafe { (header.vtable.schedule)(TaskRef(this)) },
            // SAFETY: the caller's reference was the last.
            TransitionToNotifiedByVal::Dealloc => unsafe { Header::dealloc(this) },
        }
    }

    /// Asks for the task to be cancelled; returns `false` if it had already finished or been
    /// cancelled.
    ///
    /// # Safety
    ///
    /// The caller holds a reference.
    pub(super) unsafe fn cancel(this: NonNull<Header>) -> bool {
        // SAFETY: the caller holds a reference.
        let header = unsafe { this.as_ref() };
        match header.state.transition_to_cancelled() {
            TransitionToCancelled::AlreadyDone => false,
            TransitionToCancelled::Marked => true,
            TransitionToCancelled::Submit => {
                // SAFETY: the transition took this reference for the queue entry, and the
                // caller's keeps the block alive through the call.
                unsafe { (header.vtable.schedule)(TaskRef(this)) };
                true
            }
        }
    }
}

/// An owned reference to a task, as held by a run queue.
pub(crate) struct TaskRef(NonNull<Header>);

// SAFETY: a `TaskRef` only moves a pointer and a reference count between threads. The future
// is polled and dropped only on the loop thread, which is the only place that turns a
// `TaskRef` into a poll; other threads only push it onto a queue or drop the reference, and
// the last reference frees a block whose future and output are already gone.
unsafe impl Send for TaskRef {}

impl TaskRef {
    pub(crate) fn as_ptr(&self) -> NonNull<Header> {
        self.0
    }

    pub(crate) fn header(&self) -> &Header {
        // SAFETY: the reference keeps the header alive.
        unsafe { self.0.as_ref() }
    }

    /// Gives the reference up without releasing it; the caller now owns it.
    pub(super) fn into_raw(self) -> NonNull<Header> {
        ManuallyDrop::new(self).0
    }

    /// A waker of the task, holding a reference of its own.
    #[cfg(all(test, loom))]
    pub(crate) fn waker(&self) -> Waker {
        self.header().state.ref_inc();
        // SAFETY: the waker owns the reference just taken.
        unsafe { Waker::from_raw(raw_waker(self.0)) }
    }

    /// Another reference to the task.
    #[cfg(all(test, loom))]
    pub(crate) fn clone_ref(&self) -> TaskRef {
        self.header().state.ref_inc();
        TaskRef(self.0)
    }
}

impl Drop for TaskRef {
    fn drop(&mut self) {
        // SAFETY: a `TaskRef` owns one reference.
        unsafe { Header::release(self.0) }
    }
}

fn raw_waker(ptr: NonNull<Header>) -> RawWaker {
    RawWaker::new(ptr.as_ptr().cast_const().cast(), &WAKER_VTABLE)
}

static WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(waker_clone, waker_wake, waker_wake_by_ref, waker_drop);

fn header_of(data: *const ()) -> NonNull<Header> {
    // SAFETY: every waker built with `WAKER_VTABLE` carries a non-null header pointer.
    unsafe { NonNull::new_unchecked(data.cast_mut().cast()) }
}

/// # Safety
///
/// `data` comes from a waker built with `WAKER_VTABLE` that holds or borrows a reference.
unsafe fn waker_clone(data: *const ()) -> RawWaker {
    let ptr = header_of(data);
    // SAFETY: the waker being cloned holds (or borrows) a reference, so the header is alive.
    unsafe { ptr.as_ref() }.state.ref_inc();
    raw_waker(ptr)
}

/// # Safety
///
/// `data` comes from a waker built with `WAKER_VTABLE` that owns a reference, given up here.
unsafe fn waker_wake(data: *const ()) {
    // SAFETY: a consuming wake gives up the waker's reference.
    unsafe { Header::wake_by_val(header_of(data)) }
}

/// # Safety
///
/// `data` comes from a waker built with `WAKER_VTABLE` that holds or borrows a reference.
unsafe fn waker_wake_by_ref(data: *const ()) {
    // SAFETY: the waker holds a reference for the duration of the call.
    unsafe { Header::wake_by_ref(header_of(data)) }
}

/// # Safety
///
/// `data` comes from a waker built with `WAKER_VTABLE` that owns a reference, given up here.
unsafe fn waker_drop(data: *const ()) {
    // SAFETY: the waker owns one reference.
    unsafe { Header::release(header_of(data)) }
}
