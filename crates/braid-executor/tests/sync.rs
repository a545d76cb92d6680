//! Integration tests of `braid_executor::sync`: ordering, back-pressure, closing,
//! cancellation at every await point, and use from several threads.
//!
//! The tests bring their own executors so that they depend on nothing but the
//! primitives: [`Pool`] runs many tasks on one thread and lets a test step through them
//! and drop any of them between steps; [`block_on`] parks a thread until woken and fails
//! the test if a wake-up never comes.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use braid_executor::sync::{
    Event, GetError, Lock, PutError, Queue, Semaphore, TryGetError, TryPutError,
};

// ---------------------------------------------------------------------------------------
// Test executors
// ---------------------------------------------------------------------------------------

/// Ids of woken tasks, in wake order.
#[derive(Default)]
struct ReadyQueue(Mutex<VecDeque<usize>>);

struct TaskWaker {
    id: usize,
    ready: Arc<ReadyQueue>,
    /// Whether the task is in the ready queue; a task is queued once however often woken.
    queued: AtomicBool,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::SeqCst) {
            self.ready.0.lock().unwrap().push_back(self.id);
        }
    }
}

type LocalTask = Pin<Box<dyn Future<Output = ()>>>;

/// A single-threaded executor that runs woken tasks in the order they were woken, one
/// `step` at a time, and can drop (cancel) any task between steps.
#[derive(Default)]
struct Pool {
    tasks: Vec<Option<LocalTask>>,
    wakers: Vec<Arc<TaskWaker>>,
    ready: Arc<ReadyQueue>,
}

impl Pool {
    fn spawn(&mut self, future: impl Future<Output = ()> + 'static) -> usize {
        let id = self.tasks.len();
        let waker = Arc::new(TaskWaker {
            id,
            ready: Arc::clone(&self.ready),
            queued: AtomicBool::new(false),
        });
        waker.wake_by_ref();
        self.tasks.push(Some(Box::pin(future)));
        self.wakers.push(waker);
        id
    }

    /// Polls the next woken task; false when no task is woken.
    fn step(&mut self) -> bool {
        let Some(id) = self.ready.0.lock().unwrap().pop_front() else {
            return false;
        };
        let task_waker = &self.wakers[id];
        task_waker.queued.store(false, Ordering::SeqCst);
        if let Some(task) = &mut self.tasks[id] {
            let waker = Waker::from(Arc::clone(task_waker));
            if task
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_ready()
            {
                self.tasks[id] = None;
            }
        }
        true
    }

    fn run_until_stalled(&mut self) {
        while self.step() {}
    }

    /// Runs until every task finished; fails if some are left waiting with none woken.
    fn run(&mut self) {
        self.run_until_stalled();
        assert_eq!(self.alive(), 0, "tasks wait for a wake-up that never comes");
    }

    /// Drops the task's future where it stands; returns whether it had been woken and
    /// not yet polled again.
    fn cancel(&mut self, id: usize) -> bool {
        self.tasks[id] = None;
        self.wakers[id].queued.load(Ordering::SeqCst)
    }

    /// Drops a random task among those woken and not yet polled again, the moment at
    /// which a task may already have been handed an item, a lock or a permit; returns
    /// whether there was one.
    fn cancel_a_woken_task(&mut self, random: &mut Random) -> bool {
        let woken: Vec<usize> = {
            let ready = self.ready.0.lock().unwrap();
            ready
                .iter()
                .copied()
                .filter(|&id| self.is_alive(id))
                .collect()
        };
        if woken.is_empty() {
            return false;
        }
        self.cancel(woken[random.below(woken.len())]);
        true
    }

    /// Polls woken tasks until none is left, cancelling now and then one of `ids` at random
    /// and, as often, a task that was woken but not yet polled again; returns how many of
    /// the latter were cancelled.
    fn run_cancelling_at_random(&mut self, ids: &[usize], random: &mut Random) -> usize {
        let mut cancelled = 0;
        loop {
            match random.below(6) {
                0 => {
                    let id = ids[random.below(ids.len())];
                    if self.is_alive(id) {
                        self.cancel(id);
                    }
                }
                1 if self.cancel_a_woken_task(random) => cancelled += 1,
                _ if !self.step() => return cancelled,
                _ => {}
            }
        }
    }

    fn is_alive(&self, id: usize) -> bool {
        self.tasks[id].is_some()
    }

    fn alive(&self) -> usize {
        self.tasks.iter().filter(|task| task.is_some()).count()
    }
}

