//! [`Semaphore`]: a counter of permits, like `asyncio.Semaphore`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

use super::wait_list::{locked, WaitKey, WaitList};

#[cfg(test)]
mod test;

/// `state` bit: the wait list is not empty. Set and cleared only with the wait list's
/// mutex held. While it is set the permit count is 0: released permits go to waiters
/// first, and a waiter parks only when no permit is left.
const WAITERS: usize = 1;
/// The permit count sits above the `WAITERS` bit: `state = permits * ONE_PERMIT | WAITERS`.
const ONE_PERMIT: usize = 2;

/// A pool of permits that limits how many tasks do something at once: braid's
/// `asyncio.Semaphore`.
///
/// [`acquire`](Semaphore::acquire) waits for a permit and returns a [`SemaphorePermit`]
/// that gives it back when dropped. Waiters are served in the order they started, and
/// [`try_acquire`](Semaphore::try_acquire) does not jump ahead of them. Dropping an
/// [`AcquireFuture`] is always safe: a permit already handed to it goes on to the next
/// waiter. Acquiring and releasing with nobody waiting is one atomic instruction each.
///
/// The semaphore is `Send + Sync`; share it through an `Rc` or `Arc`.
///
/// # Examples
///
/// At most two of these jobs hold a permit at any time:
///
/// ```
/// use braid_executor::sync::Semaphore;
/// use std::sync::Arc;
///
/// # use braid_threadpool::block_on;
/// let slots = Arc::new(Semaphore::new(2));
/// let jobs: Vec<_> = (0..8)
///     .map(|_| {
///         let slots = Arc::clone(&slots);
///         std::thread::spawn(move || {
///             block_on(async {
///                 let _permit = slots.acquire().await;
///                 assert!(slots.available_permits() < 2);
///             })
///         })
///     })
///     .collect();
/// jobs.into_iter().for_each(|job| job.join().unwrap());
/// assert_eq!(slots.available_permits(), 2);
/// ```
pub struct Semaphore {
    state: AtomicUsize,
    waiters: Mutex<WaitList<()>>,
}

impl Semaphore {
    /// The most permits a semaphore can count.
    pub const MAX_PERMITS: usize = usize::MAX / ONE_PERMIT;

    /// Creates a semaphore with `permits` permits.
    ///
    /// # Panics
    ///
    /// If `permits` exceeds [`Semaphore::MAX_PERMITS`].
    pub const fn new(permits: usize) -> Self {
        assert!(
            permits <= Self::MAX_PERMITS,
            "a semaphore counts at most `Semaphore::MAX_PERMITS` permits"
        );
        Self {
            state: AtomicUsize::new(permits * ONE_PERMIT),
            waiters: Mutex::new(WaitList::new()),
        }
    }

    /// Number of permits free now (the answer may be stale as soon as it is returned).
    pub fn available_permits(&self) -> usize {
        self.state.load(Ordering::Relaxed) / ONE_PERMIT
    }

