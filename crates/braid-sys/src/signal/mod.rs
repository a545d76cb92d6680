//! Signals: one process-wide handler that turns a delivery into a count and a byte written
//! to each interested wake-up descriptor (the self-pipe trick).
//!
//! A program asks for a signal with [`subscribe`]; while any [`Subscription`] of a signal
//! lives, braid's handler is installed for it, and when the last one goes the disposition the
//! signal had before comes back. A [`WakeTarget`] registers the write end of a pipe or socket
//! pair: the handler writes one byte to it for each delivery of a signal it is interested in,
//! so whatever polls the read end wakes up and compares [`deliveries`] with the count it saw.
//!
//! The handler is async-signal-safe: it takes no lock, allocates nothing, makes no system
//! call but `write(2)` to non-blocking descriptors, and saves and restores `errno`. The design
//! note `README.md` beside this file says why it is safe against a handler running on
//! another thread at any moment.
//!
//! ```
//! use std::os::fd::AsRawFd;
//! use braid_sys::signal::{self, WakeTarget};
//!
//! let (read, write) = braid_sys::fd::pipe()?;
//! braid_sys::fd::set_nonblocking(std::os::fd::AsFd::as_fd(&read), true)?;
//! let usr2 = signal::subscribe(libc::SIGUSR2)?;
//! let target = WakeTarget::new(write)?;
//! target.set_interest(usr2.signum(), true);
//! let seen = signal::deliveries(usr2.signum());
//! // SAFETY: raise has no preconditions; braid's handler now catches SIGUSR2.
//! unsafe { libc::raise(libc::SIGUSR2) };
//! assert_eq!(signal::deliveries(usr2.signum()), seen + 1);
//! let mut byte = [0u8; 8];
//! assert_eq!(braid_sys::fd::read(read.as_raw_fd(), &mut byte)?, 1);
//! # Ok::<(), std::io::Error>(())
//! ```

mod handler;
mod registry;
#[cfg(test)]
mod test;

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

pub use handler::{SIGNAL_LIMIT, WAKE_SLOT_LIMIT};

/// Checks that `signum` is a signal a program can listen for; returns it as an index below
/// [`SIGNAL_LIMIT`].
///
/// # Errors
///
/// `InvalidInput` for numbers that are no signal, for `SIGKILL` and `SIGSTOP` (which cannot
/// be caught) and for `SIGSEGV`, `SIGBUS`, `SIGILL` and `SIGFPE` (faults of the thread that
/// caused them: a handler that returns runs the faulting instruction again).
pub fn validate(signum: i32) -> io::Result<usize> {
    registry::validate(signum)
}

/// How many times signal `signum` (an index from [`validate`]) has been delivered while
/// braid's handler was installed, since the process started.
///
/// # Panics
///
/// If `signum` is not below [`SIGNAL_LIMIT`].
pub fn deliveries(signum: usize) -> u64 {
    handler::deliveries(signum)
}

/// Runs braid's handler for `signum` as if the signal had arrived, without the operating
/// system: counts a delivery and writes to every interested [`WakeTarget`]. For tests of
/// what listens, which must not depend on which thread the system picks.
#[doc(hidden)]
pub fn handle_as_if_delivered(signum: i32) {
    handler::handle(signum);
}

/// One listener's claim on a signal: braid's handler stays installed for the signal while at
/// least one claim lives, over every thread.
#[derive(Debug)]
pub struct Subscription {
    signum: usize,
}

/// Claims `signum`: installs braid's handler for it if no other [`Subscription`] holds it
/// (with `SA_RESTART`, so system calls of code that never asked for signals resume rather
/// than fail with `EINTR`), keeping the disposition it had to put back later.
///
/// While braid's handler is installed the signal no longer has its default effect, and the
/// previous handler is not called.
///
/// # Errors
///
/// `InvalidInput` as [`validate`] says, or when this system has no such signal or its C
/// library reserves it.
pub fn subscribe(signum: i32) -> io::Result<Subscription> {
    let signum = registry::validate(signum)?;
    registry::subscribe(signum)?;
    Ok(Subscription { signum })
}

impl Subscription {
    /// The signal claimed, as an index for [`deliveries`] and [`WakeTarget::set_interest`].
    pub fn signum(&self) -> usize {
        self.signum
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        registry::unsubscribe(self.signum);
    }
}

/// The write end of a pipe or socket pair that braid's handler writes one byte to for each
/// delivery of a signal it is interested in.
///
/// At most [`WAKE_SLOT_LIMIT`] exist at once. Dropping one first makes sure no handler on any
/// thread can still be writing to the descriptor, then closes it: a write to a closed
/// descriptor could reach a file that reused its number.
pub struct WakeTarget {
    slot: usize,
    fd: OwnedFd,
}

impl WakeTarget {
    /// Registers `fd`, which is made non-blocking (the handler must never block: a full
    /// buffer already means the reader will wake). It is interested in no signal yet.
    ///
    /// # Errors
    ///
    /// `OutOfMemory` when [`WAKE_SLOT_LIMIT`] targets exist already; what `fcntl` reports.
    pub fn new(fd: OwnedFd) -> io::Result<WakeTarget> {
        crate::fd::set_nonblocking(fd.as_fd(), true)?;
        let slot = registry::take_wake_slot(fd.as_raw_fd())?;
        Ok(WakeTarget { slot, fd })
    }

    /// Makes the handler write to this target for each delivery of `signum` (an index from
    /// [`validate`] or [`Subscription::signum`]), or stop doing so.
    ///
    /// # Panics
    ///
    /// If `signum` is not below [`SIGNAL_LIMIT`].
    pub fn set_interest(&self, signum: usize, interested: bool) {
        handler::set_interest(self.slot, signum, interested);
    }
}

impl Drop for WakeTarget {
    fn drop(&mut self) {
        // Before `fd` closes, when the fields drop after this.
        registry::give_back_wake_slot(self.slot);
    }
}

impl fmt::Debug for WakeTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WakeTarget")
            .field("slot", &self.slot)
            .field("fd", &self.fd)
            .finish()
    }
}

/// Makes a freshly forked child forget the parent's signal listeners: every signal braid
/// handled gets back the disposition it had before braid, and no descriptor inherited from
/// the parent is written to by the handler any more (its number may be reused by the child's
/// own files). Afterwards the child may [`subscribe`] as any process. Async-signal-safe.
///
/// # Safety
///
/// Only in a child process right after `fork`, while it has a single thread: it takes over
/// the process-wide registry even if another thread of the parent held its lock at the fork.
pub unsafe fn reset_after_fork() {
    // SAFETY: forwarded from the caller.
    unsafe { registry::reset_after_fork() }
}

/// The usual name of `signum`, such as `"SIGTERM"`, for messages; `None` for numbers without
/// a portable name.
pub fn name(signum: i32) -> Option<&'static str> {
    Some(match signum {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGCHLD => "SIGCHLD",
        libc::SIGCONT => "SIGCONT",
        libc::SIGSTOP => "SIGSTOP",
        libc::SIGTSTP => "SIGTSTP",
        libc::SIGTTIN => "SIGTTIN",
        libc::SIGTTOU => "SIGTTOU",
        libc::SIGURG => "SIGURG",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGVTALRM => "SIGVTALRM",
        libc::SIGPROF => "SIGPROF",
        libc::SIGWINCH => "SIGWINCH",
        libc::SIGIO => "SIGIO",
        libc::SIGSYS => "SIGSYS",
        _ => return None,
    })
}
