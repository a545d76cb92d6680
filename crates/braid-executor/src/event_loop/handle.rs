use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;

use super::context;
use super::core::Core;
use super::Shared;
use crate::task::{self, JoinError, Task, TaskDump};

/// How long [`Handle::tasks`] waits for the loop to answer before it reports what the loop
/// is stuck polling instead. Long, so that a loop that is only busy answers; short enough
/// for someone looking at a hung program.
const DUMP_WAIT: Duration = Duration::from_secs(1);

/// Spawns onto an event loop from any thread (Python's `asyncio.run_coroutine_threadsafe`).
///
/// A `Handle` is `Send + Sync` and cheap to clone. It stays valid after its loop is dropped;
/// spawning then fails with [`SpawnError`] instead of panicking.
///
/// # Examples
///
/// ```
/// let event_loop = braid_executor::EventLoop::new()?;
/// let handle = event_loop.handle();
/// let task = std::thread::spawn(move || handle.spawn(async { 21 * 2 }).unwrap())
///     .join()
///     .unwrap();
/// assert_eq!(event_loop.block_on(task).unwrap(), 42);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct Handle {
    shared: Arc<Shared>,
}

impl Handle {
    pub(crate) fn new(shared: Arc<Shared>) -> Handle {
        Handle { shared }
    }

    /// A handle to the loop running on this thread (tokio's `Handle::current`), for code that
    /// runs inside a loop and must give another thread a way back to it.
    ///
    /// # Panics
    ///
    /// If no braid event loop runs on this thread; [`try_current`](Handle::try_current) says
    /// so with `None` instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use braid_executor::Handle;
    ///
    /// let answer = braid_executor::run(async {
    ///     let handle = Handle::current();
    ///     // A plain thread hands work back to this loop and waits for it.
    ///     let task = std::thread::spawn(move || handle.spawn(async { 6 * 7 }).unwrap())
    ///         .join()
    ///         .unwrap();
    ///     task.await.unwrap()
    /// });
    /// assert_eq!(answer, 42);
    /// ```
    #[track_caller]
    pub fn current() -> Handle {
        Handle::try_current().unwrap_or_else(|| context::no_loop("braid_executor::Handle::current"))
    }

    /// A handle to the loop running on this thread, or `None` when none runs here.
    ///
    /// # Examples
    ///
    /// ```
    /// use braid_executor::Handle;
    ///
    /// assert!(Handle::try_current().is_none());
    /// assert!(braid_executor::run(async { Handle::try_current().is_some() }));
    /// ```
    pub fn try_current() -> Option<Handle> {
        context::with_current(|core| core.map(|core| Handle::new(core.shared.clone())))
    }

    /// Spawns `future` on the handle's loop and wakes the loop; the task runs on the loop's
    /// thread when the loop next turns (it must be in [`block_on`](crate::EventLoop::block_on)
    /// or [`run`](crate::run) for that).
    ///
    /// # Errors
    ///
    /// [`SpawnError`] if the loop has ended; the future is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let handle = braid_executor::EventLoop::new()?.handle(); // the loop is dropped at once
    /// assert!(handle.spawn(async {}).is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// The future crosses threads, so it must be `Send`; use [`spawn`](crate::spawn) on the
    /// loop's own thread for the others:
    ///
    /// ```compile_fail
    /// let event_loop = braid_executor::EventLoop::new()?;
    /// let shared = std::rc::Rc::new(1);
    /// event_loop.handle().spawn(async move { *shared });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> Result<Task<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (task, queued) = task::spawn(
            future.map(Ok::<_, JoinError>),
            self.shared.clone(),
            Location::caller(),
        );
        match self.shared.push_remote(queued) {
            Ok(()) => Ok(task),
            Err(queued) => {
                // SAFETY: the task never reached a queue, and its future is `Send`, so
                // dropping it here, off the loop, is fine.
                unsafe { queued.abandon() };
                drop(task);
                Err(SpawnError { _private: () })
            }
        }
    }

    /// Whether the handle's loop has ended, so that [`spawn`](Handle::spawn) would fail.
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// A snapshot of every live task of the handle's loop, from any thread, as
    /// [`EventLoop::tasks`](crate::EventLoop::tasks) gives.
    ///
    /// From another thread it asks the loop, which answers between two polls; the caller
    /// waits up to a second for that. A loop that does not answer in time
    /// is blocked in a poll (or not running): the dump then lists only what it is polling,
    /// with how long it has been at it, and is not [complete](TaskDump::is_complete). That
    /// one line is usually the answer to "why does my program hang?". On the loop's own
    /// thread (in one of its tasks) the dump is made at once. Between two `block_on` calls
    /// no loop runs to answer: use [`EventLoop::tasks`](crate::EventLoop::tasks) there.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = braid_executor::EventLoop::new()?;
    /// let handle = event_loop.handle();
    /// event_loop.block_on(async {
    ///     let dump = braid_executor::spawn(async move { handle.tasks() }).await.unwrap();
    ///     assert_eq!(dump.len(), 1); // the task that asked, running
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn tasks(&self) -> TaskDump {
        let here = context::with_current(|core| {
            core.filter(|core| Arc::ptr_eq(&core.shared, &self.shared))
                .map(Core::tasks)
        });
        if let Some(dump) = here {
            return dump;
        }
        let (answer, dump) = mpsc::channel();
        if !self.shared.request_dump(answer) {
            // The loop has ended, and its tasks with it.
            return TaskDump::new(Vec::new(), true);
        }
        match dump.recv_timeout(DUMP_WAIT) {
            Ok(dump) => dump,
            Err(RecvTimeoutError::Disconnected) => TaskDump::new(Vec::new(), true),
            Err(RecvTimeoutError::Timeout) => self
                .shared
                .now_polling
                .dump(braid_sys::time::coarse_monotonic_nanos()),
        }
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// The error of [`Handle::spawn`] when the loop has ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpawnError {
    _private: (),
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "the event loop behind this handle has ended; create a new loop to run more tasks",
        )
    }
}

impl std::error::Error for SpawnError {}
