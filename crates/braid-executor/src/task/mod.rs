//! Tasks: spawned futures, their handles, and how they end.

mod dump;
mod harness;
mod list;
mod loom;
mod raw;
mod state;
mod yield_now;

#[cfg(all(test, loom))]
mod loom_test;
#[cfg(test)]
mod test;

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

/// Why a task gave no output. The same type as the thread pool's, so one `match` serves an
/// event-loop task, a `spawn_blocking` job and a thread-pool handle.
#[doc(inline)]
pub use braid_threadpool::JoinError;
pub(crate) use dump::{NowPolling, PollEnd};
pub use dump::{TaskDump, TaskInfo, TaskState};
pub(crate) use harness::Running;
pub(crate) use list::LiveTasks;
pub(crate) use raw::{spawn, Schedule, TaskRef};
pub use yield_now::{yield_now, YieldNow};

use raw::Header;
use state::{DropHandle, Snapshot};

/// A handle to a spawned task: await it for the task's output (Python's `asyncio.Task`).
///
/// Awaiting gives `Ok(output)`, or a [`JoinError`] if the task panicked or was cancelled.
/// Dropping a `Task` (or calling [`detach`](Task::detach)) does **not** stop the task: it
/// runs until it finishes or its loop ends. Use [`cancel`](Task::cancel) to stop it.
///
/// A `Task` is `Send` when its output is, so a task spawned on the loop can be awaited from
/// another loop or thread. One whose output is not `Send` stays on its thread:
///
/// ```compile_fail
/// braid_executor::run(async {
///     let task = braid_executor::spawn(async { std::rc::Rc::new(1) });
///     std::thread::spawn(move || drop(task));
/// });
/// ```
///
/// A task whose future gives `io::Result<T>` is awaited as
/// `Result<io::Result<T>, JoinError>`. `JoinError` converts into an
/// [`io::Error`](std::io::Error), so inside an `async` block or function that returns
/// `io::Result`, `task.await??` gives the value and passes either error on;
/// [`Task::flatten`] gives a future of the plain `io::Result<T>`.
///
/// # Examples
///
/// ```
/// braid_executor::run(async {
///     let task = braid_executor::spawn(async { 6 * 7 });
///     assert_eq!(task.await.unwrap(), 42);
/// });
/// ```
///
/// A task that does I/O, awaited with one `?` for the task and one for the I/O:
///
/// ```
/// use std::io;
///
/// async fn size_of(path: &'static str) -> io::Result<u64> {
///     let task = braid_executor::spawn_blocking(move || std::fs::metadata(path));
///     Ok(task.await??.len())
/// }
///
/// braid_executor::run(async {
///     let error = size_of("/no/such/file").await.unwrap_err();
///     assert_eq!(error.kind(), io::ErrorKind::NotFound);
/// });
/// ```
#[must_use = "a dropped Task keeps running detached; call .detach() to say so"]
pub struct Task<T> {
    header: NonNull<Header>,
    /// The handle moved the output out: only it reads the output of a completed task, so
    /// this needs no atomic.
    taken: bool,
    // The handle reads and drops the output, so it is `Send` only when the output is.
    output: PhantomData<T>,
}

// SAFETY: a `Task` touches the task's output (moves it out or drops it) and its atomic state;
// it never touches the future, which stays on the loop thread. So it can move to another
// thread whenever the output can.
unsafe impl<T: Send> Send for Task<T> {}

// The output lives in the task's heap block, never inside the handle.
impl<T> Unpin for Task<T> {}

impl<T> Task<T> {
    /// Wraps a freshly allocated task's handle reference.
    ///
    /// # Safety
    ///
    /// `header` is a task whose output type is `T`, and the caller gives up the handle's
    /// reference (the `HANDLE` bit is set).
    pub(super) unsafe fn from_raw(header: NonNull<Header>) -> Task<T> {
        Task {
            header,
            taken: false,
            output: PhantomData,
        }
    }

    fn header(&self) -> &Header {
        // SAFETY: the handle owns a reference, so the header is alive.
        unsafe { self.header.as_ref() }
    }

