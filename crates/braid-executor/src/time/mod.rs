//! Timers: [`sleep`], [`sleep_until`], [`timeout`] and the periodic [`interval`].

mod interval;

pub use interval::{interval, interval_at, Interval, MissedTickBehavior};

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::driver::{DriverId, TimerKey};
use crate::event_loop::context;

/// Waits until `duration` has passed (Python's `asyncio.sleep`).
///
/// The sleep never ends early: when it completes, at least `duration` has passed since
/// `sleep` was called. Its timer starts on the first poll and is removed if the future is
/// dropped first.
///
/// # Panics
///
/// When polled outside a running braid event loop.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
///
/// braid_executor::run(async {
///     let start = Instant::now();
///     braid_executor::sleep(Duration::from_millis(5)).await;
///     assert!(start.elapsed() >= Duration::from_millis(5));
/// });
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(far_or(Instant::now().checked_add(duration)))
}

/// Waits until `deadline` (Python's `loop.call_at`, as a future). A deadline in the past
/// completes at once.
///
/// # Panics
///
/// When polled outside a running braid event loop.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
///
/// braid_executor::run(async {
///     let deadline = Instant::now() + Duration::from_millis(2);
///     braid_executor::sleep_until(deadline).await;
///     assert!(Instant::now() >= deadline);
/// });
/// ```
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        timer: None,
    }
}

/// A deadline so far away it never comes, for durations too long for `Instant`.
fn far_or(deadline: Option<Instant>) -> Instant {
    deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365 * 30))
}

/// The future returned by [`sleep`] and [`sleep_until`].
///
/// It is `Send` and `Unpin`. Its timer is registered with the loop that first polls it,
/// and the sleep then belongs to that loop until it completes or is
/// [`reset`](Sleep::reset): each loop has an id of its own, never reused, and the sleep
/// keeps it with the timer, so it never touches another loop's timers, even one that
/// happens to sit where its own loop was.
///
/// # Panics
///
/// Polling it outside a running braid event loop, or on another loop than the one its timer
/// is registered with (including after that loop is gone), panics: its timer lives with the
/// first loop, and the other one could not wake it.
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    /// The registered timer and the id of the loop's driver that holds it.
    timer: Option<(TimerKey, DriverId)>,
}

impl Sleep {
    /// When the sleep ends.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Moves the deadline; the sleep now ends at `deadline` instead.
    pub fn reset(&mut self, deadline: Instant) {
        self.cancel_timer();
        self.deadline = deadline;
    }

    fn cancel_timer(&mut self) {
        let Some((key, owner)) = self.timer.take() else {
            return;
        };
        context::with_current(|core| match core {
            Some(core) if core.driver().id() == owner => core.driver().remove_timer(key),
            // Dropped away from its loop: the timer stays until it fires, then goes (or
            // goes with its loop).
            _ => {}
        });
    }
}

#[cold]
#[track_caller]
fn wrong_loop() -> ! {
    panic!(
        "a braid_executor::Sleep was polled on another event loop than the one its timer is \
         registered with (that loop may be gone); a sleep belongs to the loop that first \
         polled it until it completes or is reset"
    )
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        context::with_current(|core| {
            let Some(core) = core else {
                context::no_loop("braid_executor::sleep (and timeout)");
            };
            let id = core.driver().id();
            match this.timer {
                Some((key, owner)) if owner == id => {
                    if core.driver().update_timer(key, cx.waker()) {
                        return Poll::Pending;
                    }
                    // The loop fires a timer only once its deadline has passed.
                    this.timer = None;
                    return Poll::Ready(());
                }
                Some(_) => wrong_loop(),
                None => {}
            }
            if Instant::now() >= this.deadline {
                return Poll::Ready(());
            }
            let key = core
                .driver()
                .insert_timer(this.deadline, cx.waker().clone());
            this.timer = Some((key, id));
            Poll::Pending
        })
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.cancel_timer();
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("registered", &self.timer.is_some())
            .finish()
    }
}

