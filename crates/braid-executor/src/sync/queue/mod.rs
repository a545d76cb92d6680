//! [`Queue`]: a FIFO queue with back-pressure, like `asyncio.Queue`.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

use super::wait_list::{locked, WaitKey, WaitList};

mod error;
#[cfg(test)]
mod test;

pub use error::{GetError, PutError, TryGetError, TryPutError};

/// A first-in, first-out queue shared by tasks: braid's `asyncio.Queue`.
///
/// [`put`](Queue::put) waits while the queue is full, which slows producers down to the
/// pace of the consumers; [`get`](Queue::get) waits while it is empty. A `maxsize` of 0
/// makes the queue unbounded: `put` then never waits.
///
/// The queue is borrowed by its futures: share it between tasks through an `Rc` or `Arc`.
/// It is `Send + Sync` when `T: Send`, so producers and consumers may run on different
/// threads or executors.
///
/// # Fairness and cancellation
///
/// Waiting `get`s are served in the order they started, and so are waiting `put`s; an
/// item put while a `get` waits goes straight to the oldest waiting `get`. Dropping a
/// future never loses or duplicates an item:
///
/// - a [`GetFuture`] dropped after an item was handed to it passes the item to the next
///   waiting `get`, or puts it back at the front of the queue;
/// - a [`PutFuture`] that has not returned `Ready` has not put its item (dropping it drops
///   the item); if room had been kept for it, the room goes to the next waiting `put`.
///
/// # Closing
///
/// [`close`](Queue::close) stops the queue from accepting items (like Python 3.13's
/// `Queue.shutdown()`): `put` and `try_put` fail and give the item back, waiting `put`s
/// wake up with that error, and `get` goes on returning the items already in the queue,
/// then [`GetError`]. Waiting `get`s of an empty queue wake up with `GetError` at once.
///
/// # Examples
///
/// A producer thread fills a bounded queue while the consumer waits for items:
///
/// ```
/// use braid_executor::sync::Queue;
/// use std::sync::Arc;
///
/// # use braid_threadpool::block_on;
/// let queue = Arc::new(Queue::new(4));
/// let producer = {
///     let queue = Arc::clone(&queue);
///     std::thread::spawn(move || {
///         block_on(async {
///             for n in 1..=100 {
///                 queue.put(n).await.expect("the queue is closed only below");
///             }
///             queue.close();
///         })
///     })
/// };
/// let total = block_on(async {
///     let mut total = 0;
///     while let Ok(n) = queue.get().await {
///         total += n;
///     }
///     total
/// });
/// producer.join().unwrap();
/// assert_eq!(total, 5050);
/// ```
pub struct Queue<T> {
    maxsize: usize,
    state: Mutex<QueueState<T>>,
}

/// What is handed to a waiting `get`.
enum GetterWake<T> {
    Item(T),
    Closed,
}

/// What is handed to a waiting `put`.
enum PutterWake {
    /// Room for one item is kept for this `put`.
    Room,
    Closed,
}

/// The queue behind its mutex.
///
/// Room is counted as `items.len() + handed + reserved`: items handed to a `get` that has
/// not collected them yet still fill the queue (as in asyncio, where a woken getter takes
/// its item when it runs), and room promised to a woken `put` is already taken.
/// Invariants, checked in debug builds after every change:
/// - a `get` waits only while `items` is empty;
/// - a `put` waits only while the room is all taken (`maxsize > 0`).
struct QueueState<T> {
    items: VecDeque<T>,
    /// Items handed to notified getters that have not collected them.
    handed: usize,
    /// Room kept for notified putters that have not put yet.
    reserved: usize,
    getters: WaitList<GetterWake<T>>,
    putters: WaitList<PutterWake>,
    closed: bool,
}

impl<T> QueueState<T> {
    fn occupied(&self) -> usize {
        self.items.len() + self.handed + self.reserved
    }

    fn has_room(&self, maxsize: usize) -> bool {
        maxsize == 0 || self.occupied() < maxsize
    }

    /// Adds an item whose room is already accounted for: the oldest waiting `get` gets it
    /// directly. Returns the waker to wake once the mutex is released.
    ///
    /// Always inlined: as a call of its own (it has three callers, so the compiler would
    /// keep it out of line) it costs a frame on every put, more than the work it does.
    #[inline(always)]
    fn insert(&mut self, item: T) -> Option<Waker> {
        if self.getters.is_empty() {
            self.items.push_back(item);
            None
        } else {
            self.handed += 1;
            self.getters.notify_front(GetterWake::Item(item))
        }
    }

