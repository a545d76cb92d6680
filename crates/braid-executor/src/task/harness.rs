//! The loop's side of a task: start a poll, poll, then complete or park; drop the future of a
//! cancelled task; drop every future at the end. Each step is one transition of
//! [`State`](super::state::State) and what its outcome asks for.
//!
//! The loop thread calls these for each task it takes from its run queue:
//!
//! ```text
//! match unsafe { task.start(&live) } {     // SCHEDULED -> RUNNING, or drop a cancelled future
//!     Some(mut running) => match running.poll() {
//!         Poll::Ready(()) => running.complete(&live),             // -> COMPLETED
//!         Poll::Pending => if let Some(task) = running.park() {   // -> idle
//!             queue.push(task)                                    // woken meanwhile
//!         },
//!     },
//!     None => {}
//! }
//! ```

use std::ptr::NonNull;
use std::task::Poll;

use super::list::LiveTasks;
use super::raw::{Header, TaskRef};
use super::state::{TransitionToIdle, TransitionToRunning};

impl TaskRef {
    /// Starts polling a task taken from a run queue: `Some` if it is now `RUNNING`. A task
    /// cancelled meanwhile has its future dropped here instead; one that finished meanwhile
    /// only gives up the queue's reference.
    ///
    /// # Safety
    ///
    /// Called on the thread of the loop the task was spawned on, where its future may be
    /// polled and dropped, with that loop's live list.
    pub(crate) unsafe fn start(self, live: &LiveTasks) -> Option<Running> {
        match self.header().state.transition_to_running() {
            TransitionToRunning::Success => Some(Running { task: self }),
            TransitionToRunning::Cancelled => {
                // SAFETY: the task's loop thread (from the caller); the task is live and not
                // running, so its future is there; the queue's reference and the live list's
                // are given up.
                unsafe { drop_future(self.into_raw(), live, Refs::QueueAndList) };
                None
            }
            TransitionToRunning::Finished => None,
        }
    }

    /// Gives up a task whose spawn reached no loop: drops its future on this thread and the
    /// queue entry's and live list's references. Only the handle's reference is left.
    ///
    /// # Safety
    ///
    /// The task never reached a run queue, and its future may be dropped on this thread
    /// (it is `Send`, or this is the loop thread).
    pub(crate) unsafe fn abandon(self) {
        let ptr = self.into_raw();
        // SAFETY: the task reached no queue, so nobody but this thread can touch its future;
        // the caller guarantees it may be dropped here.
        let _ = unsafe { Header::drop_future(ptr) };
        // SAFETY: the reference just given up keeps the header alive.
        let header = unsafe { ptr.as_ref() };
        // Nobody had the handle yet, so nobody awaits it.
        let _ = header.state.transition_to_dropped();
        // SAFETY: the queue entry's reference and the live list's, which no list took; the
        // handle's keeps the task alive.
        unsafe { Header::release_two(ptr) }
    }
}

/// A task the loop is polling: holds the `RUNNING` bit and the queue entry's reference. Made
/// only by [`TaskRef::start`], so it exists only on the task's loop thread.
pub(crate) struct Running {
    task: TaskRef,
}

impl Running {
    pub(crate) fn task(&self) -> &TaskRef {
        &self.task
    }

    /// Polls the future once. `Ready` means the output is stored: call
    /// [`complete`](Running::complete); `Pending`: call [`park`](Running::park).
    pub(crate) fn poll(&mut self) -> Poll<()> {
        // SAFETY: the task's loop thread (a `Running` exists only there), and the task is
        // `RUNNING`.
        if unsafe { Header::poll(self.task.as_ptr()) } {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Finishes a task whose poll returned `Ready`: marks it `COMPLETED`, drops the output if
    /// the handle is gone, wakes the awaiter, and gives up the queue's and the live list's
    /// references.
    pub(crate) fn complete(self, live: &LiveTasks) {
        let ptr = self.task.into_raw();
        // SAFETY: the queue's reference, taken over above, keeps the header alive.
        let header = unsafe { ptr.as_ref() };
        let previous = header.state.transition_to_complete();
        if !previous.has_handle() {
            // Nobody can read the output any more.
            // SAFETY: the task completed after its handle was gone, so the output is this
            // thread's, where it was made.
            unsafe { Header::drop_output(ptr) };
        }
        if previous.is_awaited() {
            header.awaiter.wake();
        }
        live.unlink(ptr);
        // SAFETY: the queue's and the live list's references, both the caller's now.
        unsafe { Header::release_two(ptr) }
    }

    /// Ends a poll that returned `Pending`. Returns the task if it was woken (or cancelled)
    /// during the poll: it goes to the back of the queue with the reference it came with.
    #[must_use = "a task woken during its poll must be queued again"]
    pub(crate) fn park(self) -> Option<TaskRef> {
        match self.task.header().state.transition_to_idle() {
            TransitionToIdle::Idle => {
                // The transition gave up the queue entry's reference.
                let _ = self.task.into_raw();
                None
            }
            TransitionToIdle::Scheduled => Some(self.task),
        }
    }
}

impl LiveTasks {
    /// Drops the future of every live task (on this, the loop thread, running their
    /// destructors), waking their awaiters. Returns `false` if there was none.
    pub(crate) fn drop_all(&self) -> bool {
        let tasks = self.take_all();
        let any = !tasks.is_empty();
        for ptr in tasks {
            // SAFETY: the list's tasks belong to this thread's loop (see `link`), and this
            // runs outside any poll; each entry's future is there and the entry's reference
            // is given up.
            unsafe { drop_future(ptr, self, Refs::List) };
        }
        any
    }
}

/// Which of the loop's references [`drop_future`] gives up.
enum Refs {
    /// The live list's only (the end of the loop).
    List,
    /// The queue entry's and the live list's (a cancelled task taken from the queue).
    QueueAndList,
}

/// Drops the future of a live task, marks it `DROPPED`, wakes its awaiter and gives up `refs`.
///
/// # Safety
///
/// Loop thread; the task is live and not `RUNNING`; the caller owns `refs`.
unsafe fn drop_future(ptr: NonNull<Header>, live: &LiveTasks, refs: Refs) {
    live.unlink(ptr);
    // SAFETY: forwarded from the caller.
    let panicked = unsafe { Header::drop_future(ptr) };
    // SAFETY: the caller's references keep the header alive.
    let header = unsafe { ptr.as_ref() };
    if let Some(error) = panicked {
        tracing::warn!(
            spawned_at = %header.location,
            "the destructor of a cancelled task's future panicked: {error}"
        );
    }
    if header.state.transition_to_dropped().is_awaited() {
        header.awaiter.wake();
    }
    match refs {
        // SAFETY: the caller gives this up.
        Refs::List => unsafe { Header::release(ptr) },
        // SAFETY: the caller gives these up.
        Refs::QueueAndList => unsafe { Header::release_two(ptr) },
    }
}
