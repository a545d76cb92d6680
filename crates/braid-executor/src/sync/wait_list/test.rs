use super::WaitList;
use crate::sync::testing::WakeCounter;

#[test]
fn notifies_in_fifo_order() {
    let mut list = WaitList::new();
    let (counters, keys): (Vec<_>, Vec<_>) = (0..4)
        .map(|_| {
            let (counter, waker) = WakeCounter::new();
            (counter, list.push_back(waker))
        })
        .unzip();
    assert_eq!(list.len(), 4);
    for (value, counter) in counters.iter().enumerate() {
        list.notify_front(value).expect("a waiter is parked").wake();
        assert_eq!(counter.count(), 1);
    }
    assert!(list.is_empty());
    assert!(list.notify_front(99).is_none());
    let (_, waker) = WakeCounter::new();
    for (value, key) in keys.into_iter().enumerate() {
        assert_eq!(list.poll_notified(key, &waker).ok(), Some(value));
    }
}

#[test]
fn removing_from_the_middle_keeps_the_order() {
    let mut list = WaitList::new();
    let (_, waker) = WakeCounter::new();
    let first = list.push_back(waker.clone());
    let middle = list.push_back(waker.clone());
    let last = list.push_back(waker.clone());
    assert_eq!(list.remove(middle), None);
    assert_eq!(list.len(), 2);
    list.notify_front('a');
    list.notify_front('b');
    assert!(list.is_empty());
    assert_eq!(list.poll_notified(last, &waker).ok(), Some('b'));
    assert_eq!(list.poll_notified(first, &waker).ok(), Some('a'));
}

#[test]
fn removing_a_notified_waiter_returns_its_value() {
    let mut list = WaitList::new();
    let (_, waker) = WakeCounter::new();
    let key = list.push_back(waker);
    list.notify_front(String::from("handed"));
    assert_eq!(list.remove(key).as_deref(), Some("handed"));
}

#[test]
fn a_waiting_poll_keeps_the_key_and_stores_the_newest_waker() {
    let mut list = WaitList::new();
    let (old, old_waker) = WakeCounter::new();
    let (new, new_waker) = WakeCounter::new();
    let key = list.push_back(old_waker);
    let key = list
        .poll_notified(key, &new_waker)
        .expect_err("not notified yet");
    list.notify_front(()).expect("parked").wake();
    assert_eq!((old.count(), new.count()), (0, 1));
    assert!(list.poll_notified(key, &new_waker).is_ok());
}

#[test]
fn freed_slots_are_reused() {
    let mut list = WaitList::<()>::new();
    let (_, waker) = WakeCounter::new();
    for _ in 0..100 {
        let a = list.push_back(waker.clone());
        let b = list.push_back(waker.clone());
        list.remove(a);
        list.remove(b);
    }
    assert_eq!(list.slots.len(), 2);
    assert!(list.is_empty());
}

#[test]
fn notify_all_hands_everyone_a_value() {
    let mut list = WaitList::new();
    let (counter, waker) = WakeCounter::new();
    let keys: Vec<_> = (0..5).map(|_| list.push_back(waker.clone())).collect();
    let mut next = 0;
    let wakers = list.notify_all(|| {
        next += 1;
        next
    });
    assert_eq!(wakers.len(), 5);
    wakers.into_iter().for_each(|w| w.wake());
    assert_eq!(counter.count(), 5);
    let values: Vec<_> = keys
        .into_iter()
        .map(|k| list.poll_notified(k, &waker).ok())
        .collect();
    assert_eq!(values, [Some(1), Some(2), Some(3), Some(4), Some(5)]);
}