    /// One unit of room was freed: keep it for the oldest waiting `put`, if any.
    fn free_room(&mut self) -> Option<Waker> {
        let waker = self.putters.notify_front(PutterWake::Room);
        if waker.is_some() {
            self.reserved += 1;
        }
        waker
    }

    fn check(&self, maxsize: usize) {
        debug_assert!(self.getters.is_empty() || self.items.is_empty());
        debug_assert!(
            self.putters.is_empty() || (maxsize > 0 && self.occupied() == maxsize),
            "a put waits while there is room"
        );
        debug_assert!(!self.closed || (self.getters.is_empty() && self.putters.is_empty()));
    }
}

#[inline]
fn wake(waker: Option<Waker>) {
    if let Some(waker) = waker {
        waker.wake();
    }
}

impl<T> Queue<T> {
    /// Creates a queue that holds at most `maxsize` items; 0 means no limit.
    ///
    /// Allocates nothing until the first item is stored.
    ///
    /// # Examples
    ///
    /// ```
    /// use braid_executor::sync::Queue;
    ///
    /// let bounded = Queue::<u32>::new(100);
    /// assert_eq!(bounded.maxsize(), 100);
    /// let unbounded = Queue::<u32>::new(0);
    /// assert!(!unbounded.is_full());
    /// ```
    pub const fn new(maxsize: usize) -> Self {
        Self {
            maxsize,
            state: Mutex::new(QueueState {
                items: VecDeque::new(),
                handed: 0,
                reserved: 0,
                getters: WaitList::new(),
                putters: WaitList::new(),
                closed: false,
            }),
        }
    }

    /// The most items the queue holds; 0 means no limit.
    pub fn maxsize(&self) -> usize {
        self.maxsize
    }

    /// Number of items put and not yet taken by a `get` (an item handed to a waiting `get`
    /// counts until that `get` returns it).
    pub fn len(&self) -> usize {
        let state = locked(&self.state);
        state.items.len() + state.handed
    }

    /// Whether [`len`](Queue::len) is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a `put` would wait now: the queue is bounded and its room is all taken
    /// (by items, or kept for `put`s that were woken and will complete).
    pub fn is_full(&self) -> bool {
        self.maxsize != 0 && locked(&self.state).occupied() >= self.maxsize
    }

    /// Whether [`close`](Queue::close) was called.
    pub fn is_closed(&self) -> bool {
        locked(&self.state).closed
    }

    /// Puts `item` at the back of the queue without waiting.
    ///
    /// # Errors
    ///
    /// Gives the item back in [`TryPutError::Full`] when the queue is full or earlier
    /// `put`s are waiting for room (they go first), and in [`TryPutError::Closed`] after
    /// [`close`](Queue::close).
    ///
    /// # Examples
    ///
    /// ```
    /// use braid_executor::sync::{Queue, TryPutError};
    ///
    /// let queue = Queue::new(1);
    /// assert_eq!(queue.try_put('a'), Ok(()));
    /// assert_eq!(queue.try_put('b'), Err(TryPutError::Full('b')));
    /// queue.close();
    /// assert_eq!(queue.try_put('c').unwrap_err().into_inner(), 'c');
    /// ```
    pub fn try_put(&self, item: T) -> Result<(), TryPutError<T>> {
        let mut state = locked(&self.state);
        if state.closed {
            return Err(TryPutError::Closed(item));
        }
        if !state.putters.is_empty() || !state.has_room(self.maxsize) {
            return Err(TryPutError::Full(item));
        }
        let waker = state.insert(item);
        state.check(self.maxsize);
        drop(state);
        wake(waker);
        Ok(())
    }

    /// Takes the item at the front of the queue without waiting.
    ///
    /// # Errors
    ///
    /// [`TryGetError::Empty`] when no item is ready, [`TryGetError::Closed`] when the queue
    /// is closed and drained.
    ///
    /// # Examples
    ///
    /// ```
    /// use braid_executor::sync::{Queue, TryGetError};
    ///
    /// let queue = Queue::new(0);
    /// assert_eq!(queue.try_get(), Err(TryGetError::Empty));
    /// queue.try_put(7).unwrap();
    /// queue.close();
    /// assert_eq!(queue.try_get(), Ok(7));
    /// assert_eq!(queue.try_get(), Err(TryGetError::Closed));
    /// ```
    pub fn try_get(&self) -> Result<T, TryGetError> {
        let mut state = locked(&self.state);
        match state.items.pop_front() {
            Some(item) => {
                let waker = state.free_room();
                state.check(self.maxsize);
                drop(state);
                wake(waker);
                Ok(item)
            }
            None if state.closed => Err(TryGetError::Closed),
            None => Err(TryGetError::Empty),
        }
    }

