//! Executors for hyper's background tasks, which are also `futures`' spawners:
//! [`BraidExecutor`] on the loop's own thread, [`HandleExecutor`] from any thread.

use std::future::Future;

use braid_executor::Handle;
use futures::future::{FutureObj, LocalFutureObj};
use futures::task::{LocalSpawn, Spawn, SpawnError};

/// Spawns onto the braid event loop running on the current thread: hyper's
/// [`rt::Executor`](hyper::rt::Executor) for HTTP/2 connections, and `futures`'
/// [`Spawn`] and [`LocalSpawn`].
///
/// The futures need not be `Send`, so a service may hold `Rc`s and `RefCell`s. This is the one
/// to use when the connection is served on the loop's thread, which is where braid's sockets
/// live; [`HandleExecutor`] is for code on other threads.
///
/// # Panics
///
/// hyper's `execute` panics if no braid event loop runs on this thread, as
/// [`braid_executor::spawn`] does: hyper has no way to hear of the failure. [`Spawn`] and
/// [`LocalSpawn`] return [`SpawnError::shutdown`] instead, and their `status` says
/// beforehand whether a loop runs here.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use braid_hyper::BraidExecutor;
/// use futures::task::LocalSpawnExt;
///
/// braid_executor::run(async {
///     let shared = Rc::new(20); // not Send
///     let task = BraidExecutor.spawn_local_with_handle(async move { *shared + 1 })?;
///     assert_eq!(task.await, 21);
///     Ok::<(), futures::task::SpawnError>(())
/// })?;
/// # Ok::<(), futures::task::SpawnError>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct BraidExecutor;

impl<F> hyper::rt::Executor<F> for BraidExecutor
where
    F: Future + 'static,
    F::Output: 'static,
{
    #[track_caller]
    fn execute(&self, future: F) {
        braid_executor::spawn(future).detach();
    }
}

/// `Ok` while a braid event loop runs on this thread.
fn loop_here() -> Result<(), SpawnError> {
    match Handle::try_current() {
        Some(_) => Ok(()),
        None => Err(SpawnError::shutdown()),
    }
}

impl Spawn for BraidExecutor {
    #[track_caller]
    fn spawn_obj(&self, future: FutureObj<'static, ()>) -> Result<(), SpawnError> {
        loop_here()?;
        braid_executor::spawn(future).detach();
        Ok(())
    }

    fn status(&self) -> Result<(), SpawnError> {
        loop_here()
    }
}

impl LocalSpawn for BraidExecutor {
    #[track_caller]
    fn spawn_local_obj(&self, future: LocalFutureObj<'static, ()>) -> Result<(), SpawnError> {
        loop_here()?;
        braid_executor::spawn(future).detach();
        Ok(())
    }

    fn status_local(&self) -> Result<(), SpawnError> {
        loop_here()
    }
}

/// Spawns `Send` futures onto one braid event loop from any thread, through its
/// [`Handle`]: hyper's [`rt::Executor`](hyper::rt::Executor) and `futures`' [`Spawn`].
///
/// Use it where the code that builds connections runs on another thread than the loop, or
/// where a library wants a `Send + Sync` spawner. braid's sockets are `Send` but work only on
/// their own loop, so a task that owns one, such as an HTTP/2 client's connection task, may
/// use a `HandleExecutor` only for that socket's loop; an HTTP/2 server's stream tasks hold no
/// socket and run on either. Once the loop has ended, [`Spawn`] fails
/// with [`SpawnError::shutdown`] and hyper's tasks are dropped unrun, since the connection
/// they belong to is gone with the loop.
///
/// # Examples
///
/// ```
/// use braid_hyper::HandleExecutor;
/// use futures::task::{Spawn, SpawnExt};
///
/// let event_loop = braid_executor::EventLoop::new()?;
/// let executor = HandleExecutor::new(event_loop.handle());
/// let answer = std::thread::spawn(move || executor.spawn_with_handle(async { 6 * 7 }))
///     .join()
///     .unwrap()?;
/// assert_eq!(event_loop.block_on(answer), 42);
///
/// let executor = HandleExecutor::new(event_loop.handle());
/// drop(event_loop);
/// assert!(executor.status().unwrap_err().is_shutdown());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct HandleExecutor {
    handle: Handle,
}

