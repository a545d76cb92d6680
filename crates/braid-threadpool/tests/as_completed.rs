//! `as_completed`: outputs in finishing order, each with its position in the input.

mod common;

use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread;

use braid_threadpool::{as_completed, JoinHandle, ThreadPool};
use common::{wait_for, within_guard, Gate, HANG_GUARD};

#[test]
fn each_output_comes_with_its_inputs_position_in_finishing_order() {
    let pool = ThreadPool::new(3).unwrap();
    let (releases, handles): (Vec<mpsc::Sender<()>>, Vec<JoinHandle<usize>>) = (0..3)
        .map(|i| {
            let (release, wait) = mpsc::channel::<()>();
            let handle = pool.submit(move || {
                wait.recv_timeout(HANG_GUARD).unwrap();
                i * 10
            });
            (release, handle)
        })
        .unzip();
    let mut completed = as_completed(handles);
    assert_eq!(completed.len(), 3);
    // Each is released only after the one before it came out, so this is the finishing order.
    for (left, released) in [2, 0, 1].into_iter().enumerate() {
        releases[released].send(()).unwrap();
        let (index, result) = completed.next().unwrap();
        assert_eq!(index, released);
        assert_eq!(result.unwrap(), released * 10);
        assert_eq!(completed.len(), 2 - left);
    }
    assert!(completed.next().is_none());
}

#[test]
fn finished_cancelled_and_panicked_tasks_all_come_back() {
    let pool = ThreadPool::new(1).unwrap();
    let gate = Gate::new();
    let blocker = {
        let gate = gate.clone();
        pool.submit(move || {
            gate.wait();
            1
        })
    };
    let cancelled = pool.submit(|| 2);
    assert!(cancelled.cancel());
    let panicked = pool.submit(|| -> i32 { panic!("nope") });
    let done_early = {
        let pool2 = ThreadPool::new(1).unwrap();
        let handle = pool2.submit(|| 4);
        drop(pool2);
        handle
    };
    let completed = as_completed(vec![blocker, cancelled, panicked, done_early]);
    gate.open();
    let mut results: Vec<_> = within_guard(move || completed.collect::<Vec<_>>());
    results.sort_by_key(|(index, _)| *index);
    assert_eq!(results.len(), 4);
    assert_eq!(results[0].1.as_ref().unwrap(), &1);
    assert!(results[1].1.as_ref().unwrap_err().is_cancelled());
    assert!(results[2].1.as_ref().unwrap_err().is_panic());
    assert_eq!(results[3].1.as_ref().unwrap(), &4);
}

#[test]
fn a_thousand_handles_each_come_back_once() {
    let pool = ThreadPool::new(4).unwrap();
    let handles: Vec<_> = (0..1000usize).map(|i| pool.submit(move || i)).collect();
    let completed = as_completed(handles);
    assert_eq!(completed.len(), 1000);
    let mut seen = within_guard(move || {
        completed
            .map(|(index, result)| {
                assert_eq!(result.unwrap(), index);
                index
            })
            .collect::<Vec<_>>()
    });
    seen.sort_unstable();
    assert_eq!(seen, (0..1000).collect::<Vec<_>>());
}

#[test]
fn many_handles_from_inside_a_one_worker_pool() {
    let pool = Arc::new(ThreadPool::new(1).unwrap());
    let inner = pool.clone();
    let total = pool.submit(move || {
        let handles: Vec<_> = (0..1000u64).map(|i| inner.submit(move || i)).collect();
        as_completed(handles)
            .map(|(_, result)| result.unwrap())
            .sum::<u64>()
    });
    assert_eq!(within_guard(move || total.join().unwrap()), 499_500);
}

#[test]
fn an_empty_input_yields_nothing() {
    let mut completed = as_completed(Vec::<JoinHandle<u8>>::new());
    assert_eq!(completed.len(), 0);
    assert!(completed.next().is_none());
    assert!(as_completed(std::iter::empty::<std::future::Ready<u8>>())
        .next()
        .is_none());
}

#[test]
fn debug_shows_what_is_left() {
    let pool = ThreadPool::new(1).unwrap();
    let mut completed = as_completed([pool.submit(|| 1), pool.submit(|| 2)]);
    assert_eq!(
        format!("{completed:?}"),
        "AsCompleted { remaining: 2, total: 2, .. }"
    );
    completed.next();
    assert_eq!(
        format!("{completed:?}"),
        "AsCompleted { remaining: 1, total: 2, .. }"
    );
}

/// A future another thread finishes through [`Flag::finish`]. Its first poll wakes its own
/// waker although nothing changed: a spurious wake. It fails the test if polled after it
/// returned `Ready`.
struct Flagged {
    flag: Arc<Flag>,
    value: &'static str,
    returned: bool,
}