    /// Puts `item` at the back of the queue, waiting for room while the queue is full.
    ///
    /// # Errors
    ///
    /// The future gives the item back in a [`PutError`] if the queue is closed before the
    /// item could be put.
    ///
    /// # Cancellation
    ///
    /// Dropping the future before it completes puts nothing; the item is dropped with it.
    ///
    /// # Examples
    ///
    /// ```
    /// use braid_executor::sync::Queue;
    ///
    /// # use braid_threadpool::block_on;
    /// let queue = Queue::new(2);
    /// block_on(async {
    ///     queue.put("first").await.unwrap();
    ///     queue.put("second").await.unwrap();
    ///     assert!(queue.is_full());
    /// });
    /// ```
    pub fn put(&self, item: T) -> PutFuture<'_, T> {
        PutFuture {
            queue: self,
            item: Some(item),
            key: None,
        }
    }

    /// Takes the item at the front of the queue, waiting while the queue is empty.
    ///
    /// # Errors
    ///
    /// The future returns [`GetError`] once the queue is closed and every item was taken.
    ///
    /// # Cancellation
    ///
    /// Dropping the future never loses an item: one that had already been handed to it goes
    /// to the next waiting `get`, or back to the front of the queue.
    ///
    /// # Examples
    ///
    /// ```
    /// use braid_executor::sync::{GetError, Queue};
    ///
    /// # use braid_threadpool::block_on;
    /// let queue = Queue::new(0);
    /// queue.try_put(1).unwrap();
    /// queue.close();
    /// block_on(async {
    ///     assert_eq!(queue.get().await, Ok(1));
    ///     assert_eq!(queue.get().await, Err(GetError));
    /// });
    /// ```
    pub fn get(&self) -> GetFuture<'_, T> {
        GetFuture {
            queue: self,
            state: GetState::Start,
        }
    }

    /// Closes the queue: no item is accepted any more, waiting `put`s fail and give their
    /// items back, and `get` returns the items left, then [`GetError`].
    ///
    /// Closing twice does nothing more.
    pub fn close(&self) {
        let mut state = locked(&self.state);
        if state.closed {
            return;
        }
        state.closed = true;
        let mut wakers = state.getters.notify_all(|| GetterWake::Closed);
        wakers.extend(state.putters.notify_all(|| PutterWake::Closed));
        state.check(self.maxsize);
        drop(state);
        wakers.into_iter().for_each(Waker::wake);
    }

    /// A waiting `put` was dropped: frees its slot, and passes on the room kept for it, if
    /// any, to the next waiting `put`.
    #[inline(never)]
    fn give_up_put(&self, key: WaitKey) {
        let mut state = locked(&self.state);
        if let Some(PutterWake::Room) = state.putters.remove(key) {
            state.reserved -= 1;
            let waker = state.free_room();
            state.check(self.maxsize);
            drop(state);
            wake(waker);
        }
    }

    /// A waiting `get` was dropped: frees its slot, and passes on the item handed to it, if
    /// any, keeping its place: it was the oldest one when handed out.
    #[inline(never)]
    fn give_up_get(&self, key: WaitKey) {
        let mut state = locked(&self.state);
        if let Some(GetterWake::Item(item)) = state.getters.remove(key) {
            state.handed -= 1;
            let waker = if state.getters.is_empty() {
                state.items.push_front(item);
                None
            } else {
                state.handed += 1;
                state.getters.notify_front(GetterWake::Item(item))
            };
            state.check(self.maxsize);
            drop(state);
            wake(waker);
        }
    }
}

impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = locked(&self.state);
        f.debug_struct("Queue")
            .field("maxsize", &self.maxsize)
            .field("len", &(state.items.len() + state.handed))
            .field("waiting_gets", &state.getters.len())
            .field("waiting_puts", &state.putters.len())
            .field("closed", &state.closed)
            .finish()
    }
}

/// The future of [`Queue::put`].
#[must_use = "futures do nothing unless polled"]
pub struct PutFuture<'a, T> {
    queue: &'a Queue<T>,
    /// The item, until it is put or given back.
    item: Option<T>,
    /// The slot among the waiting `put`s, while waiting.
    key: Option<WaitKey>,
}

