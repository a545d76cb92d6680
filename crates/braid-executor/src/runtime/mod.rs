//! One event loop per core: a [`Runtime`] runs several [`EventLoop`]s, each on a thread of
//! its own, like N copies of an asyncio loop, or glommio and monoio.
//!
//! A task stays on the loop that spawned it, for its whole life, so nothing in it needs to be
//! `Send` or locked: [`Runtime::spawn_on`] sends a closure to the loop you name, and the
//! future it makes there may hold `Rc`s, `RefCell`s and sockets. The [`Task`] it returns
//! can be awaited from any loop, or waited for from a plain thread with
//! [`Runtime::block_on`]. [`Runtime::serve`] listens on every loop and runs each connection
//! where it was accepted.
//!
//! ```
//! use std::rc::Rc;
//! use braid_executor::net::TcpStream;
//! use braid_executor::runtime::{self, Runtime};
//! use futures::{AsyncReadExt, AsyncWriteExt};
//!
//! let rt = Runtime::builder().loops(2).build()?;
//!
//! // One task on each loop. The closure crosses to the loop's thread; the future it makes
//! // there holds an `Rc`, which could never cross threads.
//! for i in 0..rt.loops() {
//!     let task = rt.spawn_on(i, move || {
//!         let seen_by = Rc::new(runtime::loop_index());
//!         async move { *seen_by }
//!     })?;
//!     assert_eq!(rt.block_on(task).unwrap(), Some(i));
//! }
//!
//! // An echo server: every loop accepts, and each connection runs on the loop that took it.
//! let server = rt.serve("127.0.0.1:0", |mut stream: TcpStream| async move {
//!     let mut buf = [0; 1024];
//!     loop {
//!         let n = stream.read(&mut buf).await?;
//!         if n == 0 {
//!             return std::io::Result::Ok(());
//!         }
//!         stream.write_all(&buf[..n]).await?;
//!     }
//! })?;
//! let addr = server.local_addr();
//! rt.block_on(async {
//!     let mut client = TcpStream::connect(addr).await?;
//!     client.write_all(b"ping").await?;
//!     let mut reply = [0; 4];
//!     client.read_exact(&mut reply).await?;
//!     assert_eq!(&reply, b"ping");
//!     std::io::Result::Ok(())
//! })?;
//!
//! server.stop();
//! rt.shutdown();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # How connections are spread
//!
//! On Linux every loop listens on the same port with `SO_REUSEPORT`, and the kernel picks a
//! loop for each connection from a hash of its addresses: there is no lock and no thread
//! hand-off between a connection and its loop. Elsewhere (or with [`Balance::RoundRobin`])
//! loop 0 accepts and deals the connections to the loops in turn.
//!
//! # Ending
//!
//! [`Runtime::shutdown`], or dropping the runtime, stops every loop: tasks still alive are
//! cancelled, their futures dropped on their own threads, and the threads joined. A panic
//! in a task never ends its loop: the task's awaiter gets a [`JoinError`](crate::JoinError).

mod builder;
mod serve;
mod spawn_on;

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use futures::channel::oneshot;

pub use builder::{Balance, Builder};
pub use serve::Server;
pub use spawn_on::SpawnOnError;

use crate::blocking::BlockingPool;
use crate::build_error::BuildError;
use crate::{EventLoop, Handle, SpawnError, Task};
use spawn_on::BuiltOnLoop;

thread_local! {
    /// On a runtime's loop thread: the runtime's id and the loop's index.
    static CURRENT_LOOP: Cell<Option<(u64, usize)>> = const { Cell::new(None) };
}

/// Tells runtimes apart, for "is this thread one of my loops?".
static NEXT_RUNTIME_ID: AtomicU64 = AtomicU64::new(0);

/// The index of the [`Runtime`] loop running on this thread; `None` on any other thread.
///
/// Handy to shard state by loop: one slot per loop, each touched by one thread only.
///
/// # Examples
///
/// ```
/// use braid_executor::runtime::{loop_index, Runtime};
///
/// let runtime = Runtime::builder().loops(2).build()?;
/// let task = runtime.spawn_on(1, || async { loop_index() })?;
/// assert_eq!(runtime.block_on(task).unwrap(), Some(1));
/// assert_eq!(loop_index(), None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn loop_index() -> Option<usize> {
    CURRENT_LOOP.get().map(|(_, index)| index)
}

