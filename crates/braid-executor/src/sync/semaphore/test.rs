use std::sync::atomic::Ordering;
use std::task::Poll;

use super::{Semaphore, WAITERS};
use crate::sync::testing::{poll_with, WakeCounter};

#[test]
fn permits_are_counted() {
    let semaphore = Semaphore::new(2);
    let a = semaphore.try_acquire().unwrap();
    let b = semaphore.try_acquire().unwrap();
    assert!(semaphore.try_acquire().is_none());
    assert_eq!(semaphore.available_permits(), 0);
    drop(a);
    assert_eq!(semaphore.available_permits(), 1);
    b.forget();
    assert_eq!(semaphore.available_permits(), 1);
}

#[test]
fn released_permits_go_to_waiters_in_order() {
    let semaphore = Semaphore::new(1);
    let held = semaphore.try_acquire().unwrap();
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let (counter, waker) = WakeCounter::new();
            let mut future = semaphore.acquire();
            assert!(poll_with(&mut future, &waker).is_pending());
            (counter, waker, future)
        })
        .collect();
    drop(held);
    let counts: Vec<_> = waiters.iter().map(|(c, ..)| c.count()).collect();
    assert_eq!(counts, [1, 0, 0]);
    assert!(semaphore.try_acquire().is_none(), "waiters go first");
    semaphore.add_permits(5);
    let counts: Vec<_> = waiters.iter().map(|(c, ..)| c.count()).collect();
    assert_eq!(counts, [1, 1, 1]);
    assert_eq!(semaphore.available_permits(), 3);
    assert_eq!(semaphore.state.load(Ordering::Relaxed) & WAITERS, 0);
    let permits: Vec<_> = waiters
        .into_iter()
        .map(
            |(_, waker, mut future)| match poll_with(&mut future, &waker) {
                Poll::Ready(permit) => permit,
                Poll::Pending => panic!("a notified waiter holds a permit"),
            },
        )
        .collect();
    drop(permits);
    assert_eq!(semaphore.available_permits(), 6);
}

#[test]
fn a_dropped_waiter_that_was_handed_a_permit_passes_it_on() {
    let semaphore = Semaphore::new(0);
    let (first_counter, first_waker) = WakeCounter::new();
    let (second_counter, second_waker) = WakeCounter::new();
    let mut first = semaphore.acquire();
    let mut second = semaphore.acquire();
    assert!(poll_with(&mut first, &first_waker).is_pending());
    assert!(poll_with(&mut second, &second_waker).is_pending());
    semaphore.add_permits(1);
    assert_eq!((first_counter.count(), second_counter.count()), (1, 0));
    drop(first);
    assert_eq!(second_counter.count(), 1);
    assert!(poll_with(&mut second, &second_waker).is_ready());
    assert_eq!(semaphore.available_permits(), 1);
}

#[test]
fn a_dropped_waiting_waiter_gives_up_its_place() {
    let semaphore = Semaphore::new(0);
    let (_, waker) = WakeCounter::new();
    let mut waiter = semaphore.acquire();
    assert!(poll_with(&mut waiter, &waker).is_pending());
    drop(waiter);
    assert_eq!(semaphore.state.load(Ordering::Relaxed), 0);
    semaphore.add_permits(1);
    assert!(semaphore.try_acquire().is_some());
}

#[test]
#[should_panic(expected = "MAX_PERMITS")]
fn adding_past_the_maximum_panics() {
    let semaphore = Semaphore::new(Semaphore::MAX_PERMITS);
    semaphore.add_permits(1);
}
