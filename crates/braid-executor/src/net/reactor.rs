//! Readiness bookkeeping for the loop's sockets.
//!
//! Each registered socket owns a slot: its cached readiness and the wakers of the tasks
//! waiting to read and to write. A slot's poller key packs its index with a generation that
//! changes when the slot is freed, so an event that was already fetched for a socket closed
//! (and its descriptor number reused) in the same batch finds a stale key and is ignored.

use std::io;
use std::task::{Context, Poll, Waker};

use braid_poller::Event;

/// Bits of the index in a key; the generation takes the rest.
const INDEX_BITS: u32 = usize::BITS / 2;
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;
/// Generations wrap below this, so that no key is `usize::MAX`, the poller's own.
const GENERATION_MASK: u32 = if usize::BITS >= 64 {
    u32::MAX >> 1
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

#[derive(Debug)]
struct Slot {
    generation: u32,
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
pub(crate) struct Reactor {
    slots: Vec<Slot>,
    free: Vec<usize>,
    registered: usize,
}

/// A registered socket's slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IoKey {
    index: usize,
    generation: u32,
}

impl IoKey {
    /// The poller key for this slot.
    pub(crate) fn poller_key(self) -> usize {
        self.index | ((self.generation as usize) << INDEX_BITS)
    }
}

impl Reactor {
    pub(crate) fn new() -> Reactor {
        Reactor::default()
    }

    /// Whether no socket is registered.
    pub(crate) fn is_empty(&self) -> bool {
        self.registered == 0
    }

    pub(crate) fn insert(&mut self) -> io::Result<IoKey> {
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                let index = self.slots.len();
                if index > INDEX_MASK {
                    return Err(io::Error::new(
                        io::ErrorKind::OutOfMemory,
                        "too many sockets registered with one braid event loop",
                    ));
                }
                self.slots.push(Slot {
                    generation: 0,
                    readiness: 0,
                    closed: 0,
                    reader: None,
                    writer: None,
                });
                index
            }
        };
        let slot = &mut self.slots[index];
        slot.readiness = READ | WRITE;
        slot.closed = 0;
        self.registered += 1;
        Ok(IoKey {
            index,
            generation: slot.generation,
        })
    }

    /// Frees a slot; returns its wakers for the caller to drop outside the borrow.
    pub(crate) fn remove(&mut self, key: IoKey) -> [Option<Waker>; 2] {
        let slot = &mut self.slots[key.index];
        debug_assert_eq!(slot.generation, key.generation);
        slot.generation = (slot.generation + 1) & GENERATION_MASK;
        slot.readiness = 0;
        self.free.push(key.index);
        self.registered -= 1;
        [slot.reader.take(), slot.writer.take()]
    }

    /// Records an event and collects the wakers it concerns.
    pub(crate) fn dispatch(&mut self, event: Event, wakers: &mut Vec<Waker>) {
        let key = event.key();
        let Some(slot) = self.slots.get_mut(key & INDEX_MASK) else {
            return;
        };
        if slot.generation as usize != key >> INDEX_BITS {
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
    pub(crate) fn poll_ready(
        &mut self,
        key: IoKey,
        direction: Direction,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        let slot = &mut self.slots[key.index];
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
    pub(crate) fn clear_ready(&mut self, key: IoKey, direction: Direction) {
        let slot = &mut self.slots[key.index];
        slot.readiness &= !direction.bit();
        // The socket itself says it would block, so it is not closed that way after all.
        slot.closed &= !direction.bit();
    }

    /// A stream operation moved less than asked, so the next one would block unless the
    /// connection is closed; forget the readiness but keep a close.
    pub(crate) fn forget_ready(&mut self, key: IoKey, direction: Direction) {
        self.slots[key.index].readiness &= !direction.bit();
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
        let mut reactor = Reactor::new();
        let (mut writer, reader) = UnixStream::pair().unwrap();
        let old = reactor.insert().unwrap();
        poller
            .add(&reader, old.poller_key(), Interest::READABLE, Mode::Edge)
            .unwrap();
        // The socket is closed and its slot reused before the fetched event is handled.
        reactor.remove(old);
        let new = reactor.insert().unwrap();
        assert_eq!(new.index, old.index);
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
        let mut reactor = Reactor::new();
        for _ in 0..1000 {
            let key = reactor.insert().unwrap();
            assert_ne!(key.poller_key(), usize::MAX);
            drop(reactor.remove(key));
        }
        let key = IoKey {
            index: INDEX_MASK,
            generation: GENERATION_MASK,
        };
        assert_ne!(key.poller_key(), usize::MAX);
    }

    #[test]
    fn a_would_block_clears_readiness_and_stores_the_waker() {
        let mut reactor = Reactor::new();
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
