//! The loop's sockets: each one's cached readiness and the wakers of the tasks waiting to
//! read and to write, in a slot whose key goes to the poller (see the README).

use std::io;
use std::task::{Context, Poll, Waker};

use braid_poller::Event;

use super::slab::{Key, Slab, GENERATION_MASK};

/// Bits of the index in a poller key; the generation takes the rest.
const INDEX_BITS: u32 = usize::BITS / 2;
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;
/// The bits of a generation that fit in a poller key above the index, leaving its top bit
/// clear so that no key is `usize::MAX`, the poller's own.
const KEY_GENERATION_MASK: u32 = if usize::BITS >= 64 {
    GENERATION_MASK
} else {
    (1 << (usize::BITS - INDEX_BITS - 1)) - 1
};

/// Which way a socket operation goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

impl Direction {
    fn bit(self) -> u8 {
        match self {
            Direction::Read => READ,
            Direction::Write => WRITE,
        }
    }
}

const READ: u8 = 1;
const WRITE: u8 = 2;

#[derive(Debug, Default)]
struct Slot {
    /// Directions that may make progress: set by events, cleared when an operation would
    /// block. A fresh socket starts ready both ways, so the first operation just tries.
    readiness: u8,
    /// Directions that stay ready for good: reading after the peer closed (end-of-file is
    /// always there), both after an error. A short read forgets `readiness` but not this,
    /// because no new event comes after the one that reported the close.
    closed: u8,
    readers: Waiters,
    writers: Waiters,
}

impl Slot {
    fn waiters(&mut self, direction: Direction) -> &mut Waiters {
        match direction {
            Direction::Read => &mut self.readers,
            Direction::Write => &mut self.writers,
        }
    }
}

/// The tasks waiting on one direction of one socket; an event for it wakes them all.
#[derive(Debug, Default)]
pub(super) struct Waiters {
    /// The task that waited last through a `poll_*` method (`AsyncRead`, `AsyncWrite`, a
    /// child's exit): such a caller has nowhere to keep a place of its own, so there is one
    /// of these per direction and the last poller wins, as with tokio's `poll_*` methods.
    polled: Option<Waker>,
    /// The first place of an `async fn` operation, kept here rather than in `queued`: most
    /// sockets have one such waiter per direction at a time, and taking and freeing this
    /// place costs no slab operation.
    first: FirstPlace,
    /// The futures of other `async fn` operations, each at the place it holds from its
    /// first wait until it ends or is dropped: `None` while that waiter is not waiting
    /// (woken, running). Free places hold `None` too. The slab keeps its memory, so after
    /// the first waits a socket's waiters cost no allocation.
    queued: Slab<Option<Waker>>,
}

/// [`Waiters::first`]: whether it is taken, by which generation of holder, and its waker.
#[derive(Debug, Default)]
struct FirstPlace {
    taken: bool,
    /// Counts holders, so that a key of an earlier one never names a later one's place.
    generation: u32,
    waker: Option<Waker>,
}

impl Waiters {
    /// Takes every stored waker.
    fn take_all(&mut self, wakers: &mut Vec<Waker>) {
        wakers.extend(self.polled.take());
        wakers.extend(self.first.waker.take());
        if !self.queued.is_empty() {
            wakers.extend(self.queued.values_mut().filter_map(Option::take));
        }
    }

    /// Whether `key` names a place that is still held.
    fn holds(&self, key: WaiterKey) -> bool {
        match key {
            WaiterKey(Place::First(generation)) => {
                self.first.taken && self.first.generation == generation
            }
            WaiterKey(Place::Queued(key)) => self.queued.contains(key),
        }
    }

    /// Stores `waker` for the waiter at `place`, taking a place for it if it has none.
    /// Returns the waker it replaced, for the caller to drop outside the driver's borrow.
    #[inline(never)]
    fn store(&mut self, place: Option<&mut Option<WaiterKey>>, waker: &Waker) -> Option<Waker> {
        let stored = match place {
            None => &mut self.polled,
            Some(place) => {
                let key = match *place {
                    Some(key) if self.holds(key) => key,
                    _ if !self.first.taken => {
                        self.first.taken = true;
                        WaiterKey(Place::First(self.first.generation))
                    }
                    _ => WaiterKey(Place::Queued(self.queued.insert(None))),
                };
                *place = Some(key);
                match key {
                    WaiterKey(Place::First(_)) => &mut self.first.waker,
                    WaiterKey(Place::Queued(key)) => &mut self.queued[key],
                }
            }
        };
        match stored {
            Some(stored) if stored.will_wake(waker) => None,
            stored => stored.replace(waker.clone()),
        }
    }

