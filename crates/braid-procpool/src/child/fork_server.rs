//! The fork server: a clean, single-threaded copy of the program that forks workers. The
//! `ForkServer` start method runs the executable to start it; `Fork` forks the pool's process
//! into it once, at build, as the template of every worker the pool does not fork itself at
//! build.
//!
//! The supervisor and the server talk over a Unix stream socket (`protocol::fork_server`).
//! To start a worker the supervisor sends the worker's two pipe ends; the server forks and
//! reports the pid. `Fork`'s template forks its share of the pool's first workers as it
//! starts, on pipes it inherited, and reports them the same way before it reads any
//! request. When a worker ends, the server reaps it and reports how it ended: only a parent
//! can learn a process's exit status. When the socket closes, the server waits for its remaining workers (they
//! end when their task pipes close) and exits; if it closed because the pool's program
//! died, the server exits at once, and its workers, which watch their parent, end with it.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use braid_poller::{Events, Interest, Mode, Poller};
use braid_sys::{fd, process, signal};

use crate::protocol::fork_server::Report;

/// The fork server's main loop; never returns. Runs while the process has a single thread.
pub(super) fn serve(control: RawFd, parent: u32) -> ! {
    serve_first(control, parent, Vec::new(), None)
}

/// [`serve`] for a server that forked the workers `first` before it began, and failed to
/// fork another if `failed`: it reports them first, as answers to requests that came before
/// any other, then fails with `failed` or serves.
pub(super) fn serve_first(
    control: RawFd,
    parent: u32,
    first: Vec<u32>,
    failed: Option<io::Error>,
) -> ! {
    let armed = super::become_pool_child(parent, &[control]);
    let code = match run_server(control, parent, armed, &first, failed) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("braid-procpool fork server: {e}");
            1
        }
    };
    // `_exit`: a server forked from the pool's process must not run that process's exit
    // handlers or flush its buffered output, and a server started by `exec` has neither.
    process::exit_now(code)
}

/// The poller keys of the two descriptors the server watches.
const CONTROL: usize = 0;
const CHILD_EXITED: usize = 1;

/// `armed`: whether this server dies with the pool's supervisor thread (its death signal).
fn run_server(
    control: RawFd,
    parent: u32,
    armed: bool,
    first: &[u32],
    failed: Option<io::Error>,
) -> io::Result<()> {
    for &pid in first {
        report_forked(control, pid);
    }
    if let Some(e) = failed {
        return Err(e);
    }
    // A `SIGCHLD` writes a byte to `exits`: braid's one signal handler, the self-pipe trick.
    let (exits, exits_write) = fd::pipe()?;
    fd::set_nonblocking(exits.as_fd(), true)?;
    let sigchld = signal::subscribe(libc::SIGCHLD)?;
    let wake = signal::WakeTarget::new(exits_write)?;
    wake.set_interest(sigchld.signum(), true);
    let poller = Poller::new()?;
    // SAFETY: `control` is open for as long as the server runs, longer than this borrow.
    let control_fd = unsafe { BorrowedFd::borrow_raw(control) };
    poller.add(control_fd, CONTROL, Interest::READABLE, Mode::Level)?;
    poller.add(exits.as_fd(), CHILD_EXITED, Interest::READABLE, Mode::Level)?;
    let mut events = Events::with_capacity(2);
    // A first worker that ended before the SIGCHLD listener was set up wrote no byte to
    // `exits`: look for such ones once, now that each has been reported as forked.
    reap(control);
    let me = std::process::id();
    let mut open = true;
    while open {
        poller.wait(&mut events, None)?;
        let ready = |key| events.iter().any(|event| event.key() == key);
        let (exited, requested) = (ready(CHILD_EXITED), ready(CONTROL));
        if exited {
            let mut sink = [0u8; 64];
            while matches!(fd::read(exits.as_raw_fd(), &mut sink), Ok(n) if n > 0) {}
            reap(control);
        }
        if requested {
            match fd::recv_with_fds::<2>(control) {
                Ok(None) => open = false,
                // The pool closed its end with reports of ours still unread in it, which a
                // stream socket reports as a reset rather than an end of file: the pool is
                // done with this server all the same.
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => open = false,
                Err(e) => return Err(e),
                Ok(Some([task, result])) => {
                    // SAFETY: this process has a single thread, so the child finds no lock
                    // held.
                    match unsafe { process::fork() }? {
                        None => {
                            // The worker forgets the server's SIGCHLD listener and closes
                            // the server's pipes as it starts.
                            super::run_forked_worker(task.as_raw_fd(), result.as_raw_fd(), me);
                        }
                        Some(pid) => {
                            drop((task, result));
                            report_forked(control, pid);
                        }
                    }
                }
            }
        }
    }
    // Workers end once the supervisor closes their task pipes; wait for each. If the pool's
    // program died instead, leave at once: the workers, still busy, see this server go and
    // end too. A dying process closes its descriptors before the system gives its children
    // a new parent, so keep looking while waiting. With the death signal armed, the pool's
    // death ends this server anyway: it waits for its workers in `waitpid` itself, which
    // the system wakes as each one ends, without the signal handler's round through the
    // self-pipe and the poller.
    poller.delete(control_fd)?;
    loop {
        match process::wait_any(armed) {
            Ok(Some((pid, status))) => report(control, Report::Exited(pid, status)),
            Ok(None) if process::parent_id() == parent => {
                poller.wait(&mut events, Some(super::PARENT_CHECK))?;
                let mut sink = [0u8; 64];
                while matches!(fd::read(exits.as_raw_fd(), &mut sink), Ok(n) if n > 0) {}
            }
            // No worker left, or the pool's program is gone.
            _ => return Ok(()),
        }
    }
}

/// Reaps ended workers and reports them.
fn reap(control: RawFd) {
    while let Ok(Some((pid, status))) = process::wait_any(false) {
        report(control, Report::Exited(pid, status));
    }
}

/// Reports a new worker, with a pidfd for it where the system has them: the server, its
/// parent, is the only process that can open one knowing it is this worker (nobody has
/// reaped it yet), and the supervisor kills through it, so a pid reused after the worker
/// ended is never signalled.
fn report_forked(control: RawFd, pid: u32) {
    let bytes = Report::Forked(pid).encode();
    match process::pidfd_open(pid) {
        Ok(pidfd) => {
            // A supervisor that went away no longer needs reports.
            let _ = fd::send_bytes_with_fd(control, &bytes, pidfd.as_raw_fd());
        }
        Err(_) => report(control, Report::Forked(pid)),
    }
}

fn report(control: RawFd, report: Report) {
    // A supervisor that went away no longer needs reports.
    let _ = fd::write_all(control, &report.encode());
}
