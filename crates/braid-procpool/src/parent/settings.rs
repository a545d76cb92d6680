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
    /// `fork` the parent. The fastest start, but the child is a copy of a process whose other
    /// threads vanished mid-step: a lock one of them held (in an allocator other than glibc's,
    /// in `stdout`, in a library) stays locked forever in the worker, and a task touching it
    /// hangs until its timeout. Use it from programs that have no other threads, or whose
    /// tasks touch nothing another thread may hold.
    Fork,
    /// Run the program's executable once as a single-threaded fork server, which forks every
    /// worker. Respawns cost a `fork` of a small clean process, without the dangers of
    /// [`Fork`](StartMethod::Fork).
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
    /// Cancel queued tasks (they yield [`TaskError::Cancelled`]), let the ones workers have
    /// taken finish (see [`JoinHandle::cancel`]), then stop the workers.
    CancelPending,
    /// Cancel queued tasks and kill the workers at once; running tasks yield
    /// [`TaskError::ShutDown`].
    Kill,
}
