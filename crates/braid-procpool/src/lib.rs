//! braid-procpool: a process pool that survives its workers.
//!
//! This is braid's `concurrent.futures.ProcessPoolExecutor` and `multiprocessing.Pool`:
//! CPU-bound or crash-prone work runs in separate worker processes. A worker that panics,
//! exits, aborts, segfaults, is killed, or hangs past its timeout fails only its own task,
//! with the reason, and the pool starts a new worker in its place.
//!
//! The tutorial chapter "The process pool" (`crates/braid/tutorial/09-process-pool.md`, or
//! `braid::tutorial` in the facade's docs) explains when to use it, what crosses the process
//! boundary, and how failures are handled.
//!
//! # Start here
//!
//! Call [`init`] as the first line of `main`. Workers run this same program, and in a worker
//! `init` serves tasks and never returns, the way Python programs guard their entry point
//! with `if __name__ == "__main__":`.
//!
//! ```
//! use braid_procpool::ProcessPool;
//!
//! fn count_primes(below: u64) -> usize {
//!     (2..below).filter(|&n| (2..n).take_while(|d| d * d <= n).all(|d| n % d != 0)).count()
//! }
//!
//! fn main() -> std::io::Result<()> {
//!     braid_procpool::init();
//!
//!     let pool = ProcessPool::new(2)?;
//!     let handle = pool.submit(count_primes, 1000);
//!     assert_eq!(handle.join(), Ok(168));
//!     Ok(())
//! }
//! ```
//!
//! A task is a plain `fn(A) -> R` (a function item, or a closure that captures nothing) whose
//! argument and result implement serde's `Serialize` and `Deserialize`. They travel over pipes
//! in a compact binary encoding ([postcard](https://docs.rs/postcard)); the function travels
//! as its place in the executable, which is why workers must run the same program.
//!
//! # Many items: `map`
//!
//! [`ProcessPool::map`] sends items in chunks, one message per chunk each way, and yields
//! results lazily in input order; [`ProcessPool::imap_unordered`] yields them as chunks
//! finish. Every item has its own `Result`.
//!
//! ```
//! # fn main() -> std::io::Result<()> {
//! # braid_procpool::init();
//! let pool = braid_procpool::ProcessPool::new(2)?;
//! let squares: Result<Vec<u64>, _> = pool.map(|x: u64| x * x, 1..=1000, 100).collect();
//! assert_eq!(squares.unwrap().iter().sum::<u64>(), 333_833_500);
//! # Ok(())
//! # }
//! ```
//!
//! # When things go wrong
//!
//! Each failure is a [`TaskError`] for that task alone; tasks on other workers and tasks
//! queued behind it run normally.
//!
//! ```
//! use std::time::Duration;
//! use braid_procpool::{ProcessPool, TaskError};
//!
//! fn crash(code: i32) {
//!     std::process::exit(code)
//! }
//!
//! fn hang(_: ()) {
//!     loop {
//!         std::thread::sleep(Duration::from_secs(1));
//!     }
//! }
//!
//! # fn main() -> std::io::Result<()> {
//! # braid_procpool::init();
//! let pool = ProcessPool::new(2)?;
//! let died = pool.submit(crash, 3).join();
//! assert!(matches!(died, Err(TaskError::WorkerDied { exit_code: Some(3), .. })));
//!
//! let hung = pool.submit_with_timeout(hang, (), Duration::from_millis(100)).join();
//! assert_eq!(hung, Err(TaskError::TimedOut));
//!
//! // Both workers were replaced, and the pool carries on.
//! assert_eq!(pool.submit(|x: u32| x + 1, 41).join(), Ok(42));
//! assert_eq!(pool.metrics().respawns, 2);
//! # Ok(())
//! # }
//! ```
//!
//! # Async
//!
//! A [`JoinHandle`] is also a `Future`: the pool's supervisor thread wakes the awaiting task,
//! so `.await` never blocks an executor thread.
//!
//! # How it works
//!
//! One supervisor thread per pool owns every worker's pipes and watches them, and the
//! workers' exits (a pidfd on Linux), through [`braid_poller`]. It knows which task each
//! worker holds, enforces timeouts by killing the worker (through its pidfd where it has
//! one), and starts replacements, retrying a failed start after a growing pause. Workers die
//! with their parent, even in the middle of a task (`PR_SET_PDEATHSIG` on Linux; elsewhere a
//! thread in each worker that notices when it is handed to a new parent) and inherit no
//! descriptor but their own pipes. Dropping a pool runs the submitted tasks,
//! then reaps every worker: no zombie and no descriptor is left behind.
//!
//! Three [`StartMethod`]s make workers: `Spawn` (the default) runs the executable again;
//! `Fork` forks the parent only at build, into a template that forks every replacement (the
//! parent forks half of the first workers beside it), which is fastest but copies the
//! parent's memory and locks as they were at build; `ForkServer` runs
//! the executable once as a clean single-threaded server that forks every worker. A
//! [`Launcher`] starts workers through a command of your choosing instead (`ssh`, a batch
//! system, a shell); they connect back over TCP, prove that they know the pool's random
//! secret by a challenge–response, and carry the same messages over that connection.
//!
//! # Layout
//!
//! The crate is cut along its two processes and what they say to each other:
//!
//! - `parent`: the API ([`ProcessPool`], [`JoinHandle`], [`Map`]), what the handles share
//!   with the supervisor thread, and the supervisor, which starts, feeds and replaces workers;
//! - `child`: [`init`], the worker's serve loop, and the fork server;
//! - `protocol`: every message between them, encoded and decoded in one place.
//!
//! `parent` starts `child` code in a forked process; neither imports the other otherwise.
//! Below it stand `braid-threadpool` (the completion cell its handles are made of),
//! `braid-poller` (the supervisor's and the fork server's waits) and `braid-sys` (every
//! system call).

mod child;
mod parent;
mod protocol;

pub use child::init;
pub use parent::error::{BuildError, TaskError};
pub use parent::handle::JoinHandle;
pub use parent::map::Map;
pub use parent::pool::{
    Builder, Launcher, Metrics, PanicOutput, ProcessPool, Shutdown, Slurm, StartMethod,
};

/// Hooks for braid's own tests: a worker that misbehaves on purpose. Not part of the API.
#[doc(hidden)]
pub mod __test {
    pub use crate::child::corrupt::{corrupt_results, Corruption};
}
