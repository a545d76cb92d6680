use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::stream::{FuturesUnordered, Stream};

use crate::task::{JoinError, Task};

/// Yields the tasks' results in the order they finish (Python's `asyncio.as_completed`).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use braid_executor::{as_completed, sleep, spawn};
/// use futures::StreamExt;
///
/// braid_executor::run(async {
///     let tasks = vec![
///         spawn(async { sleep(Duration::from_millis(20)).await; "slow" }),
///         spawn(async { "quick" }),
///     ];
///     let order: Vec<_> = as_completed(tasks).map(Result::unwrap).collect().await;
///     assert_eq!(order, ["quick", "slow"]);
/// });
/// ```
pub fn as_completed<T>(tasks: Vec<Task<T>>) -> AsCompleted<T> {
    AsCompleted {
        pending: tasks.into_iter().collect(),
    }
}

/// The stream returned by [`as_completed`]. Dropping it detaches the tasks it still holds.
#[must_use = "streams do nothing unless polled"]
pub struct AsCompleted<T> {
    pending: FuturesUnordered<Task<T>>,
}

impl<T> Stream for AsCompleted<T> {
    type Item = Result<T, JoinError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.pending).poll_next(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.pending.len(), Some(self.pending.len()))
    }
}

impl<T> fmt::Debug for AsCompleted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted")
            .field("pending", &self.pending.len())
            .finish()
    }
}
