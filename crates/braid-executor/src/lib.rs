//! braid's `asyncio`: a single-threaded event loop that runs Rust futures as tasks, with
//! timers, sockets, synchronisation primitives and a bridge to a thread pool.
//!
//! The tutorial teaches it in chapters 3 to 7: "The event loop and coroutines"
//! (`crates/braid/tutorial/03-event-loop.md`), "Many things at once", "Networking",
//! "Coordinating tasks" and "Mixing sync and async".
//!
//! # Running a loop
//!
//! [`run`] is `asyncio.run`: it makes an [`EventLoop`], drives one future to completion,
//! then cancels whatever tasks are left and returns the future's output.
//!
//! ```
//! let answer = braid_executor::run(async { 6 * 7 });
//! assert_eq!(answer, 42);
//! ```
//!
//! # Tasks
//!
//! [`spawn`] is `asyncio.create_task`. The future runs concurrently with the caller on the
//! same thread, so it need not be `Send`. Awaiting the [`Task`] gives its output, or a
//! [`JoinError`] if it panicked or was cancelled; a panic never brings the loop down.
//!
//! ```
//! use std::rc::Rc;
//! use braid_executor::{run, spawn};
//!
//! run(async {
//!     let name = Rc::new("braid".to_string()); // Rc: not Send, fine on one thread
//!     let greeter = spawn({
//!         let name = name.clone();
//!         async move { format!("hello, {name}") }
//!     });
//!     let failing = spawn(async { panic!("oops") });
//!
//!     assert_eq!(greeter.await.unwrap(), "hello, braid");
//!     assert!(failing.await.unwrap_err().is_panic());
//! });
//! ```
//!
//! A task runs until it finishes even if its `Task` is dropped. [`Task::cancel`] drops the
//! future where it is suspended, so its destructors run, and its awaiter then sees a
//! cancelled [`JoinError`].
//!
//! # Time
//!
//! [`sleep`] and [`sleep_until`] never end early; [`timeout`] is `asyncio.wait_for`: it drops
//! the future when time runs out and returns [`Elapsed`]. Given a spawned [`Task`], it drops
//! only the handle, and a dropped handle detaches its task, which runs on: unlike
//! `wait_for`, nothing is cancelled. Time out `&mut task` and cancel it on `Elapsed`, or put
//! the timeout inside the task. Around a future that gives a
//! `Result` (an `io::Result`, say), [`Timeout::flatten`] folds `Elapsed` into its error, as
//! [`Task::flatten`] does with a task's [`JoinError`], so that a task reading through a
//! timeout gives one `io::Result` instead of three nested `Result`s.
//!
//! ```
//! use std::time::Duration;
//! use braid_executor::{run, sleep, timeout};
//!
//! run(async {
//!     sleep(Duration::from_millis(1)).await;
//!     let never = std::future::pending::<()>();
//!     assert!(timeout(Duration::from_millis(1), never).await.is_err());
//! });
//! ```
//!
//! # Waiting on many things
//!
//! [`gather`] runs futures of one type concurrently and keeps their order; [`join!`] does
//! the same for futures of different types, giving a tuple, and [`try_join!`] stops at the
//! first error; [`as_completed`] yields each output, with its future's index, as it
//! finishes; [`wait`] splits tasks into done and pending; a [`TaskGroup`] cancels its other tasks on the first failure.
//!
//! ```
//! use braid_executor::{gather, join, run, TaskGroup};
//!
//! run(async {
//!     let squares = gather((1..=3).map(|i| async move { i * i })).await;
//!     assert_eq!(squares, vec![1, 4, 9]);
//!
//!     let (name, size) = join!(async { "log" }, async { 4096 });
//!     assert_eq!((name, size), ("log", 4096));
//!
//!     let group = TaskGroup::new();
//!     group.spawn(async { Ok::<_, std::io::Error>("a") });
//!     group.spawn(async { Ok("b") });
//!     assert_eq!(group.join().await.unwrap(), vec!["a", "b"]);
//! });
//! ```
//!
//! # Sockets
//!
//! [`net`] has TCP, UDP and Unix sockets whose operations are `async fn`s and whose streams
//! implement `futures::io::AsyncRead` and `AsyncWrite`.
//!
//! ```
//! use braid_executor::net::{TcpListener, TcpStream};
//! use futures::{AsyncReadExt, AsyncWriteExt};
//!
//! braid_executor::run(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     braid_executor::spawn(async move {
//!         let (mut stream, _) = listener.accept().await?;
//!         let mut buf = [0; 4];
//!         stream.read_exact(&mut buf).await?;
//!         stream.write_all(&buf).await
//!     })
//!     .detach();
//!
//!     let mut client = TcpStream::connect(addr).await?;
//!     client.write_all(b"ping").await?;
//!     let mut reply = [0; 4];
//!     client.read_exact(&mut reply).await?;
//!     assert_eq!(&reply, b"ping");
//!     std::io::Result::Ok(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Blocking code and other threads
//!
//! [`spawn_blocking`] (`asyncio.to_thread`) runs a closure on the loop's blocking pool,
//! which starts threads on demand. Wakers are `Send + Sync`: a thread that wakes a task queues it
//! and wakes the loop. A [`Handle`] spawns onto the loop from any thread.
//!
//! ```
//! use braid_executor::{spawn_blocking, EventLoop};
//!
//! let event_loop = EventLoop::new()?;
//! let handle = event_loop.handle();
//! let remote = std::thread::spawn(move || handle.spawn(async { "from afar" }).unwrap())
//!     .join()
//!     .unwrap();
//! event_loop.block_on(async {
//!     assert_eq!(remote.await.unwrap(), "from afar");
//!     let sum = spawn_blocking(|| (1..=10).sum::<u32>()).await.unwrap();
//!     assert_eq!(sum, 55);
//! });
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Child processes, signals, and a loop per core
//!
//! [`process::Command`] starts a program with pipes the loop drives
//! (`asyncio.create_subprocess_exec`); its exit is watched through the poller, never by a
//! thread per child. [`signal::signal`] and [`signal::ctrl_c`] turn Unix signals into
//! awaitable events (`loop.add_signal_handler`). A [`Runtime`] runs one loop per core, each
//! on its own thread, with [`Runtime::spawn_on`] for `!Send` futures and
//! [`Runtime::serve`] to spread a listening port over the loops.
//!
//! ```
//! use braid_executor::process::Command;
//!
//! let output = braid_executor::run(async { Command::new("echo").arg("hi").output().await })?;
//! assert_eq!(output.stdout, b"hi\n");
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Keeping the loop healthy
//!
//! The loop checks for I/O and timers at least every 61 task polls, so a task that keeps
//! waking itself cannot starve the others. A poll longer than the slow-poll threshold
//! (default 100 ms, set with [`Builder::slow_poll_threshold`]), of a task or of the future
//! given to [`run`], is reported with where the task was spawned (or `run` called), and
//! [`EventLoop::metrics`] counts it. The report is a `tracing` warning when a subscriber is
//! installed; without one, the first slow poll at each place prints a line to stderr.
//! `Duration::MAX` as the threshold turns reporting off.
//! [`EventLoop::tasks`] (or [`Handle::tasks`], from any thread) lists every live task with
//! its state and poll times, to see where a program waits (`asyncio.all_tasks()`); for a
//! loop stuck in a poll, `Handle::tasks` names the task it is stuck in.
//!
//! Calling [`spawn`], polling a [`sleep`], or using a socket with no loop running on the
//! thread panics with a message that says so.
//!
//! # Layering
//!
//! braid-executor stands on `braid-poller` (its loop waits there), `braid-sys` (processes,
//! signals, descriptors) and `braid-threadpool` (its handles are awaitable, and its
//! [`JoinError`] is the one every braid handle shares). Inside, `task` knows nothing of the loop: the loop schedules tasks
//! through a trait.

mod blocking;
mod build_error;
mod combine;
mod driver;
mod event_loop;
mod flatten;
pub mod net;
pub mod process;
pub mod runtime;
pub mod signal;
pub mod sync;
mod task;
mod time;

pub use blocking::spawn_blocking;
pub use build_error::BuildError;
#[doc(hidden)]
pub use combine::join::private as __private;
pub use combine::{as_completed, gather, wait, AsCompleted, ReturnWhen, TaskGroup, TaskGroupError};
pub use event_loop::{
    metrics, run, spawn, Builder, EventLoop, Handle, Metrics, SpawnError,
    DEFAULT_SLOW_POLL_THRESHOLD,
};
pub use flatten::Flatten;
pub use runtime::Runtime;
pub use task::{yield_now, JoinError, Task, TaskDump, TaskInfo, TaskState, YieldNow};
pub use time::{
    interval, interval_at, sleep, sleep_until, timeout, Elapsed, Interval, MissedTickBehavior,
    Sleep, Timeout,
};