/// Lets the other woken tasks run before this one goes on.
async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await;
}

struct Unpark {
    thread: thread::Thread,
    woken: AtomicBool,
}

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.thread.unpark();
    }
}

/// Runs a future on this thread. It is polled again only after its waker was called, so
/// a lost wake-up fails the test (after a generous hang guard) instead of being papered
/// over by a timed re-poll.
fn block_on<F: Future>(future: F) -> F::Output {
    const HANG_GUARD: Duration = Duration::from_secs(60);
    let unpark = Arc::new(Unpark {
        thread: thread::current(),
        woken: AtomicBool::new(false),
    });
    let waker = Waker::from(Arc::clone(&unpark));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        let deadline = Instant::now() + HANG_GUARD;
        while !unpark.woken.swap(false, Ordering::SeqCst) {
            let now = Instant::now();
            assert!(now < deadline, "a pending future was never woken");
            thread::park_timeout(deadline - now);
        }
    }
}

/// A deterministic xorshift generator, so that a failing run can be replayed.
struct Random(u64);

impl Random {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

// ---------------------------------------------------------------------------------------
// Queue
// ---------------------------------------------------------------------------------------

#[test]
fn waiting_gets_are_served_in_the_order_they_started() {
    let queue = Rc::new(Queue::new(0));
    let log = Rc::new(RefCell::new(Vec::new()));
    let mut pool = Pool::default();
    for getter in 0..5 {
        let (queue, log) = (Rc::clone(&queue), Rc::clone(&log));
        pool.spawn(async move {
            let item = queue.get().await.unwrap();
            log.borrow_mut().push((getter, item));
        });
    }
    pool.run_until_stalled();
    assert!(log.borrow().is_empty());
    let producer = Rc::clone(&queue);
    pool.spawn(async move {
        for item in 0..5 {
            producer.put(item * 10).await.unwrap();
        }
    });
    pool.run();
    assert_eq!(*log.borrow(), [(0, 0), (1, 10), (2, 20), (3, 30), (4, 40)]);
}

#[test]
fn waiting_puts_are_served_in_the_order_they_started() {
    let queue = Rc::new(Queue::new(1));
    queue.try_put(-1).unwrap();
    let mut pool = Pool::default();
    for item in 0..5 {
        let queue = Rc::clone(&queue);
        pool.spawn(async move { queue.put(item).await.unwrap() });
    }
    pool.run_until_stalled();
    assert_eq!(pool.alive(), 5);
    let received = Rc::new(RefCell::new(Vec::new()));
    let (consumer, sink) = (Rc::clone(&queue), Rc::clone(&received));
    pool.spawn(async move {
        for _ in 0..6 {
            let item = consumer.get().await.unwrap();
            sink.borrow_mut().push(item);
        }
    });
    pool.run();
    assert_eq!(*received.borrow(), [-1, 0, 1, 2, 3, 4]);
}

#[test]
fn a_bounded_queue_holds_back_its_producer_until_items_are_taken() {
    let queue = Rc::new(Queue::new(3));
    let produced = Rc::new(Cell::new(0));
    let mut pool = Pool::default();
    let (producer, count) = (Rc::clone(&queue), Rc::clone(&produced));
    pool.spawn(async move {
        for item in 0..10 {
            producer.put(item).await.unwrap();
            count.set(count.get() + 1);
        }
        producer.close();
    });
    pool.run_until_stalled();
    assert_eq!(produced.get(), 3, "the fourth put waits for room");
    assert!(queue.is_full());
    assert_eq!(queue.len(), 3);

    assert_eq!(queue.try_get(), Ok(0));
    pool.run_until_stalled();
    assert_eq!(produced.get(), 4, "one item taken lets exactly one more in");
    assert_eq!(queue.len(), 3);

    let received = Rc::new(RefCell::new(Vec::new()));
    let (consumer, sink) = (Rc::clone(&queue), Rc::clone(&received));
    pool.spawn(async move {
        while let Ok(item) = consumer.get().await {
            assert!(consumer.len() <= 3);
            sink.borrow_mut().push(item);
        }
    });
    pool.run();
    assert_eq!(*received.borrow(), (1..10).collect::<Vec<_>>());
}

#[test]
fn close_lets_gets_drain_then_reports_closed() {
    let queue = Queue::new(0);
    for item in ["a", "b", "c"] {
        queue.try_put(item).unwrap();
    }
    queue.close();
    queue.close();
    assert_eq!(queue.try_put("d"), Err(TryPutError::Closed("d")));
    let drained = block_on(async {
        let mut drained = Vec::new();
        while let Ok(item) = queue.get().await {
            drained.push(item);
        }
        drained
    });
    assert_eq!(drained, ["a", "b", "c"]);
    assert_eq!(block_on(queue.get()), Err(GetError));
    assert_eq!(queue.try_get(), Err(TryGetError::Closed));
    assert_eq!(block_on(queue.put("e")), Err(PutError("e")));
}

#[test]
fn close_wakes_waiting_gets_and_puts() {
    let empty = Rc::new(Queue::<u32>::new(2));
    let full = Rc::new(Queue::new(1));
    full.try_put(0).unwrap();
    let outcomes = Rc::new(RefCell::new(Vec::new()));
    let mut pool = Pool::default();
    for _ in 0..3 {
        let (queue, outcomes) = (Rc::clone(&empty), Rc::clone(&outcomes));
        pool.spawn(async move {
            let outcome = queue.get().await.map_err(|error| error.to_string());
            outcomes.borrow_mut().push(format!("get: {outcome:?}"));
        });
    }
    for item in 1..=2 {
        let (queue, outcomes) = (Rc::clone(&full), Rc::clone(&outcomes));
        pool.spawn(async move {
            let returned = queue.put(item).await.unwrap_err().into_inner();
            outcomes
                .borrow_mut()
                .push(format!("put gave back {returned}"));
        });
    }
    pool.run_until_stalled();
    assert_eq!(pool.alive(), 5);
    empty.close();
    full.close();
    pool.run();
    let closed = "get: Err(\"the queue is closed and has no items left; stop consuming\")";
    assert_eq!(
        *outcomes.borrow(),
        [closed, closed, closed, "put gave back 1", "put gave back 2"]
    );
    assert_eq!(full.try_get(), Ok(0), "items put before close still drain");
    assert_eq!(full.try_get(), Err(TryGetError::Closed));
}

/// 1,000 items go through a small queue while consumers are cancelled at random, often
/// right after they were handed an item and before they ran again: every item arrives
/// exactly once.
#[test]
fn a_thousand_items_survive_random_cancellation_of_consumers() {
    const ITEMS: u32 = 1_000;
    const CONSUMERS: usize = 6;
    let queue = Rc::new(Queue::new(4));
    let received = Rc::new(RefCell::new(Vec::new()));
    let mut pool = Pool::default();
    let producer = Rc::clone(&queue);
    pool.spawn(async move {
        for item in 0..ITEMS {
            producer.put(item).await.unwrap();
            if item % 7 == 0 {
                yield_now().await;
            }
        }
        producer.close();
    });
    let spawn_consumer = |pool: &mut Pool| {
        let (queue, received) = (Rc::clone(&queue), Rc::clone(&received));
        pool.spawn(async move {
            while let Ok(item) = queue.get().await {
                received.borrow_mut().push(item);
                yield_now().await;
            }
        })
    };
    let mut consumers: Vec<usize> = (0..CONSUMERS).map(|_| spawn_consumer(&mut pool)).collect();
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    let mut cancelled_after_wake = 0;
    let mut steps = 0;
    while pool.alive() > 0 {
        steps += 1;
        assert!(steps < 1_000_000, "the queue stopped making progress");
        if random.below(4) == 0 {
            let slot = random.below(CONSUMERS);
            if pool.is_alive(consumers[slot]) {
                if pool.cancel(consumers[slot]) {
                    cancelled_after_wake += 1;
                }
                consumers[slot] = spawn_consumer(&mut pool);
            }
        } else if !pool.step() {
            break;
        }
    }
    assert_eq!(pool.alive(), 0, "tasks wait for a wake-up that never comes");
    assert!(
        cancelled_after_wake > 10,
        "the test did not cancel woken consumers"
    );
    let mut received = received.take();
    received.sort_unstable();
    assert_eq!(received, (0..ITEMS).collect::<Vec<_>>());
}

/// Producers blocked on a full queue are cancelled at random, often right after room was
/// kept for them: exactly the items whose `put` completed come out, and the room of a
/// cancelled producer goes to the next one.
#[test]
fn cancelled_producers_put_nothing_and_pass_their_room_on() {
    let queue = Rc::new(Queue::new(2));
    let sent = Rc::new(RefCell::new(Vec::new()));
    let received = Rc::new(RefCell::new(Vec::new()));
    let mut pool = Pool::default();
    let producers: Vec<usize> = (0..500)
        .map(|item| {
            let (queue, sent) = (Rc::clone(&queue), Rc::clone(&sent));
            pool.spawn(async move {
                queue.put(item).await.unwrap();
                sent.borrow_mut().push(item);
            })
        })
        .collect();
    let (consumer_queue, sink) = (Rc::clone(&queue), Rc::clone(&received));
    let consumer = pool.spawn(async move {
        while let Ok(item) = consumer_queue.get().await {
            sink.borrow_mut().push(item);
            yield_now().await;
        }
    });
    let mut random = Random(0x0123_4567_89ab_cdef);
    let mut cancelled = 0;
    while producers.iter().any(|&id| pool.is_alive(id)) {
        match random.below(5) {
            0 => {
                let id = producers[random.below(producers.len())];
                if pool.is_alive(id) {
                    pool.cancel(id);
                }
            }
            1 => {
                let woken: Vec<_> = producers
                    .iter()
                    .copied()
                    .filter(|&id| {
                        pool.is_alive(id) && pool.wakers[id].queued.load(Ordering::SeqCst)
                    })
                    .collect();
                if !woken.is_empty() {
                    pool.cancel(woken[random.below(woken.len())]);
                    cancelled += 1;
                }
            }
            _ => assert!(pool.step(), "producers wait for room that never comes"),
        }
    }
    queue.close();
    pool.run();
    assert!(!pool.is_alive(consumer));
    assert!(cancelled > 10, "the test did not cancel woken producers");
    let (mut sent, mut received) = (sent.take(), received.take());
    sent.sort_unstable();
    received.sort_unstable();
    assert!(sent.len() > 100);
    assert_eq!(sent, received);
}

#[test]
fn a_producer_thread_feeds_a_blocked_consumer() {
    const ITEMS: u64 = 20_000;
    let queue = Arc::new(Queue::new(8));
    let producer = {
        let queue = Arc::clone(&queue);
        thread::spawn(move || {
            block_on(async {
                for item in 0..ITEMS {
                    queue.put(item).await.unwrap();
                }
            });
            queue.close();
        })
    };
    let mut expected = 0;
    block_on(async {
        while let Ok(item) = queue.get().await {
            assert_eq!(item, expected, "items arrive in order");
            expected += 1;
        }
    });
    producer.join().unwrap();
    assert_eq!(expected, ITEMS);
}

#[test]
fn several_producer_and_consumer_threads_share_a_queue() {
    const PER_PRODUCER: usize = 5_000;
    let queue = Arc::new(Queue::new(4));
    let producers: Vec<_> = (0..3)
        .map(|producer| {
            let queue = Arc::clone(&queue);
            thread::spawn(move || {
                block_on(async {
                    for n in 0..PER_PRODUCER {
                        queue.put(producer * PER_PRODUCER + n).await.unwrap();
                    }
                })
            })
        })
        .collect();
    let consumers: Vec<_> = (0..3)
        .map(|_| {
            let queue = Arc::clone(&queue);
            thread::spawn(move || {
                block_on(async {
                    let mut items = Vec::new();
                    while let Ok(item) = queue.get().await {
                        items.push(item);
                    }
                    items
                })
            })
        })
        .collect();
    producers.into_iter().for_each(|p| p.join().unwrap());
    queue.close();
    let mut all: Vec<_> = consumers
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..3 * PER_PRODUCER).collect::<Vec<_>>());
}