impl HandleExecutor {
    /// Spawns through `handle`.
    pub fn new(handle: Handle) -> HandleExecutor {
        HandleExecutor { handle }
    }

    /// Spawns onto the loop running on this thread, from wherever it is later used.
    ///
    /// # Panics
    ///
    /// If no braid event loop runs on this thread.
    #[track_caller]
    pub fn current() -> HandleExecutor {
        HandleExecutor::new(Handle::current())
    }

    /// The handle it spawns through.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl From<Handle> for HandleExecutor {
    fn from(handle: Handle) -> HandleExecutor {
        HandleExecutor::new(handle)
    }
}

impl<F> hyper::rt::Executor<F> for HandleExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    #[track_caller]
    fn execute(&self, future: F) {
        // A loop that has ended took the connection with it: nothing is left to drive.
        let _ = spawn_detached(&self.handle, future);
    }
}

impl Spawn for HandleExecutor {
    #[track_caller]
    fn spawn_obj(&self, future: FutureObj<'static, ()>) -> Result<(), SpawnError> {
        spawn_detached(&self.handle, future)
    }

    fn status(&self) -> Result<(), SpawnError> {
        if self.handle.is_closed() {
            Err(SpawnError::shutdown())
        } else {
            Ok(())
        }
    }
}

/// Spawns `Send` futures on the braid loop running on the calling thread, and, where none
/// runs, through a fallback [`Handle`]: hyper's [`rt::Executor`](hyper::rt::Executor) and
/// `futures`' [`Spawn`], for clients that may be used from more than one loop.
///
/// hyper-util's pooled client spawns a connection's task from inside the request that opened
/// the connection, so with this executor the task lands on the loop that owns the
/// connection's socket, whichever loop that is. [`client`](crate::client()) uses it.
///
/// # Examples
///
/// ```
/// use braid_hyper::CallerLoopExecutor;
/// use futures::task::SpawnExt;
///
/// // Built on one loop...
/// let executor = braid_executor::run(async { CallerLoopExecutor::current() });
/// // ...it spawns on the loop of whoever uses it.
/// let on = braid_executor::run(async move {
///     let here = std::thread::current().id();
///     let task = executor.spawn_with_handle(async { std::thread::current().id() })?;
///     Ok::<_, futures::task::SpawnError>((here, task.await))
/// })?;
/// assert_eq!(on.0, on.1);
/// # Ok::<(), futures::task::SpawnError>(())
/// ```
#[derive(Clone, Debug)]
pub struct CallerLoopExecutor {
    fallback: Handle,
}

impl CallerLoopExecutor {
    /// Spawns on the caller's loop, or through `fallback` where no loop runs.
    pub fn new(fallback: Handle) -> CallerLoopExecutor {
        CallerLoopExecutor { fallback }
    }

    /// Falls back to the loop running on this thread.
    ///
    /// # Panics
    ///
    /// If no braid event loop runs on this thread.
    #[track_caller]
    pub fn current() -> CallerLoopExecutor {
        CallerLoopExecutor::new(Handle::current())
    }

    fn spawn_send<F>(&self, future: F) -> Result<(), SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let here = Handle::try_current();
        spawn_detached(here.as_ref().unwrap_or(&self.fallback), future)
    }
}

/// Spawns `future` through `handle`, to run on unwatched; `SpawnError::shutdown` once the
/// handle's loop has ended.
#[track_caller]
fn spawn_detached<F>(handle: &Handle, future: F) -> Result<(), SpawnError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    handle
        .spawn(future)
        .map(braid_executor::Task::detach)
        .map_err(|_| SpawnError::shutdown())
}

impl<F> hyper::rt::Executor<F> for CallerLoopExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    #[track_caller]
    fn execute(&self, future: F) {
        // Only the fallback can have ended; the connection went with its loop.
        let _ = self.spawn_send(future);
    }
}

impl Spawn for CallerLoopExecutor {
    fn spawn_obj(&self, future: FutureObj<'static, ()>) -> Result<(), SpawnError> {
        self.spawn_send(future)
    }
}