    /// Takes a permit if one is free and no `acquire` is waiting; `None` otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use braid_executor::sync::Semaphore;
    ///
    /// let semaphore = Semaphore::new(1);
    /// let permit = semaphore.try_acquire().expect("one permit is free");
    /// assert!(semaphore.try_acquire().is_none());
    /// drop(permit);
    /// assert_eq!(semaphore.available_permits(), 1);
    /// ```
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & WAITERS != 0 || state < ONE_PERMIT {
                return None;
            }
            match self.state.compare_exchange_weak(
                state,
                state - ONE_PERMIT,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(SemaphorePermit { semaphore: self }),
                Err(actual) => state = actual,
            }
        }
    }

    /// Waits for a permit.
    ///
    /// # Cancellation
    ///
    /// Dropping the future before it completes takes nothing: a permit handed to it goes
    /// on to the next waiter.
    pub fn acquire(&self) -> AcquireFuture<'_> {
        AcquireFuture {
            semaphore: self,
            key: None,
            done: false,
        }
    }

    /// Adds `permits` permits, waking as many waiting `acquire`s.
    ///
    /// # Panics
    ///
    /// If the free permits would exceed [`Semaphore::MAX_PERMITS`].
    ///
    /// # Examples
    ///
    /// ```
    /// use braid_executor::sync::Semaphore;
    ///
    /// let semaphore = Semaphore::new(0);
    /// semaphore.add_permits(3);
    /// assert_eq!(semaphore.available_permits(), 3);
    /// ```
    pub fn add_permits(&self, permits: usize) {
        if permits > 0 {
            self.release(permits);
        }
    }

    fn release(&self, permits: usize) {
        let mut state = self.state.load(Ordering::Relaxed);
        while state & WAITERS == 0 {
            let new = Self::add_to(state, permits);
            match self
                .state
                .compare_exchange_weak(state, new, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(actual) => state = actual,
            }
        }
        self.release_contended(permits);
    }

    /// `state` with `permits` more permits and the `WAITERS` bit unchanged.
    fn add_to(state: usize, permits: usize) -> usize {
        match permits.checked_add(state / ONE_PERMIT) {
            Some(total) if total <= Self::MAX_PERMITS => (total * ONE_PERMIT) | (state & WAITERS),
            _ => panic!("a semaphore counts at most `Semaphore::MAX_PERMITS` permits"),
        }
    }

    #[cold]
    fn release_contended(&self, permits: usize) {
        let mut waiters = locked(&self.waiters);
        if permits == 1 {
            // The common case, a dropped permit, allocates nothing.
            let waker = waiters.notify_front(());
            self.finish_release(&waiters, usize::from(waker.is_none()));
            drop(waiters);
            if let Some(waker) = waker {
                waker.wake();
            }
            return;
        }
        let mut left = permits;
        let mut wakers = Vec::new();
        while left > 0 {
            match waiters.notify_front(()) {
                Some(waker) => wakers.push(waker),
                None => break,
            }
            left -= 1;
        }
        self.finish_release(&waiters, left);
        drop(waiters);
        wakers.into_iter().for_each(Waker::wake);
    }

    /// With the wait list locked and the waiters served: when nobody waits any more,
    /// clear `WAITERS` and store the permits left over. Fast-path `acquire`s and releases
    /// may run again once `WAITERS` is clear, hence the loop.
    fn finish_release(&self, waiters: &WaitList<()>, permits: usize) {
        if !waiters.is_empty() {
            debug_assert_eq!(permits, 0, "permits left while tasks wait");
            return;
        }
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            let new = Self::add_to(state & !WAITERS, permits);
            match self
                .state
                .compare_exchange_weak(state, new, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(actual) => state = actual,
            }
        }
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("available_permits", &self.available_permits())
            .field("waiting", &locked(&self.waiters).len())
            .finish()
    }
}

/// The future of [`Semaphore::acquire`].
#[must_use = "futures do nothing unless polled"]
pub struct AcquireFuture<'a> {
    semaphore: &'a Semaphore,
    key: Option<WaitKey>,
    done: bool,
}

impl<'a> Future for AcquireFuture<'a> {
    type Output = SemaphorePermit<'a>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<SemaphorePermit<'a>> {
        let this = self.get_mut();
        let semaphore = this.semaphore;
        assert!(!this.done, "`AcquireFuture` polled after completion");
        if let Some(key) = this.key.take() {
            return match locked(&semaphore.waiters).poll_notified(key, cx.waker()) {
                Ok(()) => {
                    this.done = true;
                    Poll::Ready(SemaphorePermit { semaphore })
                }
                Err(key) => {
                    this.key = Some(key);
                    Poll::Pending
                }
            };
        }
        if let Some(permit) = semaphore.try_acquire() {
            this.done = true;
            return Poll::Ready(permit);
        }
        let mut waiters = locked(&semaphore.waiters);
        let mut state = semaphore.state.load(Ordering::Relaxed);
        loop {
            let (new, acquired) = if state & WAITERS == 0 && state >= ONE_PERMIT {
                (state - ONE_PERMIT, true)
            } else if state & WAITERS == 0 {
                (state | WAITERS, false)
            } else {
                break;
            };
            match semaphore.state.compare_exchange_weak(
                state,
                new,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) if acquired => {
                    this.done = true;
                    return Poll::Ready(SemaphorePermit { semaphore });
                }
                Ok(_) => break,
                Err(actual) => state = actual,
            }
        }
        this.key = Some(waiters.push_back(cx.waker().clone()));
        Poll::Pending
    }
}

impl Drop for AcquireFuture<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let mut waiters = locked(&self.semaphore.waiters);
            match waiters.remove(key) {
                Some(()) => {
                    // A permit had been handed to us: give it on.
                    drop(waiters);
                    self.semaphore.release(1);
                }
                None => {
                    if waiters.is_empty() {
                        self.semaphore.state.fetch_and(!WAITERS, Ordering::Relaxed);
                    }
                }
            }
        }
    }
}

impl fmt::Debug for AcquireFuture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquireFuture")
            .field("waiting", &self.key.is_some())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// One permit of a [`Semaphore`], given back when dropped.
#[must_use = "dropping the permit gives it back at once"]
pub struct SemaphorePermit<'a> {
    semaphore: &'a Semaphore,
}

impl SemaphorePermit<'_> {
    /// Keeps the permit out of the semaphore for good: its count shrinks by one.
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.semaphore.release(1);
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit").finish_non_exhaustive()
    }
}