// ---------------------------------------------------------------------------------------
// Lock
// ---------------------------------------------------------------------------------------

#[test]
fn the_lock_excludes_across_many_tasks_and_awaits() {
    const TASKS: usize = 50;
    const ROUNDS: usize = 20;
    let lock = Rc::new(Lock::new(0));
    let holders = Rc::new(Cell::new(0));
    let mut pool = Pool::default();
    for _ in 0..TASKS {
        let (lock, holders) = (Rc::clone(&lock), Rc::clone(&holders));
        pool.spawn(async move {
            for _ in 0..ROUNDS {
                let mut guard = lock.lock().await;
                holders.set(holders.get() + 1);
                assert_eq!(holders.get(), 1, "two tasks hold the lock");
                let read = *guard;
                yield_now().await;
                yield_now().await;
                *guard = read + 1;
                holders.set(holders.get() - 1);
            }
        });
    }
    pool.run();
    assert_eq!(*lock.try_lock().unwrap(), TASKS * ROUNDS);
}

#[test]
fn the_lock_is_handed_over_in_the_order_tasks_asked() {
    let lock = Rc::new(Lock::new(Vec::new()));
    let guard = lock.try_lock().unwrap();
    let mut pool = Pool::default();
    for task in 0..6 {
        let lock = Rc::clone(&lock);
        pool.spawn(async move { lock.lock().await.push(task) });
    }
    pool.run_until_stalled();
    drop(guard);
    pool.run();
    assert_eq!(*lock.try_lock().unwrap(), [0, 1, 2, 3, 4, 5]);
}

