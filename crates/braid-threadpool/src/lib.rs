//! A work-stealing thread pool with the API of Python's `concurrent.futures.ThreadPoolExecutor`,
//! plus the fork-join tools Rust users know from rayon.
//!
//! Unlike Python's, these threads run in parallel, so the pool scales CPU-bound work across
//! cores. A longer walk-through lives in the tutorial chapter
//! `crates/braid/tutorial/08-thread-pool.md` (`braid::tutorial` in the facade's docs).
//!
//! # Submitting tasks
//!
//! [`ThreadPool::submit`] runs a closure on a worker and returns a [`JoinHandle`]: wait for it
//! with [`JoinHandle::join`], or `.await` it from async code.
//!
//! ```
//! use braid_threadpool::ThreadPool;
//!
//! let pool = ThreadPool::new(4)?;
//! let handle = pool.submit(|| (1..=10u64).product::<u64>());
//! assert_eq!(handle.join().unwrap(), 3_628_800);
//! # Ok::<(), braid_threadpool::BuildError>(())
//! ```
//!
//! A panic inside a task does not take the worker down; it comes back through the handle:
//!
//! ```
//! # use braid_threadpool::ThreadPool;
//! # let pool = ThreadPool::new(2)?;
//! let handle = pool.submit(|| -> u8 { panic!("bad input") });
//! assert!(handle.join().unwrap_err().is_panic());
//! assert_eq!(pool.submit(|| 7).join().unwrap(), 7);
//! # Ok::<(), braid_threadpool::BuildError>(())
//! ```
//!
//! # Many items: `map` and `as_completed`
//!
//! [`ThreadPool::map`] applies a function to every item and yields results in input order,
//! submitting lazily so only a bounded number of tasks are in flight. [`as_completed`] yields
//! results as tasks finish instead, each with its handle's position in the input.
//!
//! ```
//! # use braid_threadpool::ThreadPool;
//! use braid_threadpool::as_completed;
//!
//! # let pool = ThreadPool::new(2)?;
//! let doubled: Vec<i32> = pool.map(|x: i32| x * 2, vec![1, 2, 3]).map(Result::unwrap).collect();
//! assert_eq!(doubled, [2, 4, 6]);
//!
//! let handles: Vec<_> = (0..4).map(|i| pool.submit(move || i)).collect();
//! for (i, result) in as_completed(handles) {
//!     assert_eq!(result.unwrap(), i as i32);
//! }
//! # Ok::<(), braid_threadpool::BuildError>(())
//! ```
//!
//! # Fork-join
//!
//! [`ThreadPool::join`] runs two closures, potentially in parallel, without allocating: split
//! work recursively, with no cutoff if you like, and idle workers take the big halves.
//!
//! ```
//! # use braid_threadpool::ThreadPool;
//! fn fib(pool: &ThreadPool, n: u32) -> u64 {
//!     if n < 2 {
//!         return n as u64;
//!     }
//!     let (a, b) = pool.join(|| fib(pool, n - 1), || fib(pool, n - 2));
//!     a + b
//! }
//!
//! # let pool = ThreadPool::new(2)?;
//! assert_eq!(fib(&pool, 20), 6765);
//! # Ok::<(), braid_threadpool::BuildError>(())
//! ```
//!
//! # Scopes
//!
//! [`ThreadPool::scope`] lets tasks borrow from the caller's stack: it returns only once every
//! task spawned in the [`Scope`] finished.
//!
//! ```
//! # use braid_threadpool::ThreadPool;
//! # let pool = ThreadPool::new(2)?;
//! let mut chunks = vec![vec![1, 2], vec![3, 4], vec![5, 6]];
//! pool.scope(|s| {
//!     for chunk in chunks.iter_mut() {
//!         s.spawn(move |_| chunk.iter_mut().for_each(|x| *x *= 10));
//!     }
//! });
//! assert_eq!(chunks, [[10, 20], [30, 40], [50, 60]]);
//! # Ok::<(), braid_threadpool::BuildError>(())
//! ```
//!
//! # Waiting never deadlocks the pool
//!
//! A worker that waits — in `join`, at the end of a `scope`, or on a [`JoinHandle`] — runs
//! other queued work meanwhile. So tasks may wait on tasks of their own pool, even with a
//! single worker:
//!
//! ```
//! # use braid_threadpool::ThreadPool;
//! use std::sync::Arc;
//!
//! let pool = Arc::new(ThreadPool::new(1)?);
//! let inner_pool = pool.clone();
//! let outer = pool.submit(move || inner_pool.submit(|| 21).join().unwrap() * 2);
//! assert_eq!(outer.join().unwrap(), 42);
//! # Ok::<(), braid_threadpool::BuildError>(())
//! ```
//!
//! # Shutting down
//!
//! Dropping the pool waits for all submitted work. [`ThreadPool::shutdown`] with
//! [`Shutdown::CancelPending`] cancels what has not started instead.
//!
//! # Scheduling
//!
//! Each worker owns a deque: work it submits goes there and runs last-in first-out; work
//! from other threads goes to a shared queue; idle workers steal. The second half of a `join`
//! stays private to its worker until a heartbeat, about every 100 µs, lets the worker offer
//! its oldest one to the others, so the many small `join`s of a recursion cost little more than
//! function calls. Idle workers spin briefly, then sleep until work arrives, and the heartbeat
//! sleeps with them, so an idle pool uses no CPU. On Linux each sleeping worker may run only on
//! a CPU of its own while it sleeps, so that waking several at once puts them on different
//! cores instead of queueing one behind another; awake, it has all its CPUs back.
//!
//! # Layering
//!
//! braid-threadpool needs only the standard library, crossbeam and, on Linux, `braid-sys`, for
//! the CPU masks of sleeping workers. Besides the pool, it holds
//! what every braid handle shares: [`JoinError`], [`panic_message`], [`block_on`] and the
//! [`completion::Completion`] cell. `braid-executor` builds `spawn_blocking` on the pool, and
//! `braid-procpool` builds its handles on the cell.

mod as_completed;
mod builder;
pub mod completion;
mod heartbeat;
mod home;
mod job;
mod join;
mod join_error;
mod latch;
mod map;
mod metrics;
mod pool;
mod scope;
mod sleep;
mod spawn;
mod sync;
mod task;
mod wait;
mod worker;

pub use as_completed::{as_completed, AsCompleted};
pub use builder::{BuildError, Builder};
pub use join_error::{panic_message, JoinError};
pub use map::Map;
pub use metrics::{Metrics, WorkerMetrics};
pub use pool::{Shutdown, ThreadPool};
pub use scope::Scope;
pub use task::JoinHandle;
pub use wait::block_on;