// The item is moved, never pinned.
impl<T> Unpin for PutFuture<'_, T> {}

impl<T> Future for PutFuture<'_, T> {
    type Output = Result<(), PutError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let maxsize = this.queue.maxsize;
        let mut state = locked(&this.queue.state);
        match this.key.take() {
            None => {
                let item = this
                    .item
                    .take()
                    .expect("`PutFuture` polled after completion");
                if state.closed {
                    return Poll::Ready(Err(PutError(item)));
                }
                if !state.putters.is_empty() || !state.has_room(maxsize) {
                    this.item = Some(item);
                    this.key = Some(state.putters.push_back(cx.waker().clone()));
                    state.check(maxsize);
                    return Poll::Pending;
                }
                let waker = state.insert(item);
                state.check(maxsize);
                drop(state);
                wake(waker);
                Poll::Ready(Ok(()))
            }
            Some(key) => match state.putters.poll_notified(key, cx.waker()) {
                Err(key) => {
                    this.key = Some(key);
                    Poll::Pending
                }
                Ok(wake_reason) => {
                    let item = this.item.take().expect("a waiting put holds its item");
                    if let PutterWake::Room = wake_reason {
                        state.reserved -= 1;
                        if !state.closed {
                            let waker = state.insert(item);
                            state.check(maxsize);
                            drop(state);
                            wake(waker);
                            return Poll::Ready(Ok(()));
                        }
                    }
                    Poll::Ready(Err(PutError(item)))
                }
            },
        }
    }
}

impl<T> Drop for PutFuture<'_, T> {
    /// Inlined: almost every put is dropped after it completed, with nothing to do, and the
    /// code for a waiting one (out of line) would otherwise make every drop a call.
    #[inline]
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.queue.give_up_put(key);
        }
    }
}

impl<T> fmt::Debug for PutFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PutFuture")
            .field("waiting", &self.key.is_some())
            .field("done", &self.item.is_none())
            .finish_non_exhaustive()
    }
}

enum GetState {
    Start,
    Waiting(WaitKey),
    Done,
}

/// The future of [`Queue::get`].
#[must_use = "futures do nothing unless polled"]
pub struct GetFuture<'a, T> {
    queue: &'a Queue<T>,
    state: GetState,
}

impl<T> Future for GetFuture<'_, T> {
    type Output = Result<T, GetError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let maxsize = this.queue.maxsize;
        let mut state = locked(&this.queue.state);
        // Matched in place rather than taken out: a first poll writes the state only once.
        match this.state {
            GetState::Start => {
                if let Some(item) = state.items.pop_front() {
                    this.state = GetState::Done;
                    let waker = state.free_room();
                    state.check(maxsize);
                    drop(state);
                    wake(waker);
                    Poll::Ready(Ok(item))
                } else if state.closed {
                    this.state = GetState::Done;
                    Poll::Ready(Err(GetError))
                } else {
                    this.state = GetState::Waiting(state.getters.push_back(cx.waker().clone()));
                    Poll::Pending
                }
            }
            GetState::Waiting(_) => {
                let GetState::Waiting(key) = std::mem::replace(&mut this.state, GetState::Done)
                else {
                    unreachable!("matched just above")
                };
                match state.getters.poll_notified(key, cx.waker()) {
                    Err(key) => {
                        this.state = GetState::Waiting(key);
                        Poll::Pending
                    }
                    Ok(GetterWake::Item(item)) => {
                        state.handed -= 1;
                        let waker = state.free_room();
                        state.check(maxsize);
                        drop(state);
                        wake(waker);
                        Poll::Ready(Ok(item))
                    }
                    Ok(GetterWake::Closed) => Poll::Ready(Err(GetError)),
                }
            }
            GetState::Done => panic!("`GetFuture` polled after completion"),
        }
    }
}

impl<T> Drop for GetFuture<'_, T> {
    /// Inlined, like `PutFuture`'s: a get that completed has nothing to give back.
    #[inline]
    fn drop(&mut self) {
        if let GetState::Waiting(key) = std::mem::replace(&mut self.state, GetState::Done) {
            self.queue.give_up_get(key);
        }
    }
}

impl<T> fmt::Debug for GetFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            GetState::Start => "start",
            GetState::Waiting(_) => "waiting",
            GetState::Done => "done",
        };
        f.debug_struct("GetFuture")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}