#[test]
fn cancelling_lock_waiters_at_random_never_strands_the_lock() {
    let lock = Rc::new(Lock::new(0_u32));
    let completed = Rc::new(Cell::new(0_u32));
    let mut pool = Pool::default();
    let mut random = Random(0x1234_5678_9abc_def1);
    let mut ids = Vec::new();
    for _ in 0..300 {
        let (lock, completed) = (Rc::clone(&lock), Rc::clone(&completed));
        ids.push(pool.spawn(async move {
            let mut guard = lock.lock().await;
            yield_now().await;
            *guard += 1;
            completed.set(completed.get() + 1);
        }));
    }
    let cancelled = pool.run_cancelling_at_random(&ids, &mut random);
    assert_eq!(pool.alive(), 0, "a waiter was left without the lock");
    assert!(cancelled > 10, "the test did not cancel woken waiters");
    assert!(!lock.is_locked());
    assert_eq!(*lock.try_lock().unwrap(), completed.get());
}

#[test]
fn threads_take_turns_with_the_lock() {
    const THREADS: usize = 4;
    const ROUNDS: usize = 2_000;
    let lock = Arc::new(Lock::new(0));
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let lock = Arc::clone(&lock);
            thread::spawn(move || {
                block_on(async {
                    for _ in 0..ROUNDS {
                        let mut guard = lock.lock().await;
                        let read = *guard;
                        thread::yield_now();
                        *guard = read + 1;
                    }
                })
            })
        })
        .collect();
    workers.into_iter().for_each(|w| w.join().unwrap());
    assert_eq!(*lock.try_lock().unwrap(), THREADS * ROUNDS);
}

