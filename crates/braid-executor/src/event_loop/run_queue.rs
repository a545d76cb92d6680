//! The loop's run queue: a ring of tasks, touched only by the loop thread.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;

use super::shared::Shared;
use crate::task::TaskRef;

/// The loop's run queue. A `RefCell` would check and set its flag twice per task poll (once
/// to pop the task, once to queue it again); none is needed: the queue is the loop thread's
/// alone (`Core` is neither `Send` nor `Sync`), and each method below is one `Ring`
/// operation that runs no code of a task's (no future, waker or destructor), so no two of
/// them can overlap, and no reference to the inside outlives a method.
pub(crate) struct RunQueue(UnsafeCell<Ring<TaskRef>>);

impl RunQueue {
    pub(crate) fn with_capacity(capacity: usize) -> RunQueue {
        RunQueue(UnsafeCell::new(Ring::with_capacity(capacity)))
    }

    #[inline]
    pub(crate) fn push_back(&self, task: TaskRef) {
        // SAFETY: see the type: nothing else has the queue during this call.
        unsafe { (*self.0.get()).push_back(task) }
    }

    #[inline]
    pub(crate) fn pop_front(&self) -> Option<TaskRef> {
        // SAFETY: see the type.
        unsafe { (*self.0.get()).pop_front() }
    }

    pub(crate) fn is_empty(&self) -> bool {
        // SAFETY: see the type.
        unsafe { (*self.0.get()).is_empty() }
    }

    pub(crate) fn len(&self) -> usize {
        // SAFETY: see the type.
        unsafe { (*self.0.get()).len() }
    }

    /// Queues the tasks spawned or woken from other threads.
    pub(crate) fn take_remote(&self, shared: &Shared) {
        // SAFETY: see the type; `take_remote` only moves tasks from the remote queue.
        shared.take_remote(unsafe { &mut *self.0.get() });
    }

    pub(crate) fn extend(&self, tasks: Vec<TaskRef>) {
        // SAFETY: see the type; moving a `Vec`'s tasks in runs none of their code.
        unsafe { (*self.0.get()).extend(tasks) }
    }

    /// Empties the queue; its tasks come with their queue references.
    pub(crate) fn take_all(&self) -> Vec<TaskRef> {
        // SAFETY: see the type; the tasks are moved out, none is dropped.
        let ring = unsafe { &mut *self.0.get() };
        let mut tasks = Vec::with_capacity(ring.len());
        while let Some(task) = ring.pop_front() {
            tasks.push(task);
        }
        tasks
    }
}

/// A first-in first-out ring of tasks. `head` and `tail` count pops and pushes, wrapping; the
/// task pushed `n`th sits in slot `n & mask`, so a pop or a push is a mask, a load or store and
/// an increment (a `VecDeque` also wraps its head index on each, which costs a compare and a
/// conditional move more). Slots `head..tail`, taken modulo the capacity, hold tasks; the
/// others are uninitialized.
pub(crate) struct Ring<T> {
    slots: Vec<MaybeUninit<T>>,
    /// `slots.len() - 1`; the length is a power of two.
    mask: usize,
    head: usize,
    tail: usize,
}

impl<T> Ring<T> {
    fn with_capacity(capacity: usize) -> Ring<T> {
        let capacity = capacity.max(1).next_power_of_two();
        let mut slots = Vec::with_capacity(capacity);
        slots.resize_with(capacity, MaybeUninit::uninit);
        Ring {
            slots,
            mask: capacity - 1,
            head: 0,
            tail: 0,
        }
    }

    fn len(&self) -> usize {
        self.tail.wrapping_sub(self.head)
    }

    fn is_empty(&self) -> bool {
        self.head == self.tail
    }

    #[inline]
    fn push_back(&mut self, task: T) {
        if self.len() == self.slots.len() {
            self.grow();
        }
        let slot = self.tail & self.mask;
        // SAFETY: `slot` is within `slots` (masked), and the slot is free: the ring is not full.
        unsafe { self.slots.get_unchecked_mut(slot).write(task) };
        self.tail = self.tail.wrapping_add(1);
    }

    #[inline]
    fn pop_front(&mut self) -> Option<T> {
        if self.is_empty() {
            return None;
        }
        let slot = self.head & self.mask;
        // SAFETY: `slot` is within `slots` (masked), and holds the oldest task (the ring is not
        // empty); moving `head` past it marks it free, so it is read out only once.
        let task = unsafe { self.slots.get_unchecked(slot).assume_init_read() };
        self.head = self.head.wrapping_add(1);
        Some(task)
    }

    /// Doubles the capacity, moving the tasks to slots `0..len` in order.
    #[cold]
    fn grow(&mut self) {
        let len = self.len();
        let capacity = self.slots.len() * 2;
        let mut slots = Vec::with_capacity(capacity);
        while let Some(task) = self.pop_front() {
            slots.push(MaybeUninit::new(task));
        }
        slots.resize_with(capacity, MaybeUninit::uninit);
        self.mask = capacity - 1;
        self.slots = slots;
        self.head = 0;
        self.tail = len;
    }
}

impl<T> Extend<T> for Ring<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, tasks: I) {
        for task in tasks {
            self.push_back(task);
        }
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        while self.pop_front().is_some() {}
    }
}

#[cfg(test)]
mod test {
    use std::collections::VecDeque;
    use std::rc::Rc;

    use super::Ring;

    #[test]
    fn the_ring_is_first_in_first_out_across_wraps_and_growth() {
        let mut ring = Ring::with_capacity(3);
        assert_eq!(ring.slots.len(), 4);
        // Start near the counters' wrap, to take it too.
        ring.head = usize::MAX - 5;
        ring.tail = usize::MAX - 5;
        let mut model = VecDeque::new();
        let mut next = 0;
        for round in 0..200 {
            for _ in 0..(round % 7) {
                ring.push_back(next);
                model.push_back(next);
                next += 1;
            }
            for _ in 0..(round % 5) {
                assert_eq!(ring.pop_front(), model.pop_front());
            }
            assert_eq!(ring.len(), model.len());
            assert_eq!(ring.is_empty(), model.is_empty());
        }
        ring.extend([1000, 1001]);
        model.extend([1000, 1001]);
        while let Some(value) = model.pop_front() {
            assert_eq!(ring.pop_front(), Some(value));
        }
        assert_eq!(ring.pop_front(), None);
    }

    #[test]
    fn a_dropped_ring_drops_what_it_holds() {
        let counted = Rc::new(());
        let mut ring = Ring::with_capacity(2);
        for _ in 0..5 {
            ring.push_back(counted.clone());
        }
        drop(ring.pop_front());
        assert_eq!(Rc::strong_count(&counted), 5);
        drop(ring);
        assert_eq!(Rc::strong_count(&counted), 1);
    }
}
