//! [`BraidTimer`]: braid's sleeps as hyper's timer.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::rt::{Sleep, Timer};

/// braid's [`sleep`](braid_executor::sleep) as hyper's [`rt::Timer`](hyper::rt::Timer),
/// which hyper needs for its timeouts: the HTTP/1 header-read timeout, HTTP/2 keep-alive
/// pings, and a client's idle connections.
///
/// Give it to a builder's `timer` method. The sleeps it makes belong to the loop that first
/// polls them, as any braid sleep does.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use braid_hyper::BraidTimer;
///
/// let mut http1 = hyper::server::conn::http1::Builder::new();
/// http1.timer(BraidTimer).header_read_timeout(Duration::from_secs(5));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct BraidTimer;

/// A braid sleep that hyper can hold as its `Sleep`.
struct BraidSleep(braid_executor::Sleep);

impl Future for BraidSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl Sleep for BraidSleep {}

impl Timer for BraidTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        Box::pin(BraidSleep(braid_executor::sleep(duration)))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(BraidSleep(braid_executor::sleep_until(deadline)))
    }

    /// Moves the deadline of a sleep this timer made in place, keeping its allocation;
    /// any other sleep is replaced.
    fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<BraidSleep>() {
            Some(braid) => braid.get_mut().0.reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}
