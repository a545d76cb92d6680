//! `as_completed`: results of many tasks in the order they finish.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::task::{Wake, Waker};

use crate::sync::{lock, Mutex};
use crate::task::JoinHandle;
use crate::wait::Waiter;
use crate::JoinError;

/// Yields the results of `handles` as the tasks finish, first finished first, like Python's
/// `concurrent.futures.as_completed`.
///
/// Waiting for the next result blocks; on a worker thread the worker runs other jobs meanwhile.
///
/// # Examples
///
/// ```
/// use braid_threadpool::{as_completed, ThreadPool};
/// use std::time::Duration;
///
/// let pool = ThreadPool::new(3)?;
/// let handles = [30, 1, 15].map(|ms| {
///     pool.submit(move || {
///         std::thread::sleep(Duration::from_millis(ms));
///         ms
///     })
/// });
/// let mut results: Vec<u64> = as_completed(handles).map(Result::unwrap).collect();
/// results.sort();
/// assert_eq!(results, [1, 15, 30]);
/// # Ok::<(), braid_threadpool::BuildError>(())
/// ```
pub fn as_completed<T, I>(handles: I) -> AsCompleted<T>
where
    I: IntoIterator<Item = JoinHandle<T>>,
{
    let finished = Arc::new(Finished {
        indices: Mutex::new(VecDeque::new()),
        consumer: Mutex::new(None),
    });
    let handles: Vec<Option<JoinHandle<T>>> = handles.into_iter().map(Some).collect();
    for (index, handle) in handles.iter().enumerate() {
        let handle = handle.as_ref().expect("just filled");
        let waker = Waker::from(Arc::new(Finisher {
            index,
            finished: finished.clone(),
        }));
        // Exactly one of these reports the index: either the task had finished when the waker
        // was registered, or it wakes the waker once it does.
        if handle.register(&waker) {
            lock(&finished.indices).push_back(index);
        }
    }
    AsCompleted {
        remaining: handles.len(),
        handles,
        finished,
    }
}

/// The iterator returned by [`as_completed`].
pub struct AsCompleted<T> {
    handles: Vec<Option<JoinHandle<T>>>,
    remaining: usize,
    finished: Arc<Finished>,
}

/// Indices of finished handles not yet yielded, and who to wake when one arrives.
struct Finished {
    indices: Mutex<VecDeque<usize>>,
    consumer: Mutex<Option<Waker>>,
}

/// The waker registered with one handle.
struct Finisher {
    index: usize,
    finished: Arc<Finished>,
}

impl Wake for Finisher {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        lock(&self.finished.indices).push_back(self.index);
        let consumer = lock(&self.finished.consumer).clone();
        if let Some(consumer) = consumer {
            consumer.wake();
        }
    }
}

impl<T> AsCompleted<T> {
    fn pop_finished(&mut self) -> Option<Result<T, JoinError>> {
        // Yield in finishing order: take the oldest entry.
        let index = lock(&self.finished.indices).pop_front()?;
        let handle = self.handles[index].take().expect("a handle finished twice");
        self.remaining -= 1;
        Some(handle.take_finished())
    }
}

impl<T> Iterator for AsCompleted<T> {
    type Item = Result<T, JoinError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        if let Some(result) = self.pop_finished() {
            return Some(result);
        }
        let waiter = Waiter::new();
        *lock(&self.finished.consumer) = Some(waiter.waker().clone());
        loop {
            if let Some(result) = self.pop_finished() {
                *lock(&self.finished.consumer) = None;
                return Some(result);
            }
            waiter.wait(None);
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<T> ExactSizeIterator for AsCompleted<T> {}

impl<T> fmt::Debug for AsCompleted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted")
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}
