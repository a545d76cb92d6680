//! [`Lock`]: an async mutex, like `asyncio.Lock` guarding a value.

use std::cell::UnsafeCell;
use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::task::{Context, Poll};

use super::wait_list::{locked, WaitKey, WaitList};

#[cfg(test)]
mod test;

/// `state` bit: the lock is held by a guard, or was handed to a notified waiter.
/// Set by `try_lock` (0 -> LOCKED); cleared only by the holder's unlock when nobody waits.
const LOCKED: usize = 1;
/// `state` bit: the wait list is not empty. Set and cleared only with the wait list's
/// mutex held, and only while `LOCKED` is set, so `WAITERS` implies `LOCKED` and the
/// unlocked state is exactly 0.
const WAITERS: usize = 2;

/// An async mutex: a value that one task at a time may use, across `.await`s.
///
/// [`lock`](Lock::lock) waits until the lock is free and returns a [`LockGuard`] that
/// gives access to the value and releases the lock when dropped. Taking and releasing a
/// free lock is one atomic instruction each; only contention touches the wait list.
///
/// Waiters are served in the order they started: releasing the lock hands it straight to
/// the oldest waiting `lock`, and [`try_lock`](Lock::try_lock) does not jump ahead of
/// them. Dropping a [`LockFuture`] is always safe: if the lock had already been handed to
/// it, it goes on to the next waiter. A task that panics while holding the guard releases
/// the lock (there is no poisoning).
///
/// The lock is `Send + Sync` when `T: Send`; share it through an `Rc` or `Arc`.
///
/// # Examples
///
/// ```
/// use braid_executor::sync::Lock;
///
/// # use braid_threadpool::block_on;
/// let balance = Lock::new(100);
/// block_on(async {
///     let mut guard = balance.lock().await;
///     *guard -= 30;
///     assert!(balance.try_lock().is_none(), "held by `guard`");
///     drop(guard);
///     assert_eq!(*balance.lock().await, 70);
/// });
/// ```
pub struct Lock<T: ?Sized> {
    state: AtomicUsize,
    waiters: Mutex<WaitList<()>>,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out access to the value to one guard at a time, so sharing the
// lock between threads moves the value between them: that needs `T: Send` and no more.
unsafe impl<T: ?Sized + Send> Sync for Lock<T> {}
// SAFETY: owning the lock owns the value.
unsafe impl<T: ?Sized + Send> Send for Lock<T> {}

impl<T> Lock<T> {
    /// Creates an unlocked lock around `value`.
    pub const fn new(value: T) -> Self {
        Self {
            state: AtomicUsize::new(0),
            waiters: Mutex::new(WaitList::new()),
            value: UnsafeCell::new(value),
        }
    }

    /// Consumes the lock and returns the value.
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> Lock<T> {
    /// Waits until the lock is free, then holds it.
    ///
    /// # Cancellation
    ///
    /// Dropping the future before it completes takes nothing: a lock handed to it is
    /// handed on to the next waiter.
    pub fn lock(&self) -> LockFuture<'_, T> {
        LockFuture {
            lock: self,
            key: None,
            done: false,
        }
    }

    /// Holds the lock if it is free and no `lock` is waiting for it; `None` otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use braid_executor::sync::Lock;
    ///
    /// let lock = Lock::new(Vec::new());
    /// let mut guard = lock.try_lock().expect("nobody holds the lock");
    /// guard.push(1);
    /// assert!(lock.try_lock().is_none());
    /// ```
    pub fn try_lock(&self) -> Option<LockGuard<'_, T>> {
        self.state
            .compare_exchange(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| LockGuard { lock: self })
    }

