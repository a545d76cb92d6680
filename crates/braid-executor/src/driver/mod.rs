//! The I/O and timer driver: what the loop waits on between task polls.
//!
//! Each turn the loop core asks its [`Driver`] whether there is anything to wait for
//! (a registered descriptor, the next timer deadline), has it wait in the poller and
//! dispatch the events that came (each event sets its descriptor's readiness and takes the
//! waiting tasks' wakers), and has it fire the timers that are due. Between turns, tasks
//! reach it through [`Source`] (register, wait for readiness, deregister) and through
//! `time`'s `Sleep` (add, refresh, cancel a timer). Every waker is woken or dropped after
//! the driver's own borrows end, since a waker may run any code, this driver included.
//!
//! Signal listeners live here too ([`signals`]): a signal reaches the loop as readiness of
//! a socket, so `crate::signal` and `crate::process` (which watches `SIGCHLD`) both build on
//! the driver instead of on each other.
//!
//! How keys, readiness and timers work is in `README.md` beside this file.

mod reactor;
pub(crate) mod signals;
mod slab;
mod source;
mod timers;

use std::cell::RefCell;
use std::io;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use braid_poller::{Events, Interest, Mode, Poller};

pub(crate) use reactor::Direction;
pub(crate) use source::Source;

#[cfg(test)]
mod test;
pub(crate) use timers::TimerKey;

pub(crate) use reactor::IoKey;
use reactor::{Reactor, WaiterKey};
use timers::TimerQueue;

/// Names one driver, and so one loop, for the life of the process: unlike the driver's
/// address, which a later loop may reuse, no two drivers ever share an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DriverId(u64);

