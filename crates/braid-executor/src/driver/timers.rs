//! The loop's timers: a binary heap of deadlines over a slab of wakers (see the README).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::task::Waker;
use std::time::Instant;

use super::slab::{Key, Slab};

/// Identifies one timer in one [`TimerQueue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimerKey(Key);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    deadline: Instant,
    key: Key,
}

/// The timers of one loop.
#[derive(Debug, Default)]
pub(super) struct TimerQueue {
    /// One entry per pending timer, and stale ones for cancelled timers.
    heap: BinaryHeap<Reverse<Entry>>,
    /// The waker of each pending timer.
    slots: Slab<Option<Waker>>,
}

/// Below this many stale entries the heap is never rebuilt.
const MIN_COMPACT: usize = 1024;

impl TimerQueue {
    pub(super) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Adds a timer that wakes `waker` once `Instant::now() >= deadline`.
    pub(super) fn insert(&mut self, deadline: Instant, waker: Waker) -> TimerKey {
        let key = self.slots.insert(Some(waker));
        self.heap.push(Reverse(Entry { deadline, key }));
        TimerKey(key)
    }

    /// Replaces the waker of a pending timer; returns `false` if the timer already fired,
    /// and the waker it replaced, for the caller to drop outside any borrow of the queue.
    pub(super) fn update(&mut self, key: TimerKey, waker: &Waker) -> (bool, Option<Waker>) {
        let Some(current) = self.slots.get_mut(key.0) else {
            return (false, None);
        };
        let replaced = match current {
            Some(current) if current.will_wake(waker) => None,
            current => current.replace(waker.clone()),
        };
        (true, replaced)
    }

    /// Cancels a pending timer; a timer that already fired is left alone. Returns its waker
    /// so that the caller drops it outside any borrow of the queue.
    pub(super) fn remove(&mut self, key: TimerKey) -> Option<Waker> {
        let waker = self.slots.remove(key.0)?;
        // Its heap entry stays behind, stale.
        let stale = self.heap.len() - self.slots.len();
        if stale >= MIN_COMPACT && stale * 2 >= self.heap.len() {
            let slots = &self.slots;
            self.heap.retain(|Reverse(entry)| slots.contains(entry.key));
        }
        waker
    }

    fn pop_stale(&mut self) {
        while let Some(Reverse(top)) = self.heap.peek() {
            if self.slots.contains(top.key) {
                return;
            }
            self.heap.pop();
        }
    }

    /// The earliest deadline of a pending timer.
    pub(super) fn next_deadline(&mut self) -> Option<Instant> {
        self.pop_stale();
        self.heap.peek().map(|Reverse(entry)| entry.deadline)
    }

    /// Fires every timer whose deadline is at or before `now`, pushing their wakers onto
    /// `wakers`; returns how many fired.
    pub(super) fn expire(&mut self, now: Instant, wakers: &mut Vec<Waker>) -> usize {
        let mut fired = 0;
        loop {
            self.pop_stale();
            match self.heap.peek() {
                Some(Reverse(top)) if top.deadline <= now => {
                    let key = top.key;
                    self.heap.pop();
                    wakers.extend(self.slots.remove(key).flatten());
                    fired += 1;
                }
                _ => return fired,
            }
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use std::time::Duration;

    fn noop() -> Waker {
        futures::task::noop_waker()
    }

    #[test]
    fn fires_in_deadline_order_and_only_when_due() {
        let mut timers = TimerQueue::default();
        let start = Instant::now();
        let late = timers.insert(start + Duration::from_secs(2), noop());
        let early = timers.insert(start + Duration::from_secs(1), noop());
        let mut wakers = Vec::new();
        assert_eq!(timers.expire(start, &mut wakers), 0);
        assert_eq!(timers.next_deadline(), Some(start + Duration::from_secs(1)));
        assert_eq!(
            timers.expire(start + Duration::from_secs(1), &mut wakers),
            1
        );
        assert!(!timers.update(early, &noop()).0, "a fired timer reports it");
        assert!(timers.update(late, &noop()).0);
        assert_eq!(
            timers.expire(start + Duration::from_secs(5), &mut wakers),
            1
        );
        assert!(timers.is_empty());
    }

    #[test]
    fn cancelled_timers_do_not_pile_up() {
        let mut timers = TimerQueue::default();
        let far = Instant::now() + Duration::from_secs(3600);
        for _ in 0..100_000 {
            let key = timers.insert(far, noop());
            timers.remove(key);
        }
        assert!(timers.is_empty());
        assert!(
            timers.heap.len() <= 2 * MIN_COMPACT,
            "heap kept {}",
            timers.heap.len()
        );
        assert_eq!(timers.slots.next_index(), 0, "slots are reused");
    }

    #[test]
    fn removing_a_fired_timer_is_harmless() {
        let mut timers = TimerQueue::default();
        let now = Instant::now();
        let key = timers.insert(now, noop());
        let mut wakers = Vec::new();
        assert_eq!(timers.expire(now, &mut wakers), 1);
        let reused = timers.insert(now + Duration::from_secs(1), noop());
        assert!(
            timers.remove(key).is_none(),
            "the stale key must not cancel the new timer"
        );
        assert!(timers.update(reused, &noop()).0);
        assert_eq!(timers.slots.len(), 1);
    }
}