    /// Frees the place `key` names, if it is still held; returns its waker if it was still
    /// waiting.
    fn leave(&mut self, key: WaiterKey) -> Option<Waker> {
        match key {
            WaiterKey(Place::First(generation)) => {
                if !self.first.taken || self.first.generation != generation {
                    return None;
                }
                self.first.taken = false;
                self.first.generation = self.first.generation.wrapping_add(1);
                self.first.waker.take()
            }
            WaiterKey(Place::Queued(key)) => self.queued.remove(key).flatten(),
        }
    }

    /// How many wakers are stored.
    #[cfg(test)]
    fn waiting(&mut self) -> usize {
        usize::from(self.polled.is_some())
            + usize::from(self.first.waker.is_some())
            + self
                .queued
                .values_mut()
                .filter(|waker| waker.is_some())
                .count()
    }

    /// Whether no place is held.
    #[cfg(test)]
    fn no_place_held(&self) -> bool {
        !self.first.taken && self.queued.is_empty()
    }
}

/// An `async fn` operation's place among the waiters of one direction of one socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WaiterKey(Place);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// [`Waiters::first`], held by this generation of holder.
    First(u32),
    /// A place in [`Waiters::queued`].
    Queued(Key),
}

/// The socket slots of one loop.
#[derive(Debug, Default)]
pub(super) struct Reactor {
    slots: Slab<Slot>,
}

/// A registered socket's slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IoKey(Key);

impl IoKey {
    /// The poller key for this slot.
    pub(super) fn poller_key(self) -> usize {
        let generation = self.0.generation() & KEY_GENERATION_MASK;
        self.0.index() as usize | ((generation as usize) << INDEX_BITS)
    }
}