/// Several event loops, each on a thread of its own; see the [module documentation](self).
///
/// A `Runtime` is `Send` and `Sync`: share it (in an `Arc`) with its own tasks to spawn from
/// one loop onto another.
///
/// # Examples
///
/// ```
/// use braid_executor::Runtime;
///
/// let runtime = Runtime::builder().loops(2).build()?;
/// let task = runtime.spawn(async { 6 * 7 })?;
/// assert_eq!(runtime.block_on(task).unwrap(), 42);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Runtime {
    id: u64,
    loops: Vec<LoopThread>,
    /// Round-robin position of [`Runtime::spawn`].
    next: AtomicUsize,
    blocking_pool: Arc<BlockingPool>,
    slow_poll_threshold: Duration,
    balance: Balance,
}

/// One loop of the runtime, seen from outside its thread.
struct LoopThread {
    handle: Handle,
    /// Dropping it ends the loop's `block_on`, and with it the loop.
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Runtime {
    /// A runtime with one loop per CPU and the other settings at their defaults.
    ///
    /// # Errors
    ///
    /// As [`Builder::build`].
    pub fn new() -> Result<Runtime, BuildError> {
        Runtime::builder().build()
    }

    /// Starts configuring a runtime.
    pub fn builder() -> Builder {
        Builder::new()
    }

    fn start(builder: Builder) -> Result<Runtime, BuildError> {
        let count = builder.loops.unwrap_or_else(|| {
            thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        });
        let id = NEXT_RUNTIME_ID.fetch_add(1, Ordering::Relaxed);
        let blocking_pool = Arc::new(BlockingPool::new(
            builder.blocking_threads,
            builder.shutdown_timeout,
        )?);
        let (ready_tx, ready_rx) = mpsc::channel();
        let mut stops = Vec::with_capacity(count);
        let mut threads = Vec::with_capacity(count);
        let mut failure = None;
        for index in 0..count {
            let (stop_tx, stop_rx) = oneshot::channel();
            let ready = ready_tx.clone();
            let loop_builder = EventLoop::builder()
                .slow_poll_threshold(builder.slow_poll_threshold)
                .yield_before_sleep(builder.yield_before_sleep)
                .share_blocking_pool(blocking_pool.clone());
            let spawned = thread::Builder::new()
                .name(format!("{}-{index}", builder.thread_name))
                .spawn(move || run_loop(id, index, loop_builder, ready, stop_rx));
            match spawned {
                Ok(thread) => {
                    stops.push(stop_tx);
                    threads.push(thread);
                }
                Err(error) => {
                    failure = Some(BuildError::from(error));
                    break;
                }
            }
        }
        drop(ready_tx);
        let mut handles: Vec<Option<Handle>> = vec![None; threads.len()];
        while failure.is_none() && handles.iter().any(Option::is_none) {
            match ready_rx.recv() {
                Ok((index, Ok(handle))) => handles[index] = Some(handle),
                Ok((_, Err(error))) => failure = Some(error),
                Err(mpsc::RecvError) => {
                    failure = Some(BuildError::from(io::Error::other(
                        "a braid runtime loop thread ended before its loop started",
                    )))
                }
            }
        }
        if let Some(error) = failure {
            drop(stops);
            for thread in threads {
                let _ = thread.join();
            }
            return Err(error);
        }
        let loops = handles
            .into_iter()
            .zip(stops)
            .zip(threads)
            .map(|((handle, stop), thread)| LoopThread {
                handle: handle.expect("every loop reported its handle"),
                stop: Some(stop),
                thread: Some(thread),
            })
            .collect();
        Ok(Runtime {
            id,
            loops,
            next: AtomicUsize::new(0),
            blocking_pool,
            slow_poll_threshold: builder.slow_poll_threshold,
            balance: builder.balance,
        })
    }

    /// How many loops the runtime runs.
    pub fn loops(&self) -> usize {
        self.loops.len()
    }

    /// A handle for spawning `Send` futures onto loop `index`; `None` if there is no such
    /// loop (they are numbered from 0 to `loops() - 1`).
    ///
    /// # Examples
    ///
    /// ```
    /// let runtime = braid_executor::Runtime::builder().loops(2).build()?;
    /// let handle = runtime.handle(1).unwrap();
    /// let task = handle.spawn(async { "on loop 1" })?;
    /// assert_eq!(runtime.block_on(task).unwrap(), "on loop 1");
    /// assert!(runtime.handle(2).is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn handle(&self, index: usize) -> Option<Handle> {
        self.loops.get(index).map(|lp| lp.handle.clone())
    }

