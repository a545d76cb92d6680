//! The pool's processes, from their own side: [`init`], which turns a process the pool
//! started into a worker or the fork server, the worker's serve loop, and the fork server.
//!
//! Nothing here imports the parent's side: the two meet only in `protocol`.

mod fork_server;
mod serve;

use std::os::fd::RawFd;

use braid_sys::{fd, process};

use crate::protocol::role::Role;

/// Turns this process into a pool worker if it was started as one; returns at once otherwise.
///
/// Call it as the first line of `main`. The [`Spawn`](crate::StartMethod::Spawn) and
/// [`ForkServer`](crate::StartMethod::ForkServer) start methods run the program's own
/// executable again to make workers; in such a process `init` serves tasks and exits the
/// process when the pool lets it go, so the rest of `main` never runs there. It is the
/// counterpart of Python's `if __name__ == "__main__":` guard.
///
/// In the program's own process `init` only reads one environment variable.
///
/// # Examples
///
/// ```
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// fn main() -> std::io::Result<()> {
///     braid_procpool::init();
///     let pool = braid_procpool::ProcessPool::new(2)?;
///     assert_eq!(pool.submit(square, 7).join(), Ok(49));
///     Ok(())
/// }
/// ```
pub fn init() {
    let role = match Role::take_from_env() {
        None => return,
        Some(Ok(role)) => role,
        Some(Err(message)) => {
            eprintln!("braid-procpool: {message}; exiting");
            std::process::exit(101);
        }
    };
    match role {
        Role::Worker {
            task,
            result,
            parent,
        } => {
            become_pool_child(parent, &[task, result]);
            std::process::exit(serve::serve(task, result));
        }
        Role::ForkServer { control, parent } => fork_server::serve(control, parent),
    }
}

/// Whether this process was started as a worker but its `main` did not call [`init`] first.
pub(crate) fn started_without_init() -> bool {
    Role::pending_in_env()
}

/// Makes a freshly started worker or fork server a well-behaved child of the pool: it dies
/// with its parent and holds no descriptor but its standard streams and `keep`.
///
/// Runs while the process has a single thread (right after `exec` or `fork`).
pub(crate) fn become_pool_child(parent: u32, keep: &[RawFd]) {
    process::die_with_parent();
    if process::parent_id() != parent {
        // The parent died before the death signal was armed. `_exit`: the parent's exit
        // handlers are not this process's to run.
        process::exit_now(1);
    }
    fd::close_other_fds(keep);
    // Programs a task starts must not hold the pool's descriptors open.
    for &fd in keep {
        let _ = fd::set_cloexec(fd, true);
    }
}

/// The body of a forked worker: it shares nothing with the parent but its two pipes.
pub(crate) fn run_forked_worker(task: RawFd, result: RawFd, parent: u32) -> ! {
    leave_forked_parent();
    become_pool_child(parent, &[task, result]);
    let code = serve::serve(task, result);
    // `_exit`, not `exit`: the parent's exit handlers and buffered output are not ours.
    process::exit_now(code)
}

/// The body of the [`Fork`](crate::StartMethod::Fork) start method's template, forked from
/// the pool's process at build: the fork server, entered by `fork` instead of `exec`.
pub(crate) fn run_forked_template(control: RawFd, parent: u32) -> ! {
    leave_forked_parent();
    fork_server::serve(control, parent)
}

/// Drops what a forked process inherited but must not keep. Runs while it has one thread.
fn leave_forked_parent() {
    // The parent's signal listeners are not this process's: without this, braid's handler
    // would stay installed for them and write to descriptor numbers its own files may reuse,
    // and a task's own listener of such a signal would never be woken.
    // SAFETY: a forked process has a single thread.
    unsafe { braid_sys::signal::reset_after_fork() };
    // Like an exec'd worker, read nothing from the parent's terminal or input.
    fd::stdin_from_null();
}
