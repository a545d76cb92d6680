use std::task::Poll;

use super::Event;
use crate::sync::testing::{poll_with, WakeCounter};

#[test]
fn set_wakes_every_waiter() {
    let event = Event::new();
    let (counter, waker) = WakeCounter::new();
    let mut waiters: Vec<_> = (0..5).map(|_| event.wait()).collect();
    for waiter in &mut waiters {
        assert!(poll_with(waiter, &waker).is_pending());
    }
    event.set();
    assert_eq!(counter.count(), 5);
    event.set();
    assert_eq!(counter.count(), 5, "a second set wakes nobody");
    for waiter in &mut waiters {
        assert_eq!(poll_with(waiter, &waker), Poll::Ready(()));
    }
}

#[test]
fn a_woken_waiter_completes_even_if_the_event_was_cleared() {
    let event = Event::new();
    let (_, waker) = WakeCounter::new();
    let mut waiter = event.wait();
    assert!(poll_with(&mut waiter, &waker).is_pending());
    event.set();
    event.clear();
    assert_eq!(poll_with(&mut waiter, &waker), Poll::Ready(()));
    assert!(poll_with(&mut event.wait(), &waker).is_pending());
}

#[test]
fn wait_returns_at_once_while_set() {
    let event = Event::default();
    event.set();
    let (counter, waker) = WakeCounter::new();
    assert_eq!(poll_with(&mut event.wait(), &waker), Poll::Ready(()));
    assert_eq!(counter.count(), 0);
}

#[test]
fn a_dropped_waiter_is_forgotten() {
    let event = Event::new();
    let (counter, waker) = WakeCounter::new();
    let mut dropped = event.wait();
    assert!(poll_with(&mut dropped, &waker).is_pending());
    drop(dropped);
    event.set();
    assert_eq!(counter.count(), 0);
}
