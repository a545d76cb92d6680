use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::stream::{FuturesUnordered, StreamExt};

use crate::task::{JoinError, Task};

/// Tasks that succeed or fail together (Python's `asyncio.TaskGroup`).
///
/// Each task returns `Result<T, E>`. [`join`](TaskGroup::join) waits for all of them and
/// gives their outputs in spawn order; the first failure it sees (an `Err`, a panic, or a
/// task cancelled from outside) cancels the others, waits until their futures are dropped,
/// and is returned. Dropping a group (or a `join` future) cancels the tasks still running.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use braid_executor::{sleep, TaskGroup};
///
/// braid_executor::run(async {
///     let mut group = TaskGroup::new();
///     group.spawn(async { Ok::<_, String>(1) });
///     group.spawn(async { Ok(2) });
///     assert_eq!(group.join().await.unwrap(), vec![1, 2]);
///
///     let mut group = TaskGroup::new();
///     group.spawn(async { sleep(Duration::from_secs(3600)).await; Ok(1) });
///     group.spawn(async { Err("no luck".to_string()) });
///     let error = group.join().await.unwrap_err();
///     assert_eq!(error.into_failure(), Some("no luck".to_string()));
/// });
/// ```
pub struct TaskGroup<T, E> {
    tasks: Vec<Task<Result<T, E>>>,
}

impl<T: 'static, E: 'static> TaskGroup<T, E> {
    /// An empty group.
    pub fn new() -> TaskGroup<T, E> {
        TaskGroup { tasks: Vec::new() }
    }

    /// Spawns `future` on the running loop as a member of the group; it starts at once,
    /// whether or not `join` is awaited yet.
    ///
    /// # Panics
    ///
    /// Outside a running braid event loop.
    #[track_caller]
    pub fn spawn<F>(&mut self, future: F)
    where
        F: Future<Output = Result<T, E>> + 'static,
    {
        self.tasks.push(crate::spawn(future));
    }

    /// How many tasks the group holds.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether the group holds no task.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Waits for every task; returns their outputs in spawn order.
    ///
    /// # Errors
    ///
    /// The first failure seen, after the other tasks were cancelled and their futures
    /// dropped: [`TaskGroupError`] holding the task's `Err`, its panic, or the news that it
    /// was cancelled from outside the group.
    pub async fn join(mut self) -> Result<Vec<T>, TaskGroupError<E>> {
        let total = self.tasks.len();
        let mut running: FuturesUnordered<Member<T, E>> = std::mem::take(&mut self.tasks)
            .into_iter()
            .enumerate()
            .map(|(index, task)| Member { index, task })
            .collect();
        let mut outputs: Vec<Option<T>> = (0..total).map(|_| None).collect();
        let mut failure = None;
        while let Some((index, result)) = running.next().await {
            let error = match result {
                Ok(Ok(value)) => {
                    outputs[index] = Some(value);
                    continue;
                }
                Ok(Err(error)) => TaskGroupError::Failed(error),
                Err(join_error) => match join_error.try_into_panic() {
                    Ok(payload) => TaskGroupError::Panicked(payload),
                    Err(_) => TaskGroupError::Cancelled,
                },
            };
            if failure.is_none() {
                for member in running.iter() {
                    member.task.cancel();
                }
                failure = Some(error);
            }
        }
        match failure {
            Some(error) => Err(error),
            None => Ok(outputs.into_iter().flatten().collect()),
        }
    }
}

impl<T: 'static, E: 'static> Default for TaskGroup<T, E> {
    fn default() -> TaskGroup<T, E> {
        TaskGroup::new()
    }
}

impl<T, E> Drop for TaskGroup<T, E> {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.cancel();
        }
    }
}

impl<T, E> fmt::Debug for TaskGroup<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskGroup")
            .field("tasks", &self.tasks.len())
            .finish()
    }
}

/// A task of a group being joined; cancels the task if dropped unfinished.
struct Member<T, E> {
    index: usize,
    task: Task<Result<T, E>>,
}

impl<T, E> Future for Member<T, E> {
    type Output = (usize, Result<Result<T, E>, JoinError>);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let index = self.index;
        Pin::new(&mut self.task)
            .poll(cx)
            .map(|result| (index, result))
    }
}

impl<T, E> Drop for Member<T, E> {
    fn drop(&mut self) {
        self.task.cancel();
    }
}

/// Why [`TaskGroup::join`] failed.
#[non_exhaustive]
pub enum TaskGroupError<E> {
    /// A task returned this error.
    Failed(E),
    /// A task panicked with this payload.
    Panicked(Box<dyn Any + Send + 'static>),
    /// A task was cancelled from outside the group.
    Cancelled,
}

impl<E> TaskGroupError<E> {
    /// The task's own error, if that is what failed.
    pub fn into_failure(self) -> Option<E> {
        match self {
            TaskGroupError::Failed(error) => Some(error),
            _ => None,
        }
    }

    /// Whether a task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self, TaskGroupError::Panicked(_))
    }
}

impl<E: fmt::Debug> fmt::Debug for TaskGroupError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskGroupError::Failed(error) => f.debug_tuple("Failed").field(error).finish(),
            TaskGroupError::Panicked(_) => f.write_str("Panicked(..)"),
            TaskGroupError::Cancelled => f.write_str("Cancelled"),
        }
    }
}

impl<E: fmt::Display> fmt::Display for TaskGroupError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskGroupError::Failed(error) => {
                write!(
                    f,
                    "a task of the group failed, so the others were cancelled: {error}"
                )
            }
            TaskGroupError::Panicked(_) => {
                f.write_str("a task of the group panicked, so the others were cancelled")
            }
            TaskGroupError::Cancelled => f.write_str(
                "a task of the group was cancelled from outside, so the others were cancelled too",
            ),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for TaskGroupError<E> {}
