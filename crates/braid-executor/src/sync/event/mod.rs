//! [`Event`]: a flag that tasks can wait for, like `asyncio.Event`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

use super::wait_list::{locked, WaitKey, WaitList};

#[cfg(test)]
mod test;

/// A flag, initially clear, that tasks can wait for: braid's `asyncio.Event`.
///
/// [`set`](Event::set) raises the flag and wakes every task waiting in
/// [`wait`](Event::wait); while the flag is up, `wait` returns at once.
/// [`clear`](Event::clear) lowers it again. A `wait` woken by `set` completes even if the
/// flag is cleared before it runs, as in asyncio.
///
/// `is_set`, `clear`, `wait` on a set flag and `set` on a set flag touch only one atomic
/// flag. The event is `Send + Sync`; share it through an `Rc` or `Arc`.
///
/// # Examples
///
/// ```
/// use braid_executor::sync::Event;
/// use std::sync::Arc;
///
/// # use braid_threadpool::block_on;
/// let ready = Arc::new(Event::new());
/// let worker = {
///     let ready = Arc::clone(&ready);
///     std::thread::spawn(move || ready.set())
/// };
/// block_on(ready.wait());
/// assert!(ready.is_set());
/// worker.join().unwrap();
/// ```
pub struct Event {
    flag: AtomicBool,
    waiters: Mutex<WaitList<()>>,
}

impl Event {
    /// Creates a clear event.
    pub const fn new() -> Self {
        Self {
            flag: AtomicBool::new(false),
            waiters: Mutex::new(WaitList::new()),
        }
    }

    /// Whether the flag is up.
    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// Raises the flag and wakes every waiting task.
    pub fn set(&self) {
        if self.flag.load(Ordering::Relaxed) || self.flag.swap(true, Ordering::AcqRel) {
            // Already up: anyone who waits saw the flag under the wait list's mutex and
            // did not park, or was woken by the `set` that raised it.
            return;
        }
        let wakers = locked(&self.waiters).notify_all(|| ());
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Lowers the flag; later `wait`s wait for the next [`set`](Event::set).
    pub fn clear(&self) {
        self.flag.store(false, Ordering::Release);
    }

    /// Waits until the flag is up (returns at once if it is).
    ///
    /// # Cancellation
    ///
    /// Dropping the future just stops waiting; other waiters are unaffected.
    ///
    /// # Examples
    ///
    /// ```
    /// use braid_executor::sync::Event;
    ///
    /// # use braid_threadpool::block_on;
    /// let event = Event::new();
    /// event.set();
    /// block_on(event.wait());
    /// event.clear();
    /// assert!(!event.is_set());
    /// ```
    pub fn wait(&self) -> WaitFuture<'_> {
        WaitFuture {
            event: self,
            key: None,
        }
    }
}

impl Default for Event {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("is_set", &self.is_set())
            .field("waiting", &locked(&self.waiters).len())
            .finish()
    }
}

/// The future of [`Event::wait`].
#[must_use = "futures do nothing unless polled"]
pub struct WaitFuture<'a> {
    event: &'a Event,
    key: Option<WaitKey>,
}

impl Future for WaitFuture<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let event = this.event;
        if let Some(key) = this.key.take() {
            return match locked(&event.waiters).poll_notified(key, cx.waker()) {
                Ok(()) => Poll::Ready(()),
                Err(key) => {
                    this.key = Some(key);
                    Poll::Pending
                }
            };
        }
        if event.is_set() {
            return Poll::Ready(());
        }
        let mut waiters = locked(&event.waiters);
        // `set` raises the flag before it takes the mutex, so checking again under the
        // mutex means either we see the flag or `set` sees us.
        if event.is_set() {
            return Poll::Ready(());
        }
        this.key = Some(waiters.push_back(cx.waker().clone()));
        Poll::Pending
    }
}

impl Drop for WaitFuture<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            locked(&self.event.waiters).remove(key);
        }
    }
}

impl fmt::Debug for WaitFuture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitFuture")
            .field("waiting", &self.key.is_some())
            .finish_non_exhaustive()
    }
}
