//! braid: the concurrency models Python programmers know, for Rust.
//!
//! | module | what it is | Python analogue |
//! |---|---|---|
//! | `braid::poller` | epoll / kqueue readiness poller with a cross-thread wake | `selectors` |
//! | `braid::threadpool` | work-stealing thread pool with fork-join | `ThreadPoolExecutor` |
//! | `braid::executor` | single-threaded event loop, timers, sockets, async primitives, subprocesses, signals, a loop per core | `asyncio` |
//! | `braid::procpool` | pool of worker processes that survives crashes and hangs | `ProcessPoolExecutor` |
//! | `braid::hyper` | hyper 1.x servers and clients on the event loop | — |
//!
//! Each module is a crate of its own (`braid-poller`, `braid-threadpool`, `braid-executor`,
//! `braid-procpool`, `braid-hyper`) behind a feature of the same name; `full` turns on all of them, and the
//! default is `executor` and `threadpool`. Depend on a single crate when that is all you
//! need, or on `braid` for all of them under one name.
//!
//! The [`tutorial`] teaches the models from first principles, for a reader who knows Python
//! and a little Rust; every example in it is compiled and run by the test suite.
//!
//! # Layering
//!
//! ```text
//! braid, braid-macros   this facade: features, prelude, #[braid::main], the tutorial
//! braid-hyper           -> braid-executor, hyper
//! braid-procpool        -> braid-threadpool, braid-poller, braid-sys
//! braid-executor        -> braid-threadpool, braid-poller, braid-sys
//! braid-threadpool      -> std, crossbeam; braid-sys on Linux (sleeping workers' CPUs)
//! braid-poller          -> braid-sys
//! braid-sys             -> libc: every raw system call, in one place
//! ```
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "poller")]
#[cfg_attr(docsrs, doc(cfg(feature = "poller")))]
#[doc(inline)]
pub use braid_poller as poller;

#[cfg(feature = "threadpool")]
#[cfg_attr(docsrs, doc(cfg(feature = "threadpool")))]
#[doc(inline)]
pub use braid_threadpool as threadpool;

#[cfg(feature = "executor")]
#[cfg_attr(docsrs, doc(cfg(feature = "executor")))]
#[doc(inline)]
pub use braid_executor as executor;

#[cfg(feature = "procpool")]
#[cfg_attr(docsrs, doc(cfg(feature = "procpool")))]
#[doc(inline)]
pub use braid_procpool as procpool;

#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
#[doc(inline)]
pub use braid_hyper as hyper;

#[cfg(feature = "executor")]
#[cfg_attr(docsrs, doc(cfg(feature = "executor")))]
#[doc(inline)]
pub use braid_executor::{
    as_completed, gather, join, run, sleep, spawn, spawn_blocking, timeout, try_join, yield_now,
    JoinError, Task, TaskGroup,
};

#[cfg(feature = "threadpool")]
#[cfg_attr(docsrs, doc(cfg(feature = "threadpool")))]
#[doc(inline)]
pub use braid_threadpool::ThreadPool;

#[cfg(feature = "procpool")]
#[cfg_attr(docsrs, doc(cfg(feature = "procpool")))]
#[doc(inline)]
pub use braid_procpool::ProcessPool;

