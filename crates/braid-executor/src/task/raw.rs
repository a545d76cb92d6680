//! The type-erased task: one heap block holding the header, the future and then its output.
//!
//! A task is allocated once, at spawn, as a `TaskCell<F, T>`: the [`Header`] (state word,
//! waker of the awaiting handle, vtable, owning loop) followed by a [`Stage`] that holds the
//! future while it runs and its output afterwards. Everything outside this file sees only
//! `NonNull<Header>` and goes through the vtable.
//!
//! Threads: the future is polled and dropped only on the loop thread. Other threads may wake
//! the task (which pushes a [`TaskRef`] onto the loop's thread-safe queue), cancel it, read
//! or drop its output through the handle (only when the output is `Send`, see
//! [`Task`](crate::Task)), and free the block once every reference is gone.

use std::cell::UnsafeCell;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{self, AssertUnwindSafe, Location};
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use futures::task::AtomicWaker;

use super::state::*;
use super::JoinError;
use crate::event_loop::Shared;

/// The index a task has in the loop's list of live tasks while it is not in it.
pub(crate) const UNLINKED: usize = usize::MAX;

/// The operations that depend on the future's and output's types.
pub(crate) struct TaskVTable {
    /// Polls the future; on `Ready` or a panic stores the output and returns `true`.
    poll: unsafe fn(NonNull<Header>, &mut Context<'_>) -> bool,
    /// Drops the future of a cancelled task; returns a panic raised by its destructor.
    drop_future: unsafe fn(NonNull<Header>) -> Option<JoinError>,
    /// Moves the output to `*mut Result<T, JoinError>`.
    read_output: unsafe fn(NonNull<Header>, *mut ()),
    /// Whether the finished output is an `Err`.
    output_is_err: unsafe fn(NonNull<Header>) -> bool,
    /// Drops the output in place.
    drop_output: unsafe fn(NonNull<Header>),
    /// Frees the block.
    dealloc: unsafe fn(NonNull<Header>),
}

/// The part of a task every holder can see.
pub(crate) struct Header {
    pub(crate) state: AtomicUsize,
    vtable: &'static TaskVTable,
    /// The waker of whoever awaits the [`Task`](crate::Task) handle.
    pub(crate) awaiter: AtomicWaker,
    /// The loop the task belongs to; wakes schedule onto it.
    pub(crate) shared: Arc<Shared>,
    /// Position in the loop's list of live tasks, or [`UNLINKED`]. Loop thread only.
    pub(crate) alive_index: UnsafeCell<usize>,
    /// Where the task was spawned, for slow-poll warnings.
    pub(crate) location: &'static Location<'static>,
}

/// What a task holds: its future until it finishes, then its output until someone takes it.
enum Stage<F, T> {
    Running(F),
    Finished(Result<T, JoinError>),
    Consumed,
}

#[repr(C)]
struct TaskCell<F, T> {
    // First, so that a pointer to the cell is a pointer to the header.
    header: Header,
    stage: UnsafeCell<Stage<F, T>>,
}

/// Allocates a task running `future`. The returned pointer carries the three references of
/// [`INITIAL`]: the handle's, one run-queue entry's, and the live list's.
pub(crate) fn allocate<F, T>(
    future: F,
    shared: Arc<Shared>,
    location: &'static Location<'static>,
) -> NonNull<Header>
where
    F: Future<Output = Result<T, JoinError>>,
{
    let cell = Box::new(TaskCell {
        header: Header {
            state: AtomicUsize::new(INITIAL),
            vtable: &TaskCell::<F, T>::VTABLE,
            awaiter: AtomicWaker::new(),
            shared,
            alive_index: UnsafeCell::new(UNLINKED),
            location,
        },
        stage: UnsafeCell::new(Stage::<F, T>::Running(future)),
    });
    NonNull::from(Box::leak(cell)).cast()
}

impl<F, T> TaskCell<F, T>
where
    F: Future<Output = Result<T, JoinError>>,
{
    const VTABLE: TaskVTable = TaskVTable {
        poll: Self::poll,
        drop_future: Self::drop_future,
        read_output: Self::read_output,
        output_is_err: Self::output_is_err,
        drop_output: Self::drop_output,
        dealloc: Self::dealloc,
    };

    /// # Safety
    ///
    /// `ptr` points to a live `TaskCell<F, T>`, and the caller has exclusive access to its
    /// stage (the loop thread while the task is `RUNNING`).
    unsafe fn stage<'a>(ptr: NonNull<Header>) -> &'a mut Stage<F, T> {
        // SAFETY: the caller guarantees the cell type and exclusive access to the stage.
        unsafe { &mut *ptr.cast::<TaskCell<F, T>>().as_ref().stage.get() }
    }

    /// # Safety
    ///
    /// Loop thread only, while the task is `RUNNING` and its stage is `Running`.
    unsafe fn poll(ptr: NonNull<Header>, cx: &mut Context<'_>) -> bool {
        // SAFETY: forwarded from the caller.
        let stage = unsafe { Self::stage(ptr) };
        let Stage::Running(future) = stage else {
            unreachable!("a task was polled after its future finished");
        };
        // SAFETY: the future lives in the heap block, which never moves, and is dropped in
        // place; so it stays pinned.
        let future = unsafe { Pin::new_unchecked(future) };
        let output = match panic::catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Pending) => return false,
            Ok(Poll::Ready(output)) => output,
            Err(payload) => Err(JoinError::panic(payload)),
        };
        let output = match drop_caught(stage) {
            Some(error) => Err(error),
            None => output,
        };
        *stage = Stage::Finished(output);
        true
    }

    /// # Safety
    ///
    /// Loop thread only, while the stage is `Running` and nobody else touches it.
    unsafe fn drop_future(ptr: NonNull<Header>) -> Option<JoinError> {
        // SAFETY: forwarded from the caller.
        drop_caught(unsafe { Self::stage(ptr) })
    }

    /// # Safety
    ///
    /// The stage is `Finished`, the caller owns the output (see [`Header::read_output`]), and
    /// `out` points to writable memory for a `Result<T, JoinError>`.
    unsafe fn read_output(ptr: NonNull<Header>, out: *mut ()) {
        // SAFETY: owning the output gives the caller exclusive access to the finished stage.
        let stage = unsafe { Self::stage(ptr) };
        match std::mem::replace(stage, Stage::Consumed) {
            // SAFETY: the caller passes a pointer to a `Result<T, JoinError>` slot.
            Stage::Finished(output) => unsafe { out.cast::<Result<T, JoinError>>().write(output) },
            _ => unreachable!("a task's output was read twice"),
        }
    }

    /// # Safety
    ///
    /// The stage is `Finished` and the caller is the only one reading it.
    unsafe fn output_is_err(ptr: NonNull<Header>) -> bool {
        // SAFETY: forwarded from the caller.
        match unsafe { Self::stage(ptr) } {
            Stage::Finished(output) => output.is_err(),
            _ => unreachable!("a task's output was inspected after it was taken"),
        }
    }

    /// # Safety
    ///
    /// As for [`read_output`](Self::read_output).
    unsafe fn drop_output(ptr: NonNull<Header>) {
        // SAFETY: owning the output gives the caller exclusive access to the finished stage.
        let stage = unsafe { Self::stage(ptr) };
        *stage = Stage::Consumed;
    }

    /// # Safety
    ///
    /// The reference count is zero: nobody else holds the pointer.
    unsafe fn dealloc(ptr: NonNull<Header>) {
        // SAFETY: the block came from `Box::leak` in `allocate` and is no longer shared.
        drop(unsafe { Box::from_raw(ptr.cast::<TaskCell<F, T>>().as_ptr()) });
    }
}

