//! `ThreadPool::map`: apply a function to every item, in parallel, results in input order.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use crate::pool::ThreadPool;
use crate::task::JoinHandle;
use crate::JoinError;

/// Results of [`ThreadPool::map`], in the order of the input items.
///
/// Items are pulled from the input and submitted lazily, keeping at most
/// [`Map::window`] tasks in flight; each result taken makes room for the next item. Dropping
/// the iterator cancels the submitted tasks that have not started.
///
/// # Dropping it unread
///
/// Python's `Executor.map` submits every item before it returns, so a call whose results
/// nobody reads still runs them all. A `Map` submits only its first window of items, and
/// dropping it cancels those that have not started: most of the work never runs. So a `Map`
/// that is never read is a compile-time warning:
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// let pool = braid_threadpool::ThreadPool::new(2)?;
/// pool.map(|x: u32| println!("{x}"), 0..100);
/// # Ok::<(), braid_threadpool::BuildError>(())
/// ```
///
/// To run a function for its effects, drain the iterator:
///
/// ```
/// #![deny(unused_must_use)]
/// let pool = braid_threadpool::ThreadPool::new(2)?;
/// pool.map(|x: u32| println!("{x}"), 0..100).for_each(Result::unwrap);
/// # Ok::<(), braid_threadpool::BuildError>(())
/// ```
#[must_use = "a Map is lazy: dropped unread it cancels the tasks it has not started and \
              submits no more; iterate or collect it"]
pub struct Map<'pool, T> {
    in_flight: VecDeque<JoinHandle<T>>,
    submit_next: Box<dyn FnMut() -> Option<JoinHandle<T>> + 'pool>,
    exhausted: bool,
    window: usize,
}

impl ThreadPool {
    /// Applies `f` to each of `items` on the pool and yields the results in input order, like
    /// Python's `Executor.map` with a `buffersize`.
    ///
    /// The first tasks are submitted right away; after that one more item is taken from
    /// `items` each time a result is taken, so at most twice as many tasks as the pool has
    /// workers exist at any time, and `items` may be endless.
    ///
    /// # Examples
    ///
    /// ```
    /// use braid_threadpool::ThreadPool;
    ///
    /// let pool = ThreadPool::new(2)?;
    /// let lengths: Vec<usize> = pool
    ///     .map(|word: &str| word.len(), ["one", "three", "five"])
    ///     .map(Result::unwrap)
    ///     .collect();
    /// assert_eq!(lengths, [3, 5, 4]);
    ///
    /// // Endless input: only what is taken is computed.
    /// let first: Vec<u64> = pool.map(|n: u64| n * n, 1..).take(3).map(Result::unwrap).collect();
    /// assert_eq!(first, [1, 4, 9]);
    /// # Ok::<(), braid_threadpool::BuildError>(())
    /// ```
    pub fn map<'pool, I, F, T>(&'pool self, f: F, items: I) -> Map<'pool, T>
    where
        I: IntoIterator,
        I::IntoIter: 'pool,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        let f = Arc::new(f);
        let mut items = items.into_iter();
        let submit_next = Box::new(move || {
            let item = items.next()?;
            let f = f.clone();
            Some(self.submit(move || f(item)))
        });
        let mut map = Map {
            in_flight: VecDeque::new(),
            submit_next,
            exhausted: false,
            window: self.workers().saturating_mul(2),
        };
        map.fill(map.window);
        map
    }
}

impl<T> Map<'_, T> {
    /// The most tasks this iterator keeps submitted at once.
    pub fn window(&self) -> usize {
        self.window
    }

    fn fill(&mut self, target: usize) {
        while !self.exhausted && self.in_flight.len() < target {
            match (self.submit_next)() {
                Some(handle) => self.in_flight.push_back(handle),
                None => self.exhausted = true,
            }
        }
    }
}

impl<T> Iterator for Map<'_, T> {
    type Item = Result<T, JoinError>;

    fn next(&mut self) -> Option<Self::Item> {
        let first = self.in_flight.pop_front()?;
        // Keep the pool busy while waiting: `first` plus the refilled queue make a full window.
        self.fill(self.window - 1);
        Some(first.join())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let known = self.in_flight.len();
        (known, self.exhausted.then_some(known))
    }
}

impl<T> Drop for Map<'_, T> {
    fn drop(&mut self) {
        for handle in &self.in_flight {
            handle.cancel();
        }
    }
}

impl<T> fmt::Debug for Map<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map")
            .field("in_flight", &self.in_flight.len())
            .field("window", &self.window)
            .field("exhausted", &self.exhausted)
            .finish_non_exhaustive()
    }
}
