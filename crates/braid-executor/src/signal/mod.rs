//! Unix signals delivered to the event loop (Python's `loop.add_signal_handler`).
//!
//! [`signal`] starts listening for one signal and gives a [`Signal`], whose
//! [`recv`](Signal::recv) completes at the next delivery; it is also a
//! `futures::Stream` of `()`. [`ctrl_c`] waits for the next `SIGINT`.
//!
//! ```
//! use braid_executor::signal::signal;
//!
//! braid_executor::run(async {
//!     let mut usr1 = signal(libc::SIGUSR1)?;
//!     // Send the signal to this process, as `kill -USR1 <pid>` would.
//!     // SAFETY: `raise` has no preconditions; SIGUSR1 now has braid's handler.
//!     unsafe { libc::raise(libc::SIGUSR1) };
//!     usr1.recv().await;
//!     std::io::Result::Ok(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # What a listener sees
//!
//! - Every delivery that happens while a listener exists is seen by it: its next `recv`
//!   completes. Deliveries close together may be *coalesced*, seen as one, as with
//!   Python's and tokio's signal handling; the operating system itself merges a signal sent
//!   again before the first was handled. The last delivery is never lost.
//! - Any number of listeners, in one loop or in loops on different threads, may listen for
//!   the same signal; each sees every delivery.
//! - A listener made after a delivery does not see it.
//!
//! # The process's signal handlers
//!
//! The first listener of a signal installs braid's handler for it (with `sigaction`,
//! `SA_RESTART`); when the last listener of that signal, over all loops and threads, is
//! dropped, the handler the signal had before is put back. While braid's handler is
//! installed the signal no longer has its default effect: a listened-for `SIGINT` or
//! `SIGTERM` does not end the process, the program decides what to do. The previous
//! handler is not called meanwhile.
//!
//! `SIGKILL` and `SIGSTOP` cannot be caught, and `SIGSEGV`, `SIGBUS`, `SIGILL` and `SIGFPE`
//! report a fault of the thread that caused it; asking for those, or for a number that is
//! no signal, is an `InvalidInput` error.
//!
//! # How it works
//!
//! The handler does nothing but what is safe inside a signal handler: it bumps the
//! signal's delivery counter (an atomic) and writes one byte to a non-blocking socket of
//! each loop that listens for that signal. That socket's other end is registered with the
//! loop's poller, so the loop wakes, and each listener compares the counter with the value
//! it saw last. The handler lives in `braid-sys` (`braid_sys::signal`); `src/signal/README.md`
//! here and there describe the protocol and why it is safe against a
//! handler running on another thread at any moment.

#[cfg(test)]
mod test;

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;

use crate::driver::signals::SignalListener;

/// Starts listening for signal `signum` (a `libc::SIG*` number) in the running loop.
///
/// The returned [`Signal`] sees every delivery from now on, until it is dropped. The
/// signal's previous handler is put back when its last listener is dropped.
///
/// # Errors
///
/// `InvalidInput` if `signum` is no signal on this system, or is `SIGKILL` or `SIGSTOP`
/// (which cannot be caught) or `SIGSEGV`, `SIGBUS`, `SIGILL` or `SIGFPE` (which report a
/// fault of the thread that caused it). Otherwise, rarely, running out of file descriptors
/// for the loop's wake-up socket.
///
/// # Panics
///
/// If no braid event loop runs on this thread (after `signum` was checked).
///
/// # Examples
///
/// A signal is also a `futures::Stream`:
///
/// ```
/// use braid_executor::signal::signal;
/// use futures::StreamExt;
///
/// braid_executor::run(async {
///     let mut hangups = signal(libc::SIGHUP)?;
///     // SAFETY: `raise` has no preconditions; SIGHUP now has braid's handler.
///     unsafe { libc::raise(libc::SIGHUP) };
///     assert_eq!(hangups.next().await, Some(()));
///
///     let refused = signal(libc::SIGKILL).unwrap_err();
///     assert_eq!(refused.kind(), std::io::ErrorKind::InvalidInput);
///     std::io::Result::Ok(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn signal(signum: i32) -> io::Result<Signal> {
    Ok(Signal {
        listener: SignalListener::new(signum, "braid_executor::signal::signal")?,
    })
}

