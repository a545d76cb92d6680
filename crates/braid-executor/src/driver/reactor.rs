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
    reader: Option<Waker>,
    writer: Option<Waker>,
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

    /// Frees a slot; returns its wakers for the caller to drop outside the borrow.
    pub(super) fn remove(&mut self, key: IoKey) -> [Option<Waker>; 2] {
        let slot = self.slots.remove(key.0);
        debug_assert!(
            slot.is_some(),
            "a socket's key went stale before it deregistered"
        );
        let slot = slot.unwrap_or_default();
        [slot.reader, slot.writer]
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
            wakers.extend(slot.reader.take());
        }
        if event.is_writable() || failed {
            slot.readiness |= WRITE;
            wakers.extend(slot.writer.take());
        }
    }

    /// `Ready` if the socket may make progress in `direction`; otherwise stores the waker.
    pub(super) fn poll_ready(
        &mut self,
        key: IoKey,
        direction: Direction,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        let slot = &mut self.slots[key.0];
        if (slot.readiness | slot.closed) & direction.bit() != 0 {
            return Poll::Ready(());
        }
        let waiter = match direction {
            Direction::Read => &mut slot.reader,
            Direction::Write => &mut slot.writer,
        };
        match waiter {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            waiter => *waiter = Some(cx.waker().clone()),
        }
        Poll::Pending
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
            .poll_ready(new, Direction::Read, &mut cx)
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
            .poll_ready(new, Direction::Read, &mut cx)
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
            .poll_ready(key, Direction::Write, &mut cx)
            .is_ready());
        reactor.clear_ready(key, Direction::Write);
        assert!(reactor
            .poll_ready(key, Direction::Write, &mut cx)
            .is_pending());
        assert!(reactor.poll_ready(key, Direction::Read, &mut cx).is_ready());
        let [reader, writer] = reactor.remove(key);
        assert!(reader.is_none());
        assert!(writer.is_some());
        assert!(reactor.is_empty());
    }
}
