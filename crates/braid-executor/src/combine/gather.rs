use std::future::Future;

/// Runs futures concurrently and returns their outputs in input order (Python's
/// `asyncio.gather`).
///
/// The futures run inside the calling task, interleaved at their await points; nothing is
/// spawned, so they may borrow from the caller and need not be `'static`. To run them as
/// separate tasks, pass [`Task`](crate::Task)s: the outputs are then
/// `Result<T, JoinError>`s.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use braid_executor::{gather, sleep};
///
/// braid_executor::run(async {
///     let outputs = gather((1..=3u64).map(|i| async move {
///         // The slowest comes first, yet the order is kept.
///         sleep(Duration::from_millis(4 - i)).await;
///         i * 10
///     }))
///     .await;
///     assert_eq!(outputs, vec![10, 20, 30]);
/// });
/// ```
pub async fn gather<I>(futures: I) -> Vec<<I::Item as Future>::Output>
where
    I: IntoIterator,
    I::Item: Future,
{
    futures::future::join_all(futures).await
}