/// Waits for the next `SIGINT`, the signal Ctrl-C sends (Python's
/// `loop.add_signal_handler(signal.SIGINT, ...)`; tokio's `ctrl_c`).
///
/// It listens from its first poll until it completes or is dropped; meanwhile Ctrl-C does
/// not end the process. Once it is gone, `SIGINT` has its previous handler again (by
/// default, ending the process), unless another listener exists. To handle every Ctrl-C,
/// keep a [`signal`]`(libc::SIGINT)` and `recv` from it in a loop.
///
/// # Errors
///
/// Those of [`signal`], which do not happen for `SIGINT` unless file descriptors run out.
///
/// # Panics
///
/// If polled with no braid event loop running on this thread.
///
/// # Examples
///
/// Run until the work is done or the user presses Ctrl-C, whichever comes first:
///
/// ```
/// use std::time::Duration;
/// use futures::future::{select, Either};
///
/// braid_executor::run(async {
///     let work = std::pin::pin!(braid_executor::sleep(Duration::from_millis(10)));
///     match select(work, std::pin::pin!(braid_executor::signal::ctrl_c())).await {
///         Either::Left(((), _)) => println!("done"),
///         Either::Right((interrupted, _)) => {
///             interrupted?;
///             println!("interrupted, shutting down");
///         }
///     }
///     std::io::Result::Ok(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn ctrl_c() -> io::Result<()> {
    signal(libc::SIGINT)?.recv().await;
    Ok(())
}

/// A listener for one signal in one event loop; from [`signal`].
///
/// [`recv`](Signal::recv) completes once for each delivery since the last one it reported,
/// bursts coalesced. A `Signal` belongs to the loop that made it: it is not `Send`, and
/// polling it outside that running loop panics. Dropping it stops listening, and the last
/// listener of a signal puts back its previous handler.
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<braid_executor::signal::Signal>();
/// ```
pub struct Signal {
    listener: SignalListener,
}

impl Signal {
    /// Waits for the next delivery of the signal.
    ///
    /// Deliveries since the previous `recv` (or since the listener was made) complete it
    /// at once, all together. It always returns `Some(())`; the `Option` matches
    /// `futures::Stream`, which never ends either.
    ///
    /// It is cancel-safe: dropping the future before it completes (in a `select`, or at a
    /// timeout) loses no delivery; the next `recv` reports it.
    ///
    /// # Panics
    ///
    /// If polled outside the running loop that made this listener.
    ///
    /// # Examples
    ///
    /// ```
    /// braid_executor::run(async {
    ///     let mut term = braid_executor::signal::signal(libc::SIGTERM)?;
    ///     // SAFETY: `raise` has no preconditions; SIGTERM now has braid's handler, so it
    ///     // does not end the process.
    ///     unsafe { libc::raise(libc::SIGTERM) };
    ///     assert_eq!(term.recv().await, Some(()));
    ///     std::io::Result::Ok(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn recv(&mut self) -> Option<()> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for a delivery: `Ready(Some(()))` if there was one since the last reported,
    /// otherwise `Pending`, waking `cx`'s task at the next one.
    ///
    /// # Panics
    ///
    /// If called outside the running loop that made this listener.
    #[track_caller]
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        self.listener.poll_recv(cx).map(Some)
    }

    /// The signal number this listener listens for.
    pub fn signum(&self) -> i32 {
        self.listener.signum()
    }
}

impl Stream for Signal {
    type Item = ();

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<()>> {
        self.get_mut().poll_recv(cx)
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal")
            .field("signum", &self.signum())
            .field("name", &braid_sys::signal::name(self.signum()))
            .finish_non_exhaustive()
    }
}
