use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::stream::{FuturesUnordered, Stream};

/// Yields each future's output as it finishes, with the future's position in the input
/// (Python's `asyncio.as_completed`, with the `futures[fut]` look-up built in).
///
/// Each item is `(index, output)`: `index` counts from 0 in the order `futures` gave the
/// futures, so a result can be matched to what was asked for however the finishing order
/// came out. Any futures will do, of one output type: [`Task`](crate::Task)s, whose output
/// is `Result<T, JoinError>`, thread-pool or process-pool handles, or `async` blocks. Like
/// [`gather`](crate::gather), the stream polls the futures inside the task that polls it,
/// and polls only those that have been woken.
///
/// The stream's [`size_hint`](Stream::size_hint) is exact: the number of futures not yet
/// yielded. Dropping the stream drops the futures it still holds; a `Task` dropped this way
/// is detached and runs on (cancel it first to stop it).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use braid_executor::{as_completed, sleep, spawn};
/// use futures::StreamExt;
///
/// braid_executor::run(async {
///     let urls = ["https://slow.example", "https://quick.example"];
///     let tasks = vec![
///         spawn(async { sleep(Duration::from_millis(20)).await; 2_000 }),
///         spawn(async { 300 }),
///     ];
///     let mut finished = as_completed(tasks);
///     let mut sizes = Vec::new();
///     while let Some((index, size)) = finished.next().await {
///         // The index says which one finished: Python's `url = futures[fut]`.
///         sizes.push((urls[index], size.unwrap()));
///     }
///     assert_eq!(sizes, [("https://quick.example", 300), ("https://slow.example", 2_000)]);
///
///     // Plain futures work too; their outputs come as they are.
///     let lengths = ["braid", "asyncio"].map(|word| async move { word.len() });
///     let mut lengths: Vec<(usize, usize)> = as_completed(lengths).collect().await;
///     lengths.sort();
///     assert_eq!(lengths, [(0, 5), (1, 7)]);
/// });
/// ```
pub fn as_completed<I>(futures: I) -> AsCompleted<I::Item>
where
    I: IntoIterator,
    I::Item: Future,
{
    AsCompleted {
        pending: futures
            .into_iter()
            .enumerate()
            .map(|(index, future)| Indexed { index, future })
            .collect(),
    }
}

/// The stream returned by [`as_completed`], of `(index, output)` pairs. Dropping it drops
/// the futures it still holds, which detaches a [`Task`](crate::Task).
#[must_use = "streams do nothing unless polled"]
pub struct AsCompleted<F> {
    pending: FuturesUnordered<Indexed<F>>,
}

impl<F: Future> Stream for AsCompleted<F> {
    type Item = (usize, F::Output);

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.pending).poll_next(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.pending.len(), Some(self.pending.len()))
    }
}

impl<F> fmt::Debug for AsCompleted<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted")
            .field("pending", &self.pending.len())
            .finish()
    }
}

/// A future and its position in the input of [`as_completed`].
struct Indexed<F> {
    index: usize,
    future: F,
}

impl<F: Future> Future for Indexed<F> {
    type Output = (usize, F::Output);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `future` is pinned structurally: `Indexed` never moves it, has no `Drop`
        // of its own, and is `Unpin` only when `F` is; `index` is a plain `usize`, never
        // pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        future.poll(cx).map(|output| (this.index, output))
    }
}
