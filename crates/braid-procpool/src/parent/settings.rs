//! The settings a pool is started and stopped with: [`StartMethod`], [`PanicOutput`] and
//! [`Shutdown`]. They import nothing of the pool, so every part of it may use them.

#[cfg(doc)]
use crate::{JoinHandle, ProcessPool, TaskError};

/// How the pool makes worker processes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StartMethod {
    /// Run the program's own executable again (`/proc/self/exe` on Linux,
    /// [`std::env::current_exe`] elsewhere); [`init`](crate::init) turns that process into a
    /// worker. Safe with any number of threads in the parent. The default.
    #[default]
    Spawn,
    /// `fork` the parent once, at [`build`](crate::Builder::build), into a single-threaded
    /// template process, which forks every worker, the first ones and every replacement. The
    /// fastest start. Two things set it apart from Python's `fork` start method, which forks
    /// the parent anew for each worker:
    ///
    /// - **A worker sees the parent's memory as it was at `build`**, not as it is when the
    ///   worker starts: a replacement started an hour later still finds the values the
    ///   parent's statics and heap held at `build`. Send what changes as task arguments. The
    ///   template keeps that snapshot alive for the pool's life, so memory the parent changes
    ///   or frees afterwards is held twice (copy-on-write) until the pool ends.
    /// - **Replacements never fork the live parent**, so a thread that holds a lock while a
    ///   worker is replaced cannot leave it held in the new worker.
    ///
    /// The one fork of the parent, at `build`, still copies a process whose other threads
    /// vanished mid-step. braid takes care of the locks a worker takes by itself: it holds
    /// std's stdout and stderr locks across that fork (so `build` waits for a thread that is
    /// printing, and a thread that holds `std::io::stdout().lock()` or `stderr().lock()`
    /// must let go of it before it builds a Fork pool), it resets braid's signal listeners,
    /// and the system's allocator prepares itself for `fork` (glibc's, macOS's and
    /// FreeBSD's do). What stays unsafe is any other lock that another thread holds at that
    /// moment and a task then touches: a `Mutex` of the program's own, a library's (a
    /// logger's, a `tracing` subscriber's, an allocator other than the system's), std's
    /// environment lock while a thread changes a variable. It stays locked forever in every
    /// worker, and a task that touches it hangs until its timeout. Build a Fork pool before starting other threads,
    /// or while they touch nothing the tasks need; otherwise use
    /// [`ForkServer`](StartMethod::ForkServer) or [`Spawn`](StartMethod::Spawn).
    Fork,
    /// Run the program's executable once as a single-threaded fork server, which forks every
    /// worker. Respawns cost a `fork` of a small clean process, without the dangers of
    /// [`Fork`](StartMethod::Fork): the server is a fresh run of the program, up to its call
    /// of [`init`](crate::init), and shares no memory or lock with the parent.
    ForkServer,
}

/// What a worker prints when a task panics in it.
///
/// The panic's message comes back to the parent in [`TaskError::Panicked`] either way; this
/// is only about the worker's standard error, which it shares with the parent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PanicOutput {
    /// Print what Rust prints for a panic (and the backtrace, if `RUST_BACKTRACE` asks for
    /// one), each line starting with `[braid-procpool worker PID] `, so that it cannot be
    /// taken for a panic of the parent. The default.
    #[default]
    Prefixed,
    /// Print nothing.
    Silent,
}

/// How [`ProcessPool::shutdown`] treats work that has not finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Shutdown {
    /// Run every task already submitted, then stop the workers. Dropping a pool does this.
    Wait,
    /// Cancel queued tasks (they yield [`TaskError::Cancelled`]), and those sent ahead to a
    /// worker that it has not read yet; let the ones workers are running finish (see
    /// [`JoinHandle::cancel`]), then stop the workers.
    CancelPending,
    /// Cancel queued tasks and kill the workers at once; running tasks yield
    /// [`TaskError::ShutDown`].
    Kill,
}
