use std::task::Poll;

use super::{GetError, PutError, Queue, TryGetError, TryPutError};
use crate::sync::testing::{poll_with, WakeCounter};

#[test]
fn items_come_out_in_the_order_they_went_in() {
    let queue = Queue::new(0);
    for n in 0..100 {
        queue.try_put(n).unwrap();
    }
    assert_eq!(queue.len(), 100);
    let out: Vec<_> = std::iter::from_fn(|| queue.try_get().ok()).collect();
    assert_eq!(out, (0..100).collect::<Vec<_>>());
    assert!(queue.is_empty());
}

#[test]
fn an_unbounded_queue_never_makes_a_put_wait() {
    let queue = Queue::new(0);
    let (counter, waker) = WakeCounter::new();
    for n in 0..10_000 {
        assert_eq!(poll_with(&mut queue.put(n), &waker), Poll::Ready(Ok(())));
    }
    assert_eq!(queue.len(), 10_000);
    assert!(!queue.is_full());
    assert_eq!(counter.count(), 0);
}

#[test]
fn a_put_waits_while_the_queue_is_full() {
    let queue = Queue::new(2);
    let (counter, waker) = WakeCounter::new();
    queue.try_put(1).unwrap();
    queue.try_put(2).unwrap();
    assert!(queue.is_full());
    assert_eq!(queue.try_put(3), Err(TryPutError::Full(3)));
    let mut put = queue.put(3);
    assert!(poll_with(&mut put, &waker).is_pending());
    assert_eq!(queue.len(), 2);
    assert_eq!(queue.try_get(), Ok(1));
    assert_eq!(counter.count(), 1, "freeing room wakes the waiting put");
    assert!(queue.is_full(), "the freed room is kept for the woken put");
    assert!(queue.try_put(4).is_err(), "a woken put is not overtaken");
    assert_eq!(poll_with(&mut put, &waker), Poll::Ready(Ok(())));
    assert_eq!(queue.try_get(), Ok(2));
    assert_eq!(queue.try_get(), Ok(3));
}

#[test]
fn a_waiting_get_receives_the_next_item_directly() {
    let queue = Queue::new(1);
    let (counter, waker) = WakeCounter::new();
    let mut get = queue.get();
    assert!(poll_with(&mut get, &waker).is_pending());
    queue.try_put("x").unwrap();
    assert_eq!(counter.count(), 1);
    assert_eq!(queue.len(), 1, "the handed item counts until collected");
    assert!(
        queue.try_get().is_err(),
        "the item belongs to the waiting get"
    );
    assert_eq!(poll_with(&mut get, &waker), Poll::Ready(Ok("x")));
    assert!(queue.is_empty());
}

#[test]
fn a_dropped_get_that_was_handed_an_item_passes_it_to_the_next_get() {
    let queue = Queue::new(0);
    let (first_counter, first_waker) = WakeCounter::new();
    let (second_counter, second_waker) = WakeCounter::new();
    let mut first = queue.get();
    let mut second = queue.get();
    assert!(poll_with(&mut first, &first_waker).is_pending());
    assert!(poll_with(&mut second, &second_waker).is_pending());
    queue.try_put(7).unwrap();
    assert_eq!((first_counter.count(), second_counter.count()), (1, 0));
    drop(first);
    assert_eq!(second_counter.count(), 1);
    assert_eq!(poll_with(&mut second, &second_waker), Poll::Ready(Ok(7)));
}

#[test]
fn a_dropped_get_with_no_successor_puts_its_item_back_in_front() {
    let queue = Queue::new(2);
    let (_, waker) = WakeCounter::new();
    let mut get = queue.get();
    assert!(poll_with(&mut get, &waker).is_pending());
    queue.try_put(1).unwrap();
    queue.try_put(2).unwrap();
    assert!(
        queue.try_put(3).is_err(),
        "the handed item still takes room"
    );
    drop(get);
    assert_eq!(queue.len(), 2);
    assert_eq!(queue.try_get(), Ok(1));
    assert_eq!(queue.try_get(), Ok(2));
}

#[test]
fn a_dropped_put_puts_nothing() {
    let queue = Queue::new(1);
    let (_, waker) = WakeCounter::new();
    queue.try_put(1).unwrap();
    let mut put = queue.put(2);
    assert!(poll_with(&mut put, &waker).is_pending());
    drop(put);
    assert_eq!(queue.try_get(), Ok(1));
    assert_eq!(queue.try_get(), Err(TryGetError::Empty));
    assert!(!queue.is_full());
}

#[test]
fn a_dropped_woken_put_hands_its_room_to_the_next_put() {
    let queue = Queue::new(1);
    let (first_counter, first_waker) = WakeCounter::new();
    let (second_counter, second_waker) = WakeCounter::new();
    queue.try_put(0).unwrap();
    let mut first = queue.put(1);
    let mut second = queue.put(2);
    assert!(poll_with(&mut first, &first_waker).is_pending());
    assert!(poll_with(&mut second, &second_waker).is_pending());
    assert_eq!(queue.try_get(), Ok(0));
    assert_eq!((first_counter.count(), second_counter.count()), (1, 0));
    drop(first);
    assert_eq!(second_counter.count(), 1);
    assert_eq!(poll_with(&mut second, &second_waker), Poll::Ready(Ok(())));
    assert_eq!(queue.try_get(), Ok(2));
    assert_eq!(queue.try_get(), Err(TryGetError::Empty));
}