    /// Whether the lock is held now (the answer may be stale as soon as it is returned).
    pub fn is_locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) & LOCKED != 0
    }

    /// Mutable access without locking: having `&mut self` proves nobody else holds it.
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    /// Releases the lock, handing it to the oldest waiter if there is one.
    fn unlock(&self) {
        if self
            .state
            .compare_exchange(LOCKED, 0, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            self.unlock_contended();
        }
    }

    #[cold]
    fn unlock_contended(&self) {
        let mut waiters = locked(&self.waiters);
        match waiters.notify_front(()) {
            Some(waker) => {
                // The lock stays LOCKED: it now belongs to the notified waiter.
                if waiters.is_empty() {
                    self.state.store(LOCKED, Ordering::Relaxed);
                }
                drop(waiters);
                waker.wake();
            }
            // The last waiter gave up after our fast path saw it; nobody else can change
            // the state while we hold the lock and the wait list.
            None => self.state.store(0, Ordering::Release),
        }
    }
}

impl<T: Default> Default for Lock<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T> From<T> for Lock<T> {
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Lock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Lock");
        match self.try_lock() {
            Some(guard) => debug.field("value", &&*guard),
            None => debug.field("value", &format_args!("<locked>")),
        };
        debug.finish()
    }
}

/// The future of [`Lock::lock`].
#[must_use = "futures do nothing unless polled"]
pub struct LockFuture<'a, T: ?Sized> {
    lock: &'a Lock<T>,
    key: Option<WaitKey>,
    done: bool,
}

impl<'a, T: ?Sized> Future for LockFuture<'a, T> {
    type Output = LockGuard<'a, T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<LockGuard<'a, T>> {
        let this = self.get_mut();
        let lock = this.lock;
        assert!(!this.done, "`LockFuture` polled after completion");
        if let Some(key) = this.key.take() {
            let mut waiters = locked(&lock.waiters);
            return match waiters.poll_notified(key, cx.waker()) {
                Ok(()) => {
                    this.done = true;
                    Poll::Ready(LockGuard { lock })
                }
                Err(key) => {
                    this.key = Some(key);
                    Poll::Pending
                }
            };
        }
        if let Some(guard) = lock.try_lock() {
            this.done = true;
            return Poll::Ready(guard);
        }
        let mut waiters = locked(&lock.waiters);
        let mut state = lock.state.load(Ordering::Relaxed);
        loop {
            let (new, acquired) = if state == 0 {
                (LOCKED, true)
            } else {
                (state | WAITERS, false)
            };
            match lock
                .state
                .compare_exchange_weak(state, new, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) if acquired => {
                    this.done = true;
                    return Poll::Ready(LockGuard { lock });
                }
                Ok(_) => break,
                Err(actual) => state = actual,
            }
        }
        this.key = Some(waiters.push_back(cx.waker().clone()));
        Poll::Pending
    }
}

impl<T: ?Sized> Drop for LockFuture<'_, T> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let mut waiters = locked(&self.lock.waiters);
            match waiters.remove(key) {
                Some(()) => {
                    // The lock had been handed to us: hand it on.
                    drop(waiters);
                    self.lock.unlock();
                }
                None => {
                    if waiters.is_empty() {
                        self.lock.state.fetch_and(!WAITERS, Ordering::Relaxed);
                    }
                }
            }
        }
    }
}

impl<T: ?Sized> fmt::Debug for LockFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockFuture")
            .field("waiting", &self.key.is_some())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// Access to the value of a held [`Lock`]; dropping the guard releases the lock.
#[must_use = "dropping the guard releases the lock at once"]
pub struct LockGuard<'a, T: ?Sized> {
    lock: &'a Lock<T>,
}

// SAFETY: sharing the guard shares `&T` between threads, which needs `T: Sync`; the guard
// may also release the lock from another thread, which the lock allows when `T: Send`.
unsafe impl<T: ?Sized + Send + Sync> Sync for LockGuard<'_, T> {}

impl<T: ?Sized> Deref for LockGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while the lock is held by it, so no `&mut T`
        // to the value exists elsewhere.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T: ?Sized> DerefMut for LockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock, and `&mut self` makes this the only access.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T: ?Sized> Drop for LockGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for LockGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for LockGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