    /// Asks the task to stop (Python's `Task.cancel`).
    ///
    /// The loop drops the task's future at the point where it is suspended, running its
    /// destructors, before it would poll it again; awaiting the task then gives a
    /// [`JoinError`] for which [`is_cancelled`](JoinError::is_cancelled) is true. Returns
    /// `false`, and changes nothing, if the task had already finished or been cancelled.
    ///
    /// A task that is being polled when it is cancelled (from another thread) finishes that
    /// poll; if the poll completes the future, its output wins.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// braid_executor::run(async {
    ///     let task = braid_executor::spawn(braid_executor::sleep(Duration::from_secs(3600)));
    ///     assert!(task.cancel());
    ///     assert!(task.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn cancel(&self) -> bool {
        // SAFETY: the handle holds a reference.
        unsafe { Header::cancel(self.header) }
    }

    /// Whether the task has finished: its future completed, panicked, or was dropped by a
    /// cancel. Awaiting a finished task returns at once.
    pub fn is_finished(&self) -> bool {
        self.header().state.load().is_finished()
    }

    /// Lets the task run on without a handle: its output will be dropped.
    /// Same as dropping the `Task`, said out loud.
    pub fn detach(self) {
        drop(self);
    }

    /// Registers `cx`'s waker to be woken when the task finishes; `Ready` once it has.
    /// Does not take the output.
    pub(crate) fn poll_finished(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.is_finished() {
            return Poll::Ready(());
        }
        if self.register_awaiter(cx).is_finished() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Puts `cx`'s waker in the awaiter slot and marks the task `AWAITED`; returns the
    /// state from just before, so a finish that raced with this shows up in it.
    fn register_awaiter(&self, cx: &mut Context<'_>) -> Snapshot {
        self.header().awaiter.register(cx.waker());
        self.header().state.set_awaited()
    }

    /// Whether the task finished with a panic or a cancel, without taking the output.
    /// `None` while it runs.
    pub(crate) fn failed(&self) -> Option<bool> {
        let state = self.header().state.load();
        if state.is_dropped() {
            return Some(true);
        }
        if !state.is_completed() || self.taken {
            return None;
        }
        // SAFETY: `COMPLETED` and not taken by this handle: the output sits in the task and
        // only this handle reads it; the loop no longer touches it while the handle exists.
        Some(unsafe { Header::output_is_err(self.header) })
    }

    fn take_output(&mut self) -> Result<T, JoinError> {
        self.taken = true;
        let mut out = MaybeUninit::<Result<T, JoinError>>::uninit();
        // SAFETY: the task `COMPLETED` with this handle alive, so the loop left the output,
        // and only this handle reads it, once; the slot has the output's type.
        unsafe {
            Header::read_output(self.header, out.as_mut_ptr().cast());
            out.assume_init()
        }
    }
}

impl<T> Future for Task<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut state = this.header().state.load();
        if !state.is_finished() {
            state = this.register_awaiter(cx);
            if !state.is_finished() {
                return Poll::Pending;
            }
        }
        if state.is_dropped() {
            return Poll::Ready(Err(JoinError::cancelled()));
        }
        assert!(
            !this.taken,
            "a braid_executor::Task was polled after it returned its output"
        );
        Poll::Ready(this.take_output())
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        if self.taken {
            // The output is gone, so giving up the handle is one atomic step.
            if self.header().state.release_handle() {
                // SAFETY: that was the last reference.
                unsafe { Header::dealloc(self.header) }
            }
            return;
        }
        match self.header().state.drop_handle() {
            DropHandle::OwnsOutput => {
                // Completed while the handle existed: the loop left the output, and nobody
                // else will drop it.
                // SAFETY: the output is this handle's and was not taken; `T` may be dropped
                // here because the handle lives on a thread that may own it.
                unsafe { Header::drop_output(self.header) };
                // SAFETY: the handle still owns its reference, and gives it up.
                unsafe { Header::release(self.header) }
            }
            // The loop drops the output when the task completes, as it now sees no handle.
            DropHandle::Released => {}
            // SAFETY: the handle's reference was the last.
            DropHandle::Dealloc => unsafe { Header::dealloc(self.header) },
        }
    }
}

impl<T> fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.header().state.load();
        f.debug_struct("Task")
            .field("spawned_at", &self.header().location)
            .field("finished", &state.is_finished())
            .field("cancelled", &state.is_cancelled())
            .finish()
    }
}
