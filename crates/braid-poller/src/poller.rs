use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::sys;
use crate::{Events, Interest, Mode};

/// The key the poller keeps for its own [`notify`](Poller::notify); registering a descriptor
/// with it fails with `io::ErrorKind::InvalidInput`.
pub const NOTIFY_KEY: usize = usize::MAX;

/// Watches file descriptors for readiness; see the [crate documentation](crate).
///
/// A `Poller` is `Send + Sync`: one thread usually waits while any thread may register
/// descriptors or call [`notify`](Poller::notify).
pub struct Poller {
    selector: sys::Selector,
    /// [`NOTIFIED`] plus [`WAITER`] for each thread inside `wait`. A notify posts the
    /// system's wake-up record only when a thread is waiting and no notify is pending yet, so
    /// a burst costs one system call, and a notify while nobody waits costs none: the next
    /// wait finds the bit and only looks.
    state: AtomicUsize,
}

/// A notify is pending: no wait has returned it yet. Set by `notify`; cleared only by a wait,
/// which then reports it, so a notify lands in exactly one wait.
const NOTIFIED: usize = 1;
/// One thread inside `wait`.
const WAITER: usize = 2;

impl Poller {
    /// Creates a poller.
    ///
    /// # Errors
    ///
    /// Fails when the system cannot create an epoll or kqueue instance or its wake-up
    /// descriptor, typically because the process ran out of file descriptors.
    pub fn new() -> io::Result<Poller> {
        Ok(Poller::from_selector(sys::Selector::new()?))
    }

    pub(crate) fn from_selector(selector: sys::Selector) -> Poller {
        trace!("poller created");
        Poller {
            selector,
            state: AtomicUsize::new(0),
        }
    }

    /// Starts watching `fd` for `interest`; its events carry `key`.
    ///
    /// The descriptor should be in non-blocking mode, so that the I/O you do after an event
    /// can stop at `WouldBlock` instead of hanging.
    ///
    /// # Errors
    ///
    /// - `InvalidInput` if `key` is [`NOTIFY_KEY`].
    /// - `AlreadyExists` if `fd` is already registered (epoll only; see the crate docs).
    /// - `PermissionDenied` if `fd` cannot be polled, such as a regular file (epoll).
    /// - The system's error for a descriptor that is not open (`EBADF`).
    pub fn add(&self, fd: impl AsFd, key: usize, interest: Interest, mode: Mode) -> io::Result<()> {
        check_key(key)?;
        let fd = fd.as_fd().as_raw_fd();
        trace!(fd, key, ?interest, ?mode, "poller add");
        self.selector.add(fd, key, interest, mode)
    }

    /// Changes the key, interest or mode of a registered `fd`; after a
    /// [`Mode::Oneshot`] event this is how the descriptor is re-armed.
    ///
    /// # Errors
    ///
    /// - `InvalidInput` if `key` is [`NOTIFY_KEY`].
    /// - `NotFound` if `fd` is not registered (epoll; kqueue registers it).
    pub fn modify(
        &self,
        fd: impl AsFd,
        key: usize,
        interest: Interest,
        mode: Mode,
    ) -> io::Result<()> {
        check_key(key)?;
        let fd = fd.as_fd().as_raw_fd();
        trace!(fd, key, ?interest, ?mode, "poller modify");
        self.selector.modify(fd, key, interest, mode)
    }

    /// Stops watching `fd`. Call it before closing the descriptor (see the crate docs).
    ///
    /// # Errors
    ///
    /// `NotFound` if `fd` is not registered.
    pub fn delete(&self, fd: impl AsFd) -> io::Result<()> {
        let fd = fd.as_fd().as_raw_fd();
        trace!(fd, "poller delete");
        self.selector.delete(fd)
    }