// ---------------------------------------------------------------------------------------
// Semaphore
// ---------------------------------------------------------------------------------------

#[test]
fn a_semaphore_never_lets_more_tasks_in_than_its_permits() {
    const PERMITS: usize = 3;
    let semaphore = Rc::new(Semaphore::new(PERMITS));
    let inside = Rc::new(Cell::new(0));
    let most = Rc::new(Cell::new(0));
    let mut pool = Pool::default();
    for _ in 0..40 {
        let (semaphore, inside, most) =
            (Rc::clone(&semaphore), Rc::clone(&inside), Rc::clone(&most));
        pool.spawn(async move {
            for _ in 0..5 {
                let _permit = semaphore.acquire().await;
                inside.set(inside.get() + 1);
                most.set(most.get().max(inside.get()));
                assert!(inside.get() <= PERMITS, "more holders than permits");
                yield_now().await;
                inside.set(inside.get() - 1);
            }
        });
    }
    pool.run();
    assert_eq!(
        most.get(),
        PERMITS,
        "the permits were all in use at some point"
    );
    assert_eq!(semaphore.available_permits(), PERMITS);
}

#[test]
fn semaphore_waiters_are_served_in_order_and_add_permits_wakes_them() {
    let semaphore = Rc::new(Semaphore::new(0));
    let order = Rc::new(RefCell::new(Vec::new()));
    let mut pool = Pool::default();
    for task in 0..4 {
        let (semaphore, order) = (Rc::clone(&semaphore), Rc::clone(&order));
        pool.spawn(async move {
            semaphore.acquire().await.forget();
            order.borrow_mut().push(task);
        });
    }
    pool.run_until_stalled();
    assert!(semaphore.try_acquire().is_none());
    semaphore.add_permits(2);
    pool.run_until_stalled();
    assert_eq!(*order.borrow(), [0, 1]);
    semaphore.add_permits(3);
    pool.run();
    assert_eq!(*order.borrow(), [0, 1, 2, 3]);
    assert_eq!(semaphore.available_permits(), 1);
}