#[derive(Default)]
struct Flag {
    set: AtomicBool,
    polls: AtomicUsize,
    waker: Mutex<Option<Waker>>,
}

impl Flag {
    /// Finishes the future and wakes it twice: the second wake comes after it may already
    /// have returned `Ready`.
    fn finish(&self) {
        self.set.store(true, Ordering::SeqCst);
        let waker = self.waker.lock().unwrap().clone().expect("polled once");
        waker.wake_by_ref();
        waker.wake();
    }
}

impl Future for Flagged {
    type Output = &'static str;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<&'static str> {
        assert!(!self.returned, "polled after it returned Ready");
        let polls = &self.flag.polls;
        if self.flag.set.load(Ordering::SeqCst) {
            polls.fetch_add(1, Ordering::SeqCst);
            self.returned = true;
            return Poll::Ready(self.value);
        }
        *self.flag.waker.lock().unwrap() = Some(cx.waker().clone());
        if polls.load(Ordering::SeqCst) == 0 {
            cx.waker().wake_by_ref();
        }
        // Last, so that whoever sees the count also sees the waker, and this poll's answer.
        polls.fetch_add(1, Ordering::SeqCst);
        Poll::Pending
    }
}

#[test]
fn spurious_and_late_wakes_neither_yield_twice_nor_poll_after_ready() {
    let flags: Vec<Arc<Flag>> = (0..2).map(|_| Arc::default()).collect();
    let futures = ["a", "b"].map(|value| Flagged {
        flag: flags[(value == "b") as usize].clone(),
        value,
        returned: false,
    });
    let mut completed = as_completed(futures);
    assert_eq!(
        flags[0].polls.load(Ordering::SeqCst),
        1,
        "polled once up front"
    );
    let finisher = {
        let flags = flags.clone();
        thread::spawn(move || {
            // Finish `a` only after its spurious wake was polled and found it pending.
            wait_for(|| flags[0].polls.load(Ordering::SeqCst) >= 2);
            flags[0].finish();
        })
    };
    assert_eq!(completed.next(), Some((0, "a")));
    finisher.join().unwrap();
    assert_eq!(flags[0].polls.load(Ordering::SeqCst), 3);
    // `a`'s late wake is still queued ahead of `b`'s; it must be passed over.
    flags[1].finish();
    assert_eq!(completed.next(), Some((1, "b")));
    assert_eq!(completed.next(), None);
}

/// A future that panics when polled.
struct Exploding;

impl Future for Exploding {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        panic!("the input future exploded")
    }
}

#[test]
fn a_panic_while_polling_an_input_reaches_the_caller() {
    let caught = panic::catch_unwind(AssertUnwindSafe(|| as_completed([Exploding]).count()));
    let payload = caught.expect_err("the panic propagates");
    assert_eq!(
        braid_threadpool::panic_message(&*payload),
        Some("the input future exploded")
    );
}

/// A future finished from outside, counting its polls and keeping its last waker.
#[derive(Clone, Default)]
struct Remote(Arc<RemoteState>);

#[derive(Default)]
struct RemoteState {
    done: AtomicBool,
    polls: AtomicUsize,
    waker: Mutex<Option<Waker>>,
}

impl Remote {
    fn waker(&self) -> Waker {
        self.0.waker.lock().unwrap().clone().expect("polled once")
    }

    fn finish(&self) {
        self.0.done.store(true, Ordering::SeqCst);
        self.waker().wake();
    }
}

impl Future for Remote {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.polls.fetch_add(1, Ordering::SeqCst);
        *self.0.waker.lock().unwrap() = Some(cx.waker().clone());
        if self.0.done.load(Ordering::SeqCst) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[test]
fn a_future_woken_many_times_between_polls_is_queued_and_polled_once() {
    let (noisy, quiet) = (Remote::default(), Remote::default());
    let mut completed = as_completed([noisy.clone(), quiet.clone()]);
    // 100,000 wakes before the consumer looks: it used to queue (and poll) each one.
    let waker = noisy.waker();
    for _ in 0..100_000 {
        waker.wake_by_ref();
    }
    quiet.finish();
    assert_eq!(completed.next().map(|(i, ())| i), Some(1));
    assert!(
        noisy.0.polls.load(Ordering::SeqCst) <= 2,
        "polled {} times",
        noisy.0.polls.load(Ordering::SeqCst)
    );
    noisy.finish();
    assert_eq!(completed.next().map(|(i, ())| i), Some(0));
    assert!(completed.next().is_none());
}