/// Runs an `async fn main` on a new braid event loop, like `asyncio.run(main())`.
///
/// The attribute turns the `async fn` into a plain function whose body runs inside
/// [`run`]. With the `procpool` feature on, it first calls `braid::procpool::init()`, so a
/// program whose `main` carries it cannot forget to. Like any future given to [`run`], the
/// body is watched for slow polls; they are reported at the `#[braid::main]` line.
///
/// ```
/// #[braid::main]
/// async fn main() {
///     let task = braid::spawn(async { 6 * 7 });
///     assert_eq!(task.await.unwrap(), 42);
/// }
/// ```
///
/// Put it on `main`. With the `procpool` feature it makes the function's first act
/// `braid::procpool::init()`, which a worker process of the Spawn and ForkServer start methods
/// needs to meet before anything else: that process runs the program again from the top, and
/// only `init` turns it into a worker. On a function other than `main`, whatever `main` did
/// before calling it runs once more in every such worker; call `braid::procpool::init()` as
/// the first line of `main` yourself in that case.
///
/// It works on any `async fn`, and the function keeps its return type:
///
/// ```
/// #[braid::main]
/// async fn answer() -> std::io::Result<u32> {
///     braid::sleep(std::time::Duration::from_millis(1)).await;
///     Ok(42)
/// }
///
/// assert_eq!(answer().unwrap(), 42);
/// ```
///
/// # Settings
///
/// The loop's settings go in the attribute, each `name = literal`, as in Python's
/// `asyncio.run(main(), debug=True)` or tokio's `#[tokio::main(worker_threads = 4)]`. Each
/// is the [`EventLoop` builder](crate::executor::Builder) method of the same name:
///
/// | setting | value | default |
/// |---|---|---|
/// | `blocking_threads` | most threads [`spawn_blocking`] may start, at least 1 | 512 |
/// | `slow_poll_threshold` | a poll this long is reported; `"off"` reports none | `"100ms"` |
/// | `shutdown_timeout` | how long the end waits for `spawn_blocking` jobs; `"forever"` waits for all | `"5s"` |
/// | `yield_before_sleep` | `true` or `false` | `false` |
///
/// A duration is a string of a number and a unit: `"50ms"`, `"1.5s"`, `"250us"`, `"10ns"`,
/// `"2min"`, `"1h"`.
///
/// ```
/// use std::time::Duration;
///
/// #[braid::main(blocking_threads = 2, slow_poll_threshold = "50ms", shutdown_timeout = "1s")]
/// async fn main() {
///     let a = braid::spawn_blocking(|| std::thread::current().id());
///     let b = braid::spawn_blocking(|| std::thread::current().id());
///     let _ = (a.await.unwrap(), b.await.unwrap());
///     // This poll takes longer than 50 ms, so it is counted and reported.
///     braid::spawn(async { std::thread::sleep(Duration::from_millis(60)) }).await.unwrap();
///     assert!(braid::executor::metrics().slow_polls >= 1);
/// }
/// ```
///
/// A mistake is a compile error at the token that is wrong, saying what would be right. An
/// unknown setting names the ones there are:
///
/// ```compile_fail
/// #[braid::main(threads = 4)] // error: #[braid::main] has no setting `threads`; it takes ...
/// async fn main() {}
/// ```
///
/// and so do a duration without a unit, a count of 0, or a setting given twice:
///
/// ```compile_fail
/// #[braid::main(slow_poll_threshold = "50")]
/// async fn main() {}
/// ```
///
/// ```compile_fail
/// #[braid::main(blocking_threads = 0)]
/// async fn main() {}
/// ```
///
/// A function that is not `async` is refused with a message saying so:
///
/// ```compile_fail
/// #[braid::main]
/// fn main() {}
/// ```
#[cfg(feature = "executor")]
#[cfg_attr(docsrs, doc(cfg(feature = "executor")))]
pub use braid_macros::main;

/// The names most programs use, for `use braid::prelude::*`.
///
/// Each name means one thing whatever features are on: `as_completed` is the event loop's
/// (a stream, awaited), never the thread pool's blocking iterator, which keeps its full name
/// `braid::threadpool::as_completed`; `JoinError` is the one error type of a task, a
/// `spawn_blocking` job and a thread-pool handle.
pub mod prelude {
    #[cfg(feature = "executor")]
    #[doc(no_inline)]
    pub use braid_executor::{
        as_completed, gather, join, run, sleep, spawn, spawn_blocking, timeout, try_join,
        yield_now, JoinError, Task, TaskGroup,
    };

    // The thread pool's blocking `as_completed` stays at `braid::threadpool::as_completed`:
    // the prelude's is the event loop's, which waits without blocking the thread.
    #[cfg(feature = "threadpool")]
    #[doc(no_inline)]
    pub use braid_threadpool::{JoinHandle, ThreadPool};

    // One `JoinError` for both models: the executor's is the thread pool's type.
    #[cfg(all(feature = "threadpool", not(feature = "executor")))]
    #[doc(no_inline)]
    pub use braid_threadpool::JoinError;

    #[cfg(feature = "procpool")]
    #[doc(no_inline)]
    pub use braid_procpool::{ProcessPool, TaskError};
}

/// What `#[braid::main]` expands to calls; not part of the API.
#[doc(hidden)]
pub mod __private {
    /// Runs before an `async fn main`'s event loop starts.
    pub fn main_prelude() {
        #[cfg(feature = "procpool")]
        braid_procpool::init();
    }

    /// Builds the loop `#[braid::main(...)]` asked for and runs `future` on it.
    #[cfg(feature = "executor")]
    #[track_caller]
    pub fn run_with<F: std::future::Future>(
        builder: braid_executor::Builder,
        future: F,
    ) -> F::Output {
        let event_loop = builder.build().unwrap_or_else(|error| {
            panic!("#[braid::main] could not create its event loop: {error}")
        });
        event_loop.block_on(future)
    }
}

pub mod tutorial;

/// The examples in the repository's README.md, run as doctests so it never goes stale.
#[cfg(all(doctest, feature = "executor", feature = "threadpool"))]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
