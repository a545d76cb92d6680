use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Lets the loop run the other ready tasks, then resumes (Python's `await asyncio.sleep(0)`).
///
/// The task goes to the back of the run queue, so every task that was ready before it runs
/// first.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
///
/// braid_executor::run(async {
///     let ran = Rc::new(Cell::new(false));
///     let flag = ran.clone();
///     let other = braid_executor::spawn(async move { flag.set(true) });
///     braid_executor::yield_now().await;
///     assert!(ran.get());
///     other.await.unwrap();
/// });
/// ```
#[inline]
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future returned by [`yield_now`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
