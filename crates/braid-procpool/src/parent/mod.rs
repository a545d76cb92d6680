//! The program's side of the pool: the API its threads call, and the supervisor thread that
//! owns the workers.
//!
//! - `pool`, `handle`, `map`, `error`, `settings`: the public types;
//! - `shared`, `job`: what the handles share with the supervisor, and how a job and its
//!   result travel between them (`README.md` beside this file describes the hand-off);
//! - `launch`: starting worker processes, one way per start method;
//! - `supervisor`: the thread that sends tasks, reads results, watches exits and replaces
//!   workers; `supervisor/worker_process.rs` is its view of one worker process.

pub(crate) mod error;
pub(crate) mod handle;
pub(crate) mod job;
pub(crate) mod launch;
pub(crate) mod map;
pub(crate) mod pool;
pub(crate) mod settings;
pub(crate) mod shared;
pub(crate) mod supervisor;