#[test]
fn a_woken_put_feeds_a_get_that_started_waiting_meanwhile() {
    let queue = Queue::new(1);
    let (_, waker) = WakeCounter::new();
    let (get_counter, get_waker) = WakeCounter::new();
    queue.try_put(0).unwrap();
    let mut put = queue.put(1);
    assert!(poll_with(&mut put, &waker).is_pending());
    assert_eq!(queue.try_get(), Ok(0));
    let mut get = queue.get();
    assert!(poll_with(&mut get, &get_waker).is_pending());
    assert_eq!(poll_with(&mut put, &waker), Poll::Ready(Ok(())));
    assert_eq!(get_counter.count(), 1);
    assert_eq!(poll_with(&mut get, &get_waker), Poll::Ready(Ok(1)));
}

#[test]
fn close_drains_then_reports_closed() {
    let queue = Queue::new(0);
    queue.try_put('a').unwrap();
    queue.try_put('b').unwrap();
    queue.close();
    assert!(queue.is_closed());
    assert_eq!(queue.try_put('c'), Err(TryPutError::Closed('c')));
    let (_, waker) = WakeCounter::new();
    assert_eq!(
        poll_with(&mut queue.put('d'), &waker),
        Poll::Ready(Err(PutError('d')))
    );
    assert_eq!(poll_with(&mut queue.get(), &waker), Poll::Ready(Ok('a')));
    assert_eq!(queue.try_get(), Ok('b'));
    assert_eq!(
        poll_with(&mut queue.get(), &waker),
        Poll::Ready(Err(GetError))
    );
    assert_eq!(queue.try_get(), Err(TryGetError::Closed));
}

#[test]
fn close_wakes_waiting_gets_and_puts() {
    let empty = Queue::<u8>::new(1);
    let full = Queue::new(1);
    full.try_put(1).unwrap();
    let (counter, waker) = WakeCounter::new();
    let mut get = empty.get();
    let mut put = full.put(2);
    assert!(poll_with(&mut get, &waker).is_pending());
    assert!(poll_with(&mut put, &waker).is_pending());
    empty.close();
    full.close();
    assert_eq!(counter.count(), 2);
    assert_eq!(poll_with(&mut get, &waker), Poll::Ready(Err(GetError)));
    assert_eq!(poll_with(&mut put, &waker), Poll::Ready(Err(PutError(2))));
    assert_eq!(full.try_get(), Ok(1));
}

#[test]
fn a_put_woken_with_room_fails_if_the_queue_closes_before_it_runs() {
    let queue = Queue::new(1);
    let (_, waker) = WakeCounter::new();
    queue.try_put(0).unwrap();
    let mut put = queue.put(1);
    assert!(poll_with(&mut put, &waker).is_pending());
    assert_eq!(queue.try_get(), Ok(0));
    queue.close();
    assert_eq!(poll_with(&mut put, &waker), Poll::Ready(Err(PutError(1))));
    assert_eq!(queue.try_get(), Err(TryGetError::Closed));
    assert!(!queue.is_full());
}

#[test]
fn a_get_handed_an_item_before_close_still_returns_it() {
    let queue = Queue::new(0);
    let (_, waker) = WakeCounter::new();
    let mut get = queue.get();
    assert!(poll_with(&mut get, &waker).is_pending());
    queue.try_put(5).unwrap();
    queue.close();
    assert_eq!(poll_with(&mut get, &waker), Poll::Ready(Ok(5)));
}

#[test]
#[should_panic(expected = "polled after completion")]
fn polling_a_finished_get_panics() {
    let queue = Queue::new(0);
    queue.try_put(1).unwrap();
    let (_, waker) = WakeCounter::new();
    let mut get = queue.get();
    let _ = poll_with(&mut get, &waker);
    let _ = poll_with(&mut get, &waker);
}

/// A deterministic pseudo-random walk over puts, gets, polls and drops: every item whose
/// put completed comes out exactly once, and no item of a dropped put ever comes out (the
/// queue also checks its own invariants in debug builds).
#[test]
fn random_cancellation_never_loses_or_duplicates_items() {
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut random = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for maxsize in [0, 1, 3] {
        let queue = Queue::new(maxsize);
        let (_, waker) = WakeCounter::new();
        let mut puts = Vec::new();
        let mut gets = Vec::new();
        let mut next = 0;
        let mut sent = Vec::new();
        let mut received = Vec::new();
        for _ in 0..5_000 {
            match random(7) {
                0 => {
                    puts.push((next, Box::new(queue.put(next))));
                    next += 1;
                }
                1 => gets.push(Box::new(queue.get())),
                2 if !puts.is_empty() => {
                    let index = random(puts.len());
                    if let Poll::Ready(result) = poll_with(&mut *puts[index].1, &waker) {
                        result.unwrap();
                        sent.push(puts.swap_remove(index).0);
                    }
                }
                3 if !gets.is_empty() => {
                    let index = random(gets.len());
                    if let Poll::Ready(item) = poll_with(&mut *gets[index], &waker) {
                        received.push(item.unwrap());
                        drop(gets.swap_remove(index));
                    }
                }
                4 if !puts.is_empty() => drop(puts.swap_remove(random(puts.len()))),
                5 if !gets.is_empty() => drop(gets.swap_remove(random(gets.len()))),
                6 => {
                    if queue.try_put(next).is_ok() {
                        sent.push(next);
                    }
                    next += 1;
                }
                _ => {}
            }
            if maxsize > 0 {
                assert!(queue.len() <= maxsize, "the queue grew past maxsize");
            }
        }
        drop(gets);
        for (item, mut put) in puts {
            loop {
                match poll_with(&mut *put, &waker) {
                    Poll::Ready(result) => break result.unwrap(),
                    Poll::Pending => received.push(queue.try_get().unwrap()),
                }
            }
            sent.push(item);
        }
        while let Ok(item) = queue.try_get() {
            received.push(item);
        }
        sent.sort_unstable();
        received.sort_unstable();
        assert!(!sent.is_empty());
        assert_eq!(sent, received, "maxsize {maxsize}");
    }
}
