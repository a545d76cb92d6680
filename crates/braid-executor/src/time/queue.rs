//! The loop's timers: a binary heap of deadlines over a slab of wakers.
//!
//! A timer is a slab slot; the heap holds `(deadline, slot, generation)`. Cancelling a timer
//! frees its slot at once and leaves its heap entry behind, stale (its generation no longer
//! matches). Stale entries are skipped when they reach the top, and the heap is rebuilt
//! without them once they make up half of it, so cancelled timers never pile up.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::task::Waker;
use std::time::Instant;

/// Identifies one timer in one [`TimerQueue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimerKey {
    slot: u32,
    generation: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    deadline: Instant,
    slot: u32,
    generation: u32,
}

#[derive(Debug)]
struct Slot {
    /// Bumped each time the slot is freed, which makes the old key and heap entry stale.
    generation: u32,
    waker: Option<Waker>,
}

/// The timers of one loop.
#[derive(Debug, Default)]
pub(crate) struct TimerQueue {
    heap: BinaryHeap<Reverse<Entry>>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Heap entries whose timer was cancelled.
    stale: usize,
}

/// Below this many stale entries the heap is never rebuilt.
const MIN_COMPACT: usize = 1024;

impl TimerQueue {
    pub(crate) fn new() -> TimerQueue {
        TimerQueue::default()
    }

    /// Timers waiting to fire.
    pub(crate) fn len(&self) -> usize {
        self.heap.len() - self.stale
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds a timer that wakes `waker` once `Instant::now() >= deadline`.
    pub(crate) fn insert(&mut self, deadline: Instant, waker: Waker) -> TimerKey {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                let slot = u32::try_from(self.slots.len())
                    .expect("more than 4 billion timers in one braid event loop");
                self.slots.push(Slot {
                    generation: 0,
                    waker: None,
                });
                slot
            }
        };
        let entry = &mut self.slots[slot as usize];
        entry.waker = Some(waker);
        let generation = entry.generation;
        self.heap.push(Reverse(Entry {
            deadline,
            slot,
            generation,
        }));
        TimerKey { slot, generation }
    }

    fn live(&self, key: TimerKey) -> Option<&Slot> {
        self.slots
            .get(key.slot as usize)
            .filter(|slot| slot.generation == key.generation)
    }

    /// Replaces the waker of a pending timer; returns `false` if the timer already fired.
    pub(crate) fn update(&mut self, key: TimerKey, waker: &Waker) -> bool {
        if self.live(key).is_none() {
            return false;
        }
        let slot = &mut self.slots[key.slot as usize];
        match &mut slot.waker {
            Some(current) if current.will_wake(waker) => {}
            current => *current = Some(waker.clone()),
        }
        true
    }

    fn free_slot(&mut self, slot: u32) -> Option<Waker> {
        let entry = &mut self.slots[slot as usize];
        entry.generation = entry.generation.wrapping_add(1);
        self.free.push(slot);
        entry.waker.take()
    }

    /// Cancels a pending timer; a timer that already fired is left alone. Returns its waker
    /// so that the caller drops it outside any borrow of the queue.
    pub(crate) fn remove(&mut self, key: TimerKey) -> Option<Waker> {
        self.live(key)?;
        let waker = self.free_slot(key.slot);
        self.stale += 1;
        if self.stale >= MIN_COMPACT && self.stale * 2 >= self.heap.len() {
            let slots = &self.slots;
            self.heap
                .retain(|Reverse(entry)| slots[entry.slot as usize].generation == entry.generation);
            self.stale = 0;
        }
        waker
    }

    fn pop_stale(&mut self) {
        while let Some(Reverse(top)) = self.heap.peek() {
            if self.slots[top.slot as usize].generation == top.generation {
                return;
            }
            self.heap.pop();
            self.stale -= 1;
        }
    }

    /// The earliest deadline of a pending timer.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        self.pop_stale();
        self.heap.peek().map(|Reverse(entry)| entry.deadline)
    }

    /// Fires every timer whose deadline is at or before `now`, pushing their wakers onto
    /// `wakers`; returns how many fired.
    pub(crate) fn expire(&mut self, now: Instant, wakers: &mut Vec<Waker>) -> usize {
        let mut fired = 0;
        loop {
            self.pop_stale();
            match self.heap.peek() {
                Some(Reverse(top)) if top.deadline <= now => {
                    let slot = top.slot;
                    self.heap.pop();
                    wakers.extend(self.free_slot(slot));
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
        let mut timers = TimerQueue::new();
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
        assert!(!timers.update(early, &noop()), "a fired timer reports it");
        assert!(timers.update(late, &noop()));
        assert_eq!(
            timers.expire(start + Duration::from_secs(5), &mut wakers),
            1
        );
        assert!(timers.is_empty());
    }

    #[test]
    fn cancelled_timers_do_not_pile_up() {
        let mut timers = TimerQueue::new();
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
        assert!(timers.slots.len() <= 1, "slots are reused");
    }

    #[test]
    fn removing_a_fired_timer_is_harmless() {
        let mut timers = TimerQueue::new();
        let now = Instant::now();
        let key = timers.insert(now, noop());
        let mut wakers = Vec::new();
        assert_eq!(timers.expire(now, &mut wakers), 1);
        let reused = timers.insert(now + Duration::from_secs(1), noop());
        assert!(
            timers.remove(key).is_none(),
            "the stale key must not cancel the new timer"
        );
        assert!(timers.update(reused, &noop()));
        assert_eq!(timers.len(), 1);
    }
}
