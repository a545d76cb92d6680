use std::fmt;

use crate::sys;

/// One readiness event: which registration it is for and what is ready.
///
/// Hangups and errors also count as readable and writable, as in Python's `selectors`:
/// the next read or write will not block, it returns end of file or the error.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Event {
    pub(crate) key: usize,
    pub(crate) flags: u8,
}

pub(crate) const READABLE: u8 = 0b0001;
pub(crate) const WRITABLE: u8 = 0b0010;
pub(crate) const HANGUP: u8 = 0b0100;
pub(crate) const ERROR: u8 = 0b1000;

impl Event {
    /// The key the descriptor was registered with.
    pub fn key(&self) -> usize {
        self.key
    }

    /// Whether a read would not block.
    pub fn is_readable(&self) -> bool {
        self.flags & READABLE != 0
    }

    /// Whether a write would not block.
    pub fn is_writable(&self) -> bool {
        self.flags & WRITABLE != 0
    }

    /// Whether the peer hung up: reads will reach end of file soon, or the descriptor closed
    /// both ways.
    pub fn is_hangup(&self) -> bool {
        self.flags & HANGUP != 0
    }

    /// Whether an error is pending on the descriptor (for a socket, `SO_ERROR` holds it).
    pub fn is_error(&self) -> bool {
        self.flags & ERROR != 0
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("key", &self.key)
            .field("readable", &self.is_readable())
            .field("writable", &self.is_writable())
            .field("hangup", &self.is_hangup())
            .field("error", &self.is_error())
            .finish()
    }
}

/// A buffer that [`Poller::wait`](crate::Poller::wait) fills with events.
///
/// Its capacity is the most events one `wait` returns; if more descriptors are ready, the rest
/// are reported by the next `wait`, none is dropped. Reuse one `Events` across waits to avoid
/// allocating.
pub struct Events {
    /// The system's records of the last wait, less the poller's own wake-up record; each is
    /// turned into an [`Event`] only when it is read.
    pub(crate) raw: Vec<sys::RawEvent>,
    pub(crate) notified: bool,
}

// SAFETY: the raw records are plain data. A kqueue record has a pointer field, but braid
// stores a key in it and never dereferences it, so moving or sharing the buffer between
// threads is as safe as moving or sharing integers.
unsafe impl Send for Events {}
// SAFETY: as above; `&Events` only reads those integers.
unsafe impl Sync for Events {}

/// The capacity of [`Events::new`].
const DEFAULT_CAPACITY: usize = 1024;

impl Events {
    /// A buffer for up to 1024 events per wait.
    pub fn new() -> Events {
        Events::with_capacity(DEFAULT_CAPACITY)
    }

    /// A buffer for up to `capacity` events per wait; a capacity of 0 is taken as 1.
    pub fn with_capacity(capacity: usize) -> Events {
        let capacity = capacity.clamp(1, i32::MAX as usize);
        Events {
            raw: Vec::with_capacity(capacity),
            notified: false,
        }
    }

    /// The most events one wait can return.
    pub fn capacity(&self) -> usize {
        self.raw.capacity()
    }

    /// The events of the last wait, in the order the system reported them.
    pub fn iter(&self) -> Iter<'_> {
        Iter(self.raw.iter())
    }

    /// How many descriptor events the last wait returned (a notify is not counted).
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// Whether the last wait returned no descriptor event.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Whether the last wait was woken by [`Poller::notify`](crate::Poller::notify).
    pub fn is_notified(&self) -> bool {
        self.notified
    }

    /// Forgets the events of the last wait. [`Poller::wait`](crate::Poller::wait) does this
    /// itself before waiting.
    pub fn clear(&mut self) {
        self.raw.clear();
        self.notified = false;
    }
}

impl Default for Events {
    fn default() -> Events {
        Events::new()
    }
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events")
            .field("events", &self.iter().collect::<Vec<_>>())
            .field("notified", &self.notified)
            .field("capacity", &self.capacity())
            .finish()
    }
}

impl<'a> IntoIterator for &'a Events {
    type Item = Event;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// The events of one wait, from [`Events::iter`].
#[derive(Clone)]
pub struct Iter<'a>(std::slice::Iter<'a, sys::RawEvent>);

impl Iterator for Iter<'_> {
    type Item = Event;

    #[inline]
    fn next(&mut self) -> Option<Event> {
        self.0.next().map(sys::event)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl fmt::Debug for Iter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter").field("left", &self.0.len()).finish()
    }
}
