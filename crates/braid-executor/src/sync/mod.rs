//! Async synchronisation primitives: braid's `asyncio.Queue`, `asyncio.Lock`,
//! `asyncio.Event` and `asyncio.Semaphore`.
//!
//! | braid | Python | what it is for |
//! |-------|--------|----------------|
//! | [`Queue`] | `asyncio.Queue` | passing items from producers to consumers, with back-pressure |
//! | [`Lock`] | `asyncio.Lock` | one task at a time using a value, across `.await`s |
//! | [`Event`] | `asyncio.Event` | waking every waiting task when something has happened |
//! | [`Semaphore`] | `asyncio.Semaphore` | limiting how many tasks do something at once |
//!
//! The primitives need nothing but the [`Waker`](std::task::Waker) of the task that waits,
//! so they work on braid's event loop, under any other executor, and in a thread that
//! blocks on a future. They are `Send + Sync` (for `Queue<T>` and `Lock<T>`: when `T` is
//! `Send`), so tasks on different threads may share them. They are built for the common,
//! uncontended case: taking a free [`Lock`] or a free [`Semaphore`] permit, giving it
//! back with nobody waiting, and waiting on a set [`Event`] are single atomic operations;
//! a [`Queue`] operation takes one uncontended mutex.
//!
//! Each primitive is a plain value that its futures borrow: share it between tasks with
//! an `Rc` or an `Arc`.
//!
//! # Fairness and cancellation
//!
//! Waiters are served first come, first served: an item, a released lock or a permit goes
//! straight to the oldest waiter, and the `try_` methods do not jump ahead of waiters.
//!
//! Dropping any of these futures — because its task was cancelled, or a timeout expired —
//! is safe at every point: an item, lock or permit that had already been handed to the
//! dropped future goes on to the next waiter, and a [`Queue::put`] that did not complete
//! has not put its item.
//!
//! # Examples
//!
//! The examples below drive their futures with `block_on`, a few hidden lines that park
//! the thread until the future is woken; any executor would do.
//!
//! A bounded queue between a producer thread and a consumer, closed when the producer is
//! done:
//!
//! ```
//! use braid_executor::sync::Queue;
//! use std::sync::Arc;
//!
//! # use braid_threadpool::block_on;
//! let queue = Arc::new(Queue::new(8));
//! let producer = {
//!     let queue = Arc::clone(&queue);
//!     std::thread::spawn(move || {
//!         block_on(async {
//!             for line in ["GET /", "GET /about", "GET /favicon.ico"] {
//!                 // Waits while 8 lines are queued: the producer slows to the consumer's pace.
//!                 queue.put(line).await.expect("closed only by this producer");
//!             }
//!         });
//!         queue.close();
//!     })
//! };
//! let mut seen = Vec::new();
//! block_on(async {
//!     // `get` returns the items left after `close`, then an error.
//!     while let Ok(line) = queue.get().await {
//!         seen.push(line);
//!     }
//! });
//! producer.join().unwrap();
//! assert_eq!(seen, ["GET /", "GET /about", "GET /favicon.ico"]);
//! ```
//!
//! A [`Lock`] guards a value across `.await`s, an [`Event`] signals, and a [`Semaphore`]
//! counts permits:
//!
//! ```
//! use braid_executor::sync::{Event, Lock, Semaphore};
//!
//! # use braid_threadpool::block_on;
//! let cache = Lock::new(Vec::new());
//! let loaded = Event::new();
//! let connections = Semaphore::new(2);
//! block_on(async {
//!     let _connection = connections.acquire().await;
//!     assert_eq!(connections.available_permits(), 1);
//!     cache.lock().await.push("row");
//!     loaded.set();
//!     loaded.wait().await; // returns at once: the event is set
//! });
//! assert_eq!(connections.available_permits(), 2);
//! assert_eq!(cache.into_inner(), ["row"]);
//! ```

mod event;
mod lock;
mod queue;
mod semaphore;
mod wait_list;

#[cfg(test)]
pub(crate) mod testing;

pub use event::{Event, WaitFuture};
pub use lock::{Lock, LockFuture, LockGuard};
pub use queue::{GetError, GetFuture, PutError, PutFuture, Queue, TryGetError, TryPutError};
pub use semaphore::{AcquireFuture, Semaphore, SemaphorePermit};