/// Runs `future` for at most `duration` (Python's `asyncio.wait_for` / `asyncio.timeout`).
///
/// Gives `Ok(output)` if the future finishes first, `Err(Elapsed)` otherwise; either way
/// the future has been dropped (at its await point, running its destructors) when the result
/// is returned. If the task awaiting the timeout is itself cancelled, the whole thing is
/// dropped: a timeout never turns an outer cancel into `Elapsed` or a value.
///
/// Where `future` is a spawned [`Task`](crate::Task), dropping it drops the handle only,
/// and a dropped handle detaches its task: it runs on, where `asyncio.wait_for` would have
/// cancelled it. To stop it, time out `&mut task` and cancel the task on `Elapsed`.
///
/// A future that gives `io::Result<T>` comes back as `Result<io::Result<T>, Elapsed>`.
/// `Elapsed` converts into an [`io::Error`](std::io::Error) of kind
/// [`TimedOut`](std::io::ErrorKind::TimedOut), so inside an `async` block or function that
/// returns `io::Result`, `timeout(d, read).await??` gives the value and passes either
/// error on; [`Timeout::flatten`] gives a future of the plain `io::Result<T>`.
///
/// # Panics
///
/// When polled outside a running braid event loop.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// braid_executor::run(async {
///     let slow = braid_executor::sleep(Duration::from_secs(3600));
///     let result = braid_executor::timeout(Duration::from_millis(1), slow).await;
///     assert!(result.is_err());
///     let quick = braid_executor::timeout(Duration::from_secs(5), async { 1 }).await;
///     assert_eq!(quick, Ok(1));
/// });
/// ```
///
/// With an I/O future, one `?` for the time and one for the I/O:
///
/// ```
/// use std::io;
/// use std::time::Duration;
/// use braid_executor::net::TcpListener;
/// use braid_executor::timeout;
///
/// async fn accept_soon(listener: &TcpListener) -> io::Result<std::net::SocketAddr> {
///     let (_stream, peer) = timeout(Duration::from_millis(1), listener.accept()).await??;
///     Ok(peer)
/// }
///
/// braid_executor::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let error = accept_soon(&listener).await.unwrap_err(); // nobody connects
///     assert_eq!(error.kind(), io::ErrorKind::TimedOut);
///     io::Result::Ok(())
/// })?;
/// # Ok::<(), io::Error>(())
/// ```
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout {
        future: Some(future),
        sleep: sleep(duration),
    }
}

/// The future returned by [`timeout`].
#[must_use = "futures do nothing unless awaited"]
pub struct Timeout<F> {
    future: Option<F>,
    sleep: Sleep,
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `future` is never moved out of its place while pinned: it is polled in
        // place and dropped in place (set to `None`); `sleep` is `Unpin`.
        let this = unsafe { self.get_unchecked_mut() };
        let Some(future) = this.future.as_mut() else {
            panic!("braid_executor::Timeout polled after it completed");
        };
        // SAFETY: see above; the `Option` stays where it is while the future is inside.
        let future = unsafe { Pin::new_unchecked(future) };
        if let Poll::Ready(output) = future.poll(cx) {
            this.future = None;
            return Poll::Ready(Ok(output));
        }
        if Pin::new(&mut this.sleep).poll(cx).is_ready() {
            // Dropped now, so its destructors have run when the caller sees `Elapsed`.
            this.future = None;
            return Poll::Ready(Err(Elapsed { _private: () }));
        }
        Poll::Pending
    }
}

impl<F> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("deadline", &self.sleep.deadline)
            .field("done", &self.future.is_none())
            .finish()
    }
}

/// The error of [`timeout`]: the time ran out before the future finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Elapsed {
    _private: (),
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the deadline passed before the future finished; it was dropped")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(elapsed: Elapsed) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, elapsed.to_string())
    }
}