#[test]
fn cancelling_semaphore_waiters_at_random_loses_no_permit() {
    const PERMITS: usize = 2;
    let semaphore = Rc::new(Semaphore::new(PERMITS));
    let mut pool = Pool::default();
    let mut random = Random(0xdead_beef_cafe_f00d);
    let ids: Vec<_> = (0..300)
        .map(|_| {
            let semaphore = Rc::clone(&semaphore);
            pool.spawn(async move {
                let _permit = semaphore.acquire().await;
                yield_now().await;
            })
        })
        .collect();
    let cancelled = pool.run_cancelling_at_random(&ids, &mut random);
    assert_eq!(pool.alive(), 0, "a waiter was left without a permit");
    assert!(cancelled > 10, "the test did not cancel woken waiters");
    assert_eq!(semaphore.available_permits(), PERMITS);
}

#[test]
fn threads_never_exceed_the_permits() {
    const PERMITS: usize = 2;
    let semaphore = Arc::new(Semaphore::new(PERMITS));
    let inside = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..6)
        .map(|_| {
            let (semaphore, inside) = (Arc::clone(&semaphore), Arc::clone(&inside));
            thread::spawn(move || {
                block_on(async {
                    for _ in 0..500 {
                        let _permit = semaphore.acquire().await;
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        assert!(now <= PERMITS, "more holders than permits");
                        thread::yield_now();
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
        })
        .collect();
    workers.into_iter().for_each(|w| w.join().unwrap());
    assert_eq!(semaphore.available_permits(), PERMITS);
}

// ---------------------------------------------------------------------------------------
// Event
// ---------------------------------------------------------------------------------------

#[test]
fn setting_an_event_wakes_every_waiting_task() {
    let event = Rc::new(Event::new());
    let woken = Rc::new(Cell::new(0));
    let mut pool = Pool::default();
    for _ in 0..10 {
        let (event, woken) = (Rc::clone(&event), Rc::clone(&woken));
        pool.spawn(async move {
            event.wait().await;
            woken.set(woken.get() + 1);
        });
    }
    pool.run_until_stalled();
    assert_eq!(woken.get(), 0);
    let setter = Rc::clone(&event);
    pool.spawn(async move { setter.set() });
    pool.run();
    assert_eq!(woken.get(), 10);
    event.clear();
    assert!(!event.is_set());
}

#[test]
fn an_event_set_by_another_thread_wakes_a_blocked_waiter() {
    for _ in 0..100 {
        let event = Arc::new(Event::new());
        let setter = {
            let event = Arc::clone(&event);
            thread::spawn(move || event.set())
        };
        block_on(event.wait());
        setter.join().unwrap();
    }
}

// ---------------------------------------------------------------------------------------
// Types and errors
// ---------------------------------------------------------------------------------------

#[test]
fn primitives_and_their_futures_can_cross_threads() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: &T) {}
    let (queue, lock, event, semaphore) = (
        Queue::new(0),
        Lock::new(String::new()),
        Event::new(),
        Semaphore::new(1),
    );
    send_sync(&queue);
    send_sync(&lock);
    send_sync(&event);
    send_sync(&semaphore);
    send(&queue.put(String::new()));
    send(&queue.get());
    send(&lock.lock());
    send(&event.wait());
    send(&semaphore.acquire());
    send(&lock.try_lock());
    send(&semaphore.try_acquire());
    // A task holding a guard and a permit across awaits can still move between threads.
    let task = async {
        let _permit = semaphore.acquire().await;
        let mut guard = lock.lock().await;
        event.wait().await;
        guard.push_str(&queue.get().await.unwrap_or_default());
    };
    send(&task);
}

#[test]
fn errors_explain_themselves_and_give_items_back() {
    let errors: Vec<Box<dyn std::error::Error + Send + Sync>> = vec![
        Box::new(TryPutError::Full(1)),
        Box::new(TryPutError::Closed(1)),
        Box::new(PutError(1)),
        Box::new(TryGetError::Empty),
        Box::new(TryGetError::Closed),
        Box::new(GetError),
    ];
    for error in &errors {
        let message = error.to_string();
        assert!(message.starts_with("the queue "), "{message}");
    }
    assert!(errors[0].to_string().contains("full"));
    assert!(errors[1].to_string().contains("closed"));
    assert_eq!(TryPutError::Full(vec![1]).into_inner(), [1]);
    assert_eq!(PutError("item").into_inner(), "item");
    assert!(TryPutError::Full(()).is_full() && !TryPutError::Full(()).is_closed());
    assert!(TryPutError::Closed(()).is_closed());
    assert_eq!(format!("{:?}", TryPutError::Full(0)), "Full(..)");
}