    /// Clears `events`, then waits until at least one registered descriptor is ready, a
    /// [`notify`](Poller::notify) arrives, or `timeout` passes; returns how many descriptor
    /// events it put in `events` (a notify is not counted; see [`Events::is_notified`]).
    ///
    /// `None` waits for as long as it takes; `Some(Duration::ZERO)` only looks. A wait that
    /// times out never returns before `timeout` has passed, and a signal that interrupts the
    /// system call is not an error: the wait goes on for the time that is left.
    ///
    /// # Errors
    ///
    /// Only what the system call reports beyond interruption, such as a poller whose
    /// descriptor was closed by unsafe code.
    pub fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<usize> {
        events.clear();
        // `None` inside `Some` means the deadline lies beyond what `Instant` can hold.
        let deadline = timeout.map(|t| Instant::now().checked_add(t));
        // Count this thread as waiting before looking at the bit: a notify ordered after this
        // sees the waiter and posts the wake-up record; one ordered before left the bit, and
        // then the wait only looks for descriptor events without blocking.
        let entered = self.state.fetch_add(WAITER, Ordering::SeqCst);
        let mut look_only = entered & NOTIFIED != 0;
        let mut remaining = timeout;
        let mut notified = false;
        loop {
            let this_wait = if look_only {
                Some(Duration::ZERO)
            } else {
                remaining
            };
            trace!(timeout = ?this_wait, "poller wait");
            // An interrupted wait is an early return: the loop below recomputes the timeout.
            match braid_sys::interrupted_is_spurious(self.selector.wait(&mut events.raw, this_wait))
            {
                Ok(()) => {}
                Err(e) => {
                    self.state.fetch_sub(WAITER, Ordering::SeqCst);
                    return Err(e);
                }
            }
            // The wake-up record is at most one; take it out so that `raw` holds descriptor
            // events only. Whether a notify landed is the bit's to say: the record may be a
            // late one, from a notify that an earlier wait already returned.
            if let Some(at) = events.raw.iter().position(sys::is_notify) {
                events.raw.swap_remove(at);
                self.selector.ack_notify();
            }
            if !events.raw.is_empty() {
                break;
            }
            // Take the notify in the same step that looks for it: with two waiters, a look
            // followed by a take would let both see one notify, and the one that found it
            // gone would return with nothing before its timeout.
            if self.state.fetch_and(!NOTIFIED, Ordering::SeqCst) & NOTIFIED != 0 {
                notified = true;
                break;
            }
            // Nothing yet (another waiter took the notify, a late record, a signal): wait
            // again for the time that is left.
            look_only = false;
            remaining = match deadline {
                None => None,
                Some(None) => timeout,
                Some(Some(deadline)) => {
                    let now = Instant::now();
                    if now >= deadline {
                        break;
                    }
                    Some(deadline - now)
                }
            };
        }
        // Leave, taking any pending notify along: it lands in this wait.
        let left = self
            .state
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |state| {
                Some((state - WAITER) & !NOTIFIED)
            })
            .unwrap_or_else(|state| state);
        events.notified = notified || left & NOTIFIED != 0;
        trace!(
            events = events.raw.len(),
            notified = events.notified,
            "poller woke"
        );
        Ok(events.raw.len())
    }

    /// Wakes the [`wait`](Poller::wait) in progress on any thread or, if none is, the next
    /// one. Notifies coalesce: many before a wait wake it once. None is ever lost.
    ///
    /// # Errors
    ///
    /// Only what writing the wake-up reports, which does not happen on a healthy poller.
    pub fn notify(&self) -> io::Result<()> {
        let before = self.state.fetch_or(NOTIFIED, Ordering::SeqCst);
        if before & NOTIFIED != 0 || before < WAITER {
            // Either a wake-up is already on its way, or no thread waits and the next wait
            // will find the bit.
            return Ok(());
        }
        trace!("poller notify");
        self.selector.notify()
    }
}

fn check_key(key: usize) -> io::Result<()> {
    if key == NOTIFY_KEY {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "key usize::MAX is kept for the poller's notify; register the descriptor with another key",
        ));
    }
    Ok(())
}

impl fmt::Debug for Poller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Poller")
            .field("selector", &self.selector)
            .field(
                "notified",
                &(self.state.load(Ordering::Relaxed) & NOTIFIED != 0),
            )
            .finish()
    }
}