    /// Runs the future that `make` returns as a task on loop `index`.
    ///
    /// `make` is sent to the loop's thread and called there, so the future need not be
    /// `Send`: it is made, polled and dropped on that thread alone. Only the closure and the
    /// output cross threads. The returned [`Task`] can be awaited on any loop, waited for
    /// with [`block_on`](Runtime::block_on), or cancelled from anywhere. A panic in `make`
    /// or in the future reaches the awaiter as a [`JoinError`](crate::JoinError).
    ///
    /// Called on loop `index`'s own thread, it spawns there directly, as
    /// [`spawn`](crate::spawn) does.
    ///
    /// # Errors
    ///
    /// [`SpawnOnError::NoSuchLoop`] if `index` is not below [`loops`](Runtime::loops), and
    /// [`SpawnOnError::LoopEnded`] if that loop's thread has died; `make` is dropped
    /// without being called.
    ///
    /// Only the closure crosses threads, so it must be `Send`:
    ///
    /// ```compile_fail
    /// let runtime = braid_executor::Runtime::builder().loops(1).build()?;
    /// let made_here = std::rc::Rc::new(1);
    /// runtime.spawn_on(0, move || async move { *made_here });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    ///
    /// let runtime = braid_executor::Runtime::builder().loops(2).build()?;
    /// let task = runtime.spawn_on(1, || {
    ///     let log = Rc::new(RefCell::new(Vec::new())); // neither Send nor Sync
    ///     async move {
    ///         let writer = braid_executor::spawn({
    ///             let log = log.clone();
    ///             async move { log.borrow_mut().push("from a task on the same loop") }
    ///         });
    ///         writer.await.unwrap();
    ///         log.borrow().len()
    ///     }
    /// })?;
    /// assert_eq!(runtime.block_on(task).unwrap(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn spawn_on<F, Fut>(&self, index: usize, make: F) -> Result<Task<Fut::Output>, SpawnOnError>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future + 'static,
        Fut::Output: Send + 'static,
    {
        let Some(target) = self.loops.get(index) else {
            return Err(SpawnOnError::NoSuchLoop {
                index,
                loops: self.loops.len(),
            });
        };
        if CURRENT_LOOP.get() == Some((self.id, index)) {
            // Already there: no need for the remote queue and its wake-up. `make` still runs
            // in the task, so that its panic goes to the awaiter, as from elsewhere.
            return Ok(crate::spawn(BuiltOnLoop::new(make)));
        }
        target
            .handle
            .spawn(BuiltOnLoop::new(make))
            .map_err(|SpawnError { .. }| SpawnOnError::LoopEnded { index })
    }

