use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::Arc;

use futures::FutureExt;

use super::Shared;
use crate::task::{self, JoinError, Task, TaskDump};

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
    /// [`EventLoop::tasks`](crate::EventLoop::tasks) gives. It needs nothing from the loop
    /// thread, so it works while a task blocks that thread: the culprit shows as `running`,
    /// with how long it has been.
    ///
    /// # Examples
    ///
    /// ```
    /// let event_loop = braid_executor::EventLoop::new()?;
    /// let handle = event_loop.handle();
    /// event_loop.spawn(std::future::pending::<()>()).detach();
    /// let dump = std::thread::spawn(move || handle.tasks()).join().unwrap();
    /// assert_eq!(dump.len(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn tasks(&self) -> TaskDump {
        self.shared.live.dump()
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