impl Reactor {
    /// Whether no socket is registered.
    pub(super) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub(super) fn insert(&mut self) -> io::Result<IoKey> {
        if self.slots.next_index() > INDEX_MASK {
            return Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                "too many sockets registered with one braid event loop",
            ));
        }
        Ok(IoKey(self.slots.insert(Slot {
            readiness: READ | WRITE,
            ..Slot::default()
        })))
    }

    /// Frees a slot; returns its waiters for the caller to drop outside the borrow.
    pub(super) fn remove(&mut self, key: IoKey) -> [Waiters; 2] {
        let slot = self.slots.remove(key.0);
        debug_assert!(
            slot.is_some(),
            "a socket's key went stale before it deregistered"
        );
        let slot = slot.unwrap_or_default();
        [slot.readers, slot.writers]
    }

    /// Records an event and collects the wakers it concerns.
    pub(super) fn dispatch(&mut self, event: Event, wakers: &mut Vec<Waker>) {
        let key = event.key();
        // The index fits: `INDEX_BITS` is at most 32.
        let Some((generation, slot)) = self.slots.slot_mut((key & INDEX_MASK) as u32) else {
            return;
        };
        // A stale key: the socket was closed, its slot freed or reused, after the event was
        // fetched. (A free slot's generation is one no socket has had yet.)
        if (generation & KEY_GENERATION_MASK) as usize != key >> INDEX_BITS {
            return;
        }
        // A hang-up or an error makes both directions "ready": the next operation returns
        // end-of-file or the error instead of waiting forever.
        if event.is_hangup() {
            slot.closed |= READ;
        }
        if event.is_error() {
            slot.closed |= READ | WRITE;
        }
        let failed = event.is_hangup() || event.is_error();
        if event.is_readable() || failed {
            slot.readiness |= READ;
            slot.readers.take_all(wakers);
        }
        if event.is_writable() || failed {
            slot.readiness |= WRITE;
            slot.writers.take_all(wakers);
        }
    }

    /// `Ready` if the socket may make progress in `direction`; otherwise stores the waker
    /// at `place` (a `poll_*` caller's, if `None`; see [`Waiters`]).
    ///
    /// A waiter is stored only while the direction is not ready, and the next event for it
    /// wakes every waiter stored, so none sleeps through readiness another one consumed.
    /// Also returns the waker a new one replaced, for the caller to drop outside the borrow.
    /// The ready case is inlined; storing a waker is a call.
    #[inline]
    pub(super) fn poll_ready(
        &mut self,
        key: IoKey,
        direction: Direction,
        place: Option<&mut Option<WaiterKey>>,
        cx: &mut Context<'_>,
    ) -> (Poll<()>, Option<Waker>) {
        let slot = &mut self.slots[key.0];
        if (slot.readiness | slot.closed) & direction.bit() != 0 {
            return (Poll::Ready(()), None);
        }
        let replaced = slot.waiters(direction).store(place, cx.waker());
        (Poll::Pending, replaced)
    }

    /// The waiter at `place` is gone (its operation ended or its future was dropped): frees
    /// the place; returns its waker, if it was still waiting, for the caller to drop outside
    /// the borrow. Nothing else is woken: the other waiters are stored, and an event wakes
    /// them all.
    pub(super) fn leave(
        &mut self,
        key: IoKey,
        direction: Direction,
        place: WaiterKey,
    ) -> Option<Waker> {
        self.slots[key.0].waiters(direction).leave(place)
    }

    /// How many wakers wait on `direction` of the socket.
    #[cfg(test)]
    pub(super) fn waiting(&mut self, key: IoKey, direction: Direction) -> usize {
        self.slots[key.0].waiters(direction).waiting()
    }

    /// An operation in `direction` would block: wait for the next event.
    pub(super) fn clear_ready(&mut self, key: IoKey, direction: Direction) {
        let slot = &mut self.slots[key.0];
        slot.readiness &= !direction.bit();
        // The socket itself says it would block, so it is not closed that way after all.
        slot.closed &= !direction.bit();
    }

    /// A stream operation moved less than asked, so the next one would block unless the
    /// connection is closed; forget the readiness but keep a close.
    pub(super) fn forget_ready(&mut self, key: IoKey, direction: Direction) {
        self.slots[key.0].readiness &= !direction.bit();
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use braid_poller::{Events, Interest, Mode, Poller};
    use std::io::Write;
    use std::os::unix::net::UnixStream;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    fn waker() -> Waker {
        futures::task::noop_waker()
    }

    #[test]
    fn an_event_for_a_freed_slot_wakes_nobody() {
        let poller = Poller::new().unwrap();
        let mut reactor = Reactor::default();
        let (mut writer, reader) = UnixStream::pair().unwrap();
        let old = reactor.insert().unwrap();
        poller
            .add(&reader, old.poller_key(), Interest::READABLE, Mode::Edge)
            .unwrap();
        // The socket is closed and its slot reused before the fetched event is handled.
        reactor.remove(old);
        let new = reactor.insert().unwrap();
        assert_eq!(new.0.index(), old.0.index());
        assert_ne!(new.poller_key(), old.poller_key());
        reactor.clear_ready(new, Direction::Read);
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        assert!(reactor
            .poll_ready(new, Direction::Read, None, &mut cx)
            .0
            .is_pending());

        writer.write_all(b"x").unwrap();
        let mut events = Events::new();
        poller
            .wait(&mut events, Some(Duration::from_secs(5)))
            .unwrap();
        let mut wakers = Vec::new();
        for event in events.iter() {
            assert_eq!(event.key(), old.poller_key());
            reactor.dispatch(event, &mut wakers);
        }
        assert!(
            wakers.is_empty(),
            "the stale event woke the new socket's task"
        );
        assert!(reactor
            .poll_ready(new, Direction::Read, None, &mut cx)
            .0
            .is_pending());
    }

    #[test]
    fn keys_never_collide_with_the_notify_key() {
        let mut reactor = Reactor::default();
        for _ in 0..1000 {
            let key = reactor.insert().unwrap();
            assert_ne!(key.poller_key(), usize::MAX);
            drop(reactor.remove(key));
        }
        // The largest index with the largest generation.
        let key = IoKey(Key::new(INDEX_MASK as u32, GENERATION_MASK));
        assert_ne!(key.poller_key(), usize::MAX);
    }

    #[test]
    fn a_would_block_clears_readiness_and_stores_the_waker() {
        let mut reactor = Reactor::default();
        let key = reactor.insert().unwrap();
        let waker = waker();
        let mut cx = Context::from_waker(&waker);
        assert!(reactor
            .poll_ready(key, Direction::Write, None, &mut cx)
            .0
            .is_ready());
        reactor.clear_ready(key, Direction::Write);
        assert!(reactor
            .poll_ready(key, Direction::Write, None, &mut cx)
            .0
            .is_pending());
        assert!(reactor
            .poll_ready(key, Direction::Read, None, &mut cx)
            .0
            .is_ready());
        assert_eq!(reactor.waiting(key, Direction::Write), 1);
        assert_eq!(reactor.waiting(key, Direction::Read), 0);
        let [mut readers, mut writers] = reactor.remove(key);
        assert_eq!(readers.waiting(), 0);
        assert_eq!(writers.waiting(), 1);
        assert!(reactor.is_empty());
    }

    /// Counts the wakes of the wakers made from it.
    struct Count(AtomicUsize);

    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counting() -> (Waker, Arc<Count>) {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        (Waker::from(count.clone()), count)
    }

    /// An `async fn` waiter at `place` waits to read `key` with `waker`; the direction must
    /// not be ready. Returns the waker it replaced.
    fn wait_to_read(
        reactor: &mut Reactor,
        key: IoKey,
        place: &mut Option<WaiterKey>,
        waker: &Waker,
    ) -> Option<Waker> {
        let mut cx = Context::from_waker(waker);
        let (poll, replaced) = reactor.poll_ready(key, Direction::Read, Some(place), &mut cx);
        assert!(poll.is_pending());
        replaced
    }

    /// A real readable event carrying `key`'s poller key.
    fn readable(key: IoKey) -> Event {
        let poller = Poller::new().unwrap();
        let (mut writer, reader) = UnixStream::pair().unwrap();
        poller
            .add(&reader, key.poller_key(), Interest::READABLE, Mode::Edge)
            .unwrap();
        writer.write_all(b"x").unwrap();
        let mut events = Events::new();
        poller
            .wait(&mut events, Some(Duration::from_secs(5)))
            .unwrap();
        let event = events.iter().next().expect("no event came");
        poller.delete(&reader).unwrap();
        event
    }

    #[test]
    fn an_event_wakes_every_waiter_of_its_direction_and_only_those() {
        let mut reactor = Reactor::default();
        let key = reactor.insert().unwrap();
        reactor.clear_ready(key, Direction::Read);
        reactor.clear_ready(key, Direction::Write);
        let mut places = Vec::new();
        let mut counts = Vec::new();
        for _ in 0..10 {
            let (waker, count) = counting();
            let mut place = None;
            wait_to_read(&mut reactor, key, &mut place, &waker);
            // Polled again by the same task: it keeps its place, stores nothing more.
            assert!(wait_to_read(&mut reactor, key, &mut place, &waker).is_none());
            places.push(place.unwrap());
            counts.push(count);
        }
        let (writer, writer_count) = counting();
        assert!(reactor
            .poll_ready(
                key,
                Direction::Write,
                None,
                &mut Context::from_waker(&writer)
            )
            .0
            .is_pending());
        assert_eq!(reactor.waiting(key, Direction::Read), 10);

        let mut wakers = Vec::new();
        reactor.dispatch(readable(key), &mut wakers);
        assert_eq!(wakers.len(), 10);
        wakers.drain(..).for_each(Waker::wake);
        assert!(counts
            .iter()
            .all(|count| count.0.load(Ordering::SeqCst) == 1));
        assert_eq!(writer_count.0.load(Ordering::SeqCst), 0);
        assert_eq!(reactor.waiting(key, Direction::Read), 0);
        assert_eq!(reactor.waiting(key, Direction::Write), 1);
        // Woken waiters keep their places until they leave.
        for place in places {
            assert!(reactor.leave(key, Direction::Read, place).is_none());
        }
        assert!(reactor.slots[key.0].readers.no_place_held());
    }

    #[test]
    fn a_waiter_that_leaves_takes_its_waker_and_only_its_own() {
        let mut reactor = Reactor::default();
        let key = reactor.insert().unwrap();
        reactor.clear_ready(key, Direction::Read);
        let (live, live_count) = counting();
        let mut live_place = None;
        let mut places = Vec::new();
        for i in 0..5 {
            let (gone, _) = counting();
            let mut place = None;
            wait_to_read(&mut reactor, key, &mut place, &gone);
            places.push(place.unwrap());
            if i == 2 {
                wait_to_read(&mut reactor, key, &mut live_place, &live);
            }
        }
        assert_eq!(reactor.waiting(key, Direction::Read), 6);
        for place in places {
            assert!(reactor.leave(key, Direction::Read, place).is_some());
        }
        assert_eq!(reactor.waiting(key, Direction::Read), 1);
        let mut wakers = Vec::new();
        reactor.dispatch(readable(key), &mut wakers);
        assert_eq!(wakers.len(), 1);
        wakers.drain(..).for_each(Waker::wake);
        assert_eq!(live_count.0.load(Ordering::SeqCst), 1);
        assert!(reactor
            .leave(key, Direction::Read, live_place.unwrap())
            .is_none());
        assert!(reactor.slots[key.0].readers.no_place_held());
    }

    /// The first place is kept out of the slab and reused: a key of its earlier holder
    /// must neither free nor name a later holder's place, and waiters in the first place
    /// and in the slab are woken alike.
    #[test]
    fn an_earlier_holders_key_to_the_first_place_frees_nothing() {
        let mut reactor = Reactor::default();
        let key = reactor.insert().unwrap();
        reactor.clear_ready(key, Direction::Read);
        let (early, _) = counting();
        let mut early_place = None;
        wait_to_read(&mut reactor, key, &mut early_place, &early);
        let early_key = early_place.unwrap();
        assert!(reactor.leave(key, Direction::Read, early_key).is_some());

        // The first place is free again: the next waiter takes it, one more the slab.
        let (later, later_count) = counting();
        let mut later_place = None;
        wait_to_read(&mut reactor, key, &mut later_place, &later);
        let (other, other_count) = counting();
        let mut other_place = None;
        wait_to_read(&mut reactor, key, &mut other_place, &other);
        assert_ne!(later_place, Some(early_key));
        assert_eq!(reactor.waiting(key, Direction::Read), 2);

        // The earlier holder's key (a future that left, then polled or dropped again).
        assert!(reactor.leave(key, Direction::Read, early_key).is_none());
        assert_eq!(reactor.waiting(key, Direction::Read), 2);
        // Polled again with its old key, it gets a place of its own, not the later one's.
        let (again, again_count) = counting();
        let mut again_place = Some(early_key);
        wait_to_read(&mut reactor, key, &mut again_place, &again);
        assert_ne!(again_place, later_place);
        assert_ne!(again_place, other_place);
        assert_eq!(reactor.waiting(key, Direction::Read), 3);

        let mut wakers = Vec::new();
        reactor.dispatch(readable(key), &mut wakers);
        assert_eq!(wakers.len(), 3);
        wakers.drain(..).for_each(Waker::wake);
        for count in [&later_count, &other_count, &again_count] {
            assert_eq!(count.0.load(Ordering::SeqCst), 1);
        }
        for place in [later_place, other_place, again_place] {
            assert!(reactor
                .leave(key, Direction::Read, place.unwrap())
                .is_none());
        }
        assert!(reactor.slots[key.0].readers.no_place_held());
    }

    /// Random waits, leaves, stale leaves and events on one direction, checked against a
    /// model after every step: each waiter is woken exactly once per event it waited
    /// through, a leave takes its own waker and nobody else's, and a stale key does nothing.
    #[test]
    fn waiters_match_a_model_through_random_waits_leaves_and_events() {
        const WAITERS: usize = 8;
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move |bound: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % bound as u64) as usize
        };
        let mut reactor = Reactor::default();
        let key = reactor.insert().unwrap();
        let event = readable(key);
        let wakers: Vec<(Waker, Arc<Count>)> = (0..WAITERS).map(|_| counting()).collect();
        let mut places: Vec<Option<WaiterKey>> = vec![None; WAITERS];
        let mut stale: Vec<WaiterKey> = Vec::new();
        let mut waiting = [false; WAITERS];
        let mut woken = [0usize; WAITERS];
        for _ in 0..20_000 {
            let who = next(WAITERS);
            match next(4) {
                0 | 1 => {
                    reactor.clear_ready(key, Direction::Read);
                    let replaced =
                        wait_to_read(&mut reactor, key, &mut places[who], &wakers[who].0);
                    assert!(
                        replaced.is_none(),
                        "a waiter's own waker is kept, not replaced"
                    );
                    waiting[who] = true;
                }
                2 => {
                    if let Some(place) = places[who].take() {
                        let taken = reactor.leave(key, Direction::Read, place);
                        assert_eq!(taken.is_some(), waiting[who]);
                        waiting[who] = false;
                        stale.push(place);
                    } else if let Some(&place) = stale.get(next(stale.len().max(1))) {
                        assert!(reactor.leave(key, Direction::Read, place).is_none());
                    }
                }
                _ => {
                    let mut out = Vec::new();
                    reactor.dispatch(event, &mut out);
                    assert_eq!(out.len(), waiting.iter().filter(|w| **w).count());
                    out.into_iter().for_each(Waker::wake);
                    for i in 0..WAITERS {
                        if std::mem::take(&mut waiting[i]) {
                            woken[i] += 1;
                        }
                    }
                }
            }
            assert_eq!(
                reactor.waiting(key, Direction::Read),
                waiting.iter().filter(|w| **w).count()
            );
            for i in 0..WAITERS {
                assert_eq!(wakers[i].1 .0.load(Ordering::SeqCst), woken[i]);
            }
        }
        for place in places.iter_mut().filter_map(Option::take) {
            reactor.leave(key, Direction::Read, place);
        }
        assert!(reactor.slots[key.0].readers.no_place_held());
    }
}