    /// Runs `future` as a task on the next loop in turn (round-robin).
    ///
    /// # Errors
    ///
    /// [`SpawnError`] if that loop's thread has died; the future is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let runtime = braid_executor::Runtime::builder().loops(2).build()?;
    /// let tasks: Vec<_> = (0..4)
    ///     .map(|i| runtime.spawn(async move { i * 10 }))
    ///     .collect::<Result<_, _>>()?;
    /// let sum: i32 = tasks.into_iter().map(|task| runtime.block_on(task).unwrap()).sum();
    /// assert_eq!(sum, 60);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> Result<Task<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.loops.len();
        self.loops[index].handle.spawn(future)
    }

    /// Runs `future` to completion on the calling thread, in an event loop of its own for the
    /// length of the call, and returns its output. As with Tokio's `Runtime::block_on`, the
    /// future runs on the caller's thread, not on one of the runtime's loops: it need not be
    /// `Send` or `'static`, tasks it [`spawn`](crate::spawn)s run on that temporary loop
    /// (and are cancelled when `block_on` returns, as with [`run`](crate::run)), and
    /// [`spawn_blocking`](crate::spawn_blocking) uses the runtime's pool. Use it to wait for
    /// a [`Task`] of the runtime from a plain thread, or to run a client beside the loops.
    ///
    /// # Panics
    ///
    /// If called inside a running event loop (from a task: await instead), if the loop
    /// cannot be made (no file descriptors left), and with `future`'s own panic.
    ///
    /// # Examples
    ///
    /// ```
    /// let runtime = braid_executor::Runtime::builder().loops(2).build()?;
    /// let on_loop = runtime.spawn_on(0, || async { std::thread::current().id() })?;
    /// let here = std::thread::current().id();
    /// let (loop_thread, caller) = runtime.block_on(async {
    ///     (on_loop.await.unwrap(), std::thread::current().id())
    /// });
    /// assert_ne!(loop_thread, here);
    /// assert_eq!(caller, here);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let event_loop = EventLoop::builder()
            .slow_poll_threshold(self.slow_poll_threshold)
            .share_blocking_pool(self.blocking_pool.clone())
            .build()
            .unwrap_or_else(|error| {
                panic!("Runtime::block_on could not create an event loop: {error}")
            });
        event_loop.block_on(future)
    }

    /// Stops every loop and waits for their threads; the same as dropping the runtime.
    ///
    /// Each loop cancels the tasks it still has, dropping their futures on its own thread,
    /// then its thread ends. A loop whose thread has died is skipped. Then the
    /// [`spawn_blocking`](crate::spawn_blocking) jobs still running get up to
    /// [`Builder::shutdown_timeout`] (default 5 s) to finish; any left after that finish on
    /// their own threads, and a warning names where they were spawned.
    ///
    /// Called from one of the runtime's own tasks, the runtime cannot wait for that task's
    /// thread (it would wait for itself): that loop ends as soon as the task returns to it,
    /// and the call returns after the other loops have ended.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let runtime = braid_executor::Runtime::builder().loops(2).build()?;
    /// let sleeper = runtime.spawn(braid_executor::sleep(Duration::from_secs(3600)))?;
    /// runtime.shutdown();
    /// assert!(sleeper.is_finished());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shutdown(self) {
        drop(self);
    }
}

/// The body of a loop thread: makes the loop, reports its handle, runs until told to stop,
/// then drops the loop, which cancels what is left on this thread.
fn run_loop(
    runtime: u64,
    index: usize,
    builder: crate::Builder,
    ready: mpsc::Sender<(usize, Result<Handle, BuildError>)>,
    stop: oneshot::Receiver<()>,
) {
    let event_loop = match builder.build() {
        Ok(event_loop) => event_loop,
        Err(error) => {
            let _ = ready.send((index, Err(error)));
            return;
        }
    };
    CURRENT_LOOP.set(Some((runtime, index)));
    if ready.send((index, Ok(event_loop.handle()))).is_err() {
        return;
    }
    drop(ready);
    // Ends when the runtime drops the sender, whatever the reason.
    event_loop.block_on(async {
        let _ = stop.await;
    });
    // Cancels the tasks left; `spawn_on` from their destructors still spawns here (and the
    // new task is cancelled in turn).
    drop(event_loop);
    // Thread-local destructors run after this: `spawn_on` from them must take the remote
    // path and find the loop ended.
    CURRENT_LOOP.set(None);
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // Tell every loop first, so that they wind down together.
        for lp in &mut self.loops {
            drop(lp.stop.take());
        }
        let here = CURRENT_LOOP.get();
        for (index, lp) in self.loops.iter_mut().enumerate() {
            let Some(thread) = lp.thread.take() else {
                continue;
            };
            if here == Some((self.id, index)) {
                // Dropped by a task of this very loop: let the thread go. The loop ends once
                // the task returns to it.
                continue;
            }
            if thread.join().is_err() {
                tracing::error!("braid runtime: the thread of loop {index} had panicked");
            }
        }
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("loops", &self.loops.len())
            .field("balance", &self.balance)
            .field("blocking_pool", &self.blocking_pool)
            .finish_non_exhaustive()
    }
}
