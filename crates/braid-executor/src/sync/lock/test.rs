use std::task::Poll;

use super::{Lock, LOCKED, WAITERS};
use crate::sync::testing::{poll_with, WakeCounter};

#[test]
fn try_lock_fails_while_held_and_succeeds_after() {
    let lock = Lock::new(0);
    let mut guard = lock.try_lock().unwrap();
    *guard += 1;
    assert!(lock.is_locked());
    assert!(lock.try_lock().is_none());
    drop(guard);
    assert!(!lock.is_locked());
    assert_eq!(*lock.try_lock().unwrap(), 1);
}

#[test]
fn release_hands_the_lock_to_waiters_in_order() {
    let lock = Lock::new(Vec::new());
    let guard = lock.try_lock().unwrap();
    let counters_and_futures: Vec<_> = (0..3)
        .map(|_| {
            let (counter, waker) = WakeCounter::new();
            let mut future = lock.lock();
            assert!(poll_with(&mut future, &waker).is_pending());
            (counter, waker, future)
        })
        .collect();
    assert_eq!(
        lock.state.load(std::sync::atomic::Ordering::Relaxed),
        LOCKED | WAITERS
    );
    drop(guard);
    for (index, (counter, waker, mut future)) in counters_and_futures.into_iter().enumerate() {
        assert_eq!(counter.count(), 1, "waiter {index} was handed the lock");
        assert!(lock.try_lock().is_none(), "a handed-over lock is not free");
        let Poll::Ready(mut guard) = poll_with(&mut future, &waker) else {
            panic!("waiter {index} should hold the lock");
        };
        guard.push(index);
    }
    assert_eq!(lock.state.load(std::sync::atomic::Ordering::Relaxed), 0);
    assert_eq!(lock.into_inner(), [0, 1, 2]);
}

#[test]
fn try_lock_does_not_jump_the_queue() {
    let lock = Lock::new(());
    let guard = lock.try_lock().unwrap();
    let (_, waker) = WakeCounter::new();
    let mut waiter = lock.lock();
    assert!(poll_with(&mut waiter, &waker).is_pending());
    drop(guard);
    assert!(lock.try_lock().is_none());
    assert!(poll_with(&mut waiter, &waker).is_ready());
}

#[test]
fn a_dropped_waiter_that_was_handed_the_lock_passes_it_on() {
    let lock = Lock::new(());
    let guard = lock.try_lock().unwrap();
    let (first_counter, first_waker) = WakeCounter::new();
    let (second_counter, second_waker) = WakeCounter::new();
    let mut first = lock.lock();
    let mut second = lock.lock();
    assert!(poll_with(&mut first, &first_waker).is_pending());
    assert!(poll_with(&mut second, &second_waker).is_pending());
    drop(guard);
    assert_eq!((first_counter.count(), second_counter.count()), (1, 0));
    drop(first);
    assert_eq!(second_counter.count(), 1);
    let Poll::Ready(guard) = poll_with(&mut second, &second_waker) else {
        panic!("the lock should have been passed on");
    };
    drop(guard);
    assert!(lock.try_lock().is_some());
}

#[test]
fn a_dropped_last_waiter_unlocks_when_handed_the_lock() {
    let lock = Lock::new(());
    let guard = lock.try_lock().unwrap();
    let (_, waker) = WakeCounter::new();
    let mut waiter = lock.lock();
    assert!(poll_with(&mut waiter, &waker).is_pending());
    drop(guard);
    drop(waiter);
    assert!(!lock.is_locked());
}

#[test]
fn a_dropped_waiting_waiter_clears_the_waiters_bit() {
    let lock = Lock::new(());
    let guard = lock.try_lock().unwrap();
    let (_, waker) = WakeCounter::new();
    let mut waiter = lock.lock();
    assert!(poll_with(&mut waiter, &waker).is_pending());
    drop(waiter);
    assert_eq!(
        lock.state.load(std::sync::atomic::Ordering::Relaxed),
        LOCKED
    );
    drop(guard);
    assert!(lock.try_lock().is_some(), "the fast path works again");
}

#[test]
fn works_with_unsized_values() {
    let lock: Box<Lock<[u8]>> = Box::new(Lock::new([1, 2, 3]));
    lock.try_lock().unwrap()[0] = 9;
    assert_eq!(&*lock.try_lock().unwrap(), &[9, 2, 3]);
}

#[test]
fn debug_shows_the_value_only_when_free() {
    let lock = Lock::new(5);
    assert_eq!(format!("{lock:?}"), "Lock { value: 5 }");
    let _guard = lock.try_lock();
    assert_eq!(format!("{lock:?}"), "Lock { value: <locked> }");
}
