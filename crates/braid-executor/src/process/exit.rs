//! Learning that a child exited without a thread per child and without `waitpid(-1)`.
//!
//! On Linux a pidfd (`pidfd_open`) becomes readable when its process exits, so it is
//! registered with the loop's poller like a socket. Elsewhere, or where the kernel has no
//! `pidfd_open` (before 5.3, or a sandbox that forbids it), each waiting child listens for
//! `SIGCHLD` and tries `waitpid` on its own pid whenever one arrives. Either way only the
//! child's own pid is ever waited for, so children that other code spawned (with
//! `std::process` or another library) are never reaped behind its back.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{ready, Context, Poll};

use crate::signal::{signal, Signal};

#[cfg(target_os = "linux")]
use crate::net::{reactor::Direction, source::Source};
#[cfg(target_os = "linux")]
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Set once `pidfd_open` said the kernel (or a sandbox) does not offer it, so later spawns
/// go straight to `SIGCHLD` instead of failing the same system call again.
static PIDFD_UNAVAILABLE: AtomicBool = AtomicBool::new(false);

/// How the loop learns that one child exited.
pub(super) enum ExitWatch {
    /// Readable once the process has exited.
    #[cfg(target_os = "linux")]
    Pidfd(Source<OwnedFd>),
    /// Delivered after any child exits; the owner then tries its own pid.
    Sigchld(Signal),
}

/// What to set up before the child is spawned.
pub(super) struct ExitPlan {
    /// Made before the spawn, so that a `SIGCHLD` sent before the first wait is not missed.
    sigchld: Option<Signal>,
}

impl ExitPlan {
    /// Chooses how to watch the next child: `SIGCHLD` when asked or when pidfds are not
    /// available, a pidfd otherwise.
    ///
    /// # Errors
    ///
    /// When the `SIGCHLD` handler cannot be installed.
    pub(super) fn new(force_sigchld: bool) -> io::Result<ExitPlan> {
        let sigchld = if force_sigchld || !pidfd_may_work() {
            Some(signal(libc::SIGCHLD)?)
        } else {
            None
        };
        Ok(ExitPlan { sigchld })
    }

    /// Starts watching the spawned child `pid`.
    ///
    /// # Errors
    ///
    /// When neither a pidfd nor the `SIGCHLD` handler can be set up (no descriptors left).
    pub(super) fn watch(self, pid: u32) -> io::Result<ExitWatch> {
        if let Some(sigchld) = self.sigchld {
            return Ok(ExitWatch::Sigchld(sigchld));
        }
        #[cfg(target_os = "linux")]
        match pidfd_open(pid) {
            Ok(pidfd) => return Ok(ExitWatch::Pidfd(Source::new(pidfd)?)),
            Err(error) => {
                if matches!(error.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) {
                    PIDFD_UNAVAILABLE.store(true, Ordering::Relaxed);
                }
                tracing::debug!("pidfd_open({pid}) failed, watching SIGCHLD instead: {error}");
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = pid;
        // `try_reap` runs before every wait for a delivery, so an exit that happened before
        // this handler existed is still seen.
        Ok(ExitWatch::Sigchld(signal(libc::SIGCHLD)?))
    }
}

fn pidfd_may_work() -> bool {
    cfg!(target_os = "linux") && !PIDFD_UNAVAILABLE.load(Ordering::Relaxed)
}

impl ExitWatch {
    /// Calls `try_reap` until it reports the exit (`Some`), waiting for the watch to fire
    /// in between. `try_reap` must not block.
    pub(super) fn poll_exit<T>(
        &mut self,
        cx: &mut Context<'_>,
        mut try_reap: impl FnMut() -> io::Result<Option<T>>,
    ) -> Poll<io::Result<T>> {
        match self {
            #[cfg(target_os = "linux")]
            ExitWatch::Pidfd(pidfd) => pidfd.poll_io(Direction::Read, cx, |_| {
                try_reap()?.ok_or_else(|| io::ErrorKind::WouldBlock.into())
            }),
            ExitWatch::Sigchld(sigchld) => loop {
                if let Some(exited) = try_reap()? {
                    return Poll::Ready(Ok(exited));
                }
                if ready!(sigchld.poll_recv(cx)).is_none() {
                    return Poll::Ready(Err(io::Error::other(
                        "the SIGCHLD listener stopped, so a child's exit can no longer be seen",
                    )));
                }
                // Children dropped while no loop ran are reaped on the same signal.
                super::orphan::reap();
            },
        }
    }

    /// Sends `signal` to the watched child, which must not have been reaped yet. Through
    /// the pidfd where there is one, so the signal cannot reach a recycled pid even if some
    /// other code reaped the child.
    pub(super) fn send_signal(
        &self,
        process: &std::process::Child,
        signal: libc::c_int,
    ) -> io::Result<()> {
        match self {
            #[cfg(target_os = "linux")]
            ExitWatch::Pidfd(pidfd) => {
                let fd = pidfd.get_ref().as_raw_fd();
                // SAFETY: pidfd_send_signal takes a descriptor, a signal number, a null
                // siginfo pointer (allowed: the kernel fills one in) and flags.
                let sent = unsafe {
                    libc::syscall(
                        libc::SYS_pidfd_send_signal,
                        fd,
                        signal,
                        std::ptr::null::<libc::siginfo_t>(),
                        0,
                    )
                };
                if sent == 0 {
                    return Ok(());
                }
                let error = io::Error::last_os_error();
                if error.raw_os_error() == Some(libc::ESRCH) {
                    // Exited and reaped by someone else: there is nothing left to signal.
                    return Ok(());
                }
                Err(error)
            }
            ExitWatch::Sigchld(_) => {
                let pid = libc::pid_t::try_from(process.id())
                    .map_err(|_| io::Error::other("the child's pid does not fit a pid_t"))?;
                // SAFETY: kill has no memory-safety preconditions; the child is not reaped,
                // so `pid` is still ours.
                if unsafe { libc::kill(pid, signal) } == -1 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            }
        }
    }
}

/// A descriptor that becomes readable when process `pid` exits (close-on-exec).
#[cfg(target_os = "linux")]
fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    let pid = libc::pid_t::try_from(pid)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pid out of range"))?;
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor and nothing else owns it; descriptors
    // fit in a c_int.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

/// Reaps process `pid` if it has exited: `waitpid(pid, WNOHANG)`, never `-1`.
///
/// `Ok(true)` once reaped, and also when it is not (or no longer) this process's child, so
/// there is nothing left to wait for; `Ok(false)` while it runs.
pub(super) fn try_reap(pid: u32) -> io::Result<bool> {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return Ok(true);
    };
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid place for waitpid to write the exit status.
        let reaped = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        match reaped {
            0 => return Ok(false),
            -1 => {
                let error = io::Error::last_os_error();
                match error.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::ECHILD) => return Ok(true),
                    _ => return Err(error),
                }
            }
            _ => return Ok(true),
        }
    }
}
