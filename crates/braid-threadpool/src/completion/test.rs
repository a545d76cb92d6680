use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use super::Completion;

struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting() -> (Arc<CountingWaker>, Waker) {
    let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
    (counter.clone(), Waker::from(counter))
}

#[test]
fn the_first_outcome_wins_and_later_ones_are_dropped() {
    let cell = Completion::new();
    assert!(cell.start());
    assert!(
        !cell.cancel("cancelled"),
        "a started cell cannot be cancelled"
    );
    assert!(cell.complete("first"));
    assert!(!cell.complete("second"));
    assert!(cell.is_done());
    assert_eq!(cell.take(), "first");
}

#[test]
fn a_cancelled_cell_refuses_to_start() {
    let cell = Completion::new();
    assert!(cell.cancel(1));
    assert!(!cell.start());
    assert!(!cell.complete(2));
    assert_eq!(cell.take(), 1);
}

#[test]
fn a_registered_waker_is_woken_once_when_the_outcome_lands() {
    let cell = Completion::new();
    let (count, waker) = counting();
    let mut cx = Context::from_waker(&waker);
    assert_eq!(cell.poll_take(&mut cx), Poll::Pending);
    assert_eq!(cell.poll_take(&mut cx), Poll::Pending);
    assert!(
        cell.start(),
        "flags set by the waiter do not stop the start"
    );
    assert_eq!(count.0.load(Ordering::SeqCst), 0);
    cell.complete(5);
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
    assert_eq!(cell.poll_take(&mut cx), Poll::Ready(5));
}

#[test]
#[should_panic(expected = "already taken")]
fn taking_twice_panics_instead_of_hanging() {
    let cell = Completion::done(3);
    assert_eq!(cell.take(), 3);
    cell.take();
}

#[test]
#[should_panic(expected = "before the outcome was stored")]
fn taking_before_the_outcome_panics() {
    Completion::<u8>::new().take();
}

#[test]
fn a_plain_thread_waits_for_another_threads_outcome_and_times_out_cleanly() {
    let cell = Arc::new(Completion::new());
    assert!(!cell.wait(Some(Instant::now() + Duration::from_millis(20))));
    let finisher = {
        let cell = cell.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            cell.complete(String::from("late"))
        })
    };
    assert!(cell.wait(None));
    assert_eq!(cell.take(), "late");
    assert!(finisher.join().unwrap());
}

#[test]
fn racing_completers_store_exactly_one_outcome() {
    for _ in 0..200 {
        let cell = Arc::new(Completion::new());
        let racers: Vec<_> = (0..4)
            .map(|i| {
                let cell = cell.clone();
                thread::spawn(move || {
                    if i % 2 == 0 {
                        cell.cancel(Arc::new(i))
                    } else {
                        cell.complete(Arc::new(i))
                    }
                })
            })
            .collect();
        let stored: usize = racers
            .into_iter()
            .map(|racer| usize::from(racer.join().unwrap()))
            .sum();
        assert_eq!(stored, 1);
        let value = cell.take();
        assert_eq!(Arc::strong_count(&value), 1, "losers' values were dropped");
    }
}

#[test]
fn the_latest_waker_wins() {
    let cell = Completion::new();
    let (first, first_waker) = counting();
    let (second, second_waker) = counting();
    assert!(!cell.register(&first_waker));
    assert!(!cell.register(&second_waker));
    cell.complete(());
    assert_eq!(first.0.load(Ordering::SeqCst), 0);
    assert_eq!(second.0.load(Ordering::SeqCst), 1);
    assert!(cell.register(&first_waker), "a done cell says so at once");
}