/// Replaces a running stage with `Consumed`, catching a panic from the future's destructor.
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
    /// Polls the future with a waker that borrows this task's reference.
    ///
    /// # Safety
    ///
    /// Loop thread only, the task is `RUNNING`.
    pub(crate) unsafe fn poll(this: NonNull<Header>) -> bool {
        // SAFETY: the waker does not own a reference; `ManuallyDrop` keeps it from dropping
        // one, and clones take their own.
        let waker = ManuallyDrop::new(unsafe { Waker::from_raw(raw_waker(this)) });
        let mut cx = Context::from_waker(&waker);
        // SAFETY: forwarded from the caller.
        unsafe { (this.as_ref().vtable.poll)(this, &mut cx) }
    }

    /// # Safety
    ///
    /// Loop thread only; the future is still there (the task is live and not `RUNNING`).
    pub(crate) unsafe fn drop_future(this: NonNull<Header>) -> Option<JoinError> {
        // SAFETY: forwarded from the caller.
        unsafe { (this.as_ref().vtable.drop_future)(this) }
    }

    /// # Safety
    ///
    /// The task is `COMPLETED` and the caller owns its output: the handle, once, or the loop
    /// thread when it completed the task with no handle left. `out` fits a
    /// `Result<T, JoinError>` of the task's output type.
    pub(crate) unsafe fn read_output(this: NonNull<Header>, out: *mut ()) {
        // SAFETY: forwarded from the caller.
        unsafe { (this.as_ref().vtable.read_output)(this, out) }
    }

    /// # Safety
    ///
    /// The task is `COMPLETED`, the caller is the handle, and it has not taken the output.
    pub(crate) unsafe fn output_is_err(this: NonNull<Header>) -> bool {
        // SAFETY: forwarded from the caller.
        unsafe { (this.as_ref().vtable.output_is_err)(this) }
    }

    /// # Safety
    ///
    /// The task is `COMPLETED`, the caller owns its output (as for
    /// [`read_output`](Header::read_output)), and runs on a thread where it may be dropped.
    pub(crate) unsafe fn drop_output(this: NonNull<Header>) {
        // SAFETY: forwarded from the caller.
        unsafe { (this.as_ref().vtable.drop_output)(this) }
    }

    /// Drops `n` references; frees the task when they were the last.
    ///
    /// # Safety
    ///
    /// The caller owns `n` references and gives them up.
    pub(crate) unsafe fn release(this: NonNull<Header>, n: usize) {
        // SAFETY: the caller owns references, so the header is alive.
        let header = unsafe { this.as_ref() };
        let previous = header.state.fetch_sub(n * REF_ONE, Ordering::AcqRel);
        debug_assert!(
            (previous & REF_MASK) >= n * REF_ONE,
            "task reference count underflow"
        );
        if previous & REF_MASK == n * REF_ONE {
            // SAFETY: these were the last references.
            unsafe { (header.vtable.dealloc)(this) }
        }
    }

    /// Clears `HANDLE` and drops the handle's reference in one step; frees the task when it
    /// was the last.
    ///
    /// # Safety
    ///
    /// The caller is the handle, owns its reference, and no longer needs the output.
    pub(crate) unsafe fn release_handle(this: NonNull<Header>) {
        // SAFETY: the caller owns a reference, so the header is alive.
        let header = unsafe { this.as_ref() };
        // `HANDLE` is set while the handle exists, so subtracting it clears it.
        let previous = header.state.fetch_sub(HANDLE | REF_ONE, Ordering::AcqRel);
        debug_assert!(previous & HANDLE != 0, "a task handle was released twice");
        if previous & REF_MASK == REF_ONE {
            // SAFETY: that was the last reference.
            unsafe { (header.vtable.dealloc)(this) }
        }
    }

    /// Schedules the task if it is neither queued, running, nor finished. `owned` says the
    /// caller gives up one reference (a consuming wake), which the queue entry reuses.
    ///
    /// # Safety
    ///
    /// The caller holds a reference (given up if `owned`).
    unsafe fn wake(this: NonNull<Header>, owned: bool) {
        // SAFETY: the caller holds a reference.
        let header = unsafe { this.as_ref() };
        let mut state = header.state.load(Ordering::Acquire);
        loop {
            if state & (SCHEDULED | FINISHED) != 0 {
                break;
            }
            let next = if state & RUNNING != 0 {
                // The loop re-queues it after the poll, with the reference it already has.
                state | SCHEDULED
            } else if owned {
                state | SCHEDULED
            } else {
                (state | SCHEDULED) + REF_ONE
            };
            match header.state.compare_exchange_weak(
                state,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) if state & RUNNING != 0 => break,
                Ok(_) => {
                    header.shared.schedule(TaskRef(this));
                    return;
                }
                Err(actual) => state = actual,
            }
        }
        if owned {
            // SAFETY: the caller gave up this reference and it went to no queue.
            unsafe { Header::release(this, 1) }
        }
    }

    /// Asks for the task to be cancelled; returns `false` if it had already finished or been
    /// cancelled.
    ///
    /// # Safety
    ///
    /// The caller holds a reference.
    pub(crate) unsafe fn cancel(this: NonNull<Header>) -> bool {
        // SAFETY: the caller holds a reference.
        let header = unsafe { this.as_ref() };
        let mut state = header.state.load(Ordering::Acquire);
        loop {
            if state & (FINISHED | CANCELLED) != 0 {
                return false;
            }
            // A task that is queued or running is already on its way to the loop, which sees
            // `CANCELLED` and drops the future instead of polling it.
            let push = state & (SCHEDULED | RUNNING) == 0;
            let next = if push {
                (state | CANCELLED | SCHEDULED) + REF_ONE
            } else {
                state | CANCELLED | SCHEDULED
            };
            match header.state.compare_exchange_weak(
                state,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    if push {
                        header.shared.schedule(TaskRef(this));
                    }
                    return true;
                }
                Err(actual) => state = actual,
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
    /// Takes over one reference the caller owns.
    ///
    /// # Safety
    ///
    /// The caller owns one reference to a live task and gives it up.
    pub(crate) unsafe fn from_owned(ptr: NonNull<Header>) -> TaskRef {
        TaskRef(ptr)
    }

    pub(crate) fn as_ptr(&self) -> NonNull<Header> {
        self.0
    }

    pub(crate) fn header(&self) -> &Header {
        // SAFETY: the reference keeps the header alive.
        unsafe { self.0.as_ref() }
    }

    /// Gives the reference up without releasing it; the caller now owns it.
    pub(crate) fn into_raw(self) -> NonNull<Header> {
        ManuallyDrop::new(self).0
    }
}

impl Drop for TaskRef {
    fn drop(&mut self) {
        // SAFETY: a `TaskRef` owns one reference.
        unsafe { Header::release(self.0, 1) }
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

unsafe fn waker_clone(data: *const ()) -> RawWaker {
    let ptr = header_of(data);
    // SAFETY: the waker being cloned holds (or borrows) a reference, so the header is alive.
    let previous = unsafe { ptr.as_ref() }
        .state
        .fetch_add(REF_ONE, Ordering::Relaxed);
    if previous > isize::MAX as usize {
        // Billions of leaked wakers: the count is about to wrap; stop before memory is freed
        // too early.
        std::process::abort();
    }
    raw_waker(ptr)
}

unsafe fn waker_wake(data: *const ()) {
    // SAFETY: a consuming wake gives up the waker's reference.
    unsafe { Header::wake(header_of(data), true) }
}

unsafe fn waker_wake_by_ref(data: *const ()) {
    // SAFETY: the waker holds a reference for the duration of the call.
    unsafe { Header::wake(header_of(data), false) }
}

unsafe fn waker_drop(data: *const ()) {
    // SAFETY: the waker owns one reference.
    unsafe { Header::release(header_of(data), 1) }
}
