//! `as_completed`: results of many futures in the order they finish, each with its input's
//! position.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use crate::sync::{lock, Mutex};
use crate::wait::Waiter;

/// Yields the outputs of `futures` as they finish, first finished first, each with its
/// position in the input, like Python's `concurrent.futures.as_completed`.
///
/// Python looks the position up in a dict, `i = futures[fut]`; here it comes with the result:
/// `for (i, result) in as_completed(handles)`.
///
/// The futures are thread-pool or process-pool [`JoinHandle`](crate::JoinHandle)s, or any other
/// `Unpin` future that a different thread completes and wakes. Each is polled once here, with a
/// waker that names it, and again only after that waker fires; none is polled after it returned
/// `Ready`. Waiting for the next result blocks the calling thread; on a worker of a braid thread
/// pool the worker runs other jobs of its pool meanwhile. Nothing drives the futures but their
/// wakers, so a future that needs an event loop to make progress (a socket, a timer) never
/// finishes here.
///
/// Never give it an event loop's tasks (`braid_executor::Task`, including `spawn_blocking`'s)
/// on that loop's thread: the loop that would finish them is the thread this blocks, so it
/// waits forever. On the loop, use the event loop's own `as_completed`, which awaits instead.
///
/// # Panics
///
/// A panic while polling an input future propagates to the caller: out of `as_completed` for
/// the first poll, out of [`Iterator::next`] for later ones.
///
/// # Examples
///
/// ```
/// use braid_threadpool::{as_completed, ThreadPool};
/// use std::time::Duration;
///
/// let pool = ThreadPool::new(3)?;
/// let delays = [30, 1, 15];
/// let handles = delays.map(|ms| {
///     pool.submit(move || {
///         std::thread::sleep(Duration::from_millis(ms));
///         ms * 2
///     })
/// });
/// for (i, result) in as_completed(handles) {
///     assert_eq!(result.unwrap(), delays[i] * 2);
/// }
/// # Ok::<(), braid_threadpool::BuildError>(())
/// ```
pub fn as_completed<I>(futures: I) -> AsCompleted<I::Item>
where
    I: IntoIterator,
    I::Item: Future + Unpin,
{
    let ready = Arc::new(Ready {
        queue: Mutex::new(Queue {
            indices: VecDeque::new(),
            consumer: None,
        }),
    });
    let mut entries: Vec<Entry<I::Item>> = futures
        .into_iter()
        .enumerate()
        .map(|(index, future)| {
            let woken = Arc::new(Woken {
                index,
                queued: AtomicBool::new(false),
                ready: ready.clone(),
            });
            let waker = Waker::from(woken.clone());
            Entry::Pending {
                future,
                waker,
                woken,
            }
        })
        .collect();
    let remaining = entries.len();
    // The first poll registers each waker; a future that is done already is queued here, in
    // input order, as if it had woken.
    for (index, entry) in entries.iter_mut().enumerate() {
        if let Some(output) = entry.take_output() {
            *entry = Entry::Done(output);
            lock(&ready.queue).indices.push_back(index);
        }
    }
    AsCompleted {
        entries,
        remaining,
        ready,
    }
}

/// The iterator returned by [`as_completed`]: `(position in the input, output)` pairs in the
/// order the futures finish.
///
/// Dropping it drops the futures it still holds; for braid's pool handles that lets their
/// tasks run on and throws their results away.
#[must_use = "as_completed is lazy: dropped unread it drops the futures it holds; iterate it"]
pub struct AsCompleted<F: Future> {
    entries: Vec<Entry<F>>,
    remaining: usize,
    ready: Arc<Ready>,
}

/// One input future, from its first poll until its output is yielded.
enum Entry<F: Future> {
    /// Not finished; `waker` names this entry's position.
    Pending {
        future: F,
        waker: Waker,
        woken: Arc<Woken>,
    },
    /// Finished at its first poll; the output waits here to be yielded.
    Done(F::Output),
    /// Its output was yielded.
    Yielded,
}

