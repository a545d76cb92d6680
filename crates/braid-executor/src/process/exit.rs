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

use crate::driver::signals::SignalListener;

#[cfg(target_os = "linux")]
use crate::driver::{Direction, Source};
#[cfg(target_os = "linux")]
use std::os::fd::{AsFd, OwnedFd};

use braid_sys::process;

/// Set once `pidfd_open` said the kernel (or a sandbox) does not offer it, so later spawns
/// go straight to `SIGCHLD` instead of failing the same system call again.
static PIDFD_UNAVAILABLE: AtomicBool = AtomicBool::new(false);

/// How the loop learns that one child exited.
pub(super) enum ExitWatch {
    /// Readable once the process has exited.
    #[cfg(target_os = "linux")]
    Pidfd(Source<OwnedFd>),
    /// Delivered after any child exits; the owner then tries its own pid.
    Sigchld(SignalListener),
}

/// What to set up before the child is spawned.
pub(super) struct ExitPlan {
    /// Made before the spawn, so that a `SIGCHLD` sent before the first wait is not missed.
    sigchld: Option<SignalListener>,
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
            Some(sigchld()?)
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
        match process::pidfd_open(pid) {
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
        Ok(ExitWatch::Sigchld(sigchld()?))
    }
}

fn sigchld() -> io::Result<SignalListener> {
    SignalListener::new(libc::SIGCHLD, "braid_executor::process::Command::spawn")
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
                ready!(sigchld.poll_recv(cx));
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
        child: &std::process::Child,
        signal: libc::c_int,
    ) -> io::Result<()> {
        match self {
            #[cfg(target_os = "linux")]
            ExitWatch::Pidfd(pidfd) => {
                match process::pidfd_send_signal(pidfd.get_ref().as_fd(), signal) {
                    // Exited and reaped by someone else: there is nothing left to signal.
                    Err(error) if error.raw_os_error() == Some(libc::ESRCH) => Ok(()),
                    sent => sent,
                }
            }
            // The child is not reaped, so its pid is still its own.
            ExitWatch::Sigchld(_) => process::kill(child.id(), signal),
        }
    }
}

/// Reaps process `pid` if it has exited: `waitpid(pid, WNOHANG)`, never `-1`.
///
/// `Ok(true)` once reaped, and also when it is not (or no longer) this process's child, so
/// there is nothing left to wait for; `Ok(false)` while it runs.
pub(super) fn try_reap(pid: u32) -> io::Result<bool> {
    match process::wait_pid(pid, false) {
        Ok(reaped) => Ok(reaped.is_some()),
        Err(error)
            if error.raw_os_error() == Some(libc::ECHILD)
                || error.kind() == io::ErrorKind::InvalidInput =>
        {
            Ok(true)
        }
        Err(error) => Err(error),
    }
}