impl DriverId {
    fn next() -> DriverId {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        // Relaxed: only uniqueness matters, and `fetch_add` gives it at any ordering.
        DriverId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// One loop's registered descriptors and timers; used only on the loop's thread.
#[derive(Debug)]
pub(crate) struct Driver {
    id: DriverId,
    io: RefCell<Reactor>,
    timers: RefCell<TimerQueue>,
    events: RefCell<Events>,
    /// Reused for the wakers of one batch of events or timers, woken outside the borrows.
    wakers: RefCell<Vec<Waker>>,
}

impl Driver {
    pub(crate) fn new() -> Driver {
        Driver {
            id: DriverId::next(),
            io: RefCell::default(),
            timers: RefCell::default(),
            events: RefCell::new(Events::with_capacity(1024)),
            wakers: RefCell::default(),
        }
    }

    /// This driver's id: a timer key is kept with it, since a key means nothing to another
    /// driver (see `time::Sleep`).
    pub(crate) fn id(&self) -> DriverId {
        self.id
    }

    /// Registers `io`, which must be non-blocking, with `poller`, edge-triggered for both
    /// directions. It starts ready both ways.
    pub(crate) fn register(&self, poller: &Poller, io: &impl AsFd) -> io::Result<IoKey> {
        let key = self.io.borrow_mut().insert()?;
        if let Err(error) = poller.add(io, key.poller_key(), Interest::BOTH, Mode::Edge) {
            let wakers = self.io.borrow_mut().remove(key);
            drop(wakers);
            return Err(error);
        }
        Ok(key)
    }

    /// Removes `io` from `poller` and frees its slot. Call it before `io` closes, so the
    /// poller never holds a closed or reused descriptor.
    pub(crate) fn deregister(&self, poller: &Poller, io: &impl AsFd, key: IoKey) {
        let _ = poller.delete(io);
        let wakers = self.io.borrow_mut().remove(key);
        drop(wakers);
    }

    /// `Ready` if `key`'s descriptor may make progress in `direction`; otherwise the task
    /// of `cx` is woken by the next event that says so, along with every other task
    /// waiting that way. `place` is where an `async fn`'s future keeps its place among
    /// them (taken here on its first wait); `None` for a `poll_*` method, which has none.
    #[inline]
    pub(crate) fn poll_ready(
        &self,
        key: IoKey,
        direction: Direction,
        place: Option<&mut Option<WaiterKey>>,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        let (poll, replaced) = self.io.borrow_mut().poll_ready(key, direction, place, cx);
        // The old waker's drop may run any code, this driver included: not under the borrow.
        drop(replaced);
        poll
    }

    /// The waiter at `place` is done or dropped: frees its place and its waker.
    pub(crate) fn leave(&self, key: IoKey, direction: Direction, place: WaiterKey) {
        let waker = self.io.borrow_mut().leave(key, direction, place);
        drop(waker);
    }

    /// How many tasks wait on `direction` of `key`'s descriptor.
    #[cfg(test)]
    pub(crate) fn waiting(&self, key: IoKey, direction: Direction) -> usize {
        self.io.borrow_mut().waiting(key, direction)
    }

    /// An operation in `direction` reported `WouldBlock`: wait for the next event.
    #[inline]
    pub(crate) fn clear_ready(&self, key: IoKey, direction: Direction) {
        self.io.borrow_mut().clear_ready(key, direction);
    }

    /// A stream operation moved less than asked: forget the readiness, keep a close.
    #[inline]
    pub(crate) fn forget_ready(&self, key: IoKey, direction: Direction) {
        self.io.borrow_mut().forget_ready(key, direction);
    }

    /// Whether any descriptor is registered, so that waiting in the poller can find events.
    pub(crate) fn has_io(&self) -> bool {
        !self.io.borrow().is_empty()
    }

    /// Waits in `poller` up to `timeout` for events, records them and wakes their tasks;
    /// returns how many events came.
    ///
    /// # Errors
    ///
    /// What the poller's wait reports (only a broken poller fails).
    pub(crate) fn poll_events(
        &self,
        poller: &Poller,
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        let mut wakers = std::mem::take(&mut *self.wakers.borrow_mut());
        let count = {
            let mut events = self.events.borrow_mut();
            poller.wait(&mut events, timeout)?;
            if !events.is_empty() {
                let mut io = self.io.borrow_mut();
                for event in events.iter() {
                    io.dispatch(event, &mut wakers);
                }
            }
            events.len()
        };
        self.wake(wakers);
        Ok(count)
    }

    /// Adds a timer that wakes `waker` once `Instant::now() >= deadline`.
    pub(crate) fn insert_timer(&self, deadline: Instant, waker: Waker) -> TimerKey {
        self.timers.borrow_mut().insert(deadline, waker)
    }

    /// Replaces the waker of a pending timer; `false` if the timer already fired.
    pub(crate) fn update_timer(&self, key: TimerKey, waker: &Waker) -> bool {
        let (pending, replaced) = self.timers.borrow_mut().update(key, waker);
        // As in `poll_ready`: the old waker is dropped outside the borrow.
        drop(replaced);
        pending
    }

    /// Cancels a pending timer; one that already fired is left alone.
    pub(crate) fn remove_timer(&self, key: TimerKey) {
        let waker = self.timers.borrow_mut().remove(key);
        drop(waker);
    }

    /// The earliest deadline of a pending timer.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.timers.borrow_mut().next_deadline()
    }

    /// Wakes the tasks of the timers that are due; returns how many fired.
    ///
    /// Inlined: the loop calls it every turn, and most turns have no timer at all, which
    /// this sees with one borrow and one comparison.
    #[inline]
    pub(crate) fn fire_timers(&self) -> usize {
        if self.timers.borrow().is_empty() {
            return 0;
        }
        self.fire_due_timers()
    }

    /// [`fire_timers`](Driver::fire_timers) with at least one timer set.
    #[inline(never)]
    fn fire_due_timers(&self) -> usize {
        let mut wakers = std::mem::take(&mut *self.wakers.borrow_mut());
        let fired = self.timers.borrow_mut().expire(Instant::now(), &mut wakers);
        self.wake(wakers);
        fired
    }

    /// Wakes `wakers`, then keeps the empty vector for the next batch.
    fn wake(&self, mut wakers: Vec<Waker>) {
        for waker in wakers.drain(..) {
            waker.wake();
        }
        *self.wakers.borrow_mut() = wakers;
    }
}