impl<F: Future + Unpin> Entry<F> {
    /// The output, if there is one now: a pending future is polled with its own waker. Once
    /// this returned `Some` the entry is `Yielded`, so its future is never polled again.
    fn take_output(&mut self) -> Option<F::Output> {
        let output = match self {
            Entry::Pending {
                future,
                waker,
                woken,
            } => {
                // Cleared before the poll: a wake from now on queues the index again.
                // A swap, not a store: reading the waker's `true` makes what the future did
                // before it woke visible to the poll below.
                woken.queued.swap(false, Ordering::SeqCst);
                match Pin::new(future).poll(&mut Context::from_waker(waker)) {
                    Poll::Ready(output) => output,
                    Poll::Pending => return None,
                }
            }
            Entry::Done(_) => match mem::replace(self, Entry::Yielded) {
                Entry::Done(output) => output,
                _ => unreachable!("matched Done above"),
            },
            Entry::Yielded => return None,
        };
        *self = Entry::Yielded;
        Some(output)
    }
}

/// Positions whose futures woke and are not yet looked at, shared with every [`Woken`].
struct Ready {
    queue: Mutex<Queue>,
}

struct Queue {
    /// In the order they woke; a position may be here twice, or after it was yielded.
    indices: VecDeque<usize>,
    /// The iterator's waiting thread, while it waits on an empty queue.
    consumer: Option<Waker>,
}

impl Ready {
    /// The oldest woken position; with none, `consumer` (if any) is woken by the next wake.
    fn pop(&self, consumer: Option<&Waker>) -> Option<usize> {
        let mut queue = lock(&self.queue);
        let index = queue.indices.pop_front();
        if index.is_none() {
            if let Some(consumer) = consumer {
                queue.consumer = Some(consumer.clone());
            }
        }
        index
    }
}

/// The waker given to the future at `index`.
struct Woken {
    index: usize,
    /// Whether the index waits in the queue already: however often a future wakes between
    /// two polls, the queue holds it once, so it never grows past the number of futures.
    queued: AtomicBool,
    ready: Arc<Ready>,
}

impl Wake for Woken {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.queued.swap(true, Ordering::SeqCst) {
            return;
        }
        let consumer = {
            let mut queue = lock(&self.ready.queue);
            queue.indices.push_back(self.index);
            queue.consumer.take()
        };
        // Outside the lock: waking may run any code.
        if let Some(consumer) = consumer {
            consumer.wake();
        }
    }
}

impl<F: Future + Unpin> Iterator for AsCompleted<F> {
    type Item = (usize, F::Output);

    /// The next future to finish, with its position in the input; blocks until one does.
    ///
    /// # Panics
    ///
    /// If polling that future panics.
    fn next(&mut self) -> Option<Self::Item> {
        let mut waiter: Option<Waiter> = None;
        while self.remaining > 0 {
            match self.ready.pop(waiter.as_ref().map(Waiter::waker)) {
                // A spurious wake leaves its future pending, and a wake after the output was
                // taken finds nothing: both just look at the queue again.
                Some(index) => {
                    if let Some(output) = self.entries[index].take_output() {
                        self.remaining -= 1;
                        return Some((index, output));
                    }
                }
                None => match &waiter {
                    // Registered as the consumer by that `pop`: the next wake wakes it.
                    Some(waiter) => {
                        waiter.wait(None);
                    }
                    // Made only once the queue runs dry, then looked at again.
                    None => waiter = Some(Waiter::new()),
                },
            }
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<F: Future + Unpin> ExactSizeIterator for AsCompleted<F> {}

impl<F: Future> fmt::Debug for AsCompleted<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted")
            .field("remaining", &self.remaining)
            .field("total", &self.entries.len())
            .finish_non_exhaustive()
    }
}
