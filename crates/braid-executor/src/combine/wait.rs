use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use crate::task::Task;
use crate::time::sleep;

/// When [`wait`] returns (Python's `asyncio.FIRST_COMPLETED` and friends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnWhen {
    /// As soon as any task finishes.
    FirstCompleted,
    /// As soon as any task panics or is cancelled; when all finish if none does.
    FirstError,
    /// When every task has finished.
    AllCompleted,
}

/// Waits for tasks until `when` says so or `timeout` passes, and returns them split into
/// `(done, pending)` (Python's `asyncio.wait`). Each list keeps the input order. Nothing is
/// cancelled: pending tasks keep running, and done ones still hold their output.
///
/// # Panics
///
/// With a `timeout`, when polled outside a running braid event loop.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use braid_executor::{sleep, spawn, wait, ReturnWhen};
///
/// braid_executor::run(async {
///     let tasks = vec![
///         spawn(async { 1 }),
///         spawn(async { sleep(Duration::from_secs(3600)).await; 2 }),
///     ];
///     let (done, pending) = wait(tasks, ReturnWhen::FirstCompleted, None).await;
///     assert_eq!(done.len(), 1);
///     assert_eq!(pending.len(), 1);
///     pending[0].cancel();
///     assert_eq!(done.into_iter().next().unwrap().await.unwrap(), 1);
/// });
/// ```
pub async fn wait<T>(
    tasks: Vec<Task<T>>,
    when: ReturnWhen,
    timeout: Option<Duration>,
) -> (Vec<Task<T>>, Vec<Task<T>>) {
    let mut deadline = timeout.map(sleep);
    poll_fn(|cx| {
        let mut finished = 0;
        let mut failed = false;
        for task in &tasks {
            if task.poll_finished(cx).is_ready() {
                finished += 1;
                failed |= when == ReturnWhen::FirstError && task.failed() == Some(true);
            }
        }
        let done = match when {
            ReturnWhen::AllCompleted => finished == tasks.len(),
            ReturnWhen::FirstCompleted => finished > 0 || tasks.is_empty(),
            ReturnWhen::FirstError => failed || finished == tasks.len(),
        };
        if done {
            return Poll::Ready(());
        }
        match deadline.as_mut() {
            Some(deadline) => Pin::new(deadline).poll(cx),
            None => Poll::Pending,
        }
    })
    .await;
    tasks.into_iter().partition(Task::is_finished)
}
