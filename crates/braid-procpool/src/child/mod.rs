//! The pool's processes, from their own side: [`init`], which turns a process the pool
//! started into a worker or the fork server, the worker's serve loop, and the fork server.
//!
//! Nothing here imports the parent's side: the two meet only in `protocol`.

mod connect;
pub(crate) mod corrupt;
mod fork_server;
mod panic_hook;
mod serve;

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

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
/// A worker started through [`Launcher::command`](crate::Launcher::command) finds the pool's
/// address and secret in its environment, connects, and serves tasks over that connection.
///
/// In the program's own process `init` only reads a few environment variables.
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
    // Read here, where every process of a pool passes first and while it has one thread: a
    // worker forked from a threaded parent must not take the environment's lock.
    if std::env::var_os(NO_DEATH_SIGNAL_ENV).is_some() {
        NO_DEATH_SIGNAL.store(true, Ordering::Relaxed);
    }
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
            if !become_pool_child(parent, &[task, result]) {
                watch_parent(parent);
            }
            std::process::exit(serve::serve(task, result));
        }
        Role::ForkServer { control, parent } => fork_server::serve(control, parent),
        Role::Connect { addr, id, secret } => {
            // Started by a command, perhaps on another machine: the pool is not this
            // process's parent, and the connection is what ties the two together.
            fd::stdin_from_null();
            std::process::exit(connect::serve(addr, id, secret))
        }
    }
}

/// Set (to anything) in a program whose pool processes must not use the system's death
/// signal (`PR_SET_PDEATHSIG`), so that the portable watch of the parent is what ends them.
/// For tests of that watch; not a promise to users.
const NO_DEATH_SIGNAL_ENV: &str = "BRAID_PROCPOOL_NO_DEATH_SIGNAL";
/// [`NO_DEATH_SIGNAL_ENV`] as [`init`] found it; a forked worker inherits it.
static NO_DEATH_SIGNAL: AtomicBool = AtomicBool::new(false);

/// Whether this process was started as a worker but its `main` did not call [`init`] first.
pub(crate) fn started_without_init() -> bool {
    Role::pending_in_env()
}

/// Makes a freshly started worker or fork server a well-behaved child of the pool: it holds
/// no descriptor but its standard streams and `keep`, and, where the system has a death
/// signal, it dies with its parent. Returns whether the death signal is armed; where it is
/// not, a worker must [`watch_parent`] (the fork server, which must keep a single thread,
/// sees its control socket close instead).
///
/// Runs while the process has a single thread (right after `exec` or `fork`).
pub(crate) fn become_pool_child(parent: u32, keep: &[RawFd]) -> bool {
    let armed = !NO_DEATH_SIGNAL.load(Ordering::Relaxed) && process::die_with_parent();
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
    armed
}

/// How often a worker without a death signal looks for its parent.
const PARENT_CHECK: Duration = Duration::from_millis(250);

/// Ends this worker once its parent is gone, on any system: a thread that checks every
/// [`PARENT_CHECK`] whether the worker was handed to another parent (`init`, or a
/// subreaper), which is how every Unix shows that the parent died. It needs nothing from
/// the parent, so it works alike for every start method, and it notices a dead parent
/// while a task holds the worker's main thread.
fn watch_parent(parent: u32) {
    let watch = move || loop {
        std::thread::sleep(PARENT_CHECK);
        if process::parent_id() != parent {
            // `_exit`: the task still runs, and its state is not to be flushed anywhere.
            process::exit_now(1);
        }
    };
    start_watch("braid-procpool-parent-watch", watch);
}

/// Starts a worker's watch thread, one that ends the worker when what it watches is gone.
/// A worker whose watch cannot start could outlive its pool unseen: it exits instead.
pub(super) fn start_watch(name: &str, watch: impl FnOnce() + Send + 'static) {
    let started = std::thread::Builder::new()
        .name(name.into())
        .stack_size(64 * 1024)
        .spawn(watch);
    if started.is_err() {
        process::exit_now(1);
    }
}

/// The body of a forked worker: it shares nothing with the parent but its two pipes.
pub(crate) fn run_forked_worker(task: RawFd, result: RawFd, parent: u32) -> ! {
    // Forked by a fork server, whose input already comes from `/dev/null` (it was spawned
    // so, or left the pool's process as the template): only the server's SIGCHLD listener
    // is to be dropped, not the input reopened.
    // SAFETY: a forked process has a single thread.
    unsafe { braid_sys::signal::reset_after_fork() };
    if !become_pool_child(parent, &[task, result]) {
        watch_parent(parent);
    }
    let code = serve::serve(task, result);
    // `_exit`, not `exit`: the parent's exit handlers and buffered output are not ours.
    process::exit_now(code)
}

/// The body of the [`Fork`](crate::StartMethod::Fork) start method's template, forked from
/// the pool's process at build: the fork server, entered by `fork` instead of `exec`.
///
/// `first` holds the pipe ends (task, result) of the pool's first workers, inherited from
/// the pool's process. They are forked before the server sets itself up: each one is on the
/// pool's start-up path, and the server's signal listener, poller and reports can as well
/// be made while they start.
pub(crate) fn run_forked_template(control: RawFd, parent: u32, first: &[[RawFd; 2]]) -> ! {
    // First, so that the workers inherit it done.
    leave_forked_parent();
    let me = std::process::id();
    let mut forked = Vec::with_capacity(first.len());
    let mut failed = None;
    for &[task, result] in first {
        // SAFETY: this process was just forked and has a single thread.
        match unsafe { process::fork() } {
            Ok(None) => run_forked_worker(task, result, me),
            Ok(Some(pid)) => forked.push(pid),
            Err(e) => {
                // The server reports the workers it has and then fails, as it would had
                // this been a request: the pool cannot start without its workers.
                failed = Some(e);
                break;
            }
        }
    }
    fork_server::serve_first(control, parent, forked, failed)
}

/// The body of one of the pool's first workers that the pool's process forks itself, beside
/// the template (see `parent::launch::fork_server::fork_worker`).
pub(crate) fn run_forked_first_worker(task: RawFd, result: RawFd, parent: u32) -> ! {
    leave_forked_parent();
    run_forked_worker(task, result, parent)
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
